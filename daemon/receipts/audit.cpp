#include "daemon/receipts/audit.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "daemon/clock.hpp"

namespace crieur::receipts {

AuditWriter::AuditWriter(sqlite3* db)
    : insert_(db, "INSERT INTO audit (at, operator, role, action, target, outcome, detail, address) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
      // At most 10,000 a step: the writer is never held for long.
      delete_(db, "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY id LIMIT 10000)") {}

void AuditWriter::record(const AuditEntry& e, std::int64_t now_ms, int& rows) {
    insert_.bind(1, e.at_ms > 0 ? e.at_ms : now_ms).bind(2, e.operator_name).bind(3, e.role).bind(4, e.action)
        .bind(5, e.target).bind(6, e.outcome).bind(7, e.detail).bind(8, e.address).run();
    ++rows;
}

void AuditWriter::retain(std::int64_t before_ms, int& rows) {
    if (before_ms <= 0) return;
    delete_.bind(1, before_ms).run();
    rows += sqlite3_changes(sqlite3_db_handle(delete_.get()));
}

std::string audit_page(sqlite3* db, std::int64_t before_id, int limit, const std::string& operator_name) {
    sqlite::Stmt q(db, "SELECT id, at, operator, role, action, target, outcome, detail, address FROM audit "
                       "WHERE (?1 = 0 OR id < ?1) AND (?2 = '' OR operator = ?2) ORDER BY id DESC LIMIT ?3");
    q.bind(1, before_id).bind(2, operator_name).bind(3, limit + 1);
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("entries");
    w.StartArray();
    int n = 0;
    std::int64_t last = 0;
    bool more = false;
    while (q.step()) {
        if (n == limit) {
            more = true;
            break;
        }
        ++n;
        last = q.int64(0);
        w.StartObject();
        w.Key("id");
        w.Int64(last);
        w.Key("at");
        w.String(format_rfc3339(from_unix_ms(q.int64(1))).c_str());
        const char* names[] = {"operator", "role", "action", "target", "outcome", "detail", "address"};
        for (int c = 2; c <= 8; ++c) {
            w.Key(names[c - 2]);
            const auto t = q.text(c);
            w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("next_cursor");
    if (more) w.String(std::to_string(last).c_str());
    else w.Null();
    w.EndObject();
    return {b.GetString(), b.GetSize()};
}

}  // namespace crieur::receipts
