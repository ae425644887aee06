// The retention against a real SQLite file: personal fields cleared after personal_days, rows
// removed after days, messages not yet final passed over until they change, and the sweeps'
// cursors kept across a restart of the store.
#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "daemon/receipts/queries.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/receipts/sqlite.hpp"
#include "daemon/retention/retention.hpp"
#include "support/daemon_fixture.hpp"
#include "support/fake_clock.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;
using namespace std::chrono_literals;

namespace {

constexpr auto kDay = std::chrono::hours(24);

struct Harness {
    test::TempDir dir;
    boost::asio::io_context io;
    test::FakeClock clock{test::local_time("UTC", "2026-06-01 10:00")};
    ReceiptsConfig config{dir / "receipts.sqlite", 64, "normal"};
    RetentionConfig retention;  // 7 and 90 days
    std::unique_ptr<ReceiptStore> store = open();

    std::unique_ptr<ReceiptStore> open() { return std::make_unique<ReceiptStore>(io, config, OnCrash::resend, clock); }

    template <class T>
    T await(std::function<void(std::function<void(T)>)> ask) {
        std::optional<T> out;
        auto work = boost::asio::make_work_guard(io);
        ask([&](T v) { out = std::move(v); });
        io.restart();
        while (!out) io.run_one();
        return std::move(*out);
    }

    // A message sent by SMS with a reference, answered `outcome`, then reported with a raw body.
    void sent(const std::string& id, OutcomeKind outcome = OutcomeKind::accepted) {
        Job job;
        job.id = id;
        job.service = "etat-civil";
        job.template_name = "passport_expiry";
        job.citizen = "c-" + id;
        job.reference = "dossier " + id;
        auto b = await<BeginResult>([&](auto done) {
            store->begin({std::make_shared<const Job>(job), "1-0", "sms", "twilio", "+33612345678"}, done);
        });
        REQUIRE(b.verdict == BeginVerdict::send);
        Outcome o{outcome, "twilio", "SM" + id, {}, {}, 0};
        if (outcome != OutcomeKind::accepted) o = {outcome, "twilio", "SM" + id, "30003", "unreachable: +33612345678", 0};
        REQUIRE(!await<std::error_code>([&](auto done) {
            store->finish({id, b.message_id, b.attempt_id, o,
                           outcome == OutcomeKind::accepted ? Status::sent : Status::failed, 42}, done);
        }));
        if (outcome == OutcomeKind::accepted)
            report(id, Status::delivered);
    }
    void report(const std::string& id, Status status) {
        ProviderEvent e{"twilio", "SM" + id, status, std::string(to_string(status)), "To=%2B33612345678&MessageStatus=x"};
        REQUIRE(await<EventVerdict>([&](auto done) { store->record_event(e, done); }) == EventVerdict::recorded);
    }
    void scheduled(const std::string& id) {
        REQUIRE(!await<std::error_code>([&](auto done) {
            store->record_unsent({"2-0", id, "etat-civil", "passport_expiry", Status::scheduled, "not_before", {}}, done);
        }));
    }
    RetentionResult step() {
        return await<RetentionResult>([&](auto done) { store->retain(retention_step(retention, clock.now()), done); });
    }
    // Steps until a sweep says there is no more, as the daemon does.
    RetentionResult sweep() {
        RetentionResult total;
        for (;;) {
            auto r = step();
            REQUIRE(!r.error);
            total.cleared += r.cleared;
            total.deleted += r.deleted;
            total.sessions += r.sessions;
            if (!r.more) return total;
        }
    }
    // Personal fields still held for the job id: recipients, provider texts, raw reports,
    // reference, and a status reason that quotes the number whole.
    int personal_fields(const std::string& id) {
        auto db = sqlite::open(config.path, SQLITE_OPEN_READONLY);
        sqlite::Stmt q(db.get(), R"(
            SELECT (SELECT count(*) FROM attempts a WHERE a.message_id = m.id AND a.recipient IS NOT NULL)
                 + (SELECT count(*) FROM attempts a WHERE a.message_id = m.id AND a.error_text IS NOT NULL)
                 + (SELECT count(*) FROM events e WHERE e.message_id = m.id AND e.raw IS NOT NULL)
                 + (m.reference IS NOT NULL) + (ifnull(instr(m.status_reason, '+33612345678'), 0) > 0)
            FROM messages m WHERE m.job_id = ?1)");
        q.bind(1, id);
        return q.step() ? static_cast<int>(q.int64(0)) : -1;  // -1: no such message
    }
    std::int64_t count(const char* sql) {
        auto db = sqlite::open(config.path, SQLITE_OPEN_READONLY);
        sqlite::Stmt q(db.get(), sql);
        return q.step() ? q.int64(0) : -1;
    }
};

}  // namespace

