// crieurd end to end: the real binary, a real redis-server, a real SQLite file, the outbox driver.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include <algorithm>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/clock.hpp"
#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
std::vector<std::string> sms_jobs(int n, const std::string& prefix) {
    std::vector<std::string> jobs;
    jobs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) jobs.push_back(sms_job(prefix + std::to_string(i)));
    return jobs;
}

std::int64_t final_count(const DaemonUnderTest& d) {
    return d.query("SELECT count(*) FROM messages WHERE status NOT IN ('queued', 'scheduled', 'sending')");
}
}  // namespace

TEST_CASE("10,000 queued jobs end as 10,000 sent messages, every entry acknowledged") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    enqueue(client, sms_jobs(10'000, "bulk-"));
    daemon.start();

    REQUIRE(wait_until([&] { return final_count(daemon) == 10'000 && pending_count(client) == 0; }, 120s, 100ms));
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 10'000);
    CHECK(daemon.query("SELECT count(*) FROM attempts WHERE outcome = 'accepted'") == 10'000);
    auto lines = outbox_counts(daemon.outbox("sms"));
    CHECK(lines.size() == 10'000);
    int repeated = 0;
    for (auto& [id, n] : lines) repeated += n > 1;
    CHECK(repeated == 0);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("invalid jobs go to the dead-letter stream with their reason, the rest of the batch is sent") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    std::vector<std::string> jobs = sms_jobs(50, "ok-");
    jobs.insert(jobs.begin() + 10, R"({"v":1,"id":"typo-1","service":"s","template":"passport_expiry","to":{"sms":"+33612345678"},"dta":{}})");
    jobs.insert(jobs.begin() + 15, R"({"v":1,"id":"hole-1","service":"s","template":"passport_expiry","to":{"sms":"+33612345678"},"data":{"name":"Martin","document":7}})");
    jobs.insert(jobs.begin() + 16, R"({"v":1,"id":"nochan-1","service":"s","template":"heatwave_check","to":{"email":"a@b.fr"},"data":{}})");
    jobs.insert(jobs.begin() + 20, "{not json");
    jobs.insert(jobs.begin() + 30, sms_job("late-1", R"(,"deadline":"2020-01-01T00:00:00Z")"));
    enqueue(client, jobs);
    client.command({"XADD", "crieur:jobs", "*", "other", "field"});
    daemon.start();

    REQUIRE(wait_until([&] { return final_count(daemon) == 56 && pending_count(client) == 0; }, 30s));
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 50);
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE status = 'rejected'") == 5);
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE status = 'expired'") == 1);
    CHECK(client.integer({"XLEN", "crieur:dead"}) == 5);

    auto dead = client.command({"XRANGE", "crieur:dead", "-", "+"});
    REQUIRE(dead->elements == 5);
    std::vector<std::string> reasons;
    for (std::size_t i = 0; i < dead->elements; ++i) {
        const redisReply* f = dead->element[i]->element[1];
        for (std::size_t k = 0; k + 1 < f->elements; k += 2)
            if (redis::text(f->element[k]) == "reason") reasons.emplace_back(redis::text(f->element[k + 1]));
    }
    CHECK(reasons[0] == "unknown field 'dta' (contract v1)");
    CHECK(reasons[1] == "missing data for template 'passport_expiry': booking_url, expires_on; "
                        "wrong type in data for template 'passport_expiry': document (expected a string)");
    CHECK(reasons[2] == "none of the channels in 'to' (email) is a channel of template 'heatwave_check' (sms, push, whatsapp)");
    CHECK(reasons[3].starts_with("job is not valid JSON"));
    CHECK(reasons[4] == "the stream entry has no 'job' field");

    auto status = daemon.api("GET", "/v1/messages/typo-1");
    CHECK(status.status == 200);
    CHECK(status.body.find(R"("status":"rejected")") != std::string::npos);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a poison job, whose work was interrupted too many times, is dead-lettered, not sent") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    auto client = redis.client();
    client.command({"XGROUP", "CREATE", "crieur:jobs", "crieurd", "0", "MKSTREAM"});
    enqueue(client, {sms_job("poison-1")});
    // A consumer that died on it again and again: each daemon that took it back counted one
    // interruption in crieur:jobs:starts, and never finished it.
    client.command({"XREADGROUP", "GROUP", "crieurd", "ghost", "COUNT", "1", "STREAMS", "crieur:jobs", ">"});
    auto entry = client.command({"XRANGE", "crieur:jobs", "-", "+"});
    const std::string id(redis::text(entry->element[0]->element[0]));
    client.command({"HSET", "crieur:jobs:starts", id, "4"});
    enqueue(client, {sms_job("healthy-1")});

    DaemonUnderTest daemon(dir, redis, {.extra_redis = "max_deliveries = 5\n"});
    daemon.start();
    REQUIRE(wait_until([&] { return final_count(daemon) == 2 && pending_count(client) == 0; }, 30s));
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id = 'poison-1' AND status = 'rejected'") == 1);
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id = 'healthy-1' AND status = 'sent'") == 1);
    CHECK(outbox_counts(daemon.outbox("sms")).count("poison-1") == 0);
    auto dead = client.command({"XRANGE", "crieur:dead", "-", "+"});
    REQUIRE(dead->elements == 1);
    CHECK(std::string(redis::text(dead->element[0]->element[1]->element[5])).starts_with("poison job: its work was interrupted 5 times"));
    CHECK(client.command({"HLEN", "crieur:jobs:starts"})->integer == 0);  // its count went with it
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a job that was only claimed and read again (outages, peers) is not a poison job: it is sent") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    auto client = redis.client();
    client.command({"XGROUP", "CREATE", "crieur:jobs", "crieurd", "0", "MKSTREAM"});
    enqueue(client, {sms_job("claimed-1")});
    // Redis's own count says 10 deliveries (each XAUTOCLAIM and each re-read raises it), but no
    // daemon's work on it was ever interrupted: it was left pending on purpose each time.
    client.command({"XREADGROUP", "GROUP", "crieurd", "ghost", "COUNT", "1", "STREAMS", "crieur:jobs", ">"});
    auto entry = client.command({"XRANGE", "crieur:jobs", "-", "+"});
    const std::string id(redis::text(entry->element[0]->element[0]));
    client.command({"XCLAIM", "crieur:jobs", "crieurd", "ghost", "0", id, "RETRYCOUNT", "9"});

    DaemonUnderTest daemon(dir, redis, {.extra_redis = "max_deliveries = 5\n"});
    daemon.start();
    REQUIRE(wait_until([&] { return final_count(daemon) == 1 && pending_count(client) == 0; }, 30s));
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id = 'claimed-1' AND status = 'sent'") == 1);
    CHECK(client.command({"XLEN", "crieur:dead"})->integer == 0);
    CHECK(client.command({"HLEN", "crieur:jobs:starts"})->integer == 0);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("consumers of daemons gone, holding nothing, are removed at start-up, and one that holds entries stays") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    auto client = redis.client();
    client.command({"XGROUP", "CREATE", "crieur:jobs", "crieurd", "0", "MKSTREAM"});
    client.command({"XGROUP", "CREATECONSUMER", "crieur:jobs", "crieurd", "host-1234"});
    client.command({"XGROUP", "CREATECONSUMER", "crieur:jobs", "crieurd", "host-1235"});
    enqueue(client, {sms_job("held-1")});
    client.command({"XREADGROUP", "GROUP", "crieurd", "host-busy", "COUNT", "1", "STREAMS", "crieur:jobs", ">"});
    std::this_thread::sleep_for(1500ms);
    // claim_after_ms is long: host-busy's entry stays its own while the daemon starts.
    DaemonUnderTest daemon(dir, redis, {.extra_redis = "prune_consumers_after_s = 1\nclaim_after_ms = 60000\n",
                                        .consumer = "host-now"});
    daemon.start();
    auto names = [&] {
        std::set<std::string> out;
        auto r = client.command({"XINFO", "CONSUMERS", "crieur:jobs", "crieurd"});
        for (std::size_t i = 0; r && i < r->elements; ++i) out.insert(std::string(redis::text(r->element[i]->element[1])));
        return out;
    };
    REQUIRE(wait_until([&] { return !names().count("host-1234"); }, 5s));
    CHECK_FALSE(names().count("host-1235"));
    CHECK(names().count("host-busy"));  // it holds an entry: kept until someone claims it
    CHECK(names().count("host-now"));
    CHECK(read_file(daemon.log()).find("removed 2 consumers of crieurd on crieur:jobs") != std::string::npos);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("the same id queued twice is delivered once") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    // Twins in one batch, and a third copy once the first is long sent.
    enqueue(client, {sms_job("twice-1"), sms_job("other-1"), sms_job("twice-1")});
    daemon.start();
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && final_count(daemon) == 2; }, 30s));
    enqueue(client, {sms_job("twice-1")});
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && entries_added(client) == 4; }, 30s));
    REQUIRE(wait_until([&] { return daemon.api("GET", "/metrics").body.find("crieur_jobs_duplicate_total 2") != std::string::npos; }, 10s));
    auto counts = outbox_counts(daemon.outbox("sms"));
    CHECK(counts["twice-1"] == 1);
    CHECK(counts["other-1"] == 1);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("Redis stopped for a few seconds mid-run: the run completes and nothing is lost") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    // A small in-flight window: without Redis the daemon can finish at most 100 more jobs.
    DaemonUnderTest daemon(dir, redis,
                           {.extra_redis = "batch = 50\nreconnect_max_ms = 500\n",
                            .extra_intake = "max_inflight = 100\n",
                            .extra_receipts = "synchronous = \"full\"\n"});
    auto client = std::make_unique<redis::SyncClient>(redis.client());
    enqueue(*client, sms_jobs(10'000, "outage-"));
    daemon.start();
    REQUIRE(wait_until([&] { return final_count(daemon) >= 1'000; }, 60s, 1ms));
    client.reset();
    redis.stop();
    std::this_thread::sleep_for(3s);
    const auto done_while_down = final_count(daemon);
    MESSAGE("messages final after 3 s without Redis: " << done_while_down << " of 10000");
    CHECK(done_while_down < 10'000);
    CHECK(http_get(daemon.http_port(), "/readyz").status == 503);
    CHECK(daemon.process().running());
    redis.start();
    client = std::make_unique<redis::SyncClient>(redis.client());
    REQUIRE(wait_until([&] { return final_count(daemon) == 10'000 && pending_count(*client) == 0; }, 120s, 100ms));
    CHECK(wait_until([&] { return http_get(daemon.http_port(), "/readyz").status == 200; }, 5s));
    auto lines = outbox_counts(daemon.outbox("sms"));
    CHECK(lines.size() == 10'000);
    std::size_t total = 0;
    for (auto& [id, n] : lines) total += static_cast<std::size_t>(n);
    CHECK(total == 10'000);  // nothing sent twice: the daemon never stopped, so nothing was in doubt
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a job with a future not_before waits in the schedule, then goes out") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    const auto at = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) + 3s;
    enqueue(client, {sms_job("later-1", R"(,"not_before":")" + format_rfc3339(at) + "\"")});
    daemon.start();
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'scheduled'") == 1; }, 10s));
    CHECK(client.integer({"ZCARD", "crieur:scheduled"}) == 1);
    CHECK(outbox_counts(daemon.outbox("sms")).empty());
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 1; }, 15s));
    CHECK(std::chrono::system_clock::now() >= at);
    CHECK(client.integer({"ZCARD", "crieur:scheduled"}) == 0);
    CHECK(client.integer({"HLEN", "crieur:scheduled:aside"}) == 0);  // its payload went with it
    CHECK(outbox_counts(daemon.outbox("sms"))["later-1"] == 1);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a malformed resume field dead-letters its entry with the reason, and an older schedule's members are still read") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    auto client = redis.client();
    client.command({"XADD", "crieur:jobs", "*", "job", sms_job("bad-resume-1"), "resume", "escalation:sms,,email"});
    client.command({"XADD", "crieur:jobs", "*", "job", sms_job("bad-resume-2"), "resume", "rewind"});
    // Members as the schedule of an earlier version wrote them, due now: a plain one, one held for
    // its send time, one with a slot of the outbox.
    client.command({"ZADD", "crieur:scheduled", "1", "9-1 " + sms_job("old-plain")});
    client.command({"ZADD", "crieur:scheduled", "1", "st|9-2 " + sms_job("old-sendtime")});
    client.command({"ZADD", "crieur:scheduled", "1", "slot|outbox|9-3 " + sms_job("old-slot")});
    DaemonUnderTest daemon(dir, redis);
    daemon.start();
    REQUIRE(wait_until([&] { return final_count(daemon) == 5 && pending_count(client) == 0; }, 30s));
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id LIKE 'bad-resume-%' AND status = 'rejected'") == 2);
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id LIKE 'old-%' AND status = 'sent'") == 3);
    CHECK(client.integer({"ZCARD", "crieur:scheduled"}) == 0);
    auto dead = client.command({"XRANGE", "crieur:dead", "-", "+"});
    REQUIRE(dead->elements == 2);
    std::vector<std::string> reasons, codes;
    for (std::size_t i = 0; i < dead->elements; ++i) {
        const redisReply* f = dead->element[i]->element[1];
        for (std::size_t k = 0; k + 1 < f->elements; k += 2) {
            if (redis::text(f->element[k]) == "reason") reasons.emplace_back(redis::text(f->element[k + 1]));
            if (redis::text(f->element[k]) == "code") codes.emplace_back(redis::text(f->element[k + 1]));
        }
    }
    CHECK(reasons[0] == "the stream entry's 'resume' field is malformed: escalation: '' is not a channel name");
    CHECK(reasons[1].starts_with("the stream entry's 'resume' field is malformed: unknown kind 'rewind'"));
    CHECK(codes == std::vector<std::string>{"job_bad_resume", "job_bad_resume"});
    CHECK(daemon.metric("crieur_resume_malformed_total") == 2);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("operators read health, readiness, metrics and a message over HTTP") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    enqueue(client, {sms_job("http-1")});
    daemon.start();
    REQUIRE(wait_until([&] { return final_count(daemon) == 1 && pending_count(client) == 0; }, 10s));
    CHECK(http_get(daemon.http_port(), "/healthz").status == 200);
    auto ready = http_get(daemon.http_port(), "/readyz");
    CHECK(ready.status == 200);
    CHECK(ready.body.find(R"("ready":true)") != std::string::npos);
    auto metrics = daemon.api("GET", "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.body.find("crieur_jobs_read_total 1\n") != std::string::npos);
    CHECK(metrics.body.find("crieur_messages{status=\"sent\"} 1\n") != std::string::npos);
    auto msg = daemon.api("GET", "/v1/messages/http-1");
    CHECK(msg.status == 200);
    CHECK(msg.body.find(R"("outcome":"accepted")") != std::string::npos);
    CHECK(daemon.api("GET", "/v1/messages/nope").status == 404);
    CHECK(http_get(daemon.http_port(), "/nothing-here").status == 404);
    // The view masks the address, wherever it stands.
    CHECK(msg.body.find("+33612345678") == std::string::npos);
    CHECK(msg.body.find(R"("recipient":"+336******78")") != std::string::npos);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("every route that reads or changes data asks for the API key, and a daemon without one keeps them closed") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    const std::vector<std::pair<std::string, std::string>> keyed{
        {"GET", "/v1/messages/m-1"},     {"POST", "/v1/messages/m-1/cancel"}, {"POST", "/v1/campaigns/c-1/cancel"},
        {"GET", "/v1/citizens/C-1"},     {"PUT", "/v1/citizens/C-1"},         {"DELETE", "/v1/citizens/C-1"},
        {"POST", "/v1/citizens/C-1/consents"}, {"POST", "/v1/events"},        {"GET", "/metrics"},
        {"GET", "/v1/dead-letters"},     {"POST", "/v1/dead-letters/1-0/requeue"}, {"GET", "/v1/journey-steps"}};
    {
        DaemonUnderTest daemon(dir, redis);
        daemon.start();
        for (auto& [method, path] : keyed) {
            CAPTURE(path);
            CHECK(http_request(daemon.http_port(), method, path, "{}").status == 401);
            CHECK(http_request(daemon.http_port(), method, path, "{}", {"Authorization: Bearer not-the-key"}).status == 401);
        }
        CHECK(daemon.api("GET", "/v1/citizens/C-1").status == 404);  // the key opens it
        CHECK(http_get(daemon.http_port(), "/healthz").status == 200);   // probes need none
        CHECK(daemon.stop() == 0);
    }
    DaemonUnderTest keyless(dir, redis, DaemonOptions{.api_token = ""});
    keyless.start();
    for (auto& [method, path] : keyed) {
        CAPTURE(path);
        CHECK(http_request(keyless.http_port(), method, path, "{}").status == 401);
        CHECK(http_request(keyless.http_port(), method, path, "{}", {"Authorization: Bearer "}).status == 401);
    }
    CHECK(keyless.stop() == 0);
}

TEST_CASE("crieurd refuses to start on a non-loopback address without an API key") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, DaemonOptions{.extra_http = "listen = \"0.0.0.0\"\n", .api_token = ""});
    daemon.start();
    CHECK(daemon.process().wait(std::chrono::seconds(5)) == 78);  // EX_CONFIG
    CHECK(read_file(daemon.log()).find("http.listen: 0.0.0.0 is reachable from other machines") != std::string::npos);
}

TEST_CASE("no log line holds a whole phone number or e-mail address") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, {.log_level = "debug"});
    auto client = redis.client();
    enqueue(client,
            {sms_job("pii-1"),
             std::string(R"({"v":1,"id":"pii-2","service":"s","template":"passport_expiry","to":{"email":"jeanne.martin@example.fr"},"data":)") + kPassportData + "}",
             R"({"v":1,"id":"pii-3","service":"s","template":"passport_expiry","to":{"sms":"+33698765432"},"colour":"red"})"});
    daemon.start();
    REQUIRE(wait_until([&] { return final_count(daemon) == 3 && pending_count(client) == 0; }, 10s));
    CHECK(daemon.stop() == 0);
    const std::string log = read_file(daemon.log());
    CHECK(log.find("+336******78") != std::string::npos);  // the masked form is there: the test can fail
    CHECK(log.find("612345678") == std::string::npos);
    CHECK(log.find("698765432") == std::string::npos);
    CHECK(log.find("jeanne.martin") == std::string::npos);
    CHECK(log.find("example.fr") == std::string::npos);
}

TEST_CASE("SIGHUP with a broken config keeps the running one and SIGTERM drains and exits 0") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    daemon.start();
    const std::string good = read_file(daemon.config());
    std::ofstream(daemon.config()) << good << "[redis]\nbogus = 1\n";
    daemon.process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return read_file(daemon.log()).find("reload refused") != std::string::npos; }, 5s));
    CHECK(read_file(daemon.log()).find("crieur.toml:") != std::string::npos);  // where the problem is
    CHECK(daemon.process().running());
    auto client = redis.client();
    enqueue(client, {sms_job("after-reload")});
    REQUIRE(wait_until([&] { return final_count(daemon) == 1; }, 10s));
    CHECK(daemon.stop() == 0);
    CHECK(read_file(daemon.log()).find("every job read was committed and acknowledged") != std::string::npos);
}

