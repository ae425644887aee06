#include "channels/registry.hpp"

#include <algorithm>
#include <concepts>
#include <cstdio>
#include <stdexcept>

#include "channels/outbox/outbox.hpp"
#include "channels/provider.hpp"
#include "daemon/log.hpp"

namespace crieur {

ChannelRegistry::ChannelRegistry(boost::asio::io_context& io, const Config& config, const Clock& clock)
    : clock_(clock), http_(io, {config.provider_defaults.max_connections, config.provider_defaults.ca_path, config.provider_defaults.verify_tls}),
      breaker_{config.provider_defaults.breaker_failures, config.provider_defaults.breaker_open_ms,
               config.provider_defaults.breaker_max_open_ms},
      slow_ms_(config.provider_defaults.slow_ms) {
    const ProviderContext context{io, http_, config, clock};
    for (const ProviderConfig& instance : config.providers) {
        const ProviderType* type = find_provider_type(instance.type);
        if (!type) throw std::runtime_error("provider " + instance.name + ": no provider type " + instance.type);
        std::unique_ptr<Channel> driver;
        try {
            driver = type->make(context, instance);
        } catch (const std::exception& e) {
            throw std::runtime_error(config.file + ":" + std::to_string(instance.line) + ": provider " + instance.name +
                                     ": " + e.what());
        }
        drivers_.push_back({std::move(driver), instance.weight, CircuitBreaker(breaker_)});
        drivers_.back().max_in_flight =
            instance.max_connections > 0 ? instance.max_connections : config.provider_defaults.max_connections;
    }
    // The outbox carries every channel, with weight 0: it takes what no configured provider carries.
    drivers_.push_back({std::make_unique<OutboxChannel>(io, config.outbox, clock), 0, CircuitBreaker(breaker_)});
    drivers_.back().max_in_flight = 0;
}

Channel* ChannelRegistry::by_name(std::string_view name) const {
    for (auto& e : drivers_)
        if (e.driver->provider() == name) return e.driver.get();
    return nullptr;
}

CircuitBreaker* ChannelRegistry::scoped_breaker(Entry& e, const std::string& scope, SteadyPoint now, bool create) {
    if (auto it = e.scoped.find(scope); it != e.scoped.end()) return &it->second;
    if (!create) return nullptr;
    if (e.scoped.size() >= kMaxScopes) {
        std::erase_if(e.scoped, [&](const auto& kv) { return kv.second.state(now) == CircuitBreaker::State::closed; });
        if (e.scoped.size() >= kMaxScopes) e.scoped.erase(e.scoped.begin());
    }
    return &e.scoped.emplace(scope, CircuitBreaker(breaker_)).first->second;
}

bool ChannelRegistry::available(const Entry& e, std::string_view recipient, SteadyPoint now) const {
    if (!e.breaker.available(now)) return false;
    if (e.scoped.empty() || recipient.empty()) return true;
    const std::string scope = e.driver->breaker_scope(recipient);
    auto it = scope.empty() ? e.scoped.end() : e.scoped.find(scope);
    return it == e.scoped.end() || it->second.available(now);
}

Channel* ChannelRegistry::find(std::string_view channel, std::string_view recipient) {
    const auto now = clock_.steady();
    auto fits = [&](const Entry& e) { return e.driver->carries(channel) && e.driver->accepts(recipient); };
    bool weighted = false;  // a provider is configured for it (up or not)
    double total = 0;
    Entry* last = nullptr;
    for (auto& e : drivers_) {
        if (e.weight <= 0 || !fits(e)) continue;
        weighted = true;
        if (available(e, recipient, now)) {
            total += share(e);
            last = &e;
        }
    }
    if (total > 0) {
        double pick = std::uniform_real_distribution<double>(0, total)(rng_);
        for (auto& e : drivers_) {
            if (e.weight <= 0 || !fits(e) || !available(e, recipient, now)) continue;
            const double s = share(e);
            if (pick < s || &e == last) {  // the last one also takes what rounding leaves
                const std::string scope = e.scoped.empty() ? std::string() : e.driver->breaker_scope(recipient);
                if (auto* own = scope.empty() ? nullptr : scoped_breaker(e, scope, now, false)) own->take(now);
                else e.breaker.take(now);
                return e.driver.get();
            }
            pick -= s;
        }
    }
    // The providers of this channel are all down: no outbox stand-in (it would swallow the SMS).
    if (weighted) return nullptr;
    for (auto& e : drivers_)
        if (e.weight == 0 && fits(e)) return e.driver.get();
    return nullptr;
}

bool ChannelRegistry::carried_now(std::string_view channel, std::string_view recipient) const {
    const auto now = clock_.steady();
    bool weighted = false;
    for (auto& e : drivers_) {
        if (!e.driver->carries(channel) || !e.driver->accepts(recipient)) continue;
        if (e.weight > 0 && available(e, recipient, now)) return true;
        weighted = weighted || e.weight > 0;
    }
    if (weighted) return false;
    for (auto& e : drivers_)
        if (e.weight == 0 && e.driver->carries(channel) && e.driver->accepts(recipient)) return true;
    return false;
}

bool ChannelRegistry::carried(std::string_view channel, std::string_view recipient) const {
    for (auto& e : drivers_)
        if (e.driver->carries(channel) && e.driver->accepts(recipient)) return true;
    return false;
}

std::string ChannelRegistry::refusal(std::string_view channel, std::string_view recipient) const {
    std::string why;
    for (auto& e : drivers_) {
        if (e.weight <= 0 || !e.driver->carries(channel) || !e.driver->accepts(recipient)) continue;
        auto refused = e.driver->refusal(recipient);
        if (refused.empty()) return {};
        if (why.empty()) why = std::move(refused);
    }
    return why;
}

int ChannelRegistry::max_in_flight(const Channel* driver) const {
    for (auto& e : drivers_)
        if (e.driver.get() == driver) return e.max_in_flight;
    return 0;
}

double ChannelRegistry::share(const Entry& e) const {
    const double speed = slow_ms_ > 0 && e.latency_ms > slow_ms_ ? std::max(0.1, slow_ms_ / e.latency_ms) : 1.0;
    return e.weight * e.health * speed;
}

void ChannelRegistry::report(const Channel* driver, OutcomeKind outcome, std::chrono::microseconds latency,
                             std::string_view recipient) {
    // A provider that answers, even "bad address" or "bad message", works; one that cannot take
    // the message now (retry, provider down) or does not answer (unknown) does not.
    const bool ok = outcome == OutcomeKind::accepted || outcome == OutcomeKind::bad_address || outcome == OutcomeKind::failed;
    const auto now = clock_.steady();
    for (auto& e : drivers_) {
        if (e.driver.get() != driver || e.weight == 0) continue;
        // A recipient with its own breaker: its failures are its own, neither the provider's
        // breaker nor its health hear of them (an answer still says the provider works). Its
        // breaker is made at its first failure, and forgotten once closed again.
        if (const std::string scope = recipient.empty() ? std::string() : e.driver->breaker_scope(recipient); !scope.empty()) {
            if (auto* own = scoped_breaker(e, scope, now, !ok)) {
                const auto was = own->state(now);
                own->record(ok, now);
                const auto is = own->state(now);
                if (was != is && is == CircuitBreaker::State::open)
                    spdlog::warn("providers: {}: one recipient's endpoint keeps failing; its own breaker is open",
                                 e.driver->provider());
                if (is == CircuitBreaker::State::closed && ok) e.scoped.erase(scope);
            }
            if (ok) e.breaker.record(true, now);
            continue;
        }
        const auto before = e.breaker.state(now);
        e.breaker.record(ok, now);
        e.health = ok ? std::min(1.0, e.health + 0.1) : std::max(0.1, e.health * 0.5);
        // Only answers time the provider: a send that got none is a failure above, not a slowness.
        if (ok && latency.count() > 0) {
            const double ms = static_cast<double>(latency.count()) / 1000.0;
            e.latency_ms = e.latency_ms == 0 ? ms : 0.8 * e.latency_ms + 0.2 * ms;
        }
        const auto after = e.breaker.state(now);
        if (before != after && after == CircuitBreaker::State::open)
            spdlog::warn("providers: {} failed {}; its circuit breaker is open: no traffic until a probe succeeds",
                         e.driver->provider(), ok ? "" : "again");
        else if (before != after && after == CircuitBreaker::State::closed)
            spdlog::info("providers: {} answers again; its circuit breaker is closed", e.driver->provider());
    }
}

std::string ChannelRegistry::prometheus() const {
    const auto now = clock_.steady();
    std::string out = "# HELP crieur_provider_up 1 while the provider's circuit breaker lets traffic through.\n"
                      "# TYPE crieur_provider_up gauge\n";
    for (auto& e : drivers_) {
        if (e.weight == 0) continue;
        out += "crieur_provider_up{provider=\"" + std::string(e.driver->provider()) + "\"} " +
               (e.breaker.available(now) ? "1" : "0") + "\n";
    }
    out += "# HELP crieur_provider_weight The weight a provider gets now: its configured weight times its health and speed.\n"
           "# TYPE crieur_provider_weight gauge\n";
    for (auto& e : drivers_) {
        if (e.weight == 0) continue;
        char value[32];
        std::snprintf(value, sizeof value, "%.2f", share(e));
        out += "crieur_provider_weight{provider=\"" + std::string(e.driver->provider()) + "\"} " + value + "\n";
    }
    out += "# HELP crieur_provider_answer_seconds A provider's answer time, a moving average over its answers.\n"
           "# TYPE crieur_provider_answer_seconds gauge\n";
    for (auto& e : drivers_) {
        if (e.weight == 0) continue;
        char value[32];
        std::snprintf(value, sizeof value, "%.4f", e.latency_ms / 1000.0);
        out += "crieur_provider_answer_seconds{provider=\"" + std::string(e.driver->provider()) + "\"} " + value + "\n";
    }
    return out;
}

std::vector<ChannelRegistry::ProviderState> ChannelRegistry::provider_states() const {
    const auto now = clock_.steady();
    std::vector<ProviderState> out;
    for (auto& e : drivers_) {
        if (e.weight == 0) continue;
        const auto state = e.breaker.state(now);
        out.push_back({std::string(e.driver->provider()),
                       state == CircuitBreaker::State::closed ? "closed" : state == CircuitBreaker::State::open ? "open" : "half_open",
                       share(e), e.latency_ms});
    }
    return out;
}

void ChannelRegistry::start_inbound(const Channel::InboundSink& sink) {
    for (auto& e : drivers_) e.driver->start_inbound(sink);
}

void ChannelRegistry::stop_all() {
    for (auto& e : drivers_) e.driver->stop();
}

}  // namespace crieur
