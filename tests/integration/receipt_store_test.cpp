// The receipt store against real SQLite files: the decisions that keep a job from being sent
// twice, across a restart of the store as across a crash of the daemon.
#include <doctest/doctest.h>

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/receipts/receipt_store.hpp"
#include "daemon/receipts/sqlite.hpp"
#include "support/process.hpp"

using namespace crieur;

namespace {

struct Harness {
    test::TempDir dir;
    boost::asio::io_context io;
    SystemClock clock;
    ReceiptsConfig config{dir / "receipts.sqlite", 64, "normal"};

    std::unique_ptr<ReceiptStore> open(OnCrash policy = OnCrash::resend) {
        return std::make_unique<ReceiptStore>(io, config, policy, clock);
    }

    // Runs the io_context until the store has answered.
    template <class T>
    T await(std::function<void(std::function<void(T)>)> ask) {
        std::optional<T> out;
        auto work = boost::asio::make_work_guard(io);  // run_one waits for the store's answer
        ask([&](T v) { out = std::move(v); });
        io.restart();
        while (!out) io.run_one();
        return std::move(*out);
    }
    // A write that answers with an error code: true once committed.
    bool written(std::function<void(std::function<void(std::error_code)>)> ask) {
        return !await<std::error_code>(std::move(ask));
    }

    BeginResult begin(ReceiptStore& s, const std::string& id, const std::string& entry = "1-0") {
        Job job;
        job.id = id;
        job.service = "etat-civil";
        job.template_name = "passport_expiry";
        return await<BeginResult>([&](auto done) {
            s.begin({std::make_shared<const Job>(job), entry, "sms", "outbox", "+33612345678"}, done);
        });
    }
    bool finish(ReceiptStore& s, const BeginResult& b, const std::string& id, Status status = Status::sent) {
        Outcome o{OutcomeKind::accepted, "outbox", "outbox-1", {}, {}, 0};
        return written([&](auto done) { s.finish({id, b.message_id, b.attempt_id, o, status, 42}, done); });
    }
    std::string status_of(const std::string& id) {
        auto db = sqlite::open(config.path, SQLITE_OPEN_READONLY);
        sqlite::Stmt q(db.get(), "SELECT status FROM messages WHERE job_id = ?1");
        q.bind(1, id);
        return q.step() ? std::string(q.text(0)) : "";
    }
};

}  // namespace

TEST_CASE("a new database is created in WAL mode at the current schema version") {
    Harness h;
    auto store = h.open();
    auto db = sqlite::open(h.config.path, SQLITE_OPEN_READONLY);
    sqlite::Stmt v(db.get(), "PRAGMA user_version");
    REQUIRE(v.step());
    CHECK(v.int64(0) == ReceiptStore::schema_version());
    sqlite::Stmt mode(db.get(), "PRAGMA journal_mode");
    REQUIRE(mode.step());
    CHECK(mode.text(0) == "wal");
}

TEST_CASE("an attempt is recorded before the send, and the outcome after it") {
    Harness h;
    auto store = h.open();
    auto b = h.begin(*store, "job-1");
    CHECK(b.verdict == BeginVerdict::send);
    CHECK(b.attempt_no == 1);
    CHECK(h.status_of("job-1") == "sending");
    CHECK(h.finish(*store, b, "job-1"));
    CHECK(h.status_of("job-1") == "sent");
}

TEST_CASE("the same id is sent once: while in flight, and once sent") {
    Harness h;
    auto store = h.open();
    auto first = h.begin(*store, "job-1", "1-0");
    REQUIRE(first.verdict == BeginVerdict::send);
    auto twin = h.begin(*store, "job-1", "2-0");
    CHECK(twin.verdict == BeginVerdict::duplicate);
    h.finish(*store, first, "job-1");
    auto late = h.begin(*store, "job-1", "3-0");
    CHECK(late.verdict == BeginVerdict::duplicate);
    CHECK(late.existing == Status::sent);
}

