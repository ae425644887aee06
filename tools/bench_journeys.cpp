// bench-journeys: a town's journeys at scale, with crieurd's own JourneyRunner on real SQLite files
// and a real Redis (Debian's redis-server, AOF everysec), in a child process whose peak RSS is
// read when it ends. N instances of the shipped welcome journey wait for their second message;
// D of them are due in the same minute (every reminder at 09:00). The runner moves the due ones
// (no consumer reads the stream, `max_backlog = 0`: the figure is the runner's alone) while the
// io_context's lag is measured (a 10 ms timer's lateness: how long the loop was held) and a Redis
// PING goes every 50 ms on the runner's own connection (how long an urgent message's command would
// wait behind the rounds). The stream's length is checked against D: each step once.
// First, N passport renewals are started through the runner as the API starts them (rate, peak RSS).
//   bench-journeys [--instances N] [--due D] [--batch B] [--keep DIR] [--no-starts]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench_town.hpp"
#include "daemon/config.hpp"
#include "daemon/journeys/journey_runner.hpp"
#include "daemon/journeys/journey_store.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/sync_client.hpp"
#include "daemon/render/template_store.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDay = 24LL * 3600 * 1000;

double seconds_since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

std::int64_t now_ms() { return to_unix_ms(SystemClock().now()); }

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// N welcome journeys, each started a week before its wake (so that the engine itself set it),
// waiting for the practical guide: the first `due` within the minute just gone, the rest over the
// next 30 days from tomorrow. Written through the store, one instance per transaction, as the runner does.
void make_instances(const std::string& path, const journeys::Journey& welcome, int n, int due) {
    journeys::JourneyStore store(path);
    std::mt19937 rng(20261204);
    // The others a day or more ahead: none comes due while the instances are written and moved.
    std::uniform_int_distribution<std::int64_t> minute(0, 59'999), month(kDay, 30 * kDay);
    const auto now = now_ms();
    for (int i = 0; i < n; ++i) {
        const std::int64_t wake = i < due ? now - minute(rng) : now + month(rng);
        journeys::Instance in;
        in.id = "wr-" + std::to_string(i);
        in.journey = "welcome_resident";
        in.service = "accueil";
        in.citizen = "C-" + std::to_string(i);
        in.data_json = R"({"name":"Madame Petit","district":"la Croix-Rousse","services_url":"https://mairie.example.fr/bienvenue",)"
                       R"("guide_url":"https://mairie.example.fr/guide","collection_day":"le mardi"})";
        in.started_ms = wake - 7 * kDay;
        auto a = journeys::advance(welcome, in, journeys::Trigger{journeys::Trigger::Kind::start}, wake - 7 * kDay, nullptr);
        std::string existing;
        store.create({std::move(a.instance), {}}, "bench", "bench", existing);
    }
}

// What a child's runner is configured with: the files in `dir`, no wait for the stream's backlog
// (no consumer reads it: the figures are the runner's alone).
Config runner_config(const std::string& dir, int port, const std::string& journeys_db) {
    Config config;
    config.redis.port = port;
    config.receipts.path = dir + "/receipts.sqlite";
    config.directory.path = dir + "/directory.db";
    config.journeys.path = dir + "/" + journeys_db;
    config.journeys.max_backlog = 0;
    return config;
}

std::shared_ptr<const journeys::JourneyLibrary> shipped_journeys() {
    auto templates = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    if (!templates) return nullptr;
    return journeys::JourneyLibrary::load(CRIEUR_SOURCE_DIR "/templates/_journeys", templates.get()).library;
}

// What a child runs: crieurd's runner with its receipts and its Redis connection, on one io_context.
struct RunnerRig {
    Config config;
    boost::asio::io_context io;
    SystemClock clock;
    ReceiptStore receipts;
    redis::RedisConnection redis;
    journeys::JourneyRunner runner;
    RunnerRig(Config c, std::shared_ptr<const journeys::JourneyLibrary> library)
        : config(std::move(c)), receipts(io, config.receipts, OnCrash::resend, clock),
          redis(io, redis::Endpoint{.port = config.redis.port}, "bench"), runner(io, config, redis, receipts, clock) {
        runner.set_library(std::move(library));
        redis.start();
    }
};

// Mapped files' pages count in the RSS (the directory is read through mmap): said apart.
void print_resident() {
    std::ifstream status("/proc/self/status");
    std::string line, anon, file;
    while (std::getline(status, line)) {
        if (line.rfind("RssAnon:", 0) == 0) anon = line.substr(8);
        if (line.rfind("RssFile:", 0) == 0) file = line.substr(8);
    }
    std::printf("  resident at the end: anonymous%s, mapped files%s\n", anon.c_str(), file.c_str());
}

// A child: N passport renewals started through the runner, as POST /v1/journeys starts them
// (without the HTTP), at most 5,000 outstanding; their expiry dates over the next ten years, so
// each waits for its warning. Prints the rate; its RSS is read by the parent.
int child_starts(const std::string& dir, int port, int n) {
    auto library = shipped_journeys();
    if (!library) return 2;
    RunnerRig rig(runner_config(dir, port, "journeys-started.db"), library);
    auto& [config, io, clock, receipts, redis, runner] = rig;
    std::mt19937 rng(20261205);
    std::uniform_int_distribution<std::int64_t> ahead(200 * kDay, 3650 * kDay);
    const auto now = now_ms();
    int asked = 0, answered = 0, failed = 0;
    Steady::time_point started{};
    std::function<void()> more = [&] {
        while (asked < n && asked - answered < 5'000) {
            journeys::StartRequest r;
            r.instance.id = "pp-" + std::to_string(asked);
            r.instance.journey = "passport_renewal";
            r.instance.service = "etat-civil";
            r.instance.citizen = "C-" + std::to_string(asked);
            r.instance.data_json = R"({"expiry_date":")" + format_rfc3339(from_unix_ms(now + ahead(rng))).substr(0, 10) +
                                   R"(","name":"Madame Martin","document":"passeport","expires_on":"en mars","booking_url":"https://mairie.example.fr/rdv"})";
            r.request_hash = "h" + std::to_string(asked);
            r.by = "bench";
            ++asked;
            runner.begin(std::move(r), [&](journeys::JourneyRunner::Answer a) {
                ++answered;
                if (a.outcome != journeys::JourneyRunner::Outcome::done) ++failed;
                if (answered == n) return io.stop();
                if (asked - answered < 2'500) more();
            });
        }
    };
    redis.on_up([&] {
        started = Steady::now();
        runner.start();
        more();
    });
    io.run();
    runner.stop();
    const double s = seconds_since(started);
    std::printf("  %d journeys started through the runner in %.1f s: %.0f starts/s, %d refused; journeys.db %.0f MB\n", answered,
                s, answered / s, failed, static_cast<double>(fs::file_size(config.journeys.path)) / 1e6);
    print_resident();
    return answered == n && failed == 0 ? 0 : 4;
}

