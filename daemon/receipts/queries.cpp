#include "daemon/receipts/queries.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>

#include "daemon/clock.hpp"
#include "daemon/log.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::receipts {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_value(JsonWriter& w, const sqlite::Stmt& s, int col, bool as_time) {
    if (s.is_null(col)) {
        w.Null();
    } else if (as_time) {
        w.String(format_rfc3339(from_unix_ms(s.int64(col))).c_str());
    } else if (sqlite3_column_type(s.get(), col) == SQLITE_INTEGER) {
        w.Int64(s.int64(col));
    } else {
        auto t = s.text(col);
        w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    }
}

// Writes the current row's columns as object members, from column `first` on (but `skip`, which
// the caller writes); times are the columns named `at` or `*_at`; a `recipient` is masked.
void write_row(JsonWriter& w, const sqlite::Stmt& s, int first = 0, std::string_view skip = {}) {
    const int n = sqlite3_column_count(s.get());
    for (int c = first; c < n; ++c) {
        std::string_view name = sqlite3_column_name(s.get(), c);
        if (!skip.empty() && name == skip) continue;
        w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
        if (name == "recipient" && !s.is_null(c)) {
            const std::string masked = mask_address(s.text(c));
            w.String(masked.c_str(), static_cast<rapidjson::SizeType>(masked.size()));
            continue;
        }
        write_value(w, s, c, name == "at" || name.ends_with("_at"));
    }
}

void write_rows(JsonWriter& w, sqlite::Stmt& s) {
    w.StartArray();
    while (s.step()) {
        w.StartObject();
        write_row(w, s);
        w.EndObject();
    }
    w.EndArray();
}

}  // namespace

bool mask_recipients(sqlite::Stmt& recipients, std::int64_t message_id, std::string& text) {
    bool changed = false;
    recipients.bind(1, message_id);
    while (recipients.step()) {
        const std::string whole(recipients.text(0)), masked = mask_address(whole);
        for (auto at = text.find(whole); at != std::string::npos; at = text.find(whole, at + masked.size())) {
            text.replace(at, whole.size(), masked);
            changed = true;
        }
    }
    recipients.reset();
    return changed;
}

std::optional<std::string> message_json(sqlite3* db, const std::string& id) {
    sqlite::Stmt msg(db, R"(
        SELECT id, job_id, stream_id, service, template, locale, citizen, campaign, reference, priority, channel,
               status, status_reason, created_at, updated_at
        FROM messages WHERE job_id = ?1
        UNION ALL
        SELECT id, job_id, stream_id, service, template, locale, citizen, campaign, reference, priority, channel,
               status, status_reason, created_at, updated_at
        FROM messages WHERE job_id IS NULL AND stream_id = ?1
        LIMIT 1)");
    msg.bind(1, id);
    if (!msg.step()) return std::nullopt;
    const auto rowid = msg.int64(0);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    write_row(w, msg, 1);
    w.Key("attempts");
    sqlite::Stmt attempts(db, R"(
        SELECT n, channel, provider, recipient, started_at, finished_at, outcome, provider_message_id, error_code,
               error_text, latency_us, sms_encoding, sms_segments FROM attempts WHERE message_id = ?1 ORDER BY n)");
    attempts.bind(1, rowid);
    write_rows(w, attempts);
    // Raw callback bodies stay in the database, never in a view: they hold the whole number.
    w.Key("events");
    sqlite::Stmt events(db, "SELECT at, status, provider_status FROM events WHERE message_id = ?1 ORDER BY id");
    events.bind(1, rowid);
    write_rows(w, events);
    w.EndObject();
    // Every copy of an address is masked, wherever it stands: the attempts' recipients, and the
    // providers' texts and reasons that quote them.
    std::string json(buf.GetString(), buf.GetSize());
    sqlite::Stmt recipients(db, kMessageRecipients);
    mask_recipients(recipients, rowid, json);
    return json;
}

