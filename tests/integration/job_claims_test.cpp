// Several daemons as one (issue 13): two crieurd, two receipts files, one Redis. With
// redis.claim_job_ids, the same ids queued twice are sent once between them, and the work of a
// daemon killed mid-run is finished by the other.
#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <rapidjson/document.h>

#include <map>
#include <set>
#include <optional>
#include <thread>

#include "daemon/job_claims.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
DaemonOptions claiming() {
    DaemonOptions o;
    o.extra_redis = "claim_job_ids = true\n";
    return o;
}
// Job id → how many times it went out, over both daemons' outboxes.
std::map<std::string, int> sent_by_both(const DaemonUnderTest& a, const DaemonUnderTest& b) {
    auto counts = outbox_counts(a.outbox("sms"));
    for (auto& [id, n] : outbox_counts(b.outbox("sms"))) counts[id] += n;
    return counts;
}
// Two claiming daemons on one Redis, started.
struct TwoDaemons {
    TempDir dir_a, dir_b, dir_redis;
    RedisServer redis{dir_redis / "redis"};
    DaemonUnderTest a{dir_a, redis, claiming()}, b{dir_b, redis, claiming()};
    TwoDaemons() {
        a.start();
        b.start();
    }
};
}  // namespace

TEST_CASE("two daemons on one Redis: the same 10,000 ids queued twice are sent once between them") {
    TwoDaemons two;
    auto &a = two.a, &b = two.b;
    auto client = two.redis.client();
    constexpr int kIds = 10'000;
    for (int copy = 0; copy < 2; ++copy) {
        std::vector<std::string> jobs;
        for (int i = 0; i < kIds; ++i) jobs.push_back(sms_job("twin-" + std::to_string(i)));
        enqueue(client, jobs);
    }
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && entries_added(client) == 2 * kIds &&
                                    static_cast<int>(sent_by_both(a, b).size()) == kIds; }, 120s));
    std::this_thread::sleep_for(1s);  // time for a second send, if one were coming
    const auto counts = sent_by_both(a, b);
    int twice = 0;
    for (auto& [id, n] : counts) twice += n > 1;
    CHECK(counts.size() == static_cast<std::size_t>(kIds));
    CHECK(twice == 0);
    // Both took part, and each copy a daemon did not send was told apart as the other's.
    const double elsewhere = a.metric("crieur_jobs_claimed_elsewhere_total") + b.metric("crieur_jobs_claimed_elsewhere_total");
    const double duplicates = a.metric("crieur_jobs_duplicate_total") + b.metric("crieur_jobs_duplicate_total");
    CHECK(outbox_counts(a.outbox("sms")).size() > 0);
    CHECK(outbox_counts(b.outbox("sms")).size() > 0);
    CHECK(elsewhere + duplicates == kIds);
    CHECK(a.stop() == 0);
    CHECK(b.stop() == 0);
}

TEST_CASE("two daemons on one Redis: one killed mid-run, the other finishes its jobs") {
    TempDir dir_a, dir_b, dir_redis;
    RedisServer redis(dir_redis / "redis");
    DaemonUnderTest a(dir_a, redis, claiming()), b(dir_b, redis, claiming());
    auto client = redis.client();
    constexpr int kIds = 5'000;
    std::vector<std::string> jobs;
    for (int i = 0; i < kIds; ++i) jobs.push_back(sms_job("kill-" + std::to_string(i)));
    a.start();
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return outbox_counts(a.outbox("sms")).size() >= 200; }, 30s));
    a.kill9();
    b.start();
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && static_cast<int>(sent_by_both(a, b).size()) == kIds; }, 120s));
    const auto counts = sent_by_both(a, b);
    int twice = 0;
    for (auto& [id, n] : counts) twice += n > 1;
    CHECK(counts.size() == static_cast<std::size_t>(kIds));
    // Sent twice at most what was in flight at the kill (intake.max_inflight): at least once, never lost.
    CHECK(twice <= 4096);
    MESSAGE("sent twice after the kill: " << twice);
    CHECK(b.metric("crieur_jobs_claimed_total") > 0);
    CHECK(b.stop() == 0);
}

