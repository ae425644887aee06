// bench-pipeline: the spine's throughput. Starts a private redis-server and crieurd (outbox
// driver, the shipped passport_expiry SMS template with the economy policy), queues N jobs as
// fast as one pipelined client can, and waits for the last receipt.
// Prints jobs/s from first enqueue to last receipt, enqueue→receipt latency percentiles, the
// daemon's peak RSS, and ratios to the issue's target and to a BullMQ worker pipeline.
// With --citizens C, the jobs are addressed to C citizens put in the directory beforehand (each
// job a directory read and a routing decision) instead of carrying their number inline.
// The in-flight window is the daemon's default (intake.max_inflight) unless --inflight says.
//   bench-pipeline [--jobs N] [--batch N] [--inflight N] [--citizens C]
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/directory/directory.hpp"
#include "daemon/receipts/sqlite.hpp"
#include "bench_support.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
    int jobs = 200'000, batch = 512, inflight = IntakeConfig{}.max_inflight, citizens = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--inflight")) inflight = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--citizens")) citizens = std::atoi(argv[i + 1]);
    }
    test::TempDir dir;
    test::RedisServer redis(dir / "redis");
    const int http_port = test::free_port();
    if (citizens > 0) {
        directory::Directory d(dir / "directory.db");
        d.begin();
        char phone[16];
        for (int i = 0; i < citizens; ++i) {
            directory::Citizen c;
            c.id = "C-" + std::to_string(i);
            c.given_name = "Marie";
            std::snprintf(phone, sizeof phone, "+336%08d", i);
            c.contacts.push_back({"sms", phone, directory::ContactState::unverified, {}, 0});
            d.upsert(c, 0);
        }
        d.commit();
    }
    std::ofstream(dir / "bench.toml") << "[redis]\nport = " << redis.port() << "\nbatch = " << batch
                                      << "\n[intake]\nmax_inflight = " << inflight
                                      << "\n[receipts]\npath = \"receipts.sqlite\"\n[outbox]\ndir = \"outbox\"\n"
                                      << "[http]\nport = " << http_port << "\n[log]\nlevel = \"warn\"\n[quiet_hours]\nenabled = false\n[send_time]\nenabled = false\n"
                                      << "[templates]\ndir = \"" CRIEUR_SOURCE_DIR "/templates\"\n";
    test::Process daemon({CRIEURD_PATH, "--config", dir / "bench.toml"}, dir / "crieurd.log");
    if (!test::wait_until([&] { return test::http_get(http_port, "/healthz").status == 200; }, 10s)) {
        std::fprintf(stderr, "crieurd did not start: %s\n", test::read_file(dir / "crieurd.log").c_str());
        return 1;
    }
    std::printf("bench-pipeline: %d jobs, batch %d, max in flight %d, outbox driver, %u cores%s\n", jobs, batch, inflight,
                std::thread::hardware_concurrency(),
                citizens > 0 ? (", addressed to " + std::to_string(citizens) + " citizens in the directory").c_str() : "");

    // Queue in pipelined chunks of 1,000 from one client, as a municipal service would.
    auto client = redis.client();
    const auto t0 = std::chrono::system_clock::now();
    const std::string data = R"(,"service":"etat-civil","template":"passport_expiry",)"
                             R"("data":{"name":"Madame Martin","document":"passeport","expires_on":"14 mars 2027",)"
                             R"("booking_url":"https://mairie.example.fr/rdv"}})";
    for (int sent = 0; sent < jobs;) {
        const int chunk = std::min(1000, jobs - sent);
        for (int i = 0; i < chunk; ++i) {
            const std::string to = citizens > 0 ? R"("citizen":"C-)" + std::to_string((sent + i) % citizens) + "\""
                                                : std::string(R"("to":{"sms":"+33612345678"})");
            const std::string job = R"({"v":1,"id":"bench-)" + std::to_string(sent + i) + "\"," + to + data;
            client.append({"XADD", "crieur:jobs", "*", "job", job});
        }
        for (int i = 0; i < chunk; ++i) client.reply();
        sent += chunk;
    }
    const auto t_enqueued = std::chrono::system_clock::now();

    auto db = sqlite::open(dir / "receipts.sqlite", SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 5000);
    const bool done = test::wait_until(
        [&] {
            return bench::scalar(db.get(), "SELECT count(*) FROM messages WHERE status = 'sent'") == jobs &&
                   client.integer({"XLEN", "crieur:jobs"}) == jobs &&
                   client.command({"XPENDING", "crieur:jobs", "crieurd"})->element[0]->integer == 0;
        },
        600s, 20ms);
    const long rss_kb = bench::peak_rss_kb(daemon.pid());
    daemon.signal(SIGTERM);
    daemon.wait(30s);
    if (!done) {
        std::fprintf(stderr, "not every job was sent within 10 minutes\n");
        return 1;
    }

    // Enqueue time: the stream entry id's milliseconds. Receipt time: the attempt's commit stamp.
    const auto first_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t0.time_since_epoch()).count();
    const auto last_ms = bench::scalar(db.get(), "SELECT max(finished_at) FROM attempts");
    std::vector<std::int64_t> latency;
    latency.reserve(static_cast<std::size_t>(jobs));
    sqlite::Stmt q(db.get(), R"(
        SELECT a.finished_at - CAST(substr(m.stream_id, 1, instr(m.stream_id, '-') - 1) AS INTEGER)
        FROM messages m JOIN attempts a ON a.message_id = m.id)");
    while (q.step()) latency.push_back(q.int64(0));
    std::sort(latency.begin(), latency.end());
    auto pct = [&](double p) { return latency[static_cast<std::size_t>(p * static_cast<double>(latency.size() - 1))]; };

    const double seconds = static_cast<double>(last_ms - first_ms) / 1000.0;
    const double rate = jobs / seconds;
    const double enqueue_s = std::chrono::duration<double>(t_enqueued - t0).count();
    std::printf("  enqueue:                %.0f jobs/s (%.2f s for all)\n", jobs / enqueue_s, enqueue_s);
    std::printf("  first enqueue → last receipt: %.2f s\n", seconds);
    std::printf("  throughput:             %.0f jobs/s with receipts committed and entries acknowledged\n", rate);
    std::printf("  enqueue → receipt:      p50 %lld ms, p99 %lld ms, max %lld ms\n", static_cast<long long>(pct(0.5)),
                static_cast<long long>(pct(0.99)), static_cast<long long>(latency.back()));
    std::printf("  crieurd peak RSS:       %.1f MB\n", rss_kb / 1024.0);
    std::printf("  ratio to the 60,000 jobs/s target:        %.2fx\n", rate / 60'000.0);
    std::printf("  ratio to a BullMQ worker (8,500 jobs/s):  %.2fx\n", rate / 8'500.0);
    std::printf("  memory against the 50 MB budget:          %.2fx\n", rss_kb / 1024.0 / 50.0);
    return 0;
}
