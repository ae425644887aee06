#include "daemon/journeys/anchor.hpp"

#include <date/tz.h>

#include <cctype>

#include "daemon/job_codec.hpp"

namespace crieur::journeys {

namespace {
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

void skip_spaces(std::string_view& s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
}

// Reads "<n><unit>" pairs (w, d, h, m, in that order) from the front of `s`.
struct Parts {
    long weeks = 0, days = 0, hours = 0, minutes = 0;
    bool any = false;
};
std::optional<Parts> read_parts(std::string_view& s) {
    Parts p;
    const std::string_view units = "wdhm";
    std::size_t next_unit = 0;
    while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front()))) {
        long n = 0;
        std::size_t digits = 0;
        while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front()))) {
            if (++digits > 6) return std::nullopt;
            n = n * 10 + (s.front() - '0');
            s.remove_prefix(1);
        }
        if (s.empty()) return std::nullopt;
        const auto u = units.find(s.front(), next_unit);
        if (u == std::string_view::npos) return std::nullopt;
        s.remove_prefix(1);
        next_unit = u + 1;
        (u == 0 ? p.weeks : u == 1 ? p.days : u == 2 ? p.hours : p.minutes) = n;
        p.any = true;
    }
    if (!p.any) return std::nullopt;
    return p;
}

// The instant of a local time in `zone`: the first of two when the clocks go back, the jump when
// they jump over it.
TimePoint to_instant(date::local_time<milliseconds> local, const date::time_zone* zone) {
    if (!zone) return TimePoint{local.time_since_epoch()};
    const auto info = zone->get_info(local);
    switch (info.result) {
    case date::local_info::unique:
        return TimePoint{local.time_since_epoch() - date::floor<milliseconds>(info.first.offset)};
    case date::local_info::ambiguous:
        return TimePoint{local.time_since_epoch() - date::floor<milliseconds>(info.first.offset)};
    case date::local_info::nonexistent:
        break;
    }
    return date::floor<milliseconds>(info.second.begin);
}

date::local_time<milliseconds> to_local(TimePoint t, const date::time_zone* zone) {
    if (!zone) return date::local_time<milliseconds>{t.time_since_epoch()};
    return zone->to_local(t);
}
}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
    auto rest = s;
    auto p = read_parts(rest);
    if (!p || !rest.empty()) return std::nullopt;
    return Duration{date::days(p->weeks * 7 + p->days) + hours(p->hours) + minutes(p->minutes)};
}

std::string format_duration(Duration d) {
    std::string out = d.count() < 0 ? "-" : "";
    auto m = std::chrono::duration_cast<minutes>(d < Duration::zero() ? -d : d).count();
    const long day = 24 * 60;
    if (m >= day) out += std::to_string(m / day) + "d", m %= day;
    if (m >= 60) out += std::to_string(m / 60) + "h", m %= 60;
    if (m > 0 || out.empty() || out == "-") out += std::to_string(m) + "m";
    return out;
}

std::variant<AnchorTime, std::string> parse_anchor_time(std::string_view text) {
    AnchorTime a;
    a.text = std::string(text);
    auto s = text;
    skip_spaces(s);
    while (!s.empty() && (std::isalnum(static_cast<unsigned char>(s.front())) || s.front() == '_')) {
        a.anchor += s.front();
        s.remove_prefix(1);
    }
    if (a.anchor.empty() || std::isdigit(static_cast<unsigned char>(a.anchor.front())))
        return std::string("it must start with the data key of a date, as in \"expires_on - 120d at 09:00\"");
    skip_spaces(s);
    while (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        const int sign = s.front() == '-' ? -1 : 1;
        s.remove_prefix(1);
        skip_spaces(s);
        auto p = read_parts(s);
        if (!p) return std::string("an offset is a duration such as 120d, 2w, 1d12h or 30m");
        a.days += sign * static_cast<int>(p->weeks * 7 + p->days);
        a.elapsed += sign * Duration{hours(p->hours) + minutes(p->minutes)};
        skip_spaces(s);
    }
    if (s.substr(0, 3) == "at ") {
        s.remove_prefix(3);
        skip_spaces(s);
        if (s.size() < 5 || !std::isdigit(static_cast<unsigned char>(s[0])) ||
            !std::isdigit(static_cast<unsigned char>(s[1])) || s[2] != ':' ||
            !std::isdigit(static_cast<unsigned char>(s[3])) || !std::isdigit(static_cast<unsigned char>(s[4])))
            return std::string("the hour is written HH:MM, as in \"at 18:00\"");
        const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
        if (h > 23 || m > 59) return std::string("the hour " + std::string(s.substr(0, 5)) + " does not exist");
        a.at_minute = h * 60 + m;
        s.remove_prefix(5);
        skip_spaces(s);
        // "local" may be written: it is the only meaning.
        if (s.substr(0, 5) == "local") s.remove_prefix(5);
        skip_spaces(s);
    }
    if (!s.empty()) return "unexpected \"" + std::string(s) + "\" (an anchor, offsets, then \"at HH:MM\")";
    return a;
}

std::optional<TimePoint> anchor_instant(std::string_view value, const date::time_zone* zone) {
    if (value.size() == 10) {
        auto digits = [&](std::size_t from, std::size_t n) {
            int v = 0;
            for (std::size_t i = from; i < from + n; ++i) {
                if (!std::isdigit(static_cast<unsigned char>(value[i]))) return -1;
                v = v * 10 + (value[i] - '0');
            }
            return v;
        };
        const int y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
        if (value[4] != '-' || value[7] != '-' || y < 0 || m < 0 || d < 0) return std::nullopt;
        const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                                              std::chrono::day(static_cast<unsigned>(d))};
        if (!ymd.ok()) return std::nullopt;
        const auto day = std::chrono::sys_days(ymd).time_since_epoch();
        return to_instant(date::local_time<milliseconds>{day}, zone);
    }
    return parse_rfc3339(value);
}

std::optional<TimePoint> resolve(const AnchorTime& a, std::string_view value, const date::time_zone* zone) {
    auto base = anchor_instant(value, zone);
    if (!base) return std::nullopt;
    // Calendar days on the wall clock, then the hour of that day, then elapsed hours and minutes.
    auto local = to_local(*base, zone) + date::days(a.days);
    if (a.at_minute) local = date::floor<date::days>(local) + minutes(*a.at_minute);
    return to_instant(local, zone) + a.elapsed;
}

}  // namespace crieur::journeys