TEST_CASE("a job id's claim: ours when new or already ours, another daemon's fresh copy refused, taken over by a continuation") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    boost::asio::io_context io;
    redis::RedisConnection conn{io, {"127.0.0.1", redis.port()}, "claims-test"};
    conn.start();
    {
        auto work = boost::asio::make_work_guard(io);
        while (!conn.connected()) io.run_one();
    }
    JobClaims a(conn, "crieur:jobs:claim:", "instance-a", 3600), b(conn, "crieur:jobs:claim:", "instance-b", 3600);
    auto claim = [&](JobClaims& who, const std::string& id, bool take_over, long long wait_ms = 0) {
        std::optional<ClaimVerdict> out;
        auto work = boost::asio::make_work_guard(io);
        who.claim(id, take_over, wait_ms, [&](ClaimVerdict v) { out = v; });
        io.restart();
        while (!out) io.run_one();
        return *out;
    };
    CHECK(claim(a, "j-1", false) == ClaimVerdict::ours);
    CHECK(claim(a, "j-1", false) == ClaimVerdict::ours);
    CHECK(claim(b, "j-1", false) == ClaimVerdict::elsewhere);
    CHECK(claim(b, "j-1", true) == ClaimVerdict::taken_over);
    CHECK(claim(a, "j-1", false) == ClaimVerdict::elsewhere);  // b's now
    auto client = redis.client();
    CHECK(redis::text(client.command({"GET", "crieur:jobs:claim:j-1"}).get()) == "instance-b");
    CHECK(client.integer({"PTTL", "crieur:jobs:claim:j-1"}) > 3'500'000);  // claim_ttl_s from the last claim
    // A job that waits 30 days before it goes stays claimed until then, and the TTL on top.
    CHECK(claim(a, "j-later", false, 30LL * 86'400'000) == ClaimVerdict::ours);
    CHECK(client.integer({"PTTL", "crieur:jobs:claim:j-later"}) > 30LL * 86'400'000);
    // A Redis that forgot the script (restarted, or a replica just promoted): the text once more.
    REQUIRE(redis::text(client.command({"SCRIPT", "FLUSH"}).get()) == "OK");
    CHECK(claim(b, "j-after-flush", false) == ClaimVerdict::ours);
    CHECK(claim(a, "j-after-flush", false) == ClaimVerdict::elsewhere);
    conn.stop();
}

TEST_CASE("two daemons on one Redis: either answers for a message the other handled, and lists and counts all of them") {
    TwoDaemons two;
    auto &a = two.a, &b = two.b;
    auto client = two.redis.client();
    constexpr int kIds = 2'000;
    std::vector<std::string> jobs;
    for (int i = 0; i < kIds; ++i) jobs.push_back(sms_job("look-" + std::to_string(i)));
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && static_cast<int>(sent_by_both(a, b).size()) == kIds; }, 60s));
    const auto by_a = outbox_counts(a.outbox("sms")), by_b = outbox_counts(b.outbox("sms"));
    REQUIRE(!by_a.empty());
    REQUIRE(!by_b.empty());
    const std::string of_a = by_a.begin()->first, of_b = by_b.begin()->first;
    // The daemons find each other through Redis within a registration period (5 s).
    REQUIRE(wait_until([&] { return a.api("GET", "/v1/messages/" + of_b).status == 200 &&
                                    b.api("GET", "/v1/messages/" + of_a).status == 200; }, 20s, 200ms));
    CHECK(a.api("GET", "/v1/messages/" + of_b).body.find("\"job_id\":\"" + of_b + "\"") != std::string::npos);
    CHECK(a.api("GET", "/v1/messages/nobody-has-this").status == 404);
    // The list through one daemon, page by page: every message of both, each once, newest first.
    std::set<std::string> listed;
    int pages = 0, repeated = 0;
    std::string cursor;
    for (;;) {
        auto r = a.api("GET", "/v1/messages?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        REQUIRE(d.IsObject());
        CHECK_FALSE(d.HasMember("unavailable"));
        std::string previous = "9999";
        for (auto& m : d["messages"].GetArray()) {
            repeated += !listed.insert(m["id"].GetString()).second;
            CHECK(std::string(m["created_at"].GetString()) <= previous);
            previous = m["created_at"].GetString();
            CHECK_FALSE(m.HasMember("cursor"));
        }
        ++pages;
        if (d["next_cursor"].IsNull()) break;
        cursor = d["next_cursor"].GetString();
        REQUIRE(pages < 20);
    }
    CHECK(listed.size() == static_cast<std::size_t>(kIds));
    CHECK(repeated == 0);
    CHECK(pages >= 4);
    // The counts: both daemons' together.
    {
        auto r = b.api("GET", "/v1/stats?by=status");
        REQUIRE(r.status == 200);
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        std::int64_t total = 0;
        for (auto& c : d["counts"].GetObject()) total += c.value.GetInt64();
        CHECK(total == kIds);
    }
    // A daemon stopped: its messages are not said not to exist, but unavailable for now.
    b.kill9();
    auto r = a.api("GET", "/v1/messages/" + of_b);
    CHECK(r.status == 503);
    CHECK(r.body.find("peer_unavailable") != std::string::npos);
    CHECK(!r.header("Retry-After").empty());
    r = a.api("GET", "/v1/messages?limit=500");
    CHECK(r.status == 200);
    CHECK(r.body.find("\"unavailable\":[") != std::string::npos);
    CHECK(a.stop() == 0);
}

