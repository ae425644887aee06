#include "daemon/receipts/inbound.hpp"

namespace crieur::receipts {

const char* to_string(InboundOutcome o) {
    switch (o) {
    case InboundOutcome::pending: return "pending";
    case InboundOutcome::opted_out: return "opted_out";
    case InboundOutcome::opted_in: return "opted_in";
    case InboundOutcome::journey: return "journey";
    case InboundOutcome::forwarded: return "forwarded";
    case InboundOutcome::unknown_sender: return "unknown_sender";
    case InboundOutcome::unmatched: return "unmatched";
    }
    return "pending";
}

InboundWriter::InboundWriter(sqlite3* db)
    : insert_(db, R"(
          INSERT INTO inbound (provider, provider_id, channel, sender, text, in_reply_to, received_at, outcome, settled_at)
          VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?8 = 'pending' THEN NULL ELSE ?7 END)
          ON CONFLICT DO NOTHING)"),
      settle_(db, R"(
          UPDATE inbound SET outcome = ?2, citizen = ?3, service = ?4, journey = ?5, answered_job = ?6, keyword = ?7,
                             settled_at = ?8
          WHERE id = ?1 AND outcome = 'pending')"),
      queue_(db, R"(
          INSERT INTO callbacks (service, message_key, payload, created_at)
          SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM callback_services WHERE service = ?1))"),
      erase_(db, "DELETE FROM inbound WHERE citizen = ?1"),
      clear_(db, R"(
          UPDATE inbound SET sender = NULL, text = NULL
          WHERE received_at < ?1 AND (sender IS NOT NULL OR text IS NOT NULL) AND outcome != 'pending')"),
      delete_(db, "DELETE FROM inbound WHERE received_at < ?1 AND outcome != 'pending'") {}

bool InboundWriter::record(const InboundRecord& r, int& rows) {
    insert_.bind(1, r.provider).bind_opt(2, r.provider_id).bind(3, r.channel).bind(4, r.sender).bind(5, r.text)
        .bind_opt(6, r.in_reply_to).bind(7, r.received_ms).bind(8, to_string(r.outcome)).run();
    const int changed = sqlite3_changes(sqlite3_db_handle(insert_.get()));
    rows += changed;
    return changed > 0;
}

void InboundWriter::settle(const InboundSettled& s, std::int64_t now_ms, int& rows) {
    settle_.bind(1, s.id).bind(2, to_string(s.outcome)).bind_opt(3, s.citizen).bind_opt(4, s.service)
        .bind_opt(5, s.journey).bind_opt(6, s.answered_job).bind_opt(7, s.keyword).bind(8, now_ms).run();
    const int changed = sqlite3_changes(sqlite3_db_handle(settle_.get()));
    rows += changed;
    // Settled once: a row worked out again after a crash does not call the service twice.
    if (changed > 0 && !s.service.empty() && !s.callback_payload.empty())
        queue({s.service, s.callback_key, s.callback_payload, now_ms}, rows);
}

void InboundWriter::queue(const ServiceCallback& c, int& rows) {
    queue_.bind(1, c.service).bind(2, c.key).bind(3, c.payload).bind(4, c.at_ms).run();
    rows += sqlite3_changes(sqlite3_db_handle(queue_.get()));
}

void InboundWriter::erase_citizen(const std::string& citizen, int& rows) {
    erase_.bind(1, citizen).run();
    rows += sqlite3_changes(sqlite3_db_handle(erase_.get()));
    // A reply's callback still in the outbox loses its words and whose they were.
    sqlite::Stmt q(sqlite3_db_handle(erase_.get()), R"(
        UPDATE callbacks SET payload = json_set(payload, '$.data.text', NULL, '$.data.citizen', NULL, '$.data.from', NULL)
        WHERE json_extract(payload, '$.type') = 'reply.received' AND json_extract(payload, '$.data.citizen') = ?1)");
    q.bind(1, citizen).run();
    rows += sqlite3_changes(sqlite3_db_handle(q.get()));
}

void InboundWriter::retain(std::int64_t personal_before_ms, std::int64_t delete_before_ms, int& rows) {
    sqlite3* db = sqlite3_db_handle(insert_.get());
    if (delete_before_ms > 0) {
        delete_.bind(1, delete_before_ms).run();
        rows += sqlite3_changes(db);
    }
    if (personal_before_ms > 0) {
        clear_.bind(1, personal_before_ms).run();
        rows += sqlite3_changes(db);
    }
}

std::vector<InboundRow> pending_inbound(sqlite3* db, std::int64_t after_id, int limit) {
    // The message a reply names is one of our attempts on the same provider instance (the same
    // WhatsApp number): its id is the provider's.
    sqlite::Stmt q(db, R"(
        SELECT i.id, i.provider, i.channel, ifnull(i.sender, ''), ifnull(i.text, ''), i.received_at,
               ifnull(m.job_id, ''), ifnull(m.service, ''), ifnull(m.journey, ''), ifnull(m.citizen, '')
        FROM inbound i INDEXED BY inbound_pending
        LEFT JOIN attempts a ON i.in_reply_to IS NOT NULL AND a.provider = i.provider AND a.provider_message_id = i.in_reply_to
        LEFT JOIN messages m ON m.id = a.message_id
        WHERE i.outcome = 'pending' AND i.id > ?1 ORDER BY i.id LIMIT ?2)");
    q.bind(1, after_id).bind(2, limit);
    std::vector<InboundRow> rows;
    while (q.step()) {
        InboundRow r;
        r.id = q.int64(0);
        r.provider = q.text(1);
        r.channel = q.text(2);
        r.sender = q.text(3);
        r.text = q.text(4);
        r.received_ms = q.int64(5);
        r.answered_job = q.text(6);
        r.answered_service = q.text(7);
        r.answered_journey = q.text(8);
        r.answered_citizen = q.text(9);
        if (!rows.empty() && rows.back().id == r.id) continue;  // two attempts with one provider id: the first
        rows.push_back(std::move(r));
    }
    return rows;
}

std::optional<LatestMessage> latest_message_of(sqlite3* db, const std::vector<std::string>& citizens) {
    sqlite::Stmt q(db, R"(
        SELECT id, ifnull(job_id, ''), ifnull(service, ''), ifnull(journey, '') FROM messages
        WHERE citizen = ?1 AND job_id IS NOT NULL ORDER BY id DESC LIMIT 1)");
    std::optional<LatestMessage> best;
    std::int64_t best_id = 0;
    for (const auto& c : citizens) {
        q.bind(1, c);
        if (q.step() && q.int64(0) > best_id) {
            best_id = q.int64(0);
            best = LatestMessage{std::string(q.text(1)), std::string(q.text(2)), std::string(q.text(3)), c};
        }
        q.reset();
    }
    return best;
}

}  // namespace crieur::receipts
