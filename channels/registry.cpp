#include "channels/registry.hpp"

#include <algorithm>
#include <concepts>
#include <cstdio>

#include "channels/email/smtp.hpp"
#include "channels/outbox/outbox.hpp"
#include "channels/push/fcm.hpp"
#include "channels/push/webpush.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"
#include "daemon/log.hpp"

static_assert(std::derived_from<crieur::TwilioChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::OvhChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::OutboxChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::SmtpChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::WhatsappChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::WebPushChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::FcmChannel, crieur::Channel>);

namespace crieur {

ChannelRegistry::ChannelRegistry(boost::asio::io_context& io, const Config& config)
    : http_(io, {config.providers.max_connections, config.providers.ca_path, config.providers.verify_tls}),
      breaker_{config.providers.breaker_failures, config.providers.breaker_open_ms, config.providers.breaker_max_open_ms},
      slow_ms_(config.providers.slow_ms) {
    auto add = [&](std::unique_ptr<Channel> driver, int weight) {
        drivers_.push_back({std::move(driver), weight, CircuitBreaker(breaker_)});
        drivers_.back().max_in_flight = config.providers.max_connections;
    };
    // One line per provider. The outbox carries every channel, with weight 0: it takes what no
    // configured provider carries.
    if (config.twilio.enabled) add(std::make_unique<TwilioChannel>(http_, config.twilio), config.twilio.weight);
    if (config.ovh.enabled) add(std::make_unique<OvhChannel>(http_, config.ovh), config.ovh.weight);
    if (config.smtp.enabled) add(std::make_unique<SmtpChannel>(http_, config.smtp), 1);
    if (config.whatsapp.enabled) add(std::make_unique<WhatsappChannel>(http_, config.whatsapp), 1);
    if (config.webpush.enabled) add(std::make_unique<WebPushChannel>(http_, config.webpush), 1);
    if (config.fcm.enabled) add(std::make_unique<FcmChannel>(http_, config.fcm), 1);
    add(std::make_unique<OutboxChannel>(io, config.outbox), 0);
    drivers_.back().max_in_flight = 0;
}

Channel* ChannelRegistry::find(std::string_view channel, std::string_view recipient) {
    const auto now = std::chrono::steady_clock::now();
    auto fits = [&](const Entry& e) { return e.driver->carries(channel) && e.driver->accepts(recipient); };
    bool weighted = false;  // a provider is configured for it (up or not)
    double total = 0;
    Entry* last = nullptr;
    for (auto& e : drivers_) {
        if (e.weight <= 0 || !fits(e)) continue;
        weighted = true;
        if (e.breaker.available(now)) {
            total += share(e);
            last = &e;
        }
    }
    if (total > 0) {
        double pick = std::uniform_real_distribution<double>(0, total)(rng_);
        for (auto& e : drivers_) {
            if (e.weight <= 0 || !fits(e) || !e.breaker.available(now)) continue;
            const double s = share(e);
            if (pick < s || &e == last) {  // the last one also takes what rounding leaves
                e.breaker.take(now);
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
    const auto now = std::chrono::steady_clock::now();
    bool weighted = false;
    for (auto& e : drivers_) {
        if (!e.driver->carries(channel) || !e.driver->accepts(recipient)) continue;
        if (e.weight > 0 && e.breaker.available(now)) return true;
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

int ChannelRegistry::max_in_flight(const Channel* driver) const {
    for (auto& e : drivers_)
        if (e.driver.get() == driver) return e.max_in_flight;
    return 0;
}

double ChannelRegistry::share(const Entry& e) const {
    const double speed = slow_ms_ > 0 && e.latency_ms > slow_ms_ ? std::max(0.1, slow_ms_ / e.latency_ms) : 1.0;
    return e.weight * e.health * speed;
}

void ChannelRegistry::report(const Channel* driver, OutcomeKind outcome, std::chrono::microseconds latency) {
    // A provider that answers, even "bad address" or "bad message", works; one that cannot take
    // the message now (retry, provider down) or does not answer (unknown) does not.
    const bool ok = outcome == OutcomeKind::accepted || outcome == OutcomeKind::bad_address || outcome == OutcomeKind::failed;
    const auto now = std::chrono::steady_clock::now();
    for (auto& e : drivers_) {
        if (e.driver.get() != driver || e.weight == 0) continue;
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
    const auto now = std::chrono::steady_clock::now();
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

void ChannelRegistry::stop_all() {
    for (auto& e : drivers_) e.driver->stop();
}

}  // namespace crieur