TEST_CASE("the retention clears personal fields after personal_days and removes receipts after days") {
    Harness h;
    h.sent("old");
    h.sent("old-failed", OutcomeKind::failed);
    h.scheduled("passport-in-a-year");
    h.clock.advance(5 * kDay);
    h.sent("recent");
    CHECK(h.personal_fields("old") == 3);         // recipient, raw report, reference
    CHECK(h.personal_fields("old-failed") == 4);  // recipient, provider's text, reference, the reason quoting it

    SUBCASE("before personal_days nothing is touched") {
        h.clock.advance(1 * kDay);
        CHECK(h.sweep().cleared == 0);
        CHECK(h.personal_fields("old") == 3);
    }
    SUBCASE("after personal_days the old ones are cleared and keep their status") {
        h.clock.advance(3 * kDay);  // old: 8 days; recent: 3
        auto r = h.sweep();
        CHECK(r.cleared == 2);
        CHECK(r.deleted == 0);
        CHECK(h.personal_fields("old") == 0);
        CHECK(h.personal_fields("old-failed") == 0);
        CHECK(h.count("SELECT count(*) FROM messages WHERE job_id = 'old-failed' AND status_reason = 'unreachable: +336******78'") == 1);
        CHECK(h.personal_fields("recent") == 3);
        CHECK(h.count("SELECT count(*) FROM messages WHERE job_id = 'old' AND status = 'delivered' AND citizen = 'c-old'") == 1);
        CHECK(h.sweep().cleared == 0);  // the cursor moved past them

        SUBCASE("a report that comes later brings the message back to the sweep") {
            h.report("old", Status::delivered);  // a provider's duplicate, with a raw body
            CHECK(h.personal_fields("old") == 1);
            h.clock.advance(8 * kDay);
            CHECK(h.sweep().cleared == 2);  // old's new report, and recent
            CHECK(h.personal_fields("old") == 0);
        }
        SUBCASE("the cursor is kept across a restart of the store") {
            h.store->stop();
            {
                // A reference written back behind the sweep's back, its last change left as it was:
                // a sweep that started again from the beginning would clear it once more.
                auto db = sqlite::open(h.config.path, SQLITE_OPEN_READWRITE);
                sqlite::exec(db.get(), "UPDATE messages SET reference = 'marker' WHERE job_id = 'old'");
            }
            h.store = h.open();
            CHECK(h.sweep().cleared == 0);
            CHECK(h.count("SELECT count(*) FROM messages WHERE job_id = 'old' AND reference = 'marker'") == 1);
        }
    }
    SUBCASE("after days the receipts go whole, and a message still scheduled stays") {
        h.clock.advance(90 * kDay);  // old: 95 days; recent: 90 days exactly, not more
        auto r = h.sweep();
        CHECK(r.deleted == 2);
        CHECK(h.personal_fields("old") == -1);
        CHECK(h.personal_fields("old-failed") == -1);
        CHECK(h.personal_fields("recent") == 0);  // cleared, not yet removed
        CHECK(h.count("SELECT count(*) FROM messages WHERE job_id = 'passport-in-a-year' AND status = 'scheduled'") == 1);
        CHECK(h.count("SELECT count(*) FROM attempts") == 1);  // recent's
        CHECK(h.count("SELECT count(*) FROM events WHERE message_id NOT IN (SELECT id FROM messages)") == 0);
        CHECK(h.count("SELECT count(*) FROM events") == 2);  // recent's report, the scheduled one's record
    }
}

