#include "channels/circuit_breaker.hpp"

#include <algorithm>

namespace crieur {

CircuitBreaker::State CircuitBreaker::state(Time now) const {
    if (state_ == State::open && now >= open_until_) return State::half_open;
    return state_;
}

bool CircuitBreaker::available(Time now) const {
    switch (state(now)) {
    case State::closed: return true;
    case State::open: return false;
    case State::half_open: return !probe_out_;
    }
    return true;
}

void CircuitBreaker::take(Time now) {
    if (state(now) == State::half_open) {
        state_ = State::half_open;
        probe_out_ = true;
    }
}

void CircuitBreaker::record(bool ok, Time now) {
    if (ok) {
        state_ = State::closed;
        failures_ = 0;
        probe_out_ = false;
        open_for_ = std::chrono::milliseconds(config_.open_ms);
        return;
    }
    if (state_ == State::half_open) {  // the probe failed: open again, for longer
        probe_out_ = false;
        open_for_ = std::min(open_for_ * 2, std::chrono::milliseconds(config_.max_open_ms));
        state_ = State::open;
        open_until_ = now + open_for_;
        return;
    }
    if (state_ == State::open) return;  // sends that were under way when it opened
    if (++failures_ >= config_.failures_to_open) {
        state_ = State::open;
        open_until_ = now + open_for_;
    }
}

const char* to_string(CircuitBreaker::State s) {
    switch (s) {
    case CircuitBreaker::State::closed: return "closed";
    case CircuitBreaker::State::open: return "open";
    case CircuitBreaker::State::half_open: return "half_open";
    }
    return "closed";
}

}  // namespace crieur
