#include "daemon/receipts/receipt_store.hpp"

#include "daemon/worker.hpp"

#include <charconv>
#include <cstdio>
#include <unordered_map>

#include <boost/asio/post.hpp>

#include <filesystem>
#include <map>
#include <unordered_set>
#include <utility>

#include "daemon/log.hpp"
#include "daemon/receipts/queries.hpp"
#include "daemon/receipts/schema.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur {

// Owns the write connection and its prepared statements; used by the writer thread only.
class ReceiptStore::Writer {
public:
    Writer(const ReceiptsConfig& config, OnCrash on_crash, const Clock& clock)
        : on_crash_(on_crash), clock_(clock), cancel_hold_ms_(std::int64_t{config.cancelled_campaign_hold_s} * 1000) {
        const auto dir = std::filesystem::path(config.path).parent_path();
        if (!dir.empty()) std::filesystem::create_directories(dir);
        db_ = sqlite::open(config.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        sqlite3_busy_timeout(db_.get(), 5000);
        sqlite::exec(db_.get(), "PRAGMA journal_mode = WAL");
        sqlite::exec(db_.get(), config.synchronous == "full" ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        sqlite::exec(db_.get(), "PRAGMA foreign_keys = ON");
        sqlite::exec(db_.get(), "PRAGMA secure_delete = ON");  // erased data is overwritten, not left in free space
        const auto from = sqlite::migrate(db_.get(), schema::kMigrations, "receipts");
        if (from < static_cast<std::int64_t>(schema::kMigrations.size()))
            spdlog::info("receipts: migrated the database from schema version {} to {}", from, schema::kMigrations.size());
        sqlite3* db = db_.get();
        insert_message_ = sqlite::Stmt(db, R"(
            INSERT INTO messages (job_id, stream_id, service, template, citizen, campaign, reference, priority,
                                  channel, status, created_at, updated_at, locale, journey)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'sending', ?10, ?10, ?11, ?12)
            ON CONFLICT(job_id) DO NOTHING)");
        find_message_ = sqlite::Stmt(db, "SELECT id, status FROM messages WHERE job_id = ?1");
        find_status_ = sqlite::Stmt(db, "SELECT status FROM messages WHERE id = ?1");
        cancel_message_ = sqlite::Stmt(db, R"(
            INSERT INTO messages (job_id, stream_id, status, status_reason, created_at, updated_at)
            VALUES (?1, '', 'cancelled', ?2, ?3, ?3)
            ON CONFLICT(job_id) DO UPDATE SET status = 'cancelled', status_reason = excluded.status_reason,
                updated_at = excluded.updated_at
            WHERE status IN ('queued', 'scheduled', 'rejected'))");
        status_by_job_ = sqlite::Stmt(db, "SELECT status FROM messages WHERE job_id = ?1");
        add_cancelled_campaign_ = sqlite::Stmt(db, "INSERT INTO cancelled_campaigns (campaign, at) VALUES (?1, ?2) ON CONFLICT(campaign) DO UPDATE SET at = excluded.at");
        cancel_campaign_ = sqlite::Stmt(db, R"(
            UPDATE messages SET status = 'cancelled', status_reason = ?2, updated_at = ?3
            WHERE campaign = ?1 AND status IN ('queued', 'scheduled'))");
        cancelled_mark_ = sqlite::Stmt(db, R"(
            INSERT INTO messages (job_id, stream_id, service, template, citizen, campaign, reference, priority, status,
                                  status_reason, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'cancelled', 'its campaign was cancelled', ?9, ?9)
            ON CONFLICT(job_id) DO UPDATE SET status = 'cancelled', status_reason = 'its campaign was cancelled',
                updated_at = excluded.updated_at
            WHERE status IN ('queued', 'scheduled'))");
        sqlite::Stmt campaigns(db, "SELECT campaign, at FROM cancelled_campaigns");
        while (campaigns.step()) cancelled_campaigns_.emplace(campaigns.text(0), campaigns.int64(1));
        erase_attempts_ = sqlite::Stmt(db, R"(
            UPDATE attempts SET recipient = NULL, error_text = NULL
            WHERE message_id IN (SELECT id FROM messages WHERE citizen = ?1))");
        erase_events_ = sqlite::Stmt(db, R"(
            UPDATE events SET raw = NULL WHERE message_id IN (SELECT id FROM messages WHERE citizen = ?1))");
        erase_messages_ = sqlite::Stmt(db, R"(
            UPDATE messages SET citizen = NULL, reference = NULL,
                                status_reason = CASE WHEN status_reason IS NULL THEN NULL ELSE 'erased' END,
                                -- a campaign's job id ends with the citizen's ("<campaign>:<citizen>")
                                job_id = CASE WHEN substr(job_id, -length(?1) - 1) = ':' || ?1
                                              THEN substr(job_id, 1, length(job_id) - length(?1)) || 'erased-' || id ELSE job_id END
            WHERE citizen = ?1)");
        restart_message_ = sqlite::Stmt(db, R"(
            UPDATE messages SET status = 'sending', status_reason = NULL, stream_id = ?2, channel = ?3,
                                updated_at = ?4, service = ?5, template = ?6, citizen = ?7, campaign = ?8,
                                reference = ?9, priority = ?10, locale = ?11, journey = ?12 WHERE id = ?1)");
        insert_attempt_ = sqlite::Stmt(db, R"(
            INSERT INTO attempts (message_id, n, channel, provider, recipient, started_at, sms_encoding, sms_segments)
            VALUES (?1, (SELECT count(*) + 1 FROM attempts WHERE message_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7)
            RETURNING id, n)");
        interrupt_attempts_ = sqlite::Stmt(db, R"(
            UPDATE attempts SET outcome = 'unknown', finished_at = ?2,
                                error_text = 'interrupted: the daemon stopped during this send'
            WHERE message_id = ?1 AND outcome IS NULL)");
        finish_attempt_ = sqlite::Stmt(db, R"(
            UPDATE attempts SET finished_at = ?2, outcome = ?3, provider_message_id = ?4, error_code = ?5,
                                error_text = ?6, latency_us = ?7 WHERE id = ?1)");
        set_status_ = sqlite::Stmt(db, "UPDATE messages SET status = ?2, status_reason = ?3, updated_at = ?4 WHERE id = ?1");
        // A message that already went out keeps its status: a later invalid copy of it changes nothing.
        // One being sent is left alone too, unless its work was interrupted (a poison job): then
        // it may have gone out, and is `unknown`.
        unsent_ = sqlite::Stmt(db, R"(
            INSERT INTO messages (job_id, stream_id, service, template, status, status_reason, created_at, updated_at, campaign, citizen,
                                  journey)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?10, ?11)
            ON CONFLICT(job_id) DO UPDATE SET
                status = CASE WHEN status = 'sending' THEN 'unknown' ELSE excluded.status END,
                status_reason = excluded.status_reason,
                stream_id = excluded.stream_id, updated_at = excluded.updated_at,
                campaign = ifnull(excluded.campaign, campaign), citizen = ifnull(excluded.citizen, citizen),
                journey = ifnull(excluded.journey, journey)
            WHERE status IN ('queued', 'scheduled', 'rejected', 'unknown') OR (status = 'sending' AND ?9))");
        find_by_stream_ = sqlite::Stmt(db, "SELECT id FROM messages WHERE stream_id = ?1 AND job_id IS ?2");
        insert_event_ = sqlite::Stmt(db, "INSERT INTO events (message_id, at, status, raw) VALUES (?1, ?2, ?3, ?4)");
        find_attempt_ = sqlite::Stmt(db, R"(
            SELECT a.id, a.message_id, m.status, a.channel, a.recipient, m.job_id, a.n FROM attempts a JOIN messages m ON m.id = a.message_id
            WHERE a.provider = ?1 AND a.provider_message_id = ?2)");
        attempt_contact_ = sqlite::Stmt(db, "SELECT channel, recipient, n FROM attempts WHERE id = ?1");
        last_outcome_ = sqlite::Stmt(db, "SELECT outcome FROM attempts WHERE message_id = ?1 ORDER BY n DESC LIMIT 1");
        insert_provider_event_ = sqlite::Stmt(db, R"(
            INSERT INTO events (message_id, attempt_id, at, status, provider_status, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6))");
        engaged_attempt_ = sqlite::Stmt(db, R"(
            SELECT a.id, a.message_id FROM messages m JOIN attempts a ON a.message_id = m.id
            WHERE m.job_id = ?1 AND (?2 = '' OR a.channel = ?2) AND a.outcome = 'accepted' ORDER BY a.n DESC LIMIT 1)");
        insert_engagement_ = sqlite::Stmt(db, R"(
            INSERT INTO events (message_id, attempt_id, at, status, provider_status)
            SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM events WHERE attempt_id = ?2 AND status = ?4))");
        insert_session_ = sqlite::Stmt(db, R"(
            INSERT INTO app_sessions (citizen, at) SELECT ?1, ?2
            WHERE NOT EXISTS (SELECT 1 FROM app_sessions WHERE citizen = ?1 AND at > ?2 - 900000 AND at < ?2 + 900000))");
        erase_sessions_ = sqlite::Stmt(db, "DELETE FROM app_sessions WHERE citizen = ?1");
        // A callback still in the outbox loses the erased message's reference, as the message does.
        erase_callbacks_ = sqlite::Stmt(db, R"(
            UPDATE callbacks SET payload = json_set(payload, '$.data.reference', NULL)
            WHERE message_key IN (SELECT job_id FROM messages WHERE citizen = ?1 AND job_id IS NOT NULL))");
        clear_callback_services_ = sqlite::Stmt(db, "DELETE FROM callback_services");
        add_callback_service_ = sqlite::Stmt(db, "INSERT OR IGNORE INTO callback_services (service) VALUES (?1)");
        drop_orphan_callbacks_ = sqlite::Stmt(db, R"(
            DELETE FROM callbacks WHERE created_at < ?1 AND service NOT IN (SELECT service FROM callback_services))");
        delete_callback_ = sqlite::Stmt(db, "DELETE FROM callbacks WHERE id = ?1");
        delete_journey_feed_ = sqlite::Stmt(db, "DELETE FROM journey_feed WHERE id = ?1");
        fail_callback_ = sqlite::Stmt(db, "UPDATE callbacks SET attempts = ?2, last_error = ?3 WHERE id = ?1");
        callbacks_top_ = sqlite::Stmt(db, "SELECT ifnull(max(id), 0) FROM callbacks");
        sqlite::Stmt instance(db, "SELECT value FROM meta WHERE key = 'instance'");
        if (instance.step()) instance_id_ = instance.text(0);
        touch_message_ = sqlite::Stmt(db, "UPDATE messages SET updated_at = ?2 WHERE id = ?1");
        // The retention's sweeps (migration 8): the messages after the cursor, in the order of
        // their last change, up to the cutoff.
        retention_page_ = sqlite::Stmt(db, R"(
            SELECT id, updated_at, status IN ('queued', 'scheduled', 'sending') FROM messages INDEXED BY messages_by_updated
            WHERE (updated_at, id) > (?1, ?2) AND updated_at < ?3 ORDER BY updated_at, id LIMIT ?4)");
        clear_attempts_ = sqlite::Stmt(db, R"(
            UPDATE attempts SET recipient = NULL, error_text = NULL
            WHERE message_id = ?1 AND (recipient IS NOT NULL OR error_text IS NOT NULL))");
        clear_events_ = sqlite::Stmt(db, "UPDATE events SET raw = NULL WHERE message_id = ?1 AND raw IS NOT NULL");
        clear_reference_ = sqlite::Stmt(db, "UPDATE messages SET reference = NULL WHERE id = ?1 AND reference IS NOT NULL");
        delete_events_ = sqlite::Stmt(db, "DELETE FROM events WHERE message_id = ?1");
        delete_attempts_ = sqlite::Stmt(db, "DELETE FROM attempts WHERE message_id = ?1");
        delete_message_ = sqlite::Stmt(db, "DELETE FROM messages WHERE id = ?1");
        delete_sessions_ = sqlite::Stmt(db, R"(
            DELETE FROM app_sessions WHERE rowid IN (SELECT rowid FROM app_sessions WHERE at < ?1 ORDER BY at LIMIT ?2))");
        delete_cancelled_campaigns_ = sqlite::Stmt(db, "DELETE FROM cancelled_campaigns WHERE at < ?1");
        // Rows no runner took (journeys switched off since): as old as the receipts removed.
        delete_old_journey_feed_ = sqlite::Stmt(db, "DELETE FROM journey_feed WHERE at < ?1");
        recipients_ = sqlite::Stmt(db, receipts::kMessageRecipients);
        reason_of_ = sqlite::Stmt(db, "SELECT status_reason FROM messages WHERE id = ?1 AND status_reason IS NOT NULL");
        set_reason_ = sqlite::Stmt(db, "UPDATE messages SET status_reason = ?2 WHERE id = ?1");
        save_meta_ = sqlite::Stmt(db, "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
        inbound_.emplace(db);
        audit_.emplace(db);
        load_retention_cursors();
    }

    // Where the sweeps stopped, kept in `meta` as "<updated_at> <id>": read at start, and again
    // after a rollback (the cursors moved in memory by the failed batch did not move on disk).
    void load_retention_cursors() {
        sqlite::Stmt q(db_.get(), "SELECT key, value FROM meta WHERE key IN ('retention.personal', 'retention.deleted')");
        personal_cursor_ = deleted_cursor_ = {};
        while (q.step()) {
            RetentionCursor c;
            const std::string v(q.text(1));
            if (std::sscanf(v.c_str(), "%lld %lld", &c.at, &c.id) != 2) continue;
            (q.text(0) == "retention.personal" ? personal_cursor_ : deleted_cursor_) = c;
        }
    }

    RetentionResult retain(const RetentionStep& r, int& rows) {
        RetentionResult out;
        out.error = {};
        // Removal first: what goes whole is not cleared in vain before.
        if (r.delete_before_ms > 0) {
            out.more |= sweep(deleted_cursor_, "retention.deleted", r.delete_before_ms, r.limit, [&](std::int64_t id) {
                for (auto* st : {&delete_events_, &delete_attempts_, &delete_message_}) {
                    st->bind(1, id).run();
                    rows += sqlite3_changes(db_.get());
                }
                ++out.deleted;
            });
            delete_sessions_.bind(1, r.delete_before_ms).bind(2, r.limit).run();
            out.sessions = sqlite3_changes(db_.get());
            out.more |= out.sessions >= r.limit;
            rows += static_cast<int>(out.sessions);
            delete_cancelled_campaigns_.bind(1, r.delete_before_ms).run();
            delete_old_journey_feed_.bind(1, r.delete_before_ms).run();
            for (auto it = cancelled_campaigns_.begin(); it != cancelled_campaigns_.end();)
                it = it->second < r.delete_before_ms ? cancelled_campaigns_.erase(it) : std::next(it);
        }
        inbound_->retain(r.personal_before_ms, r.delete_before_ms, rows);
        audit_->retain(r.audit_before_ms, rows);
        if (r.personal_before_ms > 0) {
            out.more |= sweep(personal_cursor_, "retention.personal", r.personal_before_ms, r.limit, [&](std::int64_t id) {
                int changed = 0;
                // A provider's reason may quote the address: masked while the recipients are
                // still there to say what to mask (the view masks them by the same rule).
                reason_of_.bind(1, id);
                std::string reason = reason_of_.step() ? std::string(reason_of_.text(0)) : std::string();
                reason_of_.reset();
                if (!reason.empty() && receipts::mask_recipients(recipients_, id, reason)) {
                    set_reason_.bind(1, id).bind(2, reason).run();
                    ++changed;
                }
                for (auto* st : {&clear_attempts_, &clear_events_, &clear_reference_}) {
                    st->bind(1, id).run();
                    changed += sqlite3_changes(db_.get());
                }
                rows += changed;
                if (changed > 0) ++out.cleared;
            });
        }
        return out;
    }

private:
    struct RetentionCursor {
        long long at = 0, id = 0;  // the last message swept: its updated_at and id
    };
    // Walks up to `limit` messages after the cursor and last changed before `before`, calls
    // `take` with the final ones, and moves the cursor past them all. True: the limit was reached.
    template <class Take>
    bool sweep(RetentionCursor& cursor, const char* key, std::int64_t before, int limit, Take take) {
        std::vector<std::int64_t> final_ids;
        int seen = 0;
        retention_page_.bind(1, static_cast<std::int64_t>(cursor.at)).bind(2, static_cast<std::int64_t>(cursor.id))
            .bind(3, before).bind(4, limit);
        while (retention_page_.step()) {
            ++seen;
            cursor.id = retention_page_.int64(0);
            cursor.at = retention_page_.int64(1);
            if (retention_page_.int64(2) == 0) final_ids.push_back(cursor.id);
        }
        retention_page_.reset();
        for (auto id : final_ids) take(id);
        if (seen > 0)
            save_meta_.bind(1, key).bind(2, std::to_string(cursor.at) + " " + std::to_string(cursor.id)).run();
        return seen >= limit;
    }

public:

    const std::string& instance_id() const { return instance_id_; }

    void set_callback_services(const CallbackServices& r, int& rows) {
        if (r.services.empty() == callback_triggers_) {  // the first endpoint, or none left
            sqlite::exec(db_.get(), r.services.empty() ? schema::kDropCallbackTriggers : schema::callback_triggers().c_str());
            callback_triggers_ = !r.services.empty();
        }
        clear_callback_services_.run();
        for (const auto& s : r.services) add_callback_service_.bind(1, s).run();
        drop_orphan_callbacks_.bind(1, r.drop_before_ms).run();
        rows += static_cast<int>(r.services.size()) + sqlite3_changes(db_.get());
    }

    void settle_callbacks(const CallbacksSettled& r, int& rows) {
        for (auto id : r.done) delete_callback_.bind(1, id).run();
        for (const auto& f : r.failed) fail_callback_.bind(1, f.id).bind(2, f.attempts).bind_opt(3, f.error).run();
        rows += static_cast<int>(r.done.size() + r.failed.size());
    }

    void settle_journey_feed(const JourneyFeedSettled& r, int& rows) {
        for (auto id : r.done) delete_journey_feed_.bind(1, id).run();
        rows += static_cast<int>(r.done.size());
    }

    // After a rollback: the triggers made or dropped in the batch are undone with it.
    void recheck_callback_triggers() {
        sqlite::Stmt q(db_.get(), "SELECT count(*) FROM sqlite_temp_master WHERE type = 'trigger' AND name = 'callback_on_status'");
        callback_triggers_ = q.step() && q.int64(0) > 0;
    }

    // The outbox's highest row id: it grew in a batch that queued callbacks.
    std::int64_t callbacks_top() {
        callbacks_top_.step();
        const auto top = callbacks_top_.int64(0);
        callbacks_top_.reset();
        return top;
    }

    void begin_batch() { sqlite::exec(db_.get(), "BEGIN IMMEDIATE"); }
    void commit() { sqlite::exec(db_.get(), "COMMIT"); }
    void rollback() {
        try {
            sqlite::exec(db_.get(), "ROLLBACK");
        } catch (const sqlite::Error&) {
        }
    }

    CancelResult cancel(const CancelRequest& r, int& rows) {
        const auto now = to_unix_ms(clock_.now());
        CancelResult out;
        out.error = {};
        if (!r.campaign.empty()) {
            // Its jobs queued up to hold after the cancellation are cancelled as they come: from
            // the cancellation's own time, when another daemon took it.
            const auto at = r.at_ms ? r.at_ms : now;
            add_cancelled_campaign_.bind(1, r.campaign).bind(2, at).run();
            cancelled_campaigns_[r.campaign] = at;
            cancel_campaign_.bind(1, r.campaign).bind_opt(2, r.reason).bind(3, now).run();
            out.cancelled = sqlite3_changes(db_.get());
            rows += 1 + static_cast<int>(out.cancelled);
            return out;
        }
        cancel_message_.bind(1, r.job_id).bind_opt(2, r.reason).bind(3, now).run();
        out.cancelled = sqlite3_changes(db_.get());
        rows += static_cast<int>(out.cancelled);
        status_by_job_.bind(1, r.job_id);
        if (status_by_job_.step()) out.status = parse_status(status_by_job_.text(0)).value_or(Status::unknown);
        status_by_job_.reset();
        return out;
    }

    BeginResult begin(const BeginRequest& r, int& rows) {
        const auto now = to_unix_ms(clock_.now());
        const Job& j = *r.job;
        if (!j.campaign.empty() && !cancelled_campaigns_.empty() && cancelled_before(j.campaign, r.stream_id)) {
            // Its campaign was cancelled: recorded as such, nothing goes out.
            cancelled_mark_.bind(1, j.id).bind(2, r.stream_id).bind(3, j.service).bind(4, j.template_name)
                .bind_opt(5, j.citizen).bind(6, j.campaign).bind_opt(7, j.reference).bind(8, to_string(j.priority))
                .bind(9, now).run();
            rows += sqlite3_changes(db_.get());
            BeginResult out;
            out.verdict = BeginVerdict::duplicate;
            out.existing = Status::cancelled;
            return out;
        }
        insert_message_.bind(1, j.id).bind(2, r.stream_id).bind(3, j.service).bind(4, j.template_name)
            .bind_opt(5, j.citizen).bind_opt(6, j.campaign).bind_opt(7, j.reference).bind(8, to_string(j.priority))
            .bind(9, r.channel).bind(10, now).bind_opt(11, r.locale).bind_opt(12, j.journey).run();
        BeginResult out;
        if (sqlite3_changes(db_.get()) == 1) {
            out.message_id = sqlite3_last_insert_rowid(db_.get());
            ++rows;
        } else {
            find_message_.bind(1, j.id);
            find_message_.step();
            out.message_id = find_message_.int64(0);
            out.existing = parse_status(find_message_.text(1)).value_or(Status::unknown);
            find_message_.reset();
            if (in_flight_.count(j.id)) {
                // The same id queued twice, the first copy still being sent by us.
                out.verdict = BeginVerdict::duplicate;
                return out;
            }
            if (out.existing == Status::sending) {
                // Recorded as sending, but not by this process: the daemon stopped mid-send.
                interrupt_attempts_.bind(1, out.message_id).bind(2, now).run();
                if (on_crash_ == OnCrash::unknown) {
                    set_status_.bind(1, out.message_id).bind(2, "unknown")
                        .bind(3, "interrupted mid-send; it may have gone out (intake.on_crash = unknown)")
                        .bind(4, now).run();
                    rows += 2;
                    out.verdict = BeginVerdict::marked_unknown;
                    return out;
                }
                out.resent_after_crash = true;
            } else if (r.escalation && ((out.existing == Status::failed && failed_after_acceptance(out.message_id)) ||
                                        (out.existing == Status::sent && !r.on_failure_only))) {
                // Silence after the send, or a failure reported after it (an escalation exists only
                // after an accepted send): the next channel goes ahead (the first stays on record).
            } else if (out.existing != Status::rejected && out.existing != Status::queued &&
                       out.existing != Status::scheduled) {
                out.verdict = BeginVerdict::duplicate;
                return out;
            }
            // A corrected resubmission or a resend: the receipt takes the job's current fields.
            restart_message_.bind(1, out.message_id).bind(2, r.stream_id).bind(3, r.channel).bind(4, now)
                .bind(5, j.service).bind(6, j.template_name).bind_opt(7, j.citizen).bind_opt(8, j.campaign)
                .bind_opt(9, j.reference).bind(10, to_string(j.priority)).bind_opt(11, r.locale).bind_opt(12, j.journey)
                .run();
            ++rows;
        }
        insert_attempt_.bind(1, out.message_id).bind(2, r.channel).bind(3, r.provider).bind_opt(4, r.recipient)
            .bind(5, now).bind_opt(6, r.sms_encoding);
        if (r.sms_segments > 0) insert_attempt_.bind(7, r.sms_segments);
        insert_attempt_.step();
        out.attempt_id = insert_attempt_.int64(0);
        out.attempt_no = static_cast<int>(insert_attempt_.int64(1));
        insert_attempt_.reset();
        ++rows;
        in_flight_.insert(j.id);
        out.verdict = BeginVerdict::send;
        return out;
    }

    // Failed by a provider's report after its last attempt was accepted (not by a send's answer).
    bool failed_after_acceptance(std::int64_t message_id) {
        last_outcome_.bind(1, message_id);
        const bool accepted = last_outcome_.step() && !last_outcome_.is_null(0) && last_outcome_.text(0) == "accepted";
        last_outcome_.reset();
        return accepted;
    }

    // The attempt a provider's report is about.
    struct ReportedAttempt {
        std::int64_t id = 0, message_id = 0;
        int n = 1;
        std::string channel;
    };

    void apply_event(const ProviderEvent& e, const ReportedAttempt& attempt, Status current, std::string_view job_id,
                     int& rows) {
        const auto now = to_unix_ms(clock_.now());
        insert_provider_event_.bind(1, attempt.message_id).bind(2, attempt.id).bind(3, now).bind(4, to_string(e.status))
            .bind_opt(5, e.provider_status).bind_opt(6, e.raw).run();
        ++rows;
        // Reports arrive out of order; the status only moves forward (can_transition).
        if (can_transition(current, e.status)) {
            set_status_.bind(1, attempt.message_id).bind(2, to_string(e.status));
            if (e.status == Status::failed) set_status_.bind_opt(3, e.provider_status);
            else set_status_.bind_null(3);
            set_status_.bind(4, now).run();
            ++rows;
            // Accepted, then failed: the pipeline decides what follows (the same channel again, the next one).
            if (e.status == Status::failed && !job_id.empty())
                late_failures_.push_back({std::string(job_id), attempt.channel, e.provider, e.provider_status, attempt.n,
                                          e.temporary});
        } else if (!e.raw.empty()) {
            // A report that changes nothing still brings a raw body: the message counts as changed,
            // so that the retention's sweep comes back for it (migration 8).
            touch_message_.bind(1, attempt.message_id).bind(2, now).run();
        }
    }

    void finish(const FinishRequest& r, int& rows) {
        const auto now = to_unix_ms(clock_.now());
        const Outcome& o = r.outcome;
        finish_attempt_.bind(1, r.attempt_id).bind(2, r.finished_ms > 0 ? r.finished_ms : now).bind(3, to_string(o.kind)).bind_opt(4, o.provider_id)
            .bind_opt(5, o.code).bind_opt(6, o.reason).bind(7, r.latency_us).run();
        bool keep_status = false;
        if (r.escalation) {
            // The first channel's receipt may have come during this send: never move back from it.
            find_status_.bind(1, r.message_id);
            const auto current = find_status_.step() ? parse_status(find_status_.text(0)) : std::nullopt;
            find_status_.reset();
            keep_status = current && (*current == Status::delivered || *current == Status::read);
        }
        if (!keep_status) {
            set_status_.bind(1, r.message_id).bind(2, to_string(r.status));
            if (r.status == Status::sent) set_status_.bind_null(3);
            else set_status_.bind_opt(3, r.status_reason.empty() ? o.reason : r.status_reason);
            set_status_.bind(4, now).run();
            ++rows;
        }
        ++rows;
        in_flight_.erase(r.job_id);
        // Callbacks that came before this answer: record them now, in the order they came.
        if (!o.provider_id.empty() && !early_.empty()) {
            auto range = early_.equal_range(o.provider + '\n' + o.provider_id);
            if (range.first == range.second) return;  // others' early callbacks: no lookup for this one
            ReportedAttempt attempt{r.attempt_id, r.message_id};
            std::string recipient;
            attempt_contact_.bind(1, r.attempt_id);
            if (attempt_contact_.step()) {
                attempt.channel = attempt_contact_.text(0);
                if (!attempt_contact_.is_null(1)) recipient = attempt_contact_.text(1);
                attempt.n = static_cast<int>(attempt_contact_.int64(2));
            }
            attempt_contact_.reset();
            for (auto it = range.first; it != range.second; ++it) {
                apply_event(it->second, attempt, r.status, r.job_id, rows);
                if (it->second.bad_address && !recipient.empty())
                    bad_addresses_.push_back({attempt.channel, recipient, it->second.provider_status});
            }
            early_.erase(range.first, range.second);
        }
    }

    void erase_citizen(const EraseRequest& r, int& rows) {
        erase_callbacks_.bind(1, r.citizen).run();
        rows += sqlite3_changes(db_.get());
        erase_attempts_.bind(1, r.citizen).run();
        rows += sqlite3_changes(db_.get());
        erase_events_.bind(1, r.citizen).run();
        rows += sqlite3_changes(db_.get());
        erase_messages_.bind(1, r.citizen).run();
        rows += sqlite3_changes(db_.get());
        erase_sessions_.bind(1, r.citizen).run();
        rows += sqlite3_changes(db_.get());
        inbound_->erase_citizen(r.citizen, rows);
    }

    void record_inbound(const receipts::InboundRecord& r, int& rows) {
        if (r.received_ms > 0) return void(inbound_->record(r, rows));
        auto stamped = r;  // the provider gave no time: when it reached us
        stamped.received_ms = to_unix_ms(clock_.now());
        inbound_->record(stamped, rows);
    }
    void settle_inbound(const receipts::InboundSettled& r, int& rows) {
        inbound_->settle(r, to_unix_ms(clock_.now()), rows);
    }
    void record_audit(const receipts::AuditEntry& e, int& rows) { audit_->record(e, to_unix_ms(clock_.now()), rows); }
    void queue_callbacks(const std::vector<receipts::ServiceCallback>& r, int& rows) {
        for (const auto& c : r) inbound_->queue(c, rows);
    }

    EventVerdict record_engagement(const Engagement& e, int& rows) {
        if (e.event == "session") {
            insert_session_.bind(1, e.citizen).bind(2, e.at_ms).run();
            rows += sqlite3_changes(db_.get());
            return EventVerdict::recorded;
        }
        engaged_attempt_.bind(1, e.job_id).bind(2, e.channel);
        if (!engaged_attempt_.step()) {
            engaged_attempt_.reset();
            return EventVerdict::unknown;
        }
        const auto attempt_id = engaged_attempt_.int64(0), message_id = engaged_attempt_.int64(1);
        engaged_attempt_.reset();
        insert_engagement_.bind(1, message_id).bind(2, attempt_id).bind(3, e.at_ms).bind(4, e.event)
            .bind_opt(5, e.source).run();
        rows += sqlite3_changes(db_.get());
        return EventVerdict::recorded;
    }
    void checkpoint() { sqlite::exec(db_.get(), "PRAGMA wal_checkpoint(TRUNCATE)"); }

    void record_unsent(const UnsentRequest& r, int& rows) {
        const auto now = to_unix_ms(clock_.now());
        if (r.job_id.empty()) unsent_.bind_null(1);
        else unsent_.bind(1, r.job_id);
        unsent_.bind(2, r.stream_id).bind_opt(3, r.service).bind_opt(4, r.template_name).bind(5, to_string(r.status))
            .bind_opt(6, r.reason).bind(7, now).bind_opt(8, r.campaign).bind(9, r.interrupted ? 1 : 0)
            .bind_opt(10, r.citizen).bind_opt(11, r.journey).run();
        if (sqlite3_changes(db_.get()) != 1) return;  // the message had gone out already
        ++rows;
        // The message's row id: last_insert_rowid is not set by the upsert's update branch.
        if (r.job_id.empty()) find_by_stream_.bind(1, r.stream_id).bind_null(2);
        else find_by_stream_.bind(1, r.stream_id).bind(2, r.job_id);
        if (find_by_stream_.step()) {
            insert_event_.bind(1, find_by_stream_.int64(0)).bind(2, now).bind(3, to_string(r.status))
                .bind_opt(4, r.reason).run();
            ++rows;
        }
        find_by_stream_.reset();
    }

    EventVerdict record_event(const ProviderEvent& e, int& rows) {
        find_attempt_.bind(1, e.provider).bind(2, e.provider_id);
        if (!find_attempt_.step()) {
            find_attempt_.reset();
            // The callback overtook the send's answer: keep it until the attempt has its id.
            if (early_.size() >= kMaxEarlyEvents) early_.erase(early_.begin());
            early_.emplace(e.provider + '\n' + e.provider_id, e);
            return EventVerdict::buffered;
        }
        const ReportedAttempt attempt{find_attempt_.int64(0), find_attempt_.int64(1),
                                      static_cast<int>(find_attempt_.int64(6)), std::string(find_attempt_.text(3))};
        const auto current = parse_status(find_attempt_.text(2)).value_or(Status::unknown);
        if (e.bad_address && !find_attempt_.is_null(4))
            bad_addresses_.push_back({attempt.channel, std::string(find_attempt_.text(4)), e.provider_status});
        const std::string job_id(find_attempt_.is_null(5) ? "" : find_attempt_.text(5));
        find_attempt_.reset();
        apply_event(e, attempt, current, job_id, rows);
        return EventVerdict::recorded;
    }

    // The bad addresses learnt by the batch, for after its commit (dropped with a rolled-back batch).
    std::vector<BadAddress> take_bad_addresses() { return std::exchange(bad_addresses_, {}); }
    // The job ids whose message failed after it was accepted, likewise.
    std::vector<LateFailure> take_late_failures() { return std::exchange(late_failures_, {}); }

    // A batch that failed is rolled back: the jobs in it were not begun after all.
    void forget(const BeginRequest& r) { in_flight_.erase(r.job->id); }
    // ... and the outcomes in it were not finished: their jobs are still being sent by us.
    void remember(const FinishRequest& r) { in_flight_.insert(r.job_id); }

private:
    OnCrash on_crash_;
    const Clock& clock_;
    sqlite::DbPtr db_;
    sqlite::Stmt erase_attempts_, erase_events_, erase_messages_, find_status_, cancel_message_, status_by_job_,
        add_cancelled_campaign_, cancel_campaign_, cancelled_mark_;
    std::int64_t cancel_hold_ms_;
    std::unordered_map<std::string, std::int64_t> cancelled_campaigns_;  // campaign → when it was cancelled (Unix ms)
    // Whether the campaign's cancellation covers this stream entry: what was queued before it, and
    // for cancelled_campaign_hold_s after it (a service still fanning the campaign out); a name
    // used again later goes out. The entry id's first part is the Redis server's clock at XADD
    // (an id that does not read so is covered).
    bool cancelled_before(const std::string& campaign, const std::string& stream_id) const {
        const auto found = cancelled_campaigns_.find(campaign);
        if (found == cancelled_campaigns_.end()) return false;
        std::int64_t queued = 0;
        const auto dash = stream_id.find('-');
        const auto [end, ec] = std::from_chars(stream_id.data(), stream_id.data() + (dash == std::string::npos ? stream_id.size() : dash), queued);
        (void)end;
        return ec != std::errc{} || queued < found->second + cancel_hold_ms_;
    }
    sqlite::Stmt insert_message_, find_message_, restart_message_, insert_attempt_, interrupt_attempts_,
        finish_attempt_, set_status_, unsent_, find_by_stream_, insert_event_;
    std::unordered_set<std::string> in_flight_;  // job ids begun and not finished by this process
    sqlite::Stmt find_attempt_, insert_provider_event_, attempt_contact_, last_outcome_;
    sqlite::Stmt engaged_attempt_, insert_engagement_, insert_session_, erase_sessions_;
    sqlite::Stmt erase_callbacks_, clear_callback_services_, add_callback_service_, drop_orphan_callbacks_,
        delete_callback_, fail_callback_, callbacks_top_, delete_journey_feed_;
    sqlite::Stmt touch_message_, retention_page_, clear_attempts_, clear_events_, clear_reference_, delete_events_,
        delete_attempts_, delete_message_, delete_sessions_, delete_cancelled_campaigns_, delete_old_journey_feed_, save_meta_, recipients_,
        reason_of_, set_reason_;
    RetentionCursor personal_cursor_, deleted_cursor_;
    std::optional<receipts::InboundWriter> inbound_;  // made once the schema has its table
    std::optional<receipts::AuditWriter> audit_;
    std::string instance_id_;
    bool callback_triggers_ = false;  // created on this connection (schema::callback_triggers())
    std::vector<BadAddress> bad_addresses_;
    std::vector<LateFailure> late_failures_;
    // Provider events that arrived before their attempt had the provider's id, by provider + id.
    // Bounded: past kMaxEarlyEvents the oldest goes (a lost receipt, never a lost message).
    static constexpr std::size_t kMaxEarlyEvents = 100'000;
    std::multimap<std::string, ProviderEvent> early_;
};

// Owns a read-only connection and its thread; answers queries in the order they come.
class ReceiptStore::Reader {
public:
    Reader(const std::string& path) : db_(sqlite::open(path, SQLITE_OPEN_READONLY)) { sqlite3_busy_timeout(db_.get(), 2000); }
    ~Reader() { stop(); }
    void stop() { worker_.stop(); }
    void post(std::function<void(sqlite3*)> job) {
        worker_.post([this, job = std::move(job)] { job(db_.get()); });
    }

private:
    sqlite::DbPtr db_;
    Worker worker_{"receipts: query failed"};  // last: stopped (joined) before the connection closes
};

ReceiptStore::ReceiptStore(boost::asio::io_context& io, const ReceiptsConfig& config, OnCrash on_crash,
                           const Clock& clock)
    : io_(io), writer_(std::make_unique<Writer>(config, on_crash, clock)),
      reader_(std::make_unique<Reader>(config.path)), batch_max_(static_cast<std::size_t>(config.batch_max)) {
    instance_id_ = writer_->instance_id();
    writer_thread_ = std::thread([this] { writer_loop(); });
}

ReceiptStore::~ReceiptStore() { stop(); }

int ReceiptStore::schema_version() { return static_cast<int>(schema::kMigrations.size()); }

void ReceiptStore::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !writer_thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (writer_thread_.joinable()) writer_thread_.join();
    if (reader_) reader_->stop();
}

