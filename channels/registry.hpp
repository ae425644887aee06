// ChannelRegistry: the channel drivers of this daemon, one per provider instance of the config
// ([[providers]]), each made by its type's factory (channels/providers.cpp). Where several providers carry a channel (two SMS
// providers), each message goes to one of them by weight; the outbox carries what no provider
// does; a provider that fails or answers slowly gets less of the traffic, and none while its
// circuit breaker is open.
// Use from the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "channels/channel.hpp"
#include "channels/circuit_breaker.hpp"
#include "channels/http_client.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"

namespace crieur {

class ChannelRegistry {
public:
    // `clock`: the breakers' and answer times' steady time, and each driver's (ProviderContext).
    ChannelRegistry(boost::asio::io_context& io, const Config& config, const Clock& clock);

    // The driver for a channel and address (weighted among the providers that carry both and
    // whose circuit breaker lets traffic through), or nullptr. In half-open, the chosen send is the probe.
    Channel* find(std::string_view channel, std::string_view recipient = {});
    // The driver of the provider instance of that name ("outbox" included), or nullptr: the
    // hooks' route gives each provider its callbacks.
    Channel* by_name(std::string_view name) const;
    // Whether some provider carries it now, without choosing one (the router's check).
    bool carried_now(std::string_view channel, std::string_view recipient) const;
    // Whether a provider is configured for it at all, breaker or not.
    bool carried(std::string_view channel, std::string_view recipient) const;
    // Why no configured provider will ever send to it, when each one that accepts its kind
    // refuses it (Channel::refusal); empty when one may, or when only the outbox carries it.
    std::string refusal(std::string_view channel, std::string_view recipient) const;
    // A send's outcome and how long the provider took to answer, for its breaker, health and speed.
    // `recipient`: for a driver whose recipients have breakers of their own (Channel::breaker_scope),
    // the outcome counts for that recipient's breaker only.
    void report(const Channel* driver, OutcomeKind outcome, std::chrono::microseconds latency = {},
                std::string_view recipient = {});
    // How many sends a provider may have in flight (providers.max_connections for a network
    // provider; 0, no limit, for the outbox, which writes in batches).
    int max_in_flight(const Channel* driver) const;
    // Prometheus lines: each provider's breaker state, weight now and answer time.
    std::string prometheus() const;
    // The same for a page (the dashboard's overview): each provider but the outbox.
    struct ProviderState {
        std::string name;
        std::string breaker;  // closed, open, half_open
        double weight = 0;    // its configured weight times its health and speed
        double answer_ms = 0; // its moving average
    };
    std::vector<ProviderState> provider_states() const;
    // Each driver that must fetch citizens' messages itself starts doing so (Channel::start_inbound).
    void start_inbound(const Channel::InboundSink& sink);
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
        // Its answer time, a moving average (ms; 0 before the first). Above slow_ms its share is
        // cut in proportion (twice as slow, half the share; down to a tenth), and comes back as
        // its answers speed up: the average moves with each answer, and a tenth still goes to it.
        double latency_ms = 0;
        int max_in_flight = 0;
        // The recipients' own breakers (Channel::breaker_scope), at most kMaxScopes: closed
        // ones are forgotten first.
        std::map<std::string, CircuitBreaker, std::less<>> scoped;
    };
    static constexpr std::size_t kMaxScopes = 4096;
    // Whether the entry lets a send to this recipient through now (its breaker and the recipient's).
    bool available(const Entry& e, std::string_view recipient, SteadyPoint now) const;
    CircuitBreaker* scoped_breaker(Entry& e, const std::string& scope, SteadyPoint now, bool create);
    double share(const Entry& e) const;
    const Clock& clock_;
    HttpClient http_;             // shared by the HTTP provider drivers
    std::vector<Entry> drivers_;  // in registration order
    BreakerConfig breaker_;
    double slow_ms_;
    mutable std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace crieur