TEST_CASE("the retention works in bounded steps, and says when there is more") {
    Harness h;
    h.retention.batch = 10;
    for (int i = 0; i < 25; ++i) h.sent("m" + std::to_string(i));
    h.clock.advance(8 * kDay);
    auto first = h.step();
    CHECK(first.cleared == 10);
    CHECK(first.more);
    auto second = h.step();
    CHECK(second.cleared == 10);
    CHECK(second.more);
    auto third = h.step();
    CHECK(third.cleared == 5);
    CHECK_FALSE(third.more);
}

TEST_CASE("app sessions go after days") {
    Harness h;
    auto session = [&](const std::string& citizen) {
        Engagement e{"", "", "session", citizen, to_unix_ms(h.clock.now()), "app"};
        h.await<EventVerdict>([&](auto done) { h.store->record_engagement(e, done); });
    };
    session("c-1");
    h.clock.advance(60 * kDay);
    session("c-2");
    h.clock.advance(31 * kDay);
    CHECK(h.sweep().sessions == 1);
    CHECK(h.count("SELECT count(*) FROM app_sessions WHERE citizen = 'c-2'") == 1);
}

TEST_CASE("a retention of 0 days keeps that data for ever") {
    RetentionConfig keep;
    keep.personal_days = 0;
    keep.days = 0;
    auto step = retention_step(keep, test::local_time("UTC", "2026-06-01 10:00"));
    CHECK(step.personal_before_ms == 0);
    CHECK(step.delete_before_ms == 0);
    RetentionConfig usual;
    step = retention_step(usual, test::local_time("UTC", "2026-06-08 10:00"));
    CHECK(step.personal_before_ms == to_unix_ms(test::local_time("UTC", "2026-06-01 10:00")));
}

TEST_CASE("a job stream is trimmed of what every group is done with, and no further") {
    test::TempDir dir;
    test::RedisServer server(dir / "redis");
    auto redis = server.client();
    auto trim = [&](const char* stream) { return redis.integer({"EVAL", kTrimAcknowledged, "1", stream}); };
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.emplace_back(redis::text(redis.command({"XADD", "jobs", "*", "job", "{}"}).get()));
    CHECK(trim("jobs") == 0);  // no group yet: jobs queued before any daemon read them stay
    CHECK(trim("no-such-stream") == 0);
    redis.command({"XGROUP", "CREATE", "jobs", "crieurd", "0"});
    CHECK(trim("jobs") == 0);  // a group that has read nothing
    redis.command({"XREADGROUP", "GROUP", "crieurd", "c1", "COUNT", "3", "STREAMS", "jobs", ">"});
    CHECK(trim("jobs") == 0);  // three read, all still pending
    redis.command({"XACK", "jobs", "crieurd", ids[0], ids[2]});
    CHECK(trim("jobs") == 1);  // the first only: the second is still pending
    CHECK(redis.integer({"XLEN", "jobs"}) == 4);
    redis.command({"XACK", "jobs", "crieurd", ids[1]});
    CHECK(trim("jobs") == 2);  // the second and third; the two unread stay
    CHECK(redis.integer({"XLEN", "jobs"}) == 2);

    SUBCASE("another group that is behind holds the trim back") {
        redis.command({"XGROUP", "CREATE", "jobs", "audit", ids[2]});
        redis.command({"XREADGROUP", "GROUP", "crieurd", "c1", "STREAMS", "jobs", ">"});
        redis.command({"XACK", "jobs", "crieurd", ids[3], ids[4]});
        CHECK(trim("jobs") == 0);  // audit has read nothing after ids[2]
        redis.command({"XREADGROUP", "GROUP", "audit", "a1", "COUNT", "1", "STREAMS", "jobs", ">"});
        redis.command({"XACK", "jobs", "audit", ids[3]});
        CHECK(trim("jobs") == 1);
        CHECK(redis.integer({"XLEN", "jobs"}) == 1);
    }
}

