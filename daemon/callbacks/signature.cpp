#include "daemon/callbacks/signature.hpp"

#include "channels/encoding.hpp"

namespace crieur::callbacks {

namespace {
constexpr std::string_view kPrefix = "whsec_";
}

std::string new_secret() { return std::string(kPrefix) + base64_encode(random_bytes(32)); }

std::optional<std::string> secret_key(std::string_view secret) {
    if (!secret.starts_with(kPrefix)) return std::nullopt;
    auto key = base64url_decode(secret.substr(kPrefix.size()));
    if (!key || key->size() < 24 || key->size() > 64) return std::nullopt;
    return key;
}

std::string signature_header(const std::vector<std::string>& keys, std::string_view id, std::int64_t timestamp_s,
                             std::string_view body) {
    std::string content;
    content.reserve(id.size() + body.size() + 24);
    content.append(id).append(1, '.').append(std::to_string(timestamp_s)).append(1, '.').append(body);
    std::string header;
    for (const auto& key : keys) {
        if (!header.empty()) header += ' ';
        header += "v1,";
        header += base64_encode(hmac_sha256(key, content));
    }
    return header;
}

}  // namespace crieur::callbacks
