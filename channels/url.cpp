#include "channels/url.hpp"

#include <curl/curl.h>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <memory>

namespace crieur {

std::optional<UrlParts> parts_of(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
    auto part = [&](CURLUPart which) {
        char* v = nullptr;
        std::string out = curl_url_get(u.get(), which, &v, 0) == CURLUE_OK && v ? v : "";
        curl_free(v);
        return out;
    };
    UrlParts p{part(CURLUPART_SCHEME), part(CURLUPART_HOST), part(CURLUPART_PORT)};
    for (auto& c : p.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (p.scheme.empty() || p.host.empty()) return std::nullopt;
    return p;
}

std::string redact_url(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "***";
    auto part = [&](CURLUPart which) {
        char* v = nullptr;
        std::string out = curl_url_get(u.get(), which, &v, 0) == CURLUE_OK && v ? v : "";
        curl_free(v);
        return out;
    };
    if (!part(CURLUPART_USER).empty()) curl_url_set(u.get(), CURLUPART_USER, "***", 0);
    if (!part(CURLUPART_PASSWORD).empty()) curl_url_set(u.get(), CURLUPART_PASSWORD, "***", 0);
    if (const std::string query = part(CURLUPART_QUERY); !query.empty()) {
        std::string masked;
        for (std::size_t at = 0; at <= query.size();) {
            const auto amp = std::min(query.find('&', at), query.size());
            const std::string_view field(query.data() + at, amp - at);
            const auto eq = field.find('=');
            masked += (masked.empty() ? "" : "&") + std::string(field.substr(0, eq)) + (eq == std::string_view::npos ? "" : "=***");
            at = amp + 1;
        }
        curl_url_set(u.get(), CURLUPART_QUERY, masked.c_str(), 0);
    }
    curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
    const std::string out = part(CURLUPART_URL);
    return out.empty() ? "***" : out;
}

bool is_internal_host(std::string_view host) {
    if (host == "localhost" || host.ends_with(".localhost")) return true;
    std::string literal(host);
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') literal = literal.substr(1, literal.size() - 2);
    boost::system::error_code bad;
    auto address = boost::asio::ip::make_address(literal, bad);
    if (bad) return false;  // a name: what it resolves to is not checked here
    if (address.is_v6()) {
        const auto v6 = address.to_v6();
        if (v6.is_v4_mapped()) address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6);
        else {
            const auto bytes = v6.to_bytes();
            return v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || (bytes[0] & 0xfe) == 0xfc;
        }
    }
    const auto b = address.to_v4().to_bytes();
    return b[0] == 127 || b[0] == 10 || b[0] == 0 || (b[0] == 169 && b[1] == 254) ||
           (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 100 && (b[1] & 0xc0) == 64);  // carrier-grade NAT, as internal as the others
}

bool host_listed(std::string_view host, const std::vector<std::string>& list) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& a) {
        return a.starts_with('.') ? host.ends_with(a) : host == a;
    });
}

}  // namespace crieur