TEST_CASE("after a crash mid-send, resend records a second attempt and says so") {
    Harness h;
    {
        auto store = h.open();
        REQUIRE(h.begin(*store, "job-1").verdict == BeginVerdict::send);
    }  // the daemon "dies": the attempt has no outcome
    auto store = h.open(OnCrash::resend);
    auto again = h.begin(*store, "job-1", "1-0");
    CHECK(again.verdict == BeginVerdict::send);
    CHECK(again.resent_after_crash);
    CHECK(again.attempt_no == 2);
    auto db = sqlite::open(h.config.path, SQLITE_OPEN_READONLY);
    sqlite::Stmt q(db.get(), "SELECT outcome FROM attempts WHERE n = 1");
    REQUIRE(q.step());
    CHECK(q.text(0) == "unknown");
}

TEST_CASE("after a crash mid-send, unknown marks the message for an operator and sends nothing") {
    Harness h;
    {
        auto store = h.open();
        REQUIRE(h.begin(*store, "job-1").verdict == BeginVerdict::send);
    }
    auto store = h.open(OnCrash::unknown);
    CHECK(h.begin(*store, "job-1").verdict == BeginVerdict::marked_unknown);
    CHECK(h.status_of("job-1") == "unknown");
    CHECK(h.begin(*store, "job-1").verdict == BeginVerdict::duplicate);
}

TEST_CASE("a rejected job may be corrected and queued again under the same id") {
    Harness h;
    auto store = h.open();
    CHECK(h.written([&](auto done) {
        store->record_unsent({"1-0", "job-1", "etat-civil", "", Status::rejected, "unknown field 'dta'"}, done);
    }));
    CHECK(h.status_of("job-1") == "rejected");
    auto b = h.begin(*store, "job-1", "2-0");
    CHECK(b.verdict == BeginVerdict::send);
    CHECK(h.status_of("job-1") == "sending");
}

TEST_CASE("an invalid copy of a message already sent does not change its receipt") {
    Harness h;
    auto store = h.open();
    auto b = h.begin(*store, "job-1");
    h.finish(*store, b, "job-1");
    h.written([&](auto done) { store->record_unsent({"9-0", "job-1", "", "", Status::rejected, "bad"}, done); });
    CHECK(h.status_of("job-1") == "sent");
}

TEST_CASE("a poison verdict on a message caught mid-send makes it unknown, and another refusal leaves a send alone") {
    Harness h;
    auto store = h.open();
    REQUIRE(h.begin(*store, "job-1").verdict == BeginVerdict::send);
    // An invalid copy of the same id, while it is being sent: nothing changes.
    h.written([&](auto done) { store->record_unsent({"9-0", "job-1", "", "", Status::rejected, "bad"}, done); });
    CHECK(h.status_of("job-1") == "sending");
    // Its work was interrupted again and again: it may have gone out, so not "rejected".
    h.written([&](auto done) {
        store->record_unsent({"1-0", "job-1", "", "", Status::rejected, "poison job", {}, true}, done);
    });
    CHECK(h.status_of("job-1") == "unknown");
}

TEST_CASE("the message's JSON holds its attempts and events") {
    Harness h;
    auto store = h.open();
    auto b = h.begin(*store, "job-1");
    h.finish(*store, b, "job-1");
    auto json = h.await<std::optional<std::string>>([&](auto done) { store->message_json("job-1", done); });
    REQUIRE(json);
    CHECK(json->find(R"("status":"sent")") != std::string::npos);
    CHECK(json->find(R"("provider_message_id":"outbox-1")") != std::string::npos);
    CHECK(json->find(R"("latency_us":42)") != std::string::npos);
    auto none = h.await<std::optional<std::string>>([&](auto done) { store->message_json("nope", done); });
    CHECK_FALSE(none);
}