TEST_CASE("crieurd --check-config names the file, line and key of each problem") {
    TempDir dir;
    std::ofstream(dir / "bad.toml") << "[receipts]\npath = \"r.sqlite\"\n[outbox]\ndir = \"o\"\n[redis]\nprot = 6379\n";
    Process check({CRIEURD_PATH, "--check-config", dir / "bad.toml"}, dir / "check.log");
    CHECK(check.wait(10s) == 78);
    CHECK(read_file(dir / "check.log").find("bad.toml:6: redis.prot: unknown key") != std::string::npos);
}

TEST_CASE("SIGHUP recompiles the templates and refuses a broken set") {
    TempDir dir;
    std::filesystem::copy(CRIEUR_SOURCE_DIR "/templates", dir / "templates", std::filesystem::copy_options::recursive);
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, {.templates_dir = dir / "templates"});
    daemon.start();
    auto client = redis.client();
    const std::string sms = dir / "templates/passport_expiry/fr/sms.mustache";

    std::ofstream(sms) << "{{name}}, votre {{document}} expire le {{expires_on}} {{#broken}}\n";
    daemon.process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return read_file(daemon.log()).find("reload refused") != std::string::npos; }, 5s));
    CHECK(read_file(daemon.log()).find("passport_expiry/fr/sms.mustache:1:") != std::string::npos);
    enqueue(client, {sms_job("before-fix")});
    REQUIRE(wait_until([&] { return final_count(daemon) == 1; }, 10s));

    std::ofstream(sms) << "NOUVEAU {{name}} {{document}} {{expires_on}} {{booking_url}}\n";
    daemon.process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return read_file(daemon.log()).find("reloaded") != std::string::npos; }, 5s));
    enqueue(client, {sms_job("after-fix")});
    REQUIRE(wait_until([&] { return final_count(daemon) == 2; }, 10s));
    const std::string out = read_file(daemon.outbox("sms"));
    CHECK(out.find(R"("job_id":"before-fix","channel":"sms","to":"+33612345678","template":"passport_expiry","locale":"fr","text":"Madame Martin, votre passeport)") != std::string::npos);
    CHECK(out.find(R"("text":"NOUVEAU Madame Martin passeport 14 mars 2027 https://mairie.example.fr/rdv")") != std::string::npos);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("cancellation: a scheduled message, a job not yet read, a whole campaign now and to come, too late once sent") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, {.extra_receipts = "cancelled_campaign_hold_s = 4\n"});
    daemon.start();
    auto client = redis.client();
    const std::string later = R"(,"not_before":")" + format_rfc3339(SystemClock().now() + std::chrono::hours(1)) + "\"";
    enqueue(client, {sms_job("cx-sent"), sms_job("cx-later", later), sms_job("camp-1", later + R"(,"campaign":"heat-2026")"),
                     sms_job("camp-2", later + R"(,"campaign":"heat-2026")")});
    auto status = [&](const std::string& id) {
        auto r = daemon.api("GET", "/v1/messages/" + id);
        auto p = r.body.find("\"status\":\"");
        return p == std::string::npos ? std::string() : r.body.substr(p + 10, r.body.find('"', p + 10) - p - 10);
    };
    REQUIRE(wait_until([&] { return status("cx-sent") == "sent" && status("cx-later") == "scheduled" &&
                                    status("camp-1") == "scheduled" && status("camp-2") == "scheduled"; }, 15s));
    CHECK(daemon.api("POST", "/v1/messages/cx-sent/cancel").status == 409);
    auto one = daemon.api("POST", "/v1/messages/cx-later/cancel");
    CHECK(one.status == 200);
    CHECK(one.body == R"({"id":"cx-later","cancelled":1})");
    CHECK(status("cx-later") == "cancelled");
    // Not read yet: cancelled before it comes.
    CHECK(daemon.api("POST", "/v1/messages/cx-unread/cancel").status == 200);
    auto camp = daemon.api("POST", "/v1/campaigns/heat-2026/cancel");
    CHECK(camp.body == R"({"campaign":"heat-2026","cancelled":2})");
    enqueue(client, {sms_job("cx-unread"), sms_job("camp-3", R"(,"campaign":"heat-2026")"), sms_job("cx-other")});
    REQUIRE(wait_until([&] { return status("cx-other") == "sent" && status("camp-3") == "cancelled"; }, 15s));
    CHECK(status("cx-unread") == "cancelled");
    CHECK(status("camp-1") == "cancelled");
    auto sent = outbox_counts(daemon.outbox("sms"));
    CHECK(sent["cx-unread"] == 0);
    CHECK(sent["camp-3"] == 0);
    CHECK(sent["cx-other"] == 1);
    CHECK(daemon.api("GET", "/metrics").body.find("crieur_jobs_cancelled_total 2") != std::string::npos);
    // Past the hold, the campaign's name is free again: a new campaign of that name goes out.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    enqueue(client, {sms_job("camp-4", R"(,"campaign":"heat-2026")")});
    REQUIRE(wait_until([&] { return status("camp-4") == "sent"; }, 15s));
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a provider's rate limit is shared by two daemons on one Redis") {
    TempDir dir_a, dir_b;
    RedisServer redis(dir_a / "redis");
    const std::string limits = "[rate_limits]\noutbox = { per_s = 50, burst = 1 }\nhorizon_ms = 500\n";
    DaemonUnderTest a(dir_a, redis, {.consumer = "a", .extra_sections = limits});
    DaemonUnderTest b(dir_b, redis, {.consumer = "b", .extra_sections = limits});
    a.start();
    b.start();
    auto client = redis.client();
    const int n = 250;
    std::vector<std::string> jobs;
    for (int i = 0; i < n; ++i) jobs.push_back(sms_job("rl-" + std::to_string(i)));
    enqueue(client, jobs);
    auto sent = [&] { return a.query("SELECT count(*) FROM messages WHERE status = 'sent'") +
                             b.query("SELECT count(*) FROM messages WHERE status = 'sent'"); };
    REQUIRE(wait_until([&] { return sent() == n; }, 60s, 100ms));
    // Both took part, and together they kept the pace: n sends over (n - 1) intervals of 20 ms.
    const auto in_a = a.query("SELECT count(*) FROM attempts"), in_b = b.query("SELECT count(*) FROM attempts");
    CHECK(in_a > 0);
    CHECK(in_b > 0);
    CHECK(in_a + in_b == n);
    const auto first = std::min(a.query("SELECT min(started_at) FROM attempts"), b.query("SELECT min(started_at) FROM attempts"));
    const auto last = std::max(a.query("SELECT max(started_at) FROM attempts"), b.query("SELECT max(started_at) FROM attempts"));
    const double rate = (n - 1) * 1000.0 / static_cast<double>(last - first);
    MESSAGE("measured " << rate << " sends/s for a limit of 50/s, " << in_a << " + " << in_b << " sends");
    CHECK(rate == doctest::Approx(50.0).epsilon(0.05));
    CHECK(a.stop() == 0);
    CHECK(b.stop() == 0);
}

TEST_CASE("a provider's pace per recipient: messages to one person are spaced, others are not held") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    // horizon 500 ms: the 2 s spacing puts the later messages to that person in the schedule.
    DaemonUnderTest daemon(dir, redis, {.extra_sections = "[rate_limits]\noutbox = { recipient_every_s = 2 }\nhorizon_ms = 500\n"});
    daemon.start();
    auto client = redis.client();
    std::vector<std::string> jobs;
    for (int i = 0; i < 3; ++i) jobs.push_back(sms_job_to("same-" + std::to_string(i), "+33611111111"));
    for (int i = 0; i < 5; ++i) jobs.push_back(sms_job_to("other-" + std::to_string(i), "+3362222222" + std::to_string(i)));
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 8; }, 30s, 50ms));
    std::vector<std::int64_t> same;
    for (int i = 0; i < 3; ++i)
        same.push_back(daemon.query("SELECT a.started_at FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = 'same-" +
                                    std::to_string(i) + "'"));
    std::sort(same.begin(), same.end());
    const auto first = daemon.query("SELECT min(started_at) FROM attempts");
    const auto others_last = daemon.query(
        "SELECT max(a.started_at) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id LIKE 'other-%'");
    MESSAGE("to one person: " << same[1] - same[0] << " ms then " << same[2] - same[1] << " ms apart; the others all within "
                              << others_last - first << " ms");
    CHECK(same[1] - same[0] >= 1900);
    CHECK(same[2] - same[1] >= 1900);
    CHECK(others_last - first < 1000);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("an urgent job overtakes a bulk backlog held by a rate limit") {
    // On the jobs stream it is read in its turn (intake drains the backlog into the schedule); on
    // the urgent stream, at once.
    std::string stream = "crieur:jobs";
    SUBCASE("queued on the jobs stream") { stream = "crieur:jobs"; }
    SUBCASE("queued on the urgent stream") { stream = "crieur:jobs:urgent"; }
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, {.extra_sections = "[rate_limits]\noutbox = { per_s = 20, burst = 1 }\nhorizon_ms = 500\n"});
    daemon.start();
    auto client = redis.client();
    const int backlog = 20000;  // 1000 s of sends at 20/s (100,000 in the issue note)
    std::vector<std::string> jobs;
    for (int i = 0; i < backlog; ++i) jobs.push_back(sms_job("bulk-" + std::to_string(i), R"(,"priority":"bulk")"));
    enqueue(client, jobs);
    const auto queued = std::chrono::steady_clock::now();
    REQUIRE(client.command({"XADD", stream, "*", "job", sms_job("flood-alert", R"(,"priority":"urgent")")})->type ==
            REDIS_REPLY_STRING);
    REQUIRE(wait_until([&] { return outbox_counts(daemon.outbox("sms"))["flood-alert"] == 1; }, 30s, 20ms));
    const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - queued).count();
    const auto bulk_sent = daemon.query("SELECT count(*) FROM messages WHERE status = 'sent' AND job_id LIKE 'bulk-%'");
    MESSAGE("urgent sent " << latency << " s after it was queued on " << stream << " behind " << backlog
                           << " bulk jobs (" << bulk_sent << " of them sent by then)");
    CHECK(latency < 10.0);
    CHECK(bulk_sent < 300);  // the backlog is still held by the limit: the urgent one did not wait for it
    CHECK(daemon.stop() == 0);
}