MessagePage message_list(sqlite3* db, const MessageFilter& f) {
    // Only the filters given, so that SQLite picks the index that fits (the service's, the
    // reference's, the campaign's, the citizen's), walked newest first.
    std::string sql = R"(
        SELECT id, job_id AS id_, service, template, campaign, reference, citizen, priority, channel, status,
               status_reason, created_at, updated_at
        FROM messages WHERE 1)";
    std::vector<std::pair<std::string_view, const std::string*>> texts{
        {" AND service = ?", &f.service}, {" AND status = ?", &f.status}, {" AND template = ?", &f.template_name},
        {" AND campaign = ?", &f.campaign}, {" AND reference = ?", &f.reference}, {" AND citizen = ?", &f.citizen}};
    std::vector<std::pair<std::string_view, std::int64_t>> numbers{
        {" AND created_at >= ?", f.since_ms}, {" AND created_at < ?", f.until_ms}, {" AND id < ?", f.before_id}};
    for (auto& [clause, v] : texts)
        if (!v->empty()) sql += clause;
    for (auto& [clause, v] : numbers)
        if (v != 0) sql += clause;
    sql += " ORDER BY id DESC LIMIT ?";
    sqlite::Stmt q(db, sql.c_str());
    int i = 0;
    for (auto& [clause, v] : texts)
        if (!v->empty()) q.bind(++i, *v);
    for (auto& [clause, v] : numbers)
        if (v != 0) q.bind(++i, v);
    q.bind(++i, f.limit + 1);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("messages");
    w.StartArray();
    int n = 0;
    MessagePage page;
    std::int64_t last = 0;
    sqlite::Stmt recipients(db, kMessageRecipients);
    std::string reason;
    while (q.step()) {
        if (++n > f.limit) {
            page.last_id = last;  // one more row exists: the next page starts after the last shown
            break;
        }
        last = q.int64(0);
        w.StartObject();
        w.Key("id");
        write_value(w, q, 1, false);
        write_row(w, q, 2, "status_reason");
        // A provider's reason may quote the address: masked, as in the message's own view.
        w.Key("status_reason");
        if (q.is_null(10)) {
            w.Null();
        } else {
            reason.assign(q.text(10));
            mask_recipients(recipients, last, reason);
            w.String(reason.c_str(), static_cast<rapidjson::SizeType>(reason.size()));
        }
        if (f.item_cursors) {
            w.Key("cursor");
            w.String(("m" + std::to_string(last)).c_str());
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("next_cursor");
    if (page.last_id) w.String(("m" + std::to_string(page.last_id)).c_str());
    else w.Null();
    w.EndObject();
    page.json.assign(buf.GetString(), buf.GetSize());
    return page;
}

std::int64_t first_message_since(sqlite3* db, std::int64_t since_ms) {
    sqlite::Stmt bounds(db, "SELECT min(id), max(id) FROM messages");
    if (!bounds.step() || bounds.is_null(0)) return 1;
    std::int64_t lo = bounds.int64(0), hi = bounds.int64(1) + 1;
    sqlite::Stmt probe(db, "SELECT id, created_at FROM messages WHERE id >= ?1 ORDER BY id LIMIT 1");
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo) / 2;
        probe.bind(1, mid);
        if (!probe.step()) hi = mid;
        else if (probe.int64(1) < since_ms) lo = probe.int64(0) + 1;
        else hi = mid;
        probe.reset();
    }
    return lo;
}