TEST_CASE("two daemons on one Redis: a journey is kept by the daemon that started it, and either daemon answers and "
          "moves it") {
    TwoDaemons two;
    auto &a = two.a, &b = two.b;
    auto client = two.redis.client();
    for (auto* d : {&a, &b})  // each daemon's directory has the citizen (each may send the journey's jobs)
        REQUIRE(d->api("PUT", "/v1/citizens/C-1", R"({"locale":"fr","channels":["sms"],"contacts":{"sms":"+33612345678"}})").status == 201);
    // The daemons find each other through Redis within a registration period (5 s).
    REQUIRE(wait_until([&] { return client.integer({"HLEN", "crieur:jobs:daemons"}) == 2; }, 20s, 200ms));
    std::this_thread::sleep_for(5500ms);  // each has read the registry since
    auto start = [](DaemonUnderTest& d, const std::string& id, const std::string& district) {
        return d.api("POST", "/v1/journeys",
                     R"({"journey":"welcome_resident","id":")" + id + R"(","citizen":"C-1","service":"accueil","data":{"name":"Madame Petit",)"
                     R"("district":")" + district + R"(","services_url":"https://mairie.example.fr/bienvenue","guide_url":"https://mairie.example.fr/guide",)"
                     R"("collection_day":"le mardi"}})");
    };
    auto first = start(a, "wr-a", "Gerland");
    INFO(first.body);
    REQUIRE(first.status == 201);
    // The same start through the other daemon is the same journey; another one under its id is refused.
    CHECK(start(b, "wr-a", "Gerland").status == 200);
    CHECK(start(b, "wr-a", "Vaise").status == 409);
    // Shown and moved through either.
    auto shown = b.api("GET", "/v1/journeys/wr-a");
    CHECK(shown.status == 200);
    CHECK(shown.body.find(R"("journey":"welcome_resident")") != std::string::npos);
    CHECK(b.api("POST", "/v1/journeys/wr-a/actions", R"({"action":"pause"})").status == 200);
    CHECK(a.api("GET", "/v1/journeys/wr-a").body.find(R"("state":"paused")") != std::string::npos);
    // One started through the other daemon is kept there, and found from here.
    REQUIRE(start(b, "wr-b", "Vaise").status == 201);
    CHECK(a.api("GET", "/v1/journeys/wr-b").status == 200);
    CHECK(a.api("POST", "/v1/journeys/wr-b/events", R"({"event":"nope"})").status == 422);  // the keeper's own answer
    CHECK(a.api("GET", "/v1/journeys/nobody").status == 404);
    // Each journey is in one daemon's journeys.db.
    auto count = [](const TempDir& dir, const std::string& id) {
        auto db = sqlite::open(dir / "journeys.db", SQLITE_OPEN_READONLY);
        sqlite::Stmt q(db.get(), "SELECT count(*) FROM instances WHERE id = ?1");
        q.bind(1, id);
        return q.step() ? q.int64(0) : -1;
    };
    CHECK(count(two.dir_a, "wr-a") == 1);
    CHECK(count(two.dir_b, "wr-a") == 0);
    CHECK(count(two.dir_a, "wr-b") == 0);
    CHECK(count(two.dir_b, "wr-b") == 1);
}