TEST_CASE("normal jobs overtake a bulk backlog held by a rate limit, and the pace holds") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, {.extra_sections = "[rate_limits]\noutbox = { per_s = 50, burst = 1 }\nhorizon_ms = 500\n"});
    daemon.start();
    auto client = redis.client();
    const int bulk = 500, normal = 50;  // 10 s of bulk at 50/s, then 1 s of normal
    std::vector<std::string> jobs;
    for (int i = 0; i < bulk; ++i) jobs.push_back(sms_job("bulk-" + std::to_string(i), R"(,"priority":"bulk")"));
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM attempts") >= 50; }, 30s, 20ms));
    jobs.clear();
    for (int i = 0; i < normal; ++i) jobs.push_back(sms_job("normal-" + std::to_string(i)));
    const auto queued = std::chrono::steady_clock::now();
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent' AND job_id LIKE 'normal-%'") == normal; },
                       30s, 20ms));
    const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - queued).count();
    const auto bulk_by_then = daemon.query("SELECT count(*) FROM messages WHERE status = 'sent' AND job_id LIKE 'bulk-%'");
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == bulk + normal; }, 60s, 100ms));
    // The pace over the whole run, and over the second in which the normal ones went out.
    const auto first = daemon.query("SELECT min(started_at) FROM attempts"), last = daemon.query("SELECT max(started_at) FROM attempts");
    const double rate = (bulk + normal - 1) * 1000.0 / static_cast<double>(last - first);
    const auto n_first = daemon.query("SELECT min(a.started_at) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id LIKE 'normal-%'");
    const auto n_last = daemon.query("SELECT max(a.started_at) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id LIKE 'normal-%'");
    const auto during = daemon.query("SELECT count(*) FROM attempts WHERE started_at BETWEEN " + std::to_string(n_first) + " AND " + std::to_string(n_last));
    const double rate_during = (during - 1) * 1000.0 / static_cast<double>(std::max<std::int64_t>(1, n_last - n_first));
    const auto yielded = daemon.metric("crieur_throttle_yielded_total");
    MESSAGE("50 normal jobs all sent " << latency << " s after they were queued behind " << bulk - 50
                                       << " bulk ones (" << bulk_by_then << " bulk sent by then); pace " << rate
                                       << "/s over the run, " << rate_during << "/s while the normal ones went; "
                                       << yielded << " bulk slots given up");
    CHECK(latency < 4.0);          // 1 s at the pace, the horizon, and the schedule's promotion
    CHECK(bulk_by_then < bulk - 200);  // the backlog still waited: the normal ones did not queue behind it
    CHECK(rate == doctest::Approx(50.0).epsilon(0.05));
    CHECK(rate_during < 50 * 1.3);
    CHECK(yielded >= normal - 5);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("send time: a message waits for the hour its reader reads, learnt from the receipts, off, it goes at once") {
    // The engagement learnt from: a WhatsApp-style read, or a click (a tap reported to /v1/events).
    // A citizen in the directory in Tokyo (UTC+9, the default zone being Paris's): the learner
    // reads their hours in their zone as the pipeline does, or the chosen instant would be 8 h off.
    std::string engagement = "read";
    bool in_tokyo = false;
    SUBCASE("reads") { engagement = "read"; }
    SUBCASE("clicks") { engagement = "click"; }
    SUBCASE("a citizen of the directory in another time zone") { in_tokyo = true; }
    TempDir dir;
    RedisServer redis(dir / "redis");
    const std::string on = "enabled = true\nexplore_percent = 0\nrelearn_s = 3600\n";
    DaemonUnderTest first(dir, redis, {.send_time = on});
    first.start();  // creates the receipts database
    if (in_tokyo)
        REQUIRE(first.api("PUT", "/v1/citizens/S-1",
                          R"({"given_name":"Aiko","time_zone":"Asia/Tokyo","channels":["sms"],"contacts":{"sms":"+33612345678"}})")
                    .status == 201);
    REQUIRE(first.stop() == 0);
    // Thirty days of history: messages sent 8 hours before the hour their reader reads them.
    const auto now = SystemClock().now();
    const auto hour = std::chrono::duration_cast<std::chrono::hours>(now.time_since_epoch()).count() % 24;
    const auto read_hour = (hour + 6) % 24;
    {
        auto db = sqlite::open(first.receipts(), SQLITE_OPEN_READWRITE);
        const auto today = std::chrono::duration_cast<std::chrono::days>(now.time_since_epoch()).count();
        for (int d = 1; d <= 30; ++d) {
            const std::int64_t day_ms = (today - d) * 86'400'000LL;
            const std::int64_t read_at = day_ms + read_hour * 3'600'000LL + 600'000, sent_at = read_at - 8 * 3'600'000LL;
            sqlite::exec(db.get(), ("INSERT INTO messages (job_id, stream_id, citizen, status, created_at, updated_at) VALUES ('old-" +
                                    std::to_string(d) + "', '0-1', 'S-1', 'read', " + std::to_string(sent_at) + ", " + std::to_string(read_at) + ")").c_str());
            sqlite::exec(db.get(), ("INSERT INTO attempts (message_id, n, channel, provider, started_at, outcome) VALUES (last_insert_rowid(), 1, 'sms', 'outbox', " +
                                    std::to_string(sent_at) + ", 'accepted')").c_str());
            sqlite::exec(db.get(), ("INSERT INTO events (message_id, attempt_id, at, status) SELECT message_id, id, " + std::to_string(read_at) +
                                    ", '" + engagement + "' FROM attempts WHERE id = last_insert_rowid()").c_str());
        }
    }
    DaemonUnderTest daemon(dir, redis, {.send_time = on});
    daemon.start();
    REQUIRE(wait_until([&] { return read_file(daemon.log()).find("send time: learnt from 30 accepted attempts") != std::string::npos; }, 10s));
    auto client = redis.client();
    const std::string deadline = R"(,"deadline":")" + format_rfc3339(now + std::chrono::hours(20)) + "\"";
    const std::string st1 = in_tokyo ? R"({"v":1,"id":"st-1","service":"etat-civil","template":"passport_expiry","citizen":"S-1","data":)" +
                                           std::string(kPassportData) + deadline + "}"
                                     : sms_job("st-1", deadline);
    enqueue(client, {st1, sms_job("st-urgent", deadline + R"(,"priority":"urgent")")});
    auto reason = [&](const std::string& id) {
        auto r = daemon.api("GET", "/v1/messages/" + id).body;
        auto p = r.find("\"status_reason\":\"");
        return p == std::string::npos ? std::string() : r.substr(p + 17, r.find('"', p + 17) - p - 17);
    };
    REQUIRE(wait_until([&] { return reason("st-1").find("send time") != std::string::npos; }, 10s));
    CHECK(wait_until([&] { return outbox_counts(daemon.outbox("sms"))["st-urgent"] == 1; }, 5s));  // urgent: at once
    // The chosen instant: shortly before the reading hour, 5 to 6 hours from now, not at once.
    const auto r = reason("st-1");
    auto chosen = r.substr(r.find("until ") + 6, 24);
    const auto at = client.command({"ZRANGE", "crieur:scheduled", "0", "-1", "WITHSCORES"});
    REQUIRE(at->elements == 2);
    const std::int64_t score = std::atoll(at->element[1]->str);
    const double hours_ahead = static_cast<double>(score - to_unix_ms(now)) / 3'600'000.0;
    MESSAGE("read at " << read_hour << ":10 UTC; chosen " << chosen << ", " << hours_ahead << " h ahead");
    CHECK(hours_ahead > 3.0);
    CHECK(hours_ahead < 7.0);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("the outbox's provider ids never repeat across restarts") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    for (const char* id : {"run-1", "run-2"}) {
        daemon.start();
        enqueue(client, {sms_job(id)});
        REQUIRE(wait_until([&] { return final_count(daemon) == (std::string(id) == "run-1" ? 1 : 2); }, 10s));
        CHECK(daemon.stop() == 0);
    }
    CHECK(daemon.query("SELECT count(DISTINCT provider_message_id) FROM attempts WHERE outcome = 'accepted'") == 2);
}

