#include "daemon/receipts/queries.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

// Writes the current row's columns as object members, from column `first` on; times are the
// columns named `at` or `*_at`; a `recipient` is masked.
void write_row(JsonWriter& w, const sqlite::Stmt& s, int first = 0) {
    const int n = sqlite3_column_count(s.get());
    for (int c = first; c < n; ++c) {
        std::string_view name = sqlite3_column_name(s.get(), c);
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
    // providers' texts and reasons that quote them (Twilio writes the number into its errors).
    std::string json(buf.GetString(), buf.GetSize());
    sqlite::Stmt recipients(db, "SELECT DISTINCT recipient FROM attempts WHERE message_id = ?1 AND length(recipient) >= 5");
    recipients.bind(1, rowid);
    while (recipients.step()) {
        const std::string whole(recipients.text(0)), masked = mask_address(whole);
        for (auto at = json.find(whole); at != std::string::npos; at = json.find(whole, at + masked.size()))
            json.replace(at, whole.size(), masked);
    }
    return json;
}

std::vector<std::pair<std::string, std::int64_t>> status_counts(sqlite3* db) {
    std::vector<std::pair<std::string, std::int64_t>> counts;
    sqlite::Stmt s(db, "SELECT status, count(*) FROM messages GROUP BY status ORDER BY status");
    while (s.step()) counts.emplace_back(std::string(s.text(0)), s.int64(1));
    return counts;
}

}  // namespace crieur::receipts
