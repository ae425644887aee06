#include "daemon/quiet_hours.hpp"

#include <date/tz.h>

#include <cstdio>

namespace crieur {

namespace {
using std::chrono::minutes;

bool inside(int minute_of_day, QuietWindow w) {
    if (w.start_minute == w.end_minute) return false;
    if (w.start_minute < w.end_minute) return minute_of_day >= w.start_minute && minute_of_day < w.end_minute;
    return minute_of_day >= w.start_minute || minute_of_day < w.end_minute;  // wraps midnight
}

// The local day and minute of a local time point.
template <class Local>
std::pair<Local, int> split(Local local) {
    const auto day = date::floor<date::days>(local);
    return {day, static_cast<int>(date::floor<minutes>(local - day).count())};
}

// Where the quiet period that holds local minute `m` of `day` ends, in local time.
template <class Day>
auto local_end(Day day, int m, QuietWindow w) {
    const bool ends_tomorrow = w.start_minute > w.end_minute && m >= w.start_minute;
    return day + date::days(ends_tomorrow ? 1 : 0) + minutes(w.end_minute);
}
}  // namespace

bool is_quiet(TimePoint t, const date::time_zone* zone, QuietWindow w) {
    const auto [day, m] = split(zone->to_local(t));
    return inside(m, w);
}

TimePoint first_allowed(TimePoint t, const date::time_zone* zone, QuietWindow w) {
    const auto [day, m] = split(zone->to_local(t));
    if (!inside(m, w)) return t;
    const auto end = local_end(day, m, w);
    const auto info = zone->get_info(end);
    std::chrono::sys_time<std::chrono::milliseconds> at;
    switch (info.result) {
    case date::local_info::unique: at = date::floor<std::chrono::milliseconds>(zone->to_sys(end)); break;
    case date::local_info::ambiguous:  // the clocks went back: the first of the two
        at = TimePoint{date::floor<std::chrono::milliseconds>(end.time_since_epoch() - info.first.offset)};
        break;
    case date::local_info::nonexistent:  // the clocks jumped over it: the jump
        at = date::floor<std::chrono::milliseconds>(info.second.begin);
        break;
    }
    return at;
}

bool is_quiet_at_offset(TimePoint t, int utc_offset_minutes, QuietWindow w) {
    const auto local = t + minutes(utc_offset_minutes);
    const auto [day, m] = split(local);
    return inside(m, w);
}

TimePoint first_allowed_at_offset(TimePoint t, int utc_offset_minutes, QuietWindow w) {
    const auto local = t + minutes(utc_offset_minutes);
    const auto [day, m] = split(local);
    if (!inside(m, w)) return t;
    return TimePoint{local_end(day, m, w) - minutes(utc_offset_minutes)};
}

std::string to_string(QuietWindow w) {
    char s[32];
    std::snprintf(s, sizeof s, "%02d:%02d–%02d:%02d", w.start_minute / 60, w.start_minute % 60, w.end_minute / 60,
                  w.end_minute % 60);
    return s;
}

}  // namespace crieur