TEST_CASE("past http.max_connections a new connection is closed with a log line, and the server recovers") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, {.extra_http = "max_connections = 3\n"});
    daemon.start();
    auto connect_idle = [&] {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(daemon.http_port()));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        return fd;
    };
    std::vector<int> idle;
    for (int i = 0; i < 3; ++i) idle.push_back(connect_idle());  // slow clients that send nothing
    std::this_thread::sleep_for(200ms);
    CHECK(http_get(daemon.http_port(), "/healthz").status == 0);  // closed at once
    CHECK(wait_until([&] { return read_file(daemon.log()).find("refusing new ones") != std::string::npos; }, 2s));
    ::close(idle.back());
    idle.pop_back();
    CHECK(wait_until([&] { return http_get(daemon.http_port(), "/healthz").status == 200; }, 5s));
    for (int fd : idle) ::close(fd);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("SIGHUP rotates the API key, applies the routing rules, and names each changed section that needs a restart") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    const std::string key_file = dir / "api-key";
    std::ofstream(key_file) << "first-key\n";
    DaemonUnderTest daemon(dir, redis, {.extra_http = "api_token_file = \"" + key_file + "\"\n", .api_token = ""});
    daemon.start();
    auto get = [&](const std::string& key) {
        return http_request(daemon.http_port(), "GET", "/metrics", "", {"Authorization: Bearer " + key}).status;
    };
    REQUIRE(get("first-key") == 200);
    std::ofstream(key_file) << "second-key\n";
    // A changed provider section and rate limit, beside the key.
    std::string config = read_file(daemon.config());
    config += "[rate_limits]\noutbox = { per_s = 100 }\nhorizon_ms = 500\n[router]\ndefault_order = [\"email\", \"sms\"]\n"
              "[[providers]]\ntype = \"webpush\"\nname = \"push-app\"\nvapid_key_file = \"vapid.pem\"\n"
              "vapid_subject = \"mailto:ops@mairie.example.fr\"\n";
    std::ofstream(daemon.config()) << config;
    daemon.process().signal(SIGHUP);
    const bool reloaded = wait_until([&] { return read_file(daemon.log()).find("reloaded") != std::string::npos; }, 5s);
    INFO(read_file(daemon.log()));
    REQUIRE(reloaded);
    CHECK(get("first-key") == 401);
    CHECK(get("second-key") == 200);
    const std::string log = read_file(daemon.log());
    CHECK(log.find("reload: changed but applied only at the next restart: [rate_limits], provider push-app (new)") !=
          std::string::npos);
    CHECK(log.find("[router]") == std::string::npos);  // applied, so not named
    CHECK(daemon.stop() == 0);
}