std::size_t ReceiptStore::queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void ReceiptStore::push(Pending p) {
    bool was_empty;
    {
        std::lock_guard lock(mutex_);
        was_empty = queue_.empty();
        queue_.push_back(std::move(p));
    }
    if (was_empty) wake_.notify_one();
}

void ReceiptStore::begin(BeginRequest req, std::function<void(BeginResult)> done) {
    push({std::move(req), std::move(done), {}, {}});
}
void ReceiptStore::finish(FinishRequest req, std::function<void(std::error_code)> done) {
    push({std::move(req), {}, std::move(done), {}});
}
void ReceiptStore::record_unsent(UnsentRequest req, std::function<void(std::error_code)> done) {
    push({std::move(req), {}, std::move(done), {}});
}
void ReceiptStore::record_event(ProviderEvent event, std::function<void(EventVerdict)> done) {
    push({std::move(event), {}, {}, std::move(done)});
}

void ReceiptStore::record_engagement(Engagement e, std::function<void(EventVerdict)> done) {
    push({std::move(e), {}, {}, std::move(done)});
}

void ReceiptStore::erase_citizen(EraseRequest req, std::function<void(std::error_code)> done) {
    push({std::move(req), {}, std::move(done), {}});
}

void ReceiptStore::cancel(CancelRequest req, std::function<void(CancelResult)> done) {
    push({std::move(req), {}, {}, {}, std::move(done)});
}

