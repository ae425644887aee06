// ChannelRegistry: the channel drivers of this daemon, built from the config. Adding a provider
// is its own file plus one line in registry.cpp. Use from the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string_view>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

class ChannelRegistry {
public:
    ChannelRegistry(boost::asio::io_context& io, const Config& config);

    // The driver for a channel, or nullptr when none carries it.
    Channel* find(std::string_view channel) const;
    void stop_all();

private:
    HttpClient http_;                                // shared by the HTTP provider drivers
    std::vector<std::unique_ptr<Channel>> drivers_;  // in order of preference
};

}  // namespace crieur