TEST_CASE("with http.public_port, the hooks and links are served apart from /v1 and /metrics") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    const int public_port = free_port();
    DaemonOptions options;
    options.extra_http = "public_port = " + std::to_string(public_port) + "\n";
    DaemonUnderTest daemon(dir, redis, options);
    daemon.start();
    // The public listener: a provider's callback reaches the hooks (which know no hook by that
    // name), a citizen's unsubscribe link its page (which knows no such token); /v1 and /metrics
    // do not exist there ("no such resource": the route table's own 404).
    const std::string unknown_route = "no such resource";
    CHECK(http_post(public_port, "/hooks/nope", "x=1").body.find("no such hook") != std::string::npos);
    CHECK(http_get(public_port, "/u/not-a-token").status != 0);
    CHECK(http_get(public_port, "/u/not-a-token").body.find(unknown_route) == std::string::npos);
    CHECK(http_get(public_port, "/healthz").status == 200);
    CHECK(http_request(public_port, "GET", "/metrics", {}, {api_auth()}).body.find(unknown_route) != std::string::npos);
    CHECK(http_request(public_port, "GET", "/v1/messages/x", {}, {api_auth()}).body.find(unknown_route) != std::string::npos);
    CHECK(http_get(public_port, "/readyz").status == 404);
    // The internal listener: the API and the operators' routes, not the hooks and links.
    CHECK(daemon.api("GET", "/metrics").status == 200);
    CHECK(http_get(daemon.http_port(), "/readyz").status == 200);
    CHECK(http_post(daemon.http_port(), "/hooks/nope", "x=1").body.find(unknown_route) != std::string::npos);
    CHECK(http_get(daemon.http_port(), "/u/not-a-token").body.find(unknown_route) != std::string::npos);
    CHECK(read_file(daemon.log()).find("(public: hooks and links)") != std::string::npos);
    CHECK(daemon.stop() == 0);
}
