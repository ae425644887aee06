// CircuitBreaker: one per provider. A run of failures (retry, provider down, no answer) opens it:
// the provider gets no traffic while another carries the channel, or the router moves on. After
// the open time, one probe goes through (half-open): a success closes it, a failure opens it again
// for twice as long (up to a cap). Plain state, given the time by its caller; one thread.
#pragma once

#include <chrono>

namespace crieur {

struct BreakerConfig {
    int failures_to_open = 5;
    int open_ms = 30'000;
    int max_open_ms = 600'000;
};

class CircuitBreaker {
public:
    using Time = std::chrono::steady_clock::time_point;
    enum class State { closed, open, half_open };

    explicit CircuitBreaker(BreakerConfig config = {}) : config_(config), open_for_(config.open_ms) {}

    // Whether a send may go to this provider now (no state change: ask `take` for the one chosen).
    bool available(Time now) const;
    // The provider was chosen: in half-open, this send is the probe.
    void take(Time now);
    // The outcome of a send: `ok` when the provider answered as a working provider does.
    void record(bool ok, Time now);

    State state(Time now) const;
    Time open_until() const { return open_until_; }

private:
    BreakerConfig config_;
    State state_ = State::closed;
    int failures_ = 0;
    bool probe_out_ = false;
    std::chrono::milliseconds open_for_;
    Time open_until_{};
};

const char* to_string(CircuitBreaker::State s);

}  // namespace crieur