void ReceiptStore::retain(RetentionStep step, std::function<void(RetentionResult)> done) {
    Pending p{std::move(step), {}, {}, {}};
    p.on_retention = std::move(done);
    push(std::move(p));
}

void ReceiptStore::set_callback_services(CallbackServices services) { push({std::move(services), {}, {}, {}}); }
void ReceiptStore::settle_callbacks(CallbacksSettled settled) { push({std::move(settled), {}, {}, {}}); }

void ReceiptStore::settle_journey_feed(JourneyFeedSettled settled) { push({std::move(settled), {}, {}, {}}); }

void ReceiptStore::record_inbound(receipts::InboundRecord record, std::function<void(std::error_code)> done) {
    push({std::move(record), {}, std::move(done), {}});
}
void ReceiptStore::settle_inbound(receipts::InboundSettled settled, std::function<void(std::error_code)> done) {
    push({std::move(settled), {}, std::move(done), {}});
}
void ReceiptStore::queue_callbacks(std::vector<receipts::ServiceCallback> callbacks,
                                   std::function<void(std::error_code)> done) {
    push({std::move(callbacks), {}, std::move(done), {}});
}

void ReceiptStore::record_audit(receipts::AuditEntry entry, std::function<void(std::error_code)> done) {
    push({std::move(entry), {}, std::move(done), {}});
}

