// The crieur CLI against a real Redis and a real receipts database.
#include <doctest/doctest.h>

#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
int cli(const DaemonUnderTest& d, const TempDir& dir, std::vector<std::string> args, std::string& out) {
    static int n = 0;
    const std::string log = dir / ("cli-" + std::to_string(++n) + ".log");
    args.insert(args.begin(), {CRIEUR_CLI_PATH, "--config", d.config()});
    Process p(args, log);
    const int rc = p.wait(30s);
    out = read_file(log);
    return rc;
}
}  // namespace

TEST_CASE("crieur enqueue queues valid JSON lines and names the invalid ones by line") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    std::ofstream(dir / "jobs.jsonl") << sms_job("cli-1") << "\n\n" << sms_job("cli-2") << "\n"
                                      << R"({"v":1,"id":"cli-3","service":"s"})" << "\n";
    std::string out;
    CHECK(cli(daemon, dir, {"enqueue", dir / "jobs.jsonl"}, out) == 1);
    CHECK(out.find("jobs.jsonl:4: missing required field 'template'") != std::string::npos);
    CHECK(out.find("queued 2 jobs") != std::string::npos);
    auto client = redis.client();
    CHECK(client.integer({"XLEN", "crieur:jobs"}) == 2);
}

TEST_CASE("crieur status shows a message's attempts; dead list and requeue bring a fixed job back") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis);
    auto client = redis.client();
    enqueue(client, {sms_job("st-1"), R"({"v":1,"id":"st-2","service":"s","template":"passport_expiry","to":{"sms":"+33612345678"},"prority":"bulk"})"});
    daemon.start();
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && client.integer({"XLEN", "crieur:dead"}) == 1; }, 10s));
    std::string out;
    REQUIRE(wait_until([&] { return cli(daemon, dir, {"status", "st-1"}, out) == 0; }, 5s));
    CHECK(out.find("st-1  sent") != std::string::npos);
    CHECK(out.find("attempt 1  sms via outbox  accepted") != std::string::npos);
    CHECK(cli(daemon, dir, {"status", "nope"}, out) == 1);

    CHECK(cli(daemon, dir, {"dead", "list"}, out) == 0);
    CHECK(out.find("job st-2  job_unknown_field: unknown field 'prority'") != std::string::npos);
    const std::string entry = out.substr(0, out.find(' '));
    CHECK(cli(daemon, dir, {"dead", "requeue", entry}, out) == 0);
    CHECK(client.integer({"XLEN", "crieur:dead"}) == 1);  // requeued as is: rejected again, a new dead entry
    REQUIRE(wait_until([&] { return pending_count(client) == 0 && client.integer({"XLEN", "crieur:jobs"}) == 3; }, 10s));
    CHECK(daemon.stop() == 0);
}