TEST_CASE("an escalation goes ahead only while the message is sent and not delivered, a late receipt never moves it back") {
    Harness h;
    auto store = h.open();
    auto escalate = [&](const std::string& id) {
        Job job;
        job.id = id;
        job.service = "etat-civil";
        job.template_name = "passport_expiry";
        return h.await<BeginResult>([&](auto done) {
            BeginRequest r{std::make_shared<const Job>(job), "2-0", "email", "outbox", "c@example.fr"};
            r.escalation = true;
            store->begin(std::move(r), done);
        });
    };
    auto event = [&](const std::string& provider_id, Status status) {
        return h.await<EventVerdict>([&](auto done) {
            store->record_event({"outbox", provider_id, status, "delivered", "{}"}, done);
        });
    };
    // Silence: sent, nothing since → the escalation sends, as attempt 2.
    auto first = h.begin(*store, "esc-a");
    REQUIRE(h.finish(*store, first, "esc-a"));
    auto second = escalate("esc-a");
    CHECK(second.verdict == BeginVerdict::send);
    CHECK(second.attempt_no == 2);
    // The first channel's receipt arrives while the second is in flight: recorded, and kept.
    CHECK(event("outbox-1", Status::delivered) == EventVerdict::recorded);
    Outcome o{OutcomeKind::accepted, "outbox", "outbox-2", {}, {}, 0};
    FinishRequest f{"esc-a", second.message_id, second.attempt_id, o, Status::sent, 42};
    f.escalation = true;
    REQUIRE(h.written([&](auto done) { store->finish(std::move(f), done); }));
    CHECK(h.status_of("esc-a") == "delivered");

    // Delivered before the check: nothing more goes out.
    auto b = h.begin(*store, "esc-b");
    Outcome ob{OutcomeKind::accepted, "outbox", "outbox-b", {}, {}, 0};
    REQUIRE(h.written([&](auto done) { store->finish({"esc-b", b.message_id, b.attempt_id, ob, Status::sent, 42}, done); }));
    REQUIRE(event("outbox-b", Status::delivered) == EventVerdict::recorded);
    CHECK(escalate("esc-b").verdict == BeginVerdict::duplicate);
    // A plain resend of a sent message is still a duplicate: only an escalation may follow a send.
    auto c = h.begin(*store, "esc-c");
    REQUIRE(h.finish(*store, c, "esc-c"));
    CHECK(h.begin(*store, "esc-c").verdict == BeginVerdict::duplicate);
    // Failed for good by the send's answer: no escalation either.
    auto d = h.begin(*store, "esc-d");
    Outcome od{OutcomeKind::failed, "outbox", "", "400", "refused", 0};
    REQUIRE(h.written([&](auto done) { store->finish({"esc-d", d.message_id, d.attempt_id, od, Status::failed, 42}, done); }));
    CHECK(escalate("esc-d").verdict == BeginVerdict::duplicate);
    // Accepted, then reported failed by the provider: the next channel goes ahead, also when it
    // waited only for a failure; a fallback on failure for a message still sent does not.
    auto e = h.begin(*store, "esc-e");
    Outcome oe{OutcomeKind::accepted, "outbox", "outbox-e", {}, {}, 0};
    REQUIRE(h.written([&](auto done) { store->finish({"esc-e", e.message_id, e.attempt_id, oe, Status::sent, 42}, done); }));
    auto fallback = [&](const std::string& id) {
        Job job;
        job.id = id;
        return h.await<BeginResult>([&](auto done) {
            BeginRequest r{std::make_shared<const Job>(job), "3-0", "email", "outbox", "c@example.fr"};
            r.escalation = r.on_failure_only = true;
            store->begin(std::move(r), done);
        });
    };
    CHECK(fallback("esc-e").verdict == BeginVerdict::duplicate);  // still sent
    REQUIRE(event("outbox-e", Status::failed) == EventVerdict::recorded);
    CHECK(h.status_of("esc-e") == "failed");
    CHECK(fallback("esc-e").verdict == BeginVerdict::send);
}

