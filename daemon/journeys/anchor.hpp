// When a journey's wait ends by the clock: a duration ("21d", "2h30m") or an anchor of the
// journey's data moved by an offset and set to a local hour ("expires_on - 120d at 09:00",
// "appointment_at - 1d at 18:00"). Days and weeks are calendar days in the citizen's time zone
// (a day before a date-time across a clock change is still the day before at the same hour);
// hours and minutes are elapsed time. Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/clock.hpp"

namespace date {
class time_zone;
}

namespace crieur::journeys {

using Duration = std::chrono::milliseconds;

// "21d", "2h", "90m", "1w", "1d12h": weeks, days, hours, minutes, in that order, each once.
// nullopt when it is not one (the caller names the key).
std::optional<Duration> parse_duration(std::string_view s);
std::string format_duration(Duration d);  // "21d", "1d12h", "0m"

struct AnchorTime {
    std::string anchor;           // the data key holding a date (2027-03-14) or a date-time (RFC 3339)
    int days = 0;                 // calendar days in the citizen's zone (weeks count 7)
    Duration elapsed{0};          // hours and minutes
    std::optional<int> at_minute; // "at HH:MM": the local time of the day reached
    std::string text;             // as written
};

// Parses "<anchor> [(+|-) <duration>]... [at HH:MM]"; the error names what is wrong.
std::variant<AnchorTime, std::string> parse_anchor_time(std::string_view s);

// A data value read as an anchor: a date is the local midnight of that day in `zone`; a date-time
// is the instant it names. nullopt when it is neither.
std::optional<TimePoint> anchor_instant(std::string_view value, const date::time_zone* zone);

// The instant `a` names for an anchor value, in `zone` (nullptr: UTC). nullopt when the value is
// not a date or a date-time.
std::optional<TimePoint> resolve(const AnchorTime& a, std::string_view value, const date::time_zone* zone);

}  // namespace crieur::journeys