TEST_CASE("two daemons on one Redis: a journey hears how far its messages went, whichever daemon sent them") {
    TempDir dir_a, dir_b, dir_redis;
    RedisServer redis{dir_redis / "redis"};
    auto named = [](const char* name) {
        DaemonOptions o = claiming();
        o.consumer = name;
        return o;
    };
    DaemonUnderTest a{dir_a, redis, named("daemon-a")}, b{dir_b, redis, named("daemon-b")};
    a.start();
    b.start();
    auto client = redis.client();
    for (auto* d : {&a, &b}) {
        REQUIRE(d->api("PUT", "/v1/citizens/C-1", R"({"locale":"fr","channels":["sms"],"contacts":{"sms":"+33612345678"}})").status == 201);
        // The welcome is information: it goes to those who said yes.
        REQUIRE(d->api("POST", "/v1/citizens/C-1/consents", R"({"channel":"sms","category":"information","granted":true,"source":"portal"})")
                    .status == 204);
    }
    REQUIRE(wait_until([&] { return client.integer({"HLEN", "crieur:jobs:daemons"}) == 2; }, 20s, 200ms));
    std::this_thread::sleep_for(5500ms);
    // Twenty journeys kept by A; their first messages go out from either daemon.
    constexpr int kJourneys = 20;
    for (int i = 0; i < kJourneys; ++i)
        REQUIRE(a.api("POST", "/v1/journeys",
                      R"({"journey":"welcome_resident","id":"wr-)" + std::to_string(i) + R"(","citizen":"C-1","service":"accueil",)"
                      R"("data":{"name":"Madame Petit","district":"Gerland","services_url":"https://mairie.example.fr/bienvenue",)"
                      R"("guide_url":"https://mairie.example.fr/guide","collection_day":"le mardi"}})").status == 201);
    auto sent_from = [&](const std::string& job) -> DaemonUnderTest* {
        for (auto* d : {&a, &b})
            if (d->query("SELECT count(*) FROM messages WHERE job_id = '" + job + "' AND status = 'sent'") == 1) return d;
        return nullptr;
    };
    REQUIRE(wait_until([&] {
        for (int i = 0; i < kJourneys; ++i)
            if (!sent_from("wr-" + std::to_string(i) + ":welcome")) return false;
        return true;
    }, 30s));
    // The citizen reads each in the app: the app's back end tells the daemon that sent it.
    int from_b = 0;
    for (int i = 0; i < kJourneys; ++i) {
        const std::string job = "wr-" + std::to_string(i) + ":welcome";
        DaemonUnderTest* d = sent_from(job);
        from_b += d == &b;
        REQUIRE(d->api("POST", "/v1/events", R"({"type":"read","message":")" + job + R"("})").status / 100 == 2);
    }
    INFO(from_b << " of the messages were sent by B");
    REQUIRE(from_b > 0);  // twenty times a coin: both daemons sent some
    // Every journey, all kept by A, knows its message was read.
    auto read = [&](int i) {
        return a.api("GET", "/v1/journeys/wr-" + std::to_string(i)).body.find(R"("progress":"read")") != std::string::npos;
    };
    CHECK(wait_until([&] {
        for (int i = 0; i < kJourneys; ++i)
            if (!read(i)) return false;
        return true;
    }, 15s));
    // B's feed is emptied once its rows reached A's inbox, and A's inbox once A took them.
    CHECK(wait_until([&] { return client.integer({"XLEN", "crieur:jobs:journey-inbox:daemon-a"}) == 0; }, 10s));
    CHECK(wait_until([&] { return b.query("SELECT count(*) FROM journey_feed") == 0; }, 10s));
}
