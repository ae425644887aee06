#include "daemon/sendtime/files.hpp"

#include <date/date.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <istream>
#include <sstream>

#include "daemon/directory/citizen_codec.hpp"

namespace crieur::sendtime {

namespace {
// Reads a CSV with a header; calls `row` with a column lookup for each record.
template <class Row>
void read_csv(std::istream& in, const std::string& name, const std::vector<std::string>& required, Row row) {
    std::string line;
    std::vector<std::string> header, fields;
    int n = 0;
    auto fail = [&](const std::string& what) { throw FileError(name + ":" + std::to_string(n) + ": " + what); };
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (!directory::split_csv(line, fields)) fail("a quote is left open");
        if (header.empty()) {
            header = fields;
            for (auto& r : required)
                if (std::find(header.begin(), header.end(), r) == header.end()) fail("no column '" + r + "'");
            continue;
        }
        if (fields.size() != header.size()) fail(std::to_string(fields.size()) + " fields where the header has " + std::to_string(header.size()));
        auto col = [&](const std::string& c) -> const std::string& {
            return fields[static_cast<std::size_t>(std::find(header.begin(), header.end(), c) - header.begin())];
        };
        row(col, fail);
    }
}

int integer(const std::string& s, const std::function<void(const std::string&)>& fail, const std::string& column) {
    int v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) fail(column + ": not an integer");
    return v;
}
}  // namespace

// date::parse trips GCC 12's -Wmaybe-uninitialized inside date.h (a false positive in the library).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
std::optional<TimePoint> parse_time(const std::string& s) {
    for (const char* format : {"%FT%TZ", "%FT%T%Ez"}) {
        std::istringstream in(s);
        date::sys_time<std::chrono::milliseconds> t;
        in >> date::parse(format, t);
        if (!in.fail() && in.peek() == std::char_traits<char>::eof()) return t;
    }
    return std::nullopt;
}
#pragma GCC diagnostic pop

std::string format_time(TimePoint t) { return date::format("%FT%TZ", date::floor<std::chrono::seconds>(t)); }

std::map<std::string, CitizenInfo> read_citizens(std::istream& in, const std::string& name) {
    std::map<std::string, CitizenInfo> out;
    read_csv(in, name, {"citizen_id", "utc_offset_minutes", "policy_utc_offset_minutes", "app_user"},
             [&](auto col, auto fail) {
                 CitizenInfo c;
                 if (!col("utc_offset_minutes").empty()) c.utc_offset_minutes = integer(col("utc_offset_minutes"), fail, "utc_offset_minutes");
                 c.policy_utc_offset_minutes = integer(col("policy_utc_offset_minutes"), fail, "policy_utc_offset_minutes");
                 c.app_user = col("app_user") == "1";
                 out[col("citizen_id")] = c;
             });
    return out;
}

std::vector<HistoryEvent> read_history(std::istream& in, const std::string& name) {
    std::vector<HistoryEvent> out;
    read_csv(in, name, {"ts", "citizen_id", "message_id", "channel", "event", "kind"}, [&](auto col, auto fail) {
        auto ts = parse_time(col("ts"));
        if (!ts) fail("ts: not a UTC timestamp");
        out.push_back({*ts, col("citizen_id"), col("message_id"), col("channel"), col("event"), col("kind")});
    });
    std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.ts < b.ts; });
    return out;
}

std::vector<Query> read_queries(std::istream& in, const std::string& name) {
    std::vector<Query> out;
    read_csv(in, name,
             {"query_id", "citizen_id", "channel", "created_at", "not_before", "deadline", "urgency", "quiet_start",
              "quiet_end", "policy_utc_offset_minutes"},
             [&](auto col, auto fail) {
                 Query q;
                 q.id = col("query_id");
                 q.citizen = col("citizen_id");
                 q.channel = col("channel");
                 for (auto [column, out_time] : {std::pair{"created_at", &q.created_at}, {"not_before", &q.not_before},
                                                 {"deadline", &q.deadline}}) {
                     auto t = parse_time(col(column));
                     if (!t) fail(std::string(column) + ": not a timestamp");
                     *out_time = *t;
                 }
                 if (col("urgency") != "normal" && col("urgency") != "urgent") fail("urgency: expected normal or urgent");
                 q.urgent = col("urgency") == "urgent";
                 auto start = directory::minutes_of(col("quiet_start")), end = directory::minutes_of(col("quiet_end"));
                 if (!start) fail("quiet_start: expected HH:MM");
                 if (!end) fail("quiet_end: expected HH:MM");
                 q.quiet = {*start, *end};
                 q.policy_utc_offset_minutes = integer(col("policy_utc_offset_minutes"), fail, "policy_utc_offset_minutes");
                 out.push_back(std::move(q));
             });
    return out;
}

}  // namespace crieur::sendtime
