#include "channels/registry.hpp"

#include <concepts>

#include "channels/email/smtp.hpp"
#include "channels/outbox/outbox.hpp"
#include "channels/push/webpush.hpp"
#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"

static_assert(std::derived_from<crieur::TwilioChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::OutboxChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::SmtpChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::WhatsappChannel, crieur::Channel>);
static_assert(std::derived_from<crieur::WebPushChannel, crieur::Channel>);

namespace crieur {

ChannelRegistry::ChannelRegistry(boost::asio::io_context& io, const Config& config)
    : http_(io, {config.providers.max_connections, config.providers.ca_path, config.providers.verify_tls}) {
    // One line per provider, in order of preference. The outbox carries every channel and comes
    // last: the driver of the channels no provider is configured for.
    if (config.twilio.enabled) drivers_.push_back(std::make_unique<TwilioChannel>(http_, config.twilio));
    if (config.smtp.enabled) drivers_.push_back(std::make_unique<SmtpChannel>(http_, config.smtp));
    if (config.whatsapp.enabled) drivers_.push_back(std::make_unique<WhatsappChannel>(http_, config.whatsapp));
    if (config.webpush.enabled) drivers_.push_back(std::make_unique<WebPushChannel>(http_, config.webpush));
    drivers_.push_back(std::make_unique<OutboxChannel>(io, config.outbox));
}

Channel* ChannelRegistry::find(std::string_view channel) const {
    for (auto& d : drivers_)
        if (d->carries(channel)) return d.get();
    return nullptr;
}

void ChannelRegistry::stop_all() {
    for (auto& d : drivers_) d->stop();
}

}  // namespace crieur
