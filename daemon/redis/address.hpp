// A Redis server's or a sentinel's address, and its "host:port" spelling in the config.
#pragma once

#include <optional>
#include <string>

namespace crieur::redis {

struct Address {
    std::string host;
    int port = 0;
    bool operator==(const Address&) const = default;
};

// "host:port" (or "[v6]:port") → host and port; nullopt when it is not one.
std::optional<Address> parse_address(const std::string& text);

}  // namespace crieur::redis
