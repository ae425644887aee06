// ChannelRegistry: the channel drivers of this daemon, built from the config. Adding a provider
// is its own file plus one line in registry.cpp. Where several providers carry a channel (two SMS
// providers), each message goes to one of them by weight; the outbox carries what no provider
// does. Use from the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

class ChannelRegistry {
public:
    ChannelRegistry(boost::asio::io_context& io, const Config& config);

    // The driver for a channel and address (weighted among the providers that carry both), or nullptr.
    Channel* find(std::string_view channel, std::string_view recipient = {}) const;
    void stop_all();

private:
    struct Entry {
        std::unique_ptr<Channel> driver;
        int weight;  // 0: only when no other provider carries the channel (the outbox)
    };
    HttpClient http_;             // shared by the HTTP provider drivers
    std::vector<Entry> drivers_;  // in registration order
    mutable std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace crieur
