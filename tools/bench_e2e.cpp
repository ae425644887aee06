// bench-e2e: the whole path a service's message takes, as production runs it. Jobs are queued on a
// Redis stream (AOF, appendfsync everysec); crieurd renders the shipped `passport_expiry` SMS, sends
// it through its Twilio driver to a stub provider (crieur's own Beast server on its own thread,
// pinned to the last core), records the receipt in SQLite and acknowledges the entry.
// Prints, for a burst of N jobs: msg/s from the first enqueue to the last receipt, crieurd's CPU per
// message (utime + stime from /proc over the run), its peak RSS; then, paced at R msg/s for S
// seconds, enqueue → provider request p50/p99 (the attempt's start against the stream entry's
// time); and beside them the Twilio driver's own CPU per message, sending alone to the same stub,
// so that what the pipeline adds is visible. With --callbacks 1, the service has a status callback
// endpoint (on the same stub, answering 204): the burst ends when every message's "sent" callback
// was taken, and the CPU per message includes the outbox's trigger, loading, signing and POSTing.
//   bench-e2e [--jobs N] [--rate R] [--seconds S] [--connections C] [--callbacks 0|1]
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "channels/sms/twilio.hpp"
#include "daemon/http/server.hpp"
#include "daemon/receipts/sqlite.hpp"
#include "bench_support.hpp"
#include "driver_run.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSid = "AC00000000000000000000000000bench1";




std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

const std::string kData = R"(,"service":"etat-civil","template":"passport_expiry","to":{"sms":"+33612345678"},)"
                          R"("data":{"name":"Madame Martin","document":"passeport","expires_on":"14 mars 2027",)"
                          R"("booking_url":"https://mairie.example.fr/rdv"}})";

void enqueue(redis::SyncClient& client, const std::string& prefix, int from, int count) {
    for (int i = 0; i < count; ++i)
        client.append({"XADD", "crieur:jobs", "*", "job", R"({"v":1,"id":")" + prefix + std::to_string(from + i) + "\"" + kData});
    for (int i = 0; i < count; ++i) client.reply();
}

// Waits until the stub has served `requests` in all, then until every job whose id starts with
// `prefix` is recorded sent; false after 10 minutes. The stub's counter is watched first: a count
// over the receipts every few milliseconds would take the CPU the daemon is measured on.
bool wait_sent(sqlite3* db, const std::atomic<long>& served, long requests, const std::string& prefix, int count) {
    if (!test::wait_until([&] { return served.load() >= requests; }, 600s, 5ms)) return false;
    const std::string sql = "SELECT count(*) FROM messages WHERE status = 'sent' AND job_id LIKE '" + prefix + "%'";
    return test::wait_until([&] { return bench::scalar(db, sql) >= count; }, 60s, 20ms);
}

}  // namespace

