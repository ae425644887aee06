#include "channels/registry.hpp"

#include <concepts>

#include "channels/email/smtp.hpp"
#include "channels/outbox/outbox.hpp"
#include "channels/push/fcm.hpp"
#include "channels/push/webpush.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"

static_assert(std::derived_from<crieur::TwilioChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::OvhChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::OutboxChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::SmtpChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::WhatsappChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::WebPushChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::FcmChannel, crieur::Channel>);

namespace crieur {

ChannelRegistry::ChannelRegistry(boost::asio::io_context& io, const Config& config)
    : http_(io, {config.providers.max_connections, config.providers.ca_path, config.providers.verify_tls}) {
    // One line per provider. The outbox carries every channel, with weight 0: it takes what no
    // configured provider carries.
    if (config.twilio.enabled) drivers_.push_back({std::make_unique<TwilioChannel>(http_, config.twilio), config.twilio.weight});
    if (config.ovh.enabled) drivers_.push_back({std::make_unique<OvhChannel>(http_, config.ovh), config.ovh.weight});
    if (config.smtp.enabled) drivers_.push_back({std::make_unique<SmtpChannel>(http_, config.smtp), 1});
    if (config.whatsapp.enabled) drivers_.push_back({std::make_unique<WhatsappChannel>(http_, config.whatsapp), 1});
    if (config.webpush.enabled) drivers_.push_back({std::make_unique<WebPushChannel>(http_, config.webpush), 1});
    if (config.fcm.enabled) drivers_.push_back({std::make_unique<FcmChannel>(http_, config.fcm), 1});
    drivers_.push_back({std::make_unique<OutboxChannel>(io, config.outbox), 0});
}

Channel* ChannelRegistry::find(std::string_view channel, std::string_view recipient) const {
    auto fits = [&](const Entry& e) { return e.driver->carries(channel) && e.driver->accepts(recipient); };
    int total = 0;
    for (auto& e : drivers_)
        if (e.weight > 0 && fits(e)) total += e.weight;
    if (total > 0) {
        int pick = std::uniform_int_distribution<int>(0, total - 1)(rng_);
        for (auto& e : drivers_) {
            if (e.weight <= 0 || !fits(e)) continue;
            if (pick < e.weight) return e.driver.get();
            pick -= e.weight;
        }
    }
    for (auto& e : drivers_)
        if (e.weight == 0 && fits(e)) return e.driver.get();
    return nullptr;
}

void ChannelRegistry::stop_all() {
    for (auto& e : drivers_) e.driver->stop();
}

}  // namespace crieur
