#include <doctest/doctest.h>

#include <date/tz.h>

#include "daemon/quiet_hours.hpp"

using namespace crieur;

namespace {
TimePoint utc(const char* rfc3339) {
    std::istringstream in(rfc3339);
    date::sys_time<std::chrono::milliseconds> t;
    in >> date::parse("%FT%TZ", t);
    REQUIRE(!in.fail());
    return t;
}
std::string show(TimePoint t) { return format_rfc3339(t); }
const date::time_zone* paris() { return date::locate_zone("Europe/Paris"); }
}  // namespace

TEST_CASE("quiet hours wrap midnight in local time") {
    const QuietWindow night{21 * 60, 8 * 60};
    // Winter, Paris is UTC+1.
    CHECK(is_quiet(utc("2026-01-15T20:30:00Z"), paris(), night));    // 21:30 local
    CHECK_FALSE(is_quiet(utc("2026-01-15T19:59:00Z"), paris(), night));  // 20:59
    CHECK(is_quiet(utc("2026-01-16T06:59:00Z"), paris(), night));    // 07:59
    CHECK_FALSE(is_quiet(utc("2026-01-16T07:00:00Z"), paris(), night));  // 08:00: the end is outside
    CHECK(show(first_allowed(utc("2026-01-15T22:10:00Z"), paris(), night)) == "2026-01-16T07:00:00.000Z");  // 23:10 → 08:00 next day
    CHECK(show(first_allowed(utc("2026-01-16T01:10:00Z"), paris(), night)) == "2026-01-16T07:00:00.000Z");  // 02:10 → 08:00 same day
    CHECK(show(first_allowed(utc("2026-01-16T12:00:00Z"), paris(), night)) == "2026-01-16T12:00:00.000Z");  // outside: now
    // Summer, UTC+2: the same local window is an hour earlier in UTC.
    CHECK(show(first_allowed(utc("2026-07-01T22:10:00Z"), paris(), night)) == "2026-07-02T06:00:00.000Z");
}

TEST_CASE("quiet hours across the daylight-saving changes") {
    const QuietWindow night{21 * 60, 8 * 60};
    // The night of 28-29 March 2026 is an hour shorter: 08:00 CEST is 06:00 UTC.
    CHECK(show(first_allowed(utc("2026-03-28T23:00:00Z"), paris(), night)) == "2026-03-29T06:00:00.000Z");
    // The night of 24-25 October is an hour longer: 08:00 CET is 07:00 UTC.
    CHECK(show(first_allowed(utc("2026-10-24T20:00:00Z"), paris(), night)) == "2026-10-25T07:00:00.000Z");
    // A window ending at 02:30 on 29 March: that local time does not exist; the jump (03:00 CEST) is the end.
    const QuietWindow early{60, 150};
    CHECK(show(first_allowed(utc("2026-03-29T00:30:00Z"), paris(), early)) == "2026-03-29T01:00:00.000Z");
    // Ending at 02:30 on 25 October, which happens twice: the first.
    const QuietWindow late{21 * 60, 150};
    CHECK(show(first_allowed(utc("2026-10-25T00:10:00Z"), paris(), late)) == "2026-10-25T00:30:00.000Z");
}

TEST_CASE("a window within a day, an empty window, and fixed offsets") {
    const QuietWindow lunch{12 * 60, 14 * 60};
    CHECK(is_quiet(utc("2026-01-15T11:30:00Z"), paris(), lunch));
    CHECK(show(first_allowed(utc("2026-01-15T11:30:00Z"), paris(), lunch)) == "2026-01-15T13:00:00.000Z");
    const QuietWindow none{8 * 60, 8 * 60};
    CHECK_FALSE(is_quiet(utc("2026-01-15T07:00:00Z"), paris(), none));
    const QuietWindow night{21 * 60, 8 * 60};
    CHECK(is_quiet_at_offset(utc("2026-01-15T20:30:00Z"), 60, night));
    CHECK(show(first_allowed_at_offset(utc("2026-01-15T20:30:00Z"), 60, night)) == "2026-01-16T07:00:00.000Z");
    CHECK(show(first_allowed_at_offset(utc("2026-01-16T03:30:00Z"), -300, night)) == "2026-01-16T13:00:00.000Z");  // 22:30 at UTC-5
    CHECK(to_string(night) == "21:00–08:00");
}
