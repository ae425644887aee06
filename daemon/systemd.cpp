#include "daemon/systemd.hpp"

#include <systemd/sd-daemon.h>

namespace crieur::systemd {

void notify_ready() { sd_notify(0, "READY=1\nSTATUS=running"); }
void notify_stopping() { sd_notify(0, "STOPPING=1\nSTATUS=draining"); }
void notify_reloading() { sd_notify(0, "RELOADING=1"); }
void notify_status(const std::string& status) { sd_notify(0, ("STATUS=" + status).c_str()); }

Watchdog::Watchdog(boost::asio::io_context& io, std::function<bool()> healthy)
    : timer_(io), healthy_(std::move(healthy)) {}

void Watchdog::start() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    interval_ = std::chrono::microseconds(usec / 2);
    arm();
}

void Watchdog::stop() { timer_.cancel(); }

void Watchdog::arm() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        if (!healthy_ || healthy_()) sd_notify(0, "WATCHDOG=1");
        arm();
    });
}

}  // namespace crieur::systemd