TEST_CASE("a provider's callback finds its attempt through the index on the provider's message id") {
    Harness h;
    auto store = h.open();
    auto db = sqlite::open(h.config.path, SQLITE_OPEN_READONLY);
    sqlite::Stmt plan(db.get(), R"(EXPLAIN QUERY PLAN
        SELECT a.id FROM attempts a JOIN messages m ON m.id = a.message_id
        WHERE a.provider = 'twilio' AND a.provider_message_id = 'SM1')");
    std::string steps;
    while (plan.step()) steps.append(plan.text(3)).append("\n");
    CHECK(steps.find("USING INDEX attempts_by_provider_id") != std::string::npos);
}

TEST_CASE("a journey's message feeds its progress to the journeys, in the transaction that records it") {
    Harness h;
    auto store = h.open();
    auto begin_journey = [&](const std::string& id, const std::string& journey) {
        Job job;
        job.id = id;
        job.service = "etat-civil";
        job.template_name = "passport_expiry";
        job.journey = journey;
        return h.await<BeginResult>([&](auto done) {
            store->begin({std::make_shared<const Job>(job), "1-0", "sms", "outbox", "+33612345678"}, done);
        });
    };
    auto b = begin_journey("p-1:warning", "p-1");
    Outcome accepted{OutcomeKind::accepted, "outbox", "outbox-journey", {}, {}, 0};
    REQUIRE(h.written([&](auto done) { store->finish({"p-1:warning", b.message_id, b.attempt_id, accepted, Status::sent, 42}, done); }));
    auto plain = h.begin(*store, "plain-1");  // not a journey's: it feeds nothing
    REQUIRE(h.finish(*store, plain, "plain-1"));
    ProviderEvent delivered{"outbox", "outbox-journey", Status::delivered, "delivered", "", false, false};
    CHECK(h.await<EventVerdict>([&](auto done) { store->record_event(delivered, done); }) == EventVerdict::recorded);
    Engagement click{"p-1:warning", "", "click", "", 1'000, "link"};
    CHECK(h.await<EventVerdict>([&](auto done) { store->record_engagement(click, done); }) == EventVerdict::recorded);
    UnsentRequest expired{"2-0", "p-2:warning", "etat-civil", "passport_expiry", Status::expired, "its deadline passed", ""};
    expired.journey = "p-2";
    REQUIRE(h.written([&](auto done) { store->record_unsent(expired, done); }));

    auto rows = h.await<std::vector<JourneyFeedRow>>([&](auto done) { store->journey_feed(0, 100, done); });
    std::vector<std::string> seen;
    for (auto& r : rows) seen.push_back(r.journey + " " + r.job_id + " " + r.progress);
    CHECK(std::count(seen.begin(), seen.end(), "p-1 p-1:warning delivered") == 1);
    CHECK(std::count(seen.begin(), seen.end(), "p-1 p-1:warning clicked") == 1);
    CHECK(std::count(seen.begin(), seen.end(), "p-2 p-2:warning failed") == 1);
    for (auto& s : seen) CHECK(s.find("plain") == std::string::npos);

    store->settle_journey_feed({{rows.front().id}});
    // The writer deletes it in its next batch: the reader sees it gone once that is committed.
    std::vector<JourneyFeedRow> left;
    for (int i = 0; i < 200; ++i) {
        left = h.await<std::vector<JourneyFeedRow>>([&](auto done) { store->journey_feed(0, 100, done); });
        if (left.size() < rows.size()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(left.size() == rows.size() - 1);
    CHECK(h.await<std::vector<JourneyFeedRow>>([&](auto done) { store->journey_feed(rows.back().id, 100, done); }).empty());
}

TEST_CASE("citizens' replies: a provider's second delivery is dropped, a reply names our message by the provider's "
          "id, one is settled once, and the retention clears then removes them") {
    Harness h;
    auto store = h.open();
    // Our WhatsApp message, accepted with the provider's id wamid.OURS.
    Job job;
    job.id = "hw-1:check";
    job.service = "ccas";
    job.citizen = "C-1";
    job.journey = "hw-1";
    auto b = h.await<BeginResult>([&](auto done) {
        store->begin({std::make_shared<const Job>(job), "1-0", "whatsapp", "wa", "+33612345678"}, done);
    });
    Outcome accepted{OutcomeKind::accepted, "wa", "wamid.OURS", {}, {}, 0};
    REQUIRE(h.written([&](auto done) { store->finish({"hw-1:check", b.message_id, b.attempt_id, accepted, Status::sent, 42}, done); }));

    const auto day = 24LL * 3600 * 1000;
    const auto now = to_unix_ms(h.clock.now());
    using receipts::InboundOutcome;
    receipts::InboundRecord answer{"wa", "wamid.R1", "whatsapp", "+33612345678", "OK", "wamid.OURS", now - 10 * day, InboundOutcome::pending};
    receipts::InboundRecord old{"wa", "wamid.R0", "whatsapp", "+33612345678", "merci", "", now - 100 * day, InboundOutcome::pending};
    receipts::InboundRecord stop{"wa", "wamid.R2", "whatsapp", "+33612345678", "STOP", "", now, InboundOutcome::opted_out};
    for (auto* r : {&answer, &answer, &old, &stop}) REQUIRE(h.written([&](auto done) { store->record_inbound(*r, done); }));
    CHECK(h.written([&](auto done) { store->record_inbound(answer, done); }));  // again: taken, and dropped

    auto pending = h.await<std::vector<receipts::InboundRow>>([&](auto done) { store->pending_inbound(0, 10, done); });
    REQUIRE(pending.size() == 2);  // the copy dropped, the STOP settled as written
    const auto& named = pending[0].text == "OK" ? pending[0] : pending[1];
    CHECK(named.answered_job == "hw-1:check");
    CHECK(named.answered_journey == "hw-1");
    CHECK(named.answered_citizen == "C-1");
    CHECK(named.answered_service == "ccas");

    // Settled with a callback for a service that has an endpoint: once, even if settled again.
    store->set_callback_services({{"ccas"}, 0});
    receipts::InboundSettled s{named.id, InboundOutcome::journey, "C-1", "ccas", "hw-1", "hw-1:check", "OK", "hw-1:check",
                               R"({"type":"reply.received","data":{"citizen":"C-1","text":"OK"}})"};
    REQUIRE(h.written([&](auto done) { store->settle_inbound(s, done); }));
    REQUIRE(h.written([&](auto done) { store->settle_inbound(s, done); }));
    auto callbacks = h.await<std::vector<CallbackRow>>([&](auto done) { store->pending_callbacks("ccas", 0, 10, done); });
    CHECK(callbacks.size() == 1);
    auto left = h.await<std::vector<receipts::InboundRow>>([&](auto done) { store->pending_inbound(0, 10, done); });
    REQUIRE(left.size() == 1);
    CHECK(left[0].text == "merci");

    // The latest message of a citizen: whose service, which journey.
    auto latest = h.await<std::optional<receipts::LatestMessage>>(
        [&](auto done) { store->latest_message_of({"C-0", "C-1"}, done); });
    REQUIRE(latest);
    CHECK(latest->job_id == "hw-1:check");
    CHECK(latest->citizen == "C-1");

    // The retention: words and address after 7 days, the row after 90; one not settled is kept.
    receipts::InboundSettled unmatched{left[0].id, InboundOutcome::unmatched, "C-1"};
    REQUIRE(h.written([&](auto done) { store->settle_inbound(unmatched, done); }));
    auto r = h.await<RetentionResult>([&](auto done) { store->retain({now - 7 * day, now - 90 * day, 500}, done); });
    CHECK(!r.error);
    store->stop();
    auto db = sqlite::open(h.config.path, SQLITE_OPEN_READONLY);
    auto count = [&](const char* sql) {
        sqlite::Stmt q(db.get(), sql);
        return q.step() ? q.int64(0) : -1;
    };
    CHECK(count("SELECT count(*) FROM inbound") == 2);  // the 100-day-old one is gone
    CHECK(count("SELECT count(*) FROM inbound WHERE provider_id = 'wamid.R1' AND text IS NULL AND sender IS NULL") == 1);
    CHECK(count("SELECT count(*) FROM inbound WHERE provider_id = 'wamid.R2' AND text = 'STOP'") == 1);  // today's
}