void ReceiptStore::audit_page(std::int64_t before_id, int limit, std::string operator_name,
                              std::function<void(std::optional<std::string>)> done) {
    reader_->post([this, before_id, limit, operator_name = std::move(operator_name), done = std::move(done)](sqlite3* db) {
        std::optional<std::string> page;
        try {
            page = receipts::audit_page(db, before_id, limit, operator_name);
        } catch (const std::exception& e) {
            spdlog::error("receipts: the audit log could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, page = std::move(page)]() mutable { done(std::move(page)); });
    });
}

void ReceiptStore::pending_inbound(std::int64_t after_id, int limit,
                                   std::function<void(std::vector<receipts::InboundRow>)> done) {
    reader_->post([this, after_id, limit, done = std::move(done)](sqlite3* db) {
        std::vector<receipts::InboundRow> rows;
        try {
            rows = receipts::pending_inbound(db, after_id, limit);
        } catch (const std::exception& e) {
            spdlog::error("receipts: the replies could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, rows = std::move(rows)]() mutable { done(std::move(rows)); });
    });
}

void ReceiptStore::latest_message_of(std::vector<std::string> citizens,
                                     std::function<void(std::optional<receipts::LatestMessage>)> done) {
    reader_->post([this, citizens = std::move(citizens), done = std::move(done)](sqlite3* db) {
        std::optional<receipts::LatestMessage> found;
        try {
            found = receipts::latest_message_of(db, citizens);
        } catch (const std::exception& e) {
            spdlog::error("receipts: a citizen's latest message could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, found = std::move(found)]() mutable { done(std::move(found)); });
    });
}

void ReceiptStore::journey_feed(std::int64_t after_id, int limit, std::function<void(std::vector<JourneyFeedRow>)> done) {
    reader_->post([this, after_id, limit, done = std::move(done)](sqlite3* db) {
        std::vector<JourneyFeedRow> rows;
        try {
            sqlite::Stmt q(db, "SELECT id, journey, job_id, progress, at FROM journey_feed WHERE id > ?1 ORDER BY id LIMIT ?2");
            q.bind(1, after_id).bind(2, limit);
            while (q.step())
                rows.push_back({q.int64(0), std::string(q.text(1)), std::string(q.text(2)), std::string(q.text(3)), q.int64(4)});
        } catch (const std::exception& e) {
            spdlog::error("receipts: the journeys' feed could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, rows = std::move(rows)]() mutable { done(std::move(rows)); });
    });
}

void ReceiptStore::pending_callbacks(std::string service, std::int64_t after_id, int limit,
                                     std::function<void(std::vector<CallbackRow>)> done) {
    reader_->post([this, service = std::move(service), after_id, limit, done = std::move(done)](sqlite3* db) {
        std::vector<CallbackRow> rows;
        try {
            sqlite::Stmt q(db, R"(
                SELECT id, message_key, payload, created_at, attempts FROM callbacks
                WHERE service = ?1 AND id > ?2 ORDER BY id LIMIT ?3)");
            q.bind(1, service).bind(2, after_id).bind(3, limit);
            while (q.step())
                rows.push_back({q.int64(0), std::string(q.text(1)), std::string(q.text(2)), q.int64(3),
                                static_cast<int>(q.int64(4))});
        } catch (const std::exception& e) {
            spdlog::error("receipts: the callbacks of {} could not be read: {}", service, e.what());
        }
        boost::asio::post(io_, [done, rows = std::move(rows)]() mutable { done(std::move(rows)); });
    });
}

void ReceiptStore::writer_loop() {
    std::vector<Pending> batch;
    std::vector<BeginResult> begins;
    std::vector<EventVerdict> events;
    std::vector<CancelResult> cancels;
    std::vector<RetentionResult> retentions;
    std::vector<Pending> retried;  // outcomes whose batch failed: written again after a pause
    std::int64_t callbacks_top = 0;  // the outbox's highest row id after the last commit
    for (;;) {
        batch.clear();
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything is committed
            while (!queue_.empty() && batch.size() < batch_max_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // One transaction for the whole batch: one fsync (at most) for many receipts.
        begins.assign(batch.size(), BeginResult{});
        events.assign(batch.size(), EventVerdict::failed);
        cancels.assign(batch.size(), CancelResult{});
        retentions.assign(batch.size(), RetentionResult{});
        int rows = 0;
        bool ok = true, erased = false, callbacks_queued = false;
        try {
            writer_->begin_batch();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                auto& r = batch[i].request;
                if (auto* b = std::get_if<BeginRequest>(&r)) begins[i] = writer_->begin(*b, rows);
                else if (auto* f = std::get_if<FinishRequest>(&r)) writer_->finish(*f, rows);
                else if (auto* e = std::get_if<ProviderEvent>(&r)) events[i] = writer_->record_event(*e, rows);
                else if (auto* g = std::get_if<Engagement>(&r)) events[i] = writer_->record_engagement(*g, rows);
                else if (auto* k = std::get_if<CancelRequest>(&r)) cancels[i] = writer_->cancel(*k, rows);
                else if (auto* c = std::get_if<CallbackServices>(&r)) writer_->set_callback_services(*c, rows);
                else if (auto* d = std::get_if<CallbacksSettled>(&r)) writer_->settle_callbacks(*d, rows);
                else if (auto* jf = std::get_if<JourneyFeedSettled>(&r)) writer_->settle_journey_feed(*jf, rows);
                else if (auto* t = std::get_if<RetentionStep>(&r)) retentions[i] = writer_->retain(*t, rows);
                else if (auto* in = std::get_if<receipts::InboundRecord>(&r)) writer_->record_inbound(*in, rows);
                else if (auto* is = std::get_if<receipts::InboundSettled>(&r)) writer_->settle_inbound(*is, rows);
                else if (auto* sc = std::get_if<std::vector<receipts::ServiceCallback>>(&r)) writer_->queue_callbacks(*sc, rows);
                else if (auto* au = std::get_if<receipts::AuditEntry>(&r)) writer_->record_audit(*au, rows);
                else if (auto* x = std::get_if<EraseRequest>(&r)) {
                    writer_->erase_citizen(*x, rows);
                    erased = true;
                } else writer_->record_unsent(std::get<UnsentRequest>(r), rows);
            }
            const auto top = writer_->callbacks_top();
            writer_->commit();
            callbacks_queued = top > callbacks_top;
            callbacks_top = top;
            // The WAL still holds the pages as they were before the erasure: copy it back and truncate it.
            if (erased) writer_->checkpoint();
        } catch (const std::exception& e) {
            spdlog::error("receipts: a batch of {} could not be committed: {}", batch.size(), e.what());
            writer_->rollback();
            try {
                writer_->recheck_callback_triggers();
                writer_->load_retention_cursors();
            } catch (const std::exception&) {
            }
            ok = false;
            // While stopping, two more tries at most: the stop must not wait a minute.
            const int tries = [&] {
                std::lock_guard lock(mutex_);
                return stopping_ ? 2 : kFinishTries;
            }();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (auto* b = std::get_if<BeginRequest>(&batch[i].request)) {
                    writer_->forget(*b);
                    begins[i] = BeginResult{};  // store_failed
                } else if (std::holds_alternative<CallbackServices>(batch[i].request) && batch[i].tries < tries) {
                    // The services with an endpoint, and their triggers: written again after the pause.
                    ++batch[i].tries;
                    retried.push_back(std::move(batch[i]));
                } else if (auto* f = std::get_if<FinishRequest>(&batch[i].request);
                           f && batch[i].tries < tries) {
                    // The send happened: its outcome is written, later, rather than failed. A
                    // failed outcome would leave the entry pending, and the job, still `sending`,
                    // would be sent again as if this daemon had crashed. Still ours meanwhile.
                    writer_->remember(*f);
                    ++batch[i].tries;
                    retried.push_back(std::move(batch[i]));
                    batch[i].on_done = nullptr;
                }
                events[i] = EventVerdict::failed;
                cancels[i] = CancelResult{};
                retentions[i] = RetentionResult{};
            }
        }
        auto bad = writer_->take_bad_addresses();
        auto late = writer_->take_late_failures();
        if (!ok) {
            bad.clear();
            late.clear();
        }
        writable_.store(ok, std::memory_order_relaxed);
        if (ok) {
            rows_committed_.fetch_add(static_cast<std::uint64_t>(rows), std::memory_order_relaxed);
            batches_committed_.fetch_add(1, std::memory_order_relaxed);
        }
        // Completions go back to the io_context in one handler, in the order they were asked.
        boost::asio::post(io_, [this, batch = std::move(batch), begins = std::move(begins), events = std::move(events),
                                 cancels = std::move(cancels), retentions = std::move(retentions), bad = std::move(bad),
                                 late = std::move(late), ok, callbacks_queued]() mutable {
            if (callbacks_queued && on_callbacks_queued_) on_callbacks_queued_();
            if (on_bad_address_)
                for (auto& b : bad) on_bad_address_(b);
            if (on_late_failure_)
                for (auto& f : late) on_late_failure_(f);
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (batch[i].on_begin) batch[i].on_begin(std::move(begins[i]));
                else if (batch[i].on_done) batch[i].on_done(ok ? std::error_code{} : make_error_code(errc::store_failed));
                else if (batch[i].on_event) batch[i].on_event(events[i]);
                else if (batch[i].on_cancel) batch[i].on_cancel(cancels[i]);
                else if (batch[i].on_retention) batch[i].on_retention(retentions[i]);
            }
        });
        // After the failed batch's other completions are on their way: they do not wait for the pause.
        if (!retried.empty()) {
            const auto wait = std::chrono::milliseconds(std::min(5000, 50 << std::min(retried.front().tries, 7)));
            spdlog::warn("receipts: {} send outcome(s) kept to be written again in {} ms", retried.size(), wait.count());
            std::unique_lock lock(mutex_);
            for (auto it = retried.rbegin(); it != retried.rend(); ++it) queue_.push_front(std::move(*it));
            retried.clear();
            wake_.wait_for(lock, wait, [&] { return stopping_; });
        }
        batch = {};
        begins = {};
        events = {};
        cancels = {};
        retentions = {};
    }
}

void ReceiptStore::message_json(std::string id, std::function<void(std::optional<std::string>)> done) {
    reader_->post([this, id = std::move(id), done = std::move(done)](sqlite3* db) {
        auto result = receipts::message_json(db, id);
        boost::asio::post(io_, [done, result = std::move(result)]() mutable { done(std::move(result)); });
    });
}

void ReceiptStore::message_contact(std::string job_id, std::string channel,
                                   std::function<void(std::optional<MessageContact>)> done) {
    reader_->post([this, job_id = std::move(job_id), channel = std::move(channel), done = std::move(done)](sqlite3* db) {
        sqlite::Stmt q(db, R"(
            SELECT m.citizen, a.recipient FROM messages m JOIN attempts a ON a.message_id = m.id
            WHERE m.job_id = ?1 AND a.channel = ?2 AND a.recipient IS NOT NULL ORDER BY a.n DESC LIMIT 1)");
        q.bind(1, job_id).bind(2, channel);
        std::optional<MessageContact> found;
        if (q.step()) found = MessageContact{std::string(q.text(0)), std::string(q.text(1))};
        boost::asio::post(io_, [done, found = std::move(found)]() mutable { done(std::move(found)); });
    });
}

void ReceiptStore::message_list(receipts::MessageFilter filter,
                                std::function<void(std::optional<receipts::MessagePage>)> done) {
    reader_->post([this, filter = std::move(filter), done = std::move(done)](sqlite3* db) {
        std::optional<receipts::MessagePage> page;
        try {
            page = receipts::message_list(db, filter);
        } catch (const std::exception& e) {
            spdlog::error("receipts: the message list could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, page = std::move(page)]() mutable { done(std::move(page)); });
    });
}

void ReceiptStore::message_stats(std::string service, std::string by, std::int64_t since_ms,
                                 std::function<void(std::optional<std::string>)> done) {
    reader_->post([this, service = std::move(service), by = std::move(by), since_ms, done = std::move(done)](sqlite3* db) {
        std::optional<std::string> json;
        try {
            json = receipts::message_stats(db, service, by, since_ms);
        } catch (const std::exception& e) {
            spdlog::error("receipts: the stats could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, json = std::move(json)]() mutable { done(std::move(json)); });
    });
}

void ReceiptStore::campaign_reports(std::vector<std::string> keys, std::string service,
                                    std::function<void(std::optional<std::vector<std::string>>)> done) {
    reader_->post([this, keys = std::move(keys), service = std::move(service), done = std::move(done)](sqlite3* db) {
        std::optional<std::vector<std::string>> reports;
        try {
            std::vector<std::string> all;
            for (auto& k : keys) all.push_back(receipts::campaign_report(db, k, service));
            reports = std::move(all);
        } catch (const std::exception& e) {
            spdlog::error("receipts: a campaign's counts could not be read: {}", e.what());
        }
        boost::asio::post(io_, [done, reports = std::move(reports)]() mutable { done(std::move(reports)); });
    });
}

void ReceiptStore::status_counts(std::function<void(std::vector<std::pair<std::string, std::int64_t>>)> done) {
    reader_->post([this, done = std::move(done)](sqlite3* db) {
        auto counts = receipts::status_counts(db);
        boost::asio::post(io_, [done, counts = std::move(counts)]() mutable { done(std::move(counts)); });
    });
}

}  // namespace crieur
