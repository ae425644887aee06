// Standard Webhooks signing (https://www.standardwebhooks.com, spec 1.0.0): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", signed with HMAC-SHA256 under the secret's decoded
// bytes, sent as "v1,<base64>"; several signatures, space-separated, while a secret is rotated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crieur::callbacks {

// A new secret as services are given it: "whsec_" and the Base64 of 32 random bytes.
std::string new_secret();

// The HMAC key a secret stands for (its decoded bytes); nullopt unless it reads
// "whsec_<Base64 of 24 to 64 bytes>", the spec's bounds.
std::optional<std::string> secret_key(std::string_view secret);

// The webhook-signature header: one "v1,<base64>" per key (decoded, from secret_key), space-separated.
std::string signature_header(const std::vector<std::string>& keys, std::string_view id, std::int64_t timestamp_s,
                             std::string_view body);

}  // namespace crieur::callbacks