TEST_CASE("crieurd trims the jobs it acknowledged from the stream, and keeps the dead letters for their days") {
    test::TempDir dir;
    test::RedisServer server(dir / "redis");
    test::DaemonUnderTest daemon(dir, server);
    auto redis = server.client();
    // A dead letter from 8 days ago (an entry id is the Redis clock at XADD), and one of today.
    const auto eight_days_ago = to_unix_ms(std::chrono::time_point_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now())) - 8 * 86'400'000LL;
    redis.command({"XADD", "crieur:dead", std::to_string(eight_days_ago) + "-0", "job", "{}", "reason", "old"});
    redis.command({"XADD", "crieur:dead", "*", "job", "{}", "reason", "new"});
    std::vector<std::string> jobs;
    for (int i = 0; i < 20; ++i) jobs.push_back(test::sms_job("trim-" + std::to_string(i)));
    test::enqueue(redis, jobs);
    daemon.start();
    REQUIRE(test::wait_until([&] {
        return daemon.query("SELECT count(*) FROM messages WHERE status NOT IN ('queued', 'scheduled', 'sending')") == 20;
    }, 20s));
    REQUIRE(test::wait_until([&] { return redis.integer({"XLEN", "crieur:jobs"}) == 0; }, 10s));
    CHECK(test::entries_added(redis) == 20);
    CHECK(redis.integer({"XLEN", "crieur:dead"}) == 1);
    CHECK(test::wait_until([&] {
        const auto metrics = daemon.api("GET", "/metrics").body;
        return metrics.find("crieur_stream_entries_trimmed_total 20") != std::string::npos &&
               metrics.find("crieur_dead_letters_trimmed_total 1") != std::string::npos;
    }, 5s));
    CHECK(daemon.stop() == 0);
}

TEST_CASE("crieurd sweeps its receipts by itself: old messages lose their personal fields, older ones go") {
    test::TempDir dir;
    test::RedisServer server(dir / "redis");
    test::DaemonOptions options;
    options.extra_sections = "[retention]\ninterval_s = 1\n";
    test::DaemonUnderTest daemon(dir, server, options);
    auto redis = server.client();
    test::enqueue(redis, {test::sms_job("week-old", R"(,"reference":"dossier-1")"), test::sms_job("season-old"), test::sms_job("today")});
    daemon.start();
    REQUIRE(test::wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 3; }, 20s));
    REQUIRE(daemon.stop() == 0);
    {
        // Their last changes moved back in time, as if the daemon had run that long.
        auto db = sqlite::open(daemon.receipts(), SQLITE_OPEN_READWRITE);
        sqlite::exec(db.get(), "UPDATE messages SET updated_at = updated_at - 8 * 86400000 WHERE job_id = 'week-old'");
        sqlite::exec(db.get(), "UPDATE messages SET updated_at = updated_at - 91 * 86400000 WHERE job_id = 'season-old'");
    }
    daemon.start();
    REQUIRE(test::wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE job_id = 'season-old'") == 0; }, 20s));
    REQUIRE(test::wait_until([&] {
        return daemon.query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id "
                            "WHERE m.job_id = 'week-old' AND a.recipient IS NULL AND m.reference IS NULL") == 1;
    }, 10s));
    CHECK(daemon.query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id "
                       "WHERE m.job_id = 'today' AND a.recipient = '+33612345678'") == 1);
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id = 'week-old' AND status = 'sent'") == 1);
    CHECK(test::wait_until([&] {
        return daemon.metric("crieur_retention_personal_cleared_total") == 1 && daemon.metric("crieur_retention_deleted_total") == 1;
    }, 5s));
    CHECK(daemon.stop() == 0);
}

TEST_CASE("the message list masks an address a provider's reason quotes, as the message's view does") {
    Harness h;
    h.sent("failed-1", OutcomeKind::failed);
    auto db = sqlite::open(h.config.path, SQLITE_OPEN_READONLY);
    receipts::MessageFilter all;
    const auto page = receipts::message_list(db.get(), all);
    CHECK(page.json.find("+33612345678") == std::string::npos);
    CHECK(page.json.find(R"("status_reason":"unreachable: +336******78")") != std::string::npos);
    const auto view = receipts::message_json(db.get(), "failed-1");
    REQUIRE(view);
    CHECK(view->find("+33612345678") == std::string::npos);
}
