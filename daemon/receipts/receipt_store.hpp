// ReceiptStore: every message, attempt and event in one SQLite file (WAL). One writer thread
// takes requests from a queue and commits them in batches (group commit); a reader thread answers
// queries. Callers use it from the io_context's thread: requests never block, and their
// completions are posted back to the io_context after the batch that holds them is committed.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/errors.hpp"
#include "daemon/receipts/audit.hpp"
#include "daemon/receipts/inbound.hpp"
#include "daemon/receipts/queries.hpp"
#include "daemon/status.hpp"
#include "daemon/types.hpp"

namespace crieur {

// Start a send: record the message (once per job id) and a new attempt, before anything goes out.
struct BeginRequest {
    std::shared_ptr<const Job> job;  // never null; shared with the delivery, read on the writer thread
    std::string stream_id;
    std::string channel;
    std::string provider;
    std::string recipient;
    std::string locale;        // the locale the message was rendered in
    std::string sms_encoding;  // sms: gsm7 or ucs2
    int sms_segments = 0;
    // An escalation on silence: allowed only while the message is `sent` (no delivery receipt yet)
    // or `failed` (the provider reported a failure after accepting it); delivered or read, it is a
    // duplicate and nothing more goes out. `on_failure_only`: allowed only once it failed.
    bool escalation = false;
    bool on_failure_only = false;
};

enum class BeginVerdict {
    send,           // recorded: go ahead with the send
    duplicate,      // this job id already has a final status, or is being sent right now: do not send
    marked_unknown, // a send of it was interrupted by a crash; marked `unknown` (intake.on_crash = "unknown")
    store_failed,   // the database refused the write: leave the job pending and try later
};

struct BeginResult {
    BeginVerdict verdict = BeginVerdict::store_failed;
    std::int64_t message_id = 0;
    std::int64_t attempt_id = 0;
    int attempt_no = 0;
    Status existing = Status::queued;  // for duplicates: the status found
    bool resent_after_crash = false;   // an earlier attempt was interrupted and this one resends it
};

struct FinishRequest {
    std::string job_id;
    std::int64_t message_id = 0;
    std::int64_t attempt_id = 0;
    Outcome outcome;
    Status status = Status::sent;  // the message's status after this attempt
    std::int64_t latency_us = 0;
    bool escalation = false;  // the status only moves forward: a receipt of the first channel may have come meanwhile
    std::string status_reason;  // the message's reason for a final status; empty: the outcome's
    std::int64_t finished_ms = 0;  // when the provider answered (Unix ms); 0: when it is written
};

// A message that ends, or waits, without a send: rejected, expired, scheduled, failed (no channel).
struct UnsentRequest {
    std::string stream_id;
    std::string job_id;  // empty when the job's id could not be read
    std::string service;
    std::string template_name;
    Status status = Status::rejected;
    std::string reason;
    std::string campaign;  // so that a campaign's cancellation finds its scheduled messages
    // The job's work was interrupted (a poison job): a message caught mid-send may have gone out,
    // so it becomes `unknown`, not `status`. Otherwise a message being sent is left alone.
    bool interrupted = false;
    std::string citizen;  // whom it was for: a campaign's follow-up finds them by it
    std::string journey;  // the journey it is a step of: its failure moves the journey
};


// A bad address learnt from a provider's callback: the attempt's channel and recipient.
struct BadAddress {
    std::string channel, recipient, reason;
};

// A message a provider accepted, then reported failed: what the pipeline needs to decide what
// follows (decide::after_outcome, as for a send's answer).
struct LateFailure {
    std::string job_id;
    std::string channel;          // of the attempt that failed
    std::string provider;         // its provider instance
    std::string provider_status;  // "undelivered 30003"
    int attempt = 1;              // its number among the message's attempts
    bool temporary = false;       // the provider says it may pass: the same channel again later
};

// GDPR erasure of a citizen: their messages keep their status and counts (anonymous statistics),
// and lose what identifies them (citizen id, recipients, provider texts, raw callbacks).
struct EraseRequest {
    std::string citizen;
};

// Cancel what has not gone out: one message by job id (also one still in the stream, not yet read:
// it is cancelled when it comes), or every message of a campaign, now and to come.
struct CancelRequest {
    std::string job_id;    // one of the two
    std::string campaign;
    std::string reason;
    std::int64_t at_ms = 0;  // when the campaign was cancelled (through another daemon); 0: now
};
struct CancelResult {
    std::error_code error = errc::store_failed;  // none: the database took it
    Status status = Status::cancelled;  // a message's status after the request (sent: too late)
    std::int64_t cancelled = 0;         // how many messages it cancelled
};

// Who a message went to on a channel: for an unsubscribe link, which carries only the message id.
struct MessageContact {
    std::string citizen;    // empty for a job with inline recipients
    std::string recipient;  // the address of the latest attempt on the channel
};

// What a reader did, for the send time (docs/sendtime.md): an e-mail opened (its tracking image)
// or a link in it clicked, a push notification tapped (a click), a message read in the app; or an
// app session, which belongs to a citizen and no message. It does not change the message's
// status: link scanners and mail proxies open and click too.
struct Engagement {
    std::string job_id;   // the message; empty for a session
    std::string channel;  // the channel it was read on; empty: the latest accepted attempt's
    std::string event;    // open, click, read, session
    std::string citizen;  // a session's citizen
    std::int64_t at_ms = 0;
    std::string source;   // how we know: "image", "link", "app"
};

// A status callback waiting in the outbox (filled by migration 7's triggers), as the dispatcher
// loads it: its body is the payload, its webhook-id made of the instance and the row id.
struct CallbackRow {
    std::int64_t id = 0;
    std::string message_key;  // the message's job id: one of its callbacks in flight at a time
    std::string payload;
    std::int64_t created_ms = 0;
    int attempts = 0;
};

// What became of callbacks: rows to delete (taken by their endpoint, or given up), and rows to
// keep with their attempts so far (a restart resumes them, and the operator reads last_error).
struct CallbacksSettled {
    std::vector<std::int64_t> done;
    struct Failure {
        std::int64_t id = 0;
        int attempts = 0;
        std::string error;
    };
    std::vector<Failure> failed;
};

// How far a journey's message went, as the receipts' triggers put it in the feed (migration 9).
struct JourneyFeedRow {
    std::int64_t id = 0;
    std::string journey;   // the instance
    std::string job_id;
    std::string progress;  // delivered, read, clicked, failed
    std::int64_t at_ms = 0;
};
// Feed rows the journeys have taken: deleted.
struct JourneyFeedSettled {
    std::vector<std::int64_t> done;
};

// The services that have a callback endpoint: the triggers queue callbacks for these only.
// Rows of services no longer listed are dropped once older than `drop_before_ms` (they would
// have been given up by then).
struct CallbackServices {
    std::vector<std::string> services;
    std::int64_t drop_before_ms = 0;
};

// One step of the retention (docs/privacy.md), run on the writer thread inside a normal batch:
// each sweep walks the messages in the order of their last change, from where the previous step
// stopped, and takes at most `limit` of them. Messages not yet final (queued, scheduled,
// sending) are passed over: their next change brings them back, later.
struct RetentionStep {
    std::int64_t personal_before_ms = 0;  // clear the personal fields of messages last changed before; 0: none
    std::int64_t delete_before_ms = 0;    // remove messages (and app sessions) last changed before; 0: none
    std::int64_t audit_before_ms = 0;     // remove the dashboard's audit entries older; 0: none
    int limit = 500;
};
struct RetentionResult {
    std::error_code error = errc::store_failed;  // none: committed
    std::int64_t cleared = 0;   // messages whose personal fields were cleared
    std::int64_t deleted = 0;   // messages removed with their attempts and events
    std::int64_t sessions = 0;  // app sessions removed
    bool more = false;          // a sweep stopped at its limit: there is more to do now
};

enum class EventVerdict {
    recorded,  // matched to its attempt and recorded
    buffered,  // no attempt has that id yet (the callback overtook the send's answer): kept until one has
    failed,    // the database refused the write
    unknown,   // an engagement with a message that has no accepted attempt (on that channel)
};

class ReceiptStore {
public:
    // Opens (creating if needed) and migrates the database; throws sqlite::Error at start-up.
    ReceiptStore(boost::asio::io_context& io, const ReceiptsConfig& config, OnCrash on_crash, const Clock& clock);
    ~ReceiptStore();
    ReceiptStore(const ReceiptStore&) = delete;
    ReceiptStore& operator=(const ReceiptStore&) = delete;

