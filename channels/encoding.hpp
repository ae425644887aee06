// Byte encodings and MACs the provider drivers share: Base64 (standard and URL-safe), hex,
// HMAC-SHA1/SHA-256 (OpenSSL), and the classification every HTTP driver starts with. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "channels/http_client.hpp"
#include "daemon/types.hpp"

namespace crieur {

std::string base64_encode(std::string_view bytes);
std::string base64url_encode(std::string_view bytes);
// Either alphabet, padding optional; nullopt on a character outside them.
std::optional<std::string> base64url_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);

std::string hmac_sha1(std::string_view key, std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string sha256(std::string_view data);  // the 32-byte digest
// From OpenSSL's CSPRNG; throws std::runtime_error if it has none.
std::string random_bytes(std::size_t n);
// Constant-time equality (for signatures).
bool same_bytes(std::string_view a, std::string_view b);

// A provider's Retry-After in milliseconds, when it gave one in seconds (0 otherwise: an HTTP-date
// is left to the backoff).
std::int64_t retry_after_ms(const HttpResponse& response);

// No HTTP answer at all: unknown once the request may have reached the provider (never "not
// sent"), retry when it never left. nullopt when there was an answer to classify.
std::optional<Outcome> classify_no_answer(const HttpResponse& response, const char* provider);

}  // namespace crieur
