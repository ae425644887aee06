// kill -9 while crieurd works through 10,000 jobs, several times, restarting it each time: every
// job ends with exactly one final receipt and nothing stays pending. With on_crash = "resend" the
// citizen may get a message twice (counted, bounded by the in-flight window); with "unknown" never.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

constexpr int kJobs = 10'000;
constexpr int kKills = 4;
constexpr int kMaxInflight = 200;

struct CrashRun {
    int kills = 0;
    std::size_t duplicated_lines = 0;  // outbox lines beyond the first for a job
    std::int64_t unknown = 0;
    std::int64_t sent = 0;
};

std::int64_t outbox_bytes(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

CrashRun crash_run(const std::string& on_crash) {
    TempDir dir;
    RedisServer redis(dir / "redis");
    // Slow enough to be caught mid-work: small batches, fsync at every commit.
    DaemonUnderTest daemon(dir, redis,
                           {.extra_redis = "batch = 50\n",
                            .extra_intake = "max_inflight = " + std::to_string(kMaxInflight) + "\non_crash = \"" +
                                            on_crash + "\"\n",
                            .extra_receipts = "synchronous = \"full\"\nbatch_max = 200\n"});
    auto client = redis.client();
    std::vector<std::string> jobs;
    for (int i = 0; i < kJobs; ++i) jobs.push_back(sms_job("crash-" + std::to_string(i)));
    enqueue(client, jobs);

    CrashRun run;
    const std::int64_t line_bytes = static_cast<std::int64_t>(sms_job("crash-5000").size()) + 40;
    for (int k = 1; k <= kKills; ++k) {
        daemon.start();
        // Kill at roughly k/(kKills+1) of the work, judged by the outbox's size.
        const std::int64_t target = line_bytes * kJobs * k / (kKills + 1);
        const bool reached = wait_until([&] { return outbox_bytes(daemon.outbox("sms")) >= target; }, 120s, 1ms);
        const auto done = daemon.query("SELECT count(*) FROM messages WHERE status IN ('sent', 'unknown')");
        daemon.kill9();
        if (reached && done < kJobs) ++run.kills;
    }
    daemon.start();
    const bool finished = wait_until(
        [&] {
            return daemon.query("SELECT count(*) FROM messages WHERE status NOT IN ('queued','scheduled','sending')") ==
                       kJobs &&
                   pending_count(client) == 0;
        },
        180s, 100ms);
    CHECK(finished);
    CHECK(daemon.query("SELECT count(*) FROM messages") == kJobs);  // one receipt per job id
    CHECK(daemon.stop() == 0);

    run.sent = daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'");
    run.unknown = daemon.query("SELECT count(*) FROM messages WHERE status = 'unknown'");
    CHECK(run.sent + run.unknown == kJobs);
    auto lines = outbox_counts(daemon.outbox("sms"));
    for (auto& [id, n] : lines) run.duplicated_lines += static_cast<std::size_t>(n - 1);
    // Every message recorded as sent is in the outbox; none is missing.
    CHECK(static_cast<std::int64_t>(lines.size()) >= run.sent);
    return run;
}

}  // namespace

TEST_CASE("kill -9 mid-run with on_crash = resend: no job lost, duplicates bounded by the in-flight window") {
    auto run = crash_run("resend");
    MESSAGE("resend: " << run.kills << " kills mid-run, " << run.duplicated_lines << " duplicated outbox lines, "
                       << run.unknown << " unknown, " << run.sent << " sent");
    CHECK(run.kills >= 2);
    CHECK(run.unknown == 0);
    CHECK(run.sent == kJobs);
    CHECK(run.duplicated_lines <= static_cast<std::size_t>(run.kills * kMaxInflight));
}

TEST_CASE("kill -9 mid-run with on_crash = unknown: no job lost, nothing sent twice") {
    auto run = crash_run("unknown");
    MESSAGE("unknown: " << run.kills << " kills mid-run, " << run.duplicated_lines << " duplicated outbox lines, "
                        << run.unknown << " unknown, " << run.sent << " sent");
    CHECK(run.kills >= 2);
    CHECK(run.duplicated_lines == 0);
    CHECK(run.unknown <= run.kills * kMaxInflight);
}