    void begin(BeginRequest req, std::function<void(BeginResult)> done);
    void finish(FinishRequest req, std::function<void(std::error_code)> done);
    void record_unsent(UnsentRequest req, std::function<void(std::error_code)> done);
    void record_event(ProviderEvent event, std::function<void(EventVerdict)> done);
    // Only the first open, click or read of an attempt is kept, and one session per citizen per
    // quarter of an hour: a reloaded image or a chatty app does not grow the database.
    void record_engagement(Engagement e, std::function<void(EventVerdict)> done);
    // Called on the io_context, after the commit, for each callback that said an address is bad.
    void on_bad_address(std::function<void(const BadAddress&)> f) { on_bad_address_ = std::move(f); }
    // Called likewise for each message (job id) that a callback reported failed after it was accepted.
    void on_late_failure(std::function<void(const LateFailure&)> f) { on_late_failure_ = std::move(f); }
    void cancel(CancelRequest req, std::function<void(CancelResult)> done);
    // Anonymises the citizen's receipts, then empties the WAL so that nothing erased stays on disk.
    void erase_citizen(EraseRequest req, std::function<void(std::error_code)> done);

    // Queries, answered from the reader thread: the message with its attempts and events as JSON
    // (by job id, or by stream entry id), or nullopt when unknown.
    void message_json(std::string id, std::function<void(std::optional<std::string>)> done);
    void status_counts(std::function<void(std::vector<std::pair<std::string, std::int64_t>>)> done);
    // A page of the message list (receipts::message_list), or nullopt when the query failed.
    void message_list(receipts::MessageFilter filter, std::function<void(std::optional<receipts::MessagePage>)> done);
    // Counts by a field (receipts::message_stats), or nullopt when the query failed.
    void message_stats(std::string service, std::string by, std::int64_t since_ms,
                       std::function<void(std::optional<std::string>)> done);
    // A campaign's messages (receipts::campaign_report) for each key, in their order.
    void campaign_reports(std::vector<std::string> keys, std::string service,
                          std::function<void(std::optional<std::vector<std::string>>)> done);
    void message_contact(std::string job_id, std::string channel, std::function<void(std::optional<MessageContact>)> done);