int main(int argc, char** argv) {
    int jobs = 100'000, rate = 3'000, seconds = 10, connections = 64, with_callbacks = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rate")) rate = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--connections")) connections = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--callbacks")) with_callbacks = std::atoi(argv[i + 1]);
    }
    const unsigned cores = std::thread::hardware_concurrency();

    // The stub provider: Twilio's 201 with its Message resource, at once, on the last core.
    std::atomic<long> requests{0};
    boost::asio::io_context stub_io{1};
    http::Routes routes;
    routes.add("POST", "/2010-04-01/Accounts/", [&requests](const http::Request&, std::string_view, http::Reply reply) {
        requests.fetch_add(1, std::memory_order_relaxed);
        reply({201, "application/json",
               R"({"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","num_segments":"1","to":"+33612345678"})", {}});
    }, http::Access::open);
    std::atomic<long> callbacks{0};
    routes.add("POST", "/hook", [&callbacks](const http::Request&, std::string_view, http::Reply reply) {
        callbacks.fetch_add(1, std::memory_order_relaxed);
        reply({204, "text/plain", "", {}});
    }, http::Access::open);
    http::HttpServer stub(stub_io, routes);
    stub.start("127.0.0.1", 0, 4096);
    const std::string base = "http://127.0.0.1:" + std::to_string(stub.port());
    std::thread stub_thread([&] {
        if (cores > 1) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cores - 1, &set);
            pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
        stub_io.run();
    });

    test::TempDir dir;
    test::RedisServer redis(dir / "redis");  // AOF, appendfsync everysec
    const int http_port = test::free_port();
    std::ofstream(dir / "e2e.toml") << "[redis]\nport = " << redis.port() << "\n[receipts]\npath = \"receipts.sqlite\"\n"
                                    << "[outbox]\ndir = \"outbox\"\n[http]\nport = " << http_port
                                    << "\n[log]\nlevel = \"warn\"\n[quiet_hours]\nenabled = false\n[send_time]\nenabled = false\n"
                                    << "[templates]\ndir = \"" CRIEUR_SOURCE_DIR "/templates\"\n"
                                    << "[[providers]]\ntype = \"twilio\"\nbase_url = \"" << base << "\"\naccount_sid = \""
                                    << kSid << "\"\nauth_token_env = \"E2E_TWILIO_TOKEN\"\nfrom = \"+33700000001\"\n"
                                    << "max_connections = " << connections << "\n";
    if (with_callbacks) {
        std::ofstream(dir / "e2e.toml", std::ios::app)
            << "[callbacks]\nfile = \"callbacks.jsonl\"\nallow_hosts = [\"127.0.0.1\"]\n";
        std::ofstream(dir / "callbacks.jsonl")
            << R"({"service":"etat-civil","url":")" << base
            << R"(/hook","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],"created_ms":0})" << "\n";
    }
    test::Process daemon({CRIEURD_PATH, "--config", dir / "e2e.toml"}, dir / "crieurd.log", {"E2E_TWILIO_TOKEN=bench-token"});
    if (!test::wait_until([&] { return test::http_get(http_port, "/readyz").status == 200; }, 10s)) {
        std::fprintf(stderr, "bench-e2e: crieurd did not start: %s\n", test::read_file(dir / "crieurd.log").c_str());
        return 1;
    }
    std::printf("bench-e2e: %d jobs, Twilio driver (%d connections) to a stub on core %u, Redis AOF everysec, %u cores\n",
                jobs, connections, cores > 1 ? cores - 1 : 0, cores);

    // 1. A burst: every job queued at once from one pipelined client, while crieurd consumes.
    auto client = redis.client();
    const double cpu0 = bench::process_cpu_seconds(daemon.pid());
    const auto first_ms = now_ms();
    for (int sent = 0; sent < jobs; sent += 1000) enqueue(client, "e2e-", sent, std::min(1000, jobs - sent));
    auto db = sqlite::open(dir / "receipts.sqlite", SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 5000);
    if (!wait_sent(db.get(), requests, jobs, "e2e-", jobs)) {
        std::fprintf(stderr, "bench-e2e: not every job was sent within 10 minutes\n");
        return 1;
    }
    if (with_callbacks && !test::wait_until([&] { return callbacks.load() >= jobs; }, 600s, 5ms)) {
        std::fprintf(stderr, "bench-e2e: %ld of %d status callbacks taken within 10 minutes\n", callbacks.load(), jobs);
        return 1;
    }
    const double cpu1 = bench::process_cpu_seconds(daemon.pid());
    const auto last_ms = bench::scalar(db.get(), "SELECT max(finished_at) FROM attempts");
    const double burst_s = static_cast<double>(last_ms - first_ms) / 1000.0;
    const double pipeline_us = (cpu1 - cpu0) / jobs * 1e6;
    const long rss_kb = bench::peak_rss_kb(daemon.pid());
    std::printf("  burst:                  %.0f msg/s (%d in %.2f s, first enqueue → last receipt)\n", jobs / burst_s, jobs,
                burst_s);
    std::printf("  crieurd CPU:            %.1f µs/message (utime + stime over the burst)%s\n", pipeline_us,
                with_callbacks ? ", its status callback included" : "");
    if (with_callbacks) std::printf("  status callbacks:       %ld taken by the endpoint\n", callbacks.load());
    std::printf("  crieurd peak RSS:       %.1f MB\n", rss_kb / 1024.0);

    // 2. Paced well below saturation: crieurd's own latency, enqueue → provider request.
    if (rate > 0 && seconds > 0) {
        const int per_tick = std::max(1, rate / 100), total = rate * seconds;
        auto next = std::chrono::steady_clock::now();
        for (int sent = 0; sent < total; sent += per_tick) {
            enqueue(client, "paced-", sent, std::min(per_tick, total - sent));
            next += 10ms;
            std::this_thread::sleep_until(next);
        }
        if (!wait_sent(db.get(), requests, static_cast<long>(jobs) + total, "paced-", total)) {
            std::fprintf(stderr, "bench-e2e: the paced jobs were not all sent within 10 minutes\n");
            return 1;
        }
        std::vector<std::int64_t> latency;
        sqlite::Stmt q(db.get(), R"(
            SELECT a.started_at - CAST(substr(m.stream_id, 1, instr(m.stream_id, '-') - 1) AS INTEGER)
            FROM messages m JOIN attempts a ON a.message_id = m.id WHERE m.job_id LIKE 'paced-%')");
        while (q.step()) latency.push_back(q.int64(0));
        std::sort(latency.begin(), latency.end());
        auto pct = [&](double p) { return latency[static_cast<std::size_t>(p * static_cast<double>(latency.size() - 1))]; };
        std::printf("  paced %d msg/s, %d s:   enqueue → provider request p50 %lld ms, p99 %lld ms, max %lld ms\n", rate,
                    seconds, static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)),
                    static_cast<long long>(latency.back()));
    }
    daemon.signal(SIGTERM);
    daemon.wait(30s);
    const long served = requests.load();

    // 3. The driver alone, from this thread, to the same stub: what the pipeline adds is the rest.
    boost::asio::io_context io{1};
    auto guard = boost::asio::make_work_guard(io);
    HttpClient http(io, {connections, "", true});
    TwilioConfig tw;
    tw.base_url = base;
    tw.account_sid = kSid;
    tw.auth_token = "bench-token";
    tw.from = "+33700000001";
    TwilioChannel twilio(http, "twilio", tw);
    const Message m = bench::passport_message();
    const int alone = std::min(jobs, 50'000);
    bench::run_driver(twilio, io, std::min(alone, 2000), connections, m);  // warm up
    const auto driver = bench::run_driver(twilio, io, alone, connections, m);
    const double driver_us = driver.cpu / alone * 1e6;
    std::printf("  Twilio driver alone:    %.1f µs/message (%.0f sends/s); the pipeline adds %.1f µs (%.2fx the driver)\n",
                driver_us, alone / driver.seconds, pipeline_us - driver_us, pipeline_us / driver_us);
    std::printf("  against the goals:      CPU %.2fx the 30 µs budget, RSS %.2fx the 50 MB budget\n", pipeline_us / 30.0,
                rss_kb / 1024.0 / 50.0);
    stub_io.stop();
    stub_thread.join();
    const long expected = jobs + (rate > 0 && seconds > 0 ? static_cast<long>(rate) * seconds : 0);
    if (served < expected || driver.accepted != alone) {
        std::fprintf(stderr, "bench-e2e: the stub served %ld of %ld requests, the driver alone had %d of %d accepted\n",
                     served, expected, driver.accepted, alone);
        return 1;
    }
    return 0;
}
