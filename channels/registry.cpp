#include "channels/registry.hpp"

#include "channels/outbox/outbox.hpp"

namespace crieur {

ChannelRegistry::ChannelRegistry(boost::asio::io_context& io, const Config& config) {
    // One line per provider. The outbox carries every channel and comes last: the fallback driver.
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