// The child: the runner moves what is due; prints its figures.
int child(const std::string& dir, int port, int due, int batch) {
    auto library = shipped_journeys();
    if (!library) return 2;
    Config c = runner_config(dir, port, "journeys.db");
    c.journeys.batch = batch;
    RunnerRig rig(std::move(c), library);
    auto& [config, io, clock, receipts, redis, runner] = rig;

    Steady::time_point started{}, done_at{};
    std::vector<double> lag_ms, ping_ms;
    boost::asio::steady_timer lag_timer(io), ping_timer(io), watch_timer(io);
    // The loop's lateness: a 10 ms timer measures how long after its time it ran.
    std::function<void(Steady::time_point)> lag = [&](Steady::time_point expected) {
        lag_timer.expires_at(expected);
        lag_timer.async_wait([&, expected](boost::system::error_code e) {
            if (e) return;
            lag_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - expected).count());
            lag(expected + std::chrono::milliseconds(10));
        });
    };
    std::function<void()> ping = [&] {
        ping_timer.expires_after(std::chrono::milliseconds(50));
        ping_timer.async_wait([&](boost::system::error_code e) {
            if (e) return;
            const auto sent = Steady::now();
            redis.command({"PING"}, [&, sent](const redisReply*) {
                ping_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - sent).count());
            });
            ping();
        });
    };
    std::function<void()> watch = [&] {
        watch_timer.expires_after(std::chrono::milliseconds(5));
        watch_timer.async_wait([&](boost::system::error_code e) {
            if (e) return;
            if (runner.messages_queued() >= due) {
                done_at = Steady::now();
                // A second with nothing due: the idle runner's lag, then the end.
                watch_timer.expires_after(std::chrono::seconds(1));
                return watch_timer.async_wait([&](boost::system::error_code) { io.stop(); });
            }
            if (seconds_since(started) > 600) return io.stop();
            watch();
        });
    };
    redis.on_up([&] {
        started = Steady::now();
        runner.start();
        lag(Steady::now() + std::chrono::milliseconds(10));
        ping();
        watch();
    });
    io.run();
    runner.stop();
    const double drain_s = std::chrono::duration<double>(done_at - started).count();
    std::printf("  %lld due steps queued in %.2f s: %.0f steps/s (rounds of %d, one transaction and one Redis pipeline each)\n",
                static_cast<long long>(runner.messages_queued()), drain_s,
                static_cast<double>(runner.messages_queued()) / drain_s, batch);
    std::printf("  event loop lag during the drain: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu samples of a 10 ms timer)\n",
                percentile(lag_ms, 0.5), percentile(lag_ms, 0.99), percentile(lag_ms, 1.0), lag_ms.size());
    std::printf("  Redis PING on the runner's connection: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu)\n",
                percentile(ping_ms, 0.5), percentile(ping_ms, 0.99), percentile(ping_ms, 1.0), ping_ms.size());
    print_resident();
    return runner.messages_queued() == due ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
    int instances = 1'000'000, due = 100'000, batch = 500;
    bool skip_starts = false;
    std::string keep;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--child-starts" && i + 3 < argc)
            return child_starts(argv[i + 1], std::atoi(argv[i + 2]), std::atoi(argv[i + 3]));
        if (a == "--child" && i + 4 < argc)
            return child(argv[i + 1], std::atoi(argv[i + 2]), std::atoi(argv[i + 3]), std::atoi(argv[i + 4]));
        if (a == "--instances" && i + 1 < argc) instances = std::atoi(argv[++i]);
        else if (a == "--due" && i + 1 < argc) due = std::atoi(argv[++i]);
        else if (a == "--batch" && i + 1 < argc) batch = std::atoi(argv[++i]);
        else if (a == "--keep" && i + 1 < argc) keep = argv[++i];
        else if (a == "--no-starts") skip_starts = true;
        else {
            std::fprintf(stderr, "usage: bench-journeys [--instances N] [--due D] [--batch B] [--keep DIR] [--no-starts]\n");
            return 2;
        }
    }
    due = std::min(due, instances);
    test::TempDir temp;
    const std::string dir = keep.empty() ? temp.path().string() : keep;
    fs::create_directories(dir);
    const std::string directory = dir + "/directory.db";
    bench::ensure_town(directory, instances, "bench-journeys");
    for (auto f : {"journeys.db", "journeys.db-wal", "journeys.db-shm", "journeys-started.db", "journeys-started.db-wal",
                   "journeys-started.db-shm", "receipts.sqlite", "receipts.sqlite-wal", "receipts.sqlite-shm"})
        fs::remove(dir + "/" + f);
    fs::remove_all(dir + "/redis");
    // Each measured part in a child of its own, whose peak RSS is its own.
    auto run_child = [&](std::vector<std::string> args, rusage& usage) {
        const pid_t pid = fork();
        if (pid == 0) {
            std::vector<char*> argv_c;
            argv_c.push_back(argv[0]);
            for (auto& a : args) argv_c.push_back(a.data());
            argv_c.push_back(nullptr);
            execv("/proc/self/exe", argv_c.data());
            _exit(127);
        }
        int status = 0;
        wait4(pid, &status, 0, &usage);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    };
    if (!skip_starts) {
        test::RedisServer redis(dir + "/redis-starts");
        std::printf("bench-journeys: %d passport renewals started, each waiting for its warning\n", instances);
        std::fflush(stdout);
        rusage usage{};
        const int rc = run_child({"--child-starts", dir, std::to_string(redis.port()), std::to_string(instances)}, usage);
        std::printf("  peak RSS of the starting process: %.1f MB\n", static_cast<double>(usage.ru_maxrss) / 1024.0);
        if (rc != 0) {
            std::fprintf(stderr, "bench-journeys: the starts failed (status %d)\n", rc);
            return 1;
        }
    }
    {
        auto library = shipped_journeys();
        if (!library || !library->find("welcome_resident")) {
            std::fprintf(stderr, "bench-journeys: the shipped journeys could not be read\n");
            return 2;
        }
        const auto t = Steady::now();
        make_instances(dir + "/journeys.db", *library->find("welcome_resident"), instances, due);
        const double s = seconds_since(t);
        std::printf("bench-journeys: %d active instances written in %.1f s (%.0f/s), journeys.db %.0f MB\n", instances, s,
                    instances / s, static_cast<double>(fs::file_size(dir + "/journeys.db")) / 1e6);
    }
    test::RedisServer redis(dir + "/redis");  // AOF, appendfsync everysec
    std::printf("bench-journeys: %d instances, %d due in the same minute, Redis AOF everysec, %u cores\n", instances, due,
                std::thread::hardware_concurrency());
    std::fflush(stdout);
    rusage usage{};
    const int rc = run_child({"--child", dir, std::to_string(redis.port()), std::to_string(due), std::to_string(batch)}, usage);
    auto client = redis.client();
    const long long length = client.integer({"XLEN", "crieur:jobs"});
    std::printf("  peak RSS of the runner's process: %.1f MB\n", static_cast<double>(usage.ru_maxrss) / 1024.0);
    std::printf("  stream length %lld for %d due: %s\n", length, due, length == due ? "each step once" : "MISMATCH");
    if (rc != 0) {
        std::fprintf(stderr, "bench-journeys: the drain failed (status %d)\n", rc);
        return 1;
    }
    return length == due ? 0 : 1;
}