std::string message_stats(sqlite3* db, const std::string& service, const std::string& by, std::int64_t since_ms) {
    // `by` is a column name from a fixed list, never the caller's text.
    const char* column = by == "channel" ? "channel" : by == "template" ? "template" : by == "service" ? "service" : "status";
    // Since a time: from the first row of that time on, found by its id (first_message_since),
    // so that the last hour of a database of millions is read, not the whole table.
    std::string sql = std::string("SELECT ") + column + ", count(*) FROM messages WHERE id >= ?1";
    if (!service.empty()) sql += " AND service = ?2";
    if (since_ms) sql += " AND created_at >= ?3";
    sql += std::string(" GROUP BY ") + column + " ORDER BY " + column;
    sqlite::Stmt q(db, sql.c_str());
    q.bind(1, since_ms ? first_message_since(db, since_ms) : std::int64_t{0});
    if (!service.empty()) q.bind(2, service);
    if (since_ms) q.bind(3, since_ms);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("since");
    if (since_ms) w.String(format_rfc3339(from_unix_ms(since_ms)).c_str());
    else w.Null();
    w.Key("by");
    w.String(column);
    w.Key("counts");
    w.StartObject();
    while (q.step()) {
        const std::string key = q.is_null(0) ? std::string("none") : std::string(q.text(0));  // no channel yet: "none"
        w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
        w.Int64(q.int64(1));
    }
    w.EndObject();
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

std::string campaign_report(sqlite3* db, const std::string& key, const std::string& service) {
    std::map<std::string, std::int64_t> by_status, by_channel;
    std::int64_t messages = 0, pending = 0;
    const std::string mine = service.empty() ? "" : " AND service = ?2";
    sqlite::Stmt counts(db, "SELECT status, channel, count(*) FROM messages WHERE campaign = ?1" + mine + " GROUP BY status, channel");
    counts.bind(1, key);
    if (!service.empty()) counts.bind(2, service);
    while (counts.step()) {
        const std::string status(counts.text(0));
        const std::string channel = counts.is_null(1) ? "none" : std::string(counts.text(1));
        const auto n = counts.int64(2);
        by_status[status] += n;
        by_channel[channel] += n;
        messages += n;
        if (status == "queued" || status == "scheduled" || status == "sending") pending += n;
    }
    // When each message was first taken by a provider.
    std::vector<std::int64_t> taken;
    sqlite::Stmt first(db, std::string(R"(
        SELECT min(a.finished_at) FROM messages m JOIN attempts a ON a.message_id = m.id
        WHERE m.campaign = ?1 AND a.outcome = 'accepted' AND a.finished_at IS NOT NULL)") + (service.empty() ? "" : " AND m.service = ?2") + " GROUP BY m.id");
    first.bind(1, key);
    if (!service.empty()) first.bind(2, service);
    while (first.step()) taken.push_back(first.int64(0));
    std::sort(taken.begin(), taken.end());

    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("messages");
    w.Int64(messages);
    w.Key("pending");
    w.Int64(pending);
    for (auto [name, map] : {std::pair{"by_status", &by_status}, {"by_channel", &by_channel}}) {
        w.Key(name);
        w.StartObject();
        for (auto& [k, n] : *map) {
            w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
            w.Int64(n);
        }
        w.EndObject();
    }
    w.Key("reach");
    w.StartArray();
    if (!taken.empty()) {
        constexpr std::int64_t kSteps[] = {60'000, 300'000, 900'000, 3'600'000, 21'600'000, 86'400'000};
        std::int64_t step = kSteps[5];
        for (auto s : kSteps)
            if ((taken.back() - taken.front()) / s < 60) {
                step = s;
                break;
            }
        std::size_t i = 0;
        for (std::int64_t at = taken.front() / step * step; i < taken.size(); at += step) {
            while (i < taken.size() && taken[i] < at + step) ++i;
            w.StartObject();
            w.Key("at");
            w.String(format_rfc3339(from_unix_ms(at + step)).c_str());
            w.Key("reached");
            w.Int64(static_cast<std::int64_t>(i));
            w.EndObject();
        }
    }
    w.EndArray();
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

std::vector<std::pair<std::string, std::int64_t>> status_counts(sqlite3* db) {
    std::vector<std::pair<std::string, std::int64_t>> counts;
    sqlite::Stmt s(db, "SELECT status, count(*) FROM messages GROUP BY status ORDER BY status");
    while (s.step()) counts.emplace_back(std::string(s.text(0)), s.int64(1));
    return counts;
}

}  // namespace crieur::receipts
