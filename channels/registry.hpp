// ChannelRegistry: the channel drivers of this daemon, built from the config. Adding a provider
// is its own file plus one line in registry.cpp. Where several providers carry a channel (two SMS
// providers), each message goes to one of them by weight; the outbox carries what no provider
// does; a provider that fails gets less of the traffic, and none while its circuit breaker is open.
// Use from the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "channels/channel.hpp"
#include "channels/circuit_breaker.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

class ChannelRegistry {
public:
    ChannelRegistry(boost::asio::io_context& io, const Config& config);

    // The driver for a channel and address (weighted among the providers that carry both and
    // whose circuit breaker lets traffic through), or nullptr. In half-open, the chosen send is the probe.
    Channel* find(std::string_view channel, std::string_view recipient = {});
    // Whether some provider carries it now, without choosing one (the router's check).
    bool carried_now(std::string_view channel, std::string_view recipient) const;
    // Whether a provider is configured for it at all, breaker or not.
    bool carried(std::string_view channel, std::string_view recipient) const;
    // A send's outcome, for the provider's circuit breaker.
    void report(const Channel* driver, OutcomeKind outcome);
    // Prometheus lines: each provider's breaker state.
    std::string prometheus() const;
    void stop_all();

private:
    struct Entry {
        std::unique_ptr<Channel> driver;
        int weight;  // 0: only when no other provider carries the channel (the outbox)
        CircuitBreaker breaker;
        // The share of its weight a provider gets now: halved at each failure (down to a tenth),
        // given back a tenth at each success. Traffic shifts away from a failing provider before
        // its breaker opens, and comes back as it recovers.
        double health = 1.0;
    };
    HttpClient http_;             // shared by the HTTP provider drivers
    std::vector<Entry> drivers_;  // in registration order
    BreakerConfig breaker_;
    mutable std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace crieur
