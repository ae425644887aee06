// FakeClock: a Clock whose "now" a test sets, and local wall times read in an IANA zone, so that
// a test can say "it is 21:59 in Europe/Paris". Test code only; not thread-safe.
#pragma once

#include <date/tz.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "daemon/clock.hpp"

namespace crieur::test {

// "2026-12-01 21:59" in `zone` as an instant (the earlier one when the wall time exists twice).
inline TimePoint local_time(const std::string& zone, const std::string& wall) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0;
    if (std::sscanf(wall.c_str(), "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5)
        throw std::invalid_argument("not a wall time: " + wall);
    const date::local_days day{date::year{y} / mo / d};
    const auto t = day + std::chrono::hours{h} + std::chrono::minutes{mi};
    const auto instant = date::locate_zone(zone)->to_sys(t, date::choose::earliest);
    return std::chrono::time_point_cast<std::chrono::milliseconds>(instant);
}

class FakeClock final : public Clock {
public:
    explicit FakeClock(TimePoint now = {}) : now_(now) {}
    FakeClock(const std::string& zone, const std::string& wall) : now_(local_time(zone, wall)) {}
    TimePoint now() const override { return now_; }
    // Steady time moves only with advance(): set() changes the wall, as a clock change would.
    SteadyPoint steady() const override { return steady_; }
    void set(TimePoint t) { now_ = t; }
    template <class Duration>
    void advance(Duration d) {
        now_ += std::chrono::duration_cast<std::chrono::milliseconds>(d);
        steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
    }

private:
    TimePoint now_;
    SteadyPoint steady_{std::chrono::hours(1000)};
};

}  // namespace crieur::test
