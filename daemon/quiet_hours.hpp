// QuietHours: the local hours during which no normal message goes out (urgent ones ignore them).
// A window [start, end) in minutes after local midnight, which may wrap midnight (21:00–08:00),
// read in the citizen's IANA time zone through the tz database (libhowardhinnant-date), so that
// daylight-saving changes move it with the clock on the wall. Pure; usable from any thread.
#pragma once

#include <string>

#include "daemon/clock.hpp"

namespace date {
class time_zone;
}

namespace crieur {

struct QuietWindow {
    int start_minute = 21 * 60;
    int end_minute = 8 * 60;  // start == end: no quiet hours
};

// Whether `t` falls inside the window in `zone`.
bool is_quiet(TimePoint t, const date::time_zone* zone, QuietWindow w);
// The first instant at or after `t` outside the window. When the window's local end does not exist
// that day (the clocks jump over it), the instant of the jump; when it exists twice (the clocks
// go back), the first.
TimePoint first_allowed(TimePoint t, const date::time_zone* zone, QuietWindow w);
// The same with a fixed offset from UTC (the offline send-time tool's populations).
bool is_quiet_at_offset(TimePoint t, int utc_offset_minutes, QuietWindow w);
TimePoint first_allowed_at_offset(TimePoint t, int utc_offset_minutes, QuietWindow w);

// "HH:MM–HH:MM" for messages.
std::string to_string(QuietWindow w);

}  // namespace crieur
