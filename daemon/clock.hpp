// Clock: the time source handed to everything that depends on time, so that a test can set "now".
// Thread-safe: SystemClock holds no state; tests use their own Clock with a settable instant.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace crieur {

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;
using SteadyPoint = std::chrono::steady_clock::time_point;

// Two times: the wall (what a receipt, a deadline, quiet hours speak of) and the steady one (how
// long something took, when a circuit breaker opens again), which never jumps with the wall.
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
    virtual SteadyPoint steady() const = 0;
};

class SystemClock final : public Clock {
public:
    TimePoint now() const override;
    SteadyPoint steady() const override { return std::chrono::steady_clock::now(); }
};

// The daemon's wall clock: the system's, moved forward by what a test writes in the file that
// CRIEUR_TEST_CLOCK_FILE names (milliseconds to add, read every 50 ms by a thread of its own), so
// that a journey of four months runs in seconds against the real daemon. Without that variable
// it is the system's clock and starts no thread. The steady time is never moved.
class DaemonClock final : public Clock {
public:
    DaemonClock();
    ~DaemonClock() override;
    DaemonClock(const DaemonClock&) = delete;
    DaemonClock& operator=(const DaemonClock&) = delete;
    TimePoint now() const override;
    SteadyPoint steady() const override { return std::chrono::steady_clock::now(); }
    bool moved() const { return !file_.empty(); }

private:
    struct Poller;
    std::string file_;
    std::unique_ptr<Poller> poller_;
};

// Milliseconds since the Unix epoch, the unit stored in SQLite and Redis.
inline std::int64_t to_unix_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_unix_ms(std::int64_t ms) { return TimePoint{std::chrono::milliseconds{ms}}; }

// RFC 3339 in UTC with milliseconds: 2026-11-23T10:20:31.123Z
std::string format_rfc3339(TimePoint t);

}  // namespace crieur
