// systemd integration through libsystemd's sd_notify: READY=1, STOPPING=1, STATUS=, and the
// watchdog. All calls are no-ops when not started by systemd (NOTIFY_SOCKET unset).
// Use from the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <string>

namespace crieur::systemd {

void notify_ready();
void notify_stopping();
void notify_reloading();
void notify_status(const std::string& status);

// Pets the watchdog at half of WatchdogSec from a timer on the io_context, so a stuck loop stops
// petting. `healthy` may veto a pet (the loop runs but the daemon cannot work).
class Watchdog {
public:
    Watchdog(boost::asio::io_context& io, std::function<bool()> healthy);
    void start();
    void stop();

private:
    void arm();
    boost::asio::steady_timer timer_;
    std::function<bool()> healthy_;
    std::chrono::microseconds interval_{0};
};

}  // namespace crieur::systemd