    // Status callbacks (daemon/callbacks): the services whose status changes are queued, the
    // rows settled, a page of a service's outbox after a row id (on the reader thread), and the
    // handler called on the io_context after a commit that queued callbacks.
    void set_callback_services(CallbackServices services);
    void settle_callbacks(CallbacksSettled settled);
    void pending_callbacks(std::string service, std::int64_t after_id, int limit,
                           std::function<void(std::vector<CallbackRow>)> done);
    void on_callbacks_queued(std::function<void()> f) { on_callbacks_queued_ = std::move(f); }
    // The journeys' feed (daemon/journeys): a page after a row id (on the reader thread), and the
    // rows taken, deleted.
    void journey_feed(std::int64_t after_id, int limit, std::function<void(std::vector<JourneyFeedRow>)> done);
    void settle_journey_feed(JourneyFeedSettled settled);
    // Citizens' replies (daemon/receipts/inbound.hpp): one written as it comes (a copy the
    // provider sends again is dropped), a page of those not worked out yet (reader thread), one
    // settled with its callback, the latest message sent to one of some citizens (reader thread),
    // callbacks that are not a message's (journey.notice). `done` after the commit.
    void record_inbound(receipts::InboundRecord record, std::function<void(std::error_code)> done);
    void pending_inbound(std::int64_t after_id, int limit, std::function<void(std::vector<receipts::InboundRow>)> done);
    void settle_inbound(receipts::InboundSettled settled, std::function<void(std::error_code)> done);
    void latest_message_of(std::vector<std::string> citizens,
                           std::function<void(std::optional<receipts::LatestMessage>)> done);
    void queue_callbacks(std::vector<receipts::ServiceCallback> callbacks, std::function<void(std::error_code)> done);
    // The dashboard's audit log: an entry written (`done` after its commit), a page read.
    void record_audit(receipts::AuditEntry entry, std::function<void(std::error_code)> done = {});
    void audit_page(std::int64_t before_id, int limit, std::string operator_name,
                    std::function<void(std::optional<std::string>)> done);
    // This database's random instance id (part of every webhook-id).
    const std::string& instance_id() const { return instance_id_; }

    // One step of the retention; `done` on the io_context after its commit.
    void retain(RetentionStep step, std::function<void(RetentionResult)> done);

    // Commits what is queued and stops both threads. Completions still posted are run by the io_context.
    void stop();

    bool writable() const { return writable_.load(std::memory_order_relaxed); }
    std::uint64_t rows_committed() const { return rows_committed_.load(std::memory_order_relaxed); }
    std::uint64_t batches_committed() const { return batches_committed_.load(std::memory_order_relaxed); }
    std::size_t queue_depth() const;

    // The schema version this build migrates to (PRAGMA user_version).
    static int schema_version();

private:
    using Request = std::variant<BeginRequest, FinishRequest, UnsentRequest, ProviderEvent, EraseRequest, CancelRequest,
                                 Engagement, CallbackServices, CallbacksSettled, RetentionStep, JourneyFeedSettled,
                                 receipts::InboundRecord, receipts::InboundSettled, std::vector<receipts::ServiceCallback>,
                                 receipts::AuditEntry>;
    struct Pending {
        Request request;
        std::function<void(BeginResult)> on_begin;
        std::function<void(std::error_code)> on_done;  // errc::store_failed when the batch was rolled back
        std::function<void(EventVerdict)> on_event;
        std::function<void(CancelResult)> on_cancel;
        std::function<void(RetentionResult)> on_retention;
        int tries = 0;  // a send's outcome is written again when its batch fails (kFinishTries times)
    };
    // About a minute of retries (50 ms doubling to 5 s) before an outcome is given up as failed.
    static constexpr int kFinishTries = 16;
    class Writer;
    class Reader;

    void push(Pending p);
    void writer_loop();

    boost::asio::io_context& io_;
    std::unique_ptr<Writer> writer_;
    std::unique_ptr<Reader> reader_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    bool stopping_ = false;
    std::size_t batch_max_;
    std::atomic<bool> writable_{true};
    std::atomic<std::uint64_t> rows_committed_{0};
    std::atomic<std::uint64_t> batches_committed_{0};
    std::function<void(const BadAddress&)> on_bad_address_;  // used on the io_context only
    std::function<void(const LateFailure&)> on_late_failure_;
    std::function<void()> on_callbacks_queued_;
    std::string instance_id_;
    std::thread writer_thread_;
};

}  // namespace crieur
