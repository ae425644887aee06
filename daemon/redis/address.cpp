#include "daemon/redis/address.hpp"

#include <charconv>
#include <string_view>

namespace crieur::redis {

std::optional<Address> parse_address(const std::string& text) {
    std::string host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
        host = text.substr(1, close - 1);
        port = std::string_view(text).substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) return std::nullopt;
        host = text.substr(0, colon);
        port = std::string_view(text).substr(colon + 1);
    }
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (host.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535) return std::nullopt;
    return Address{host, p};
}

}  // namespace crieur::redis
