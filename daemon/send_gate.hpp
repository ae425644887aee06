// SendGate: at most `limit` sends in flight per provider; the others wait here in order of
// priority (urgent, then normal, then bulk; first come, first served within each). Without it, a
// backlog of bulk sends would wait in libcurl's connection queue, first in first out, and an
// urgent message read behind them would wait its turn there. Use from the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>

#include "daemon/types.hpp"

namespace crieur {

class SendGate {
public:
    explicit SendGate(boost::asio::io_context& io) : io_(io) {}

    // Takes a place if the provider has fewer than `limit` sends in flight: then the caller sends
    // at once, with no closure to store (the common case).
    bool try_enter(const void* provider, int limit);
    // Queues `start` until one of the provider's sends ends (after try_enter said no). The send
    // started, now or later, must call leave() once it has its outcome.
    void enter(const void* provider, Priority priority, std::function<void()> start);
    void leave(const void* provider);
    std::int64_t waiting() const { return waiting_; }

private:
    struct Lane {
        int active = 0;
        std::array<std::deque<std::function<void()>>, 3> waiting;  // by Priority
    };
    boost::asio::io_context& io_;
    std::unordered_map<const void*, Lane> lanes_;
    std::int64_t waiting_ = 0;
};

}  // namespace crieur
