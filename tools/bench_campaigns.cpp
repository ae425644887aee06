// bench-campaigns: a campaign to a whole town, into a real Redis (Debian's redis-server, AOF
// everysec) and real SQLite files: the snapshot of the audience and the fan-out of one job per
// citizen, by crieurd's own CampaignRunner, in a child process whose peak RSS is read when it
// ends. No daemon consumes the stream meanwhile (`max_backlog = 0`), so the figure is the fan-out's
// alone; the stream's length is checked against the town's size (no job twice, none skipped).
//   bench-campaigns [--citizens N] [--page P] [--keep DIR]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "daemon/campaigns/campaign_runner.hpp"
#include "daemon/config.hpp"
#include "daemon/directory/directory.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/sync_client.hpp"
#include "daemon/render/template_store.hpp"
#include "bench_town.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

// The child: the runner launches one campaign to everyone and fans it out; prints its figures.
int child(const std::string& dir, int port, int citizens, int page) {
    Config config;
    config.redis.port = port;
    config.receipts.path = dir + "/receipts.sqlite";
    config.directory.path = dir + "/directory.db";
    config.campaigns.path = dir + "/campaigns.db";
    config.campaigns.page = page;
    config.campaigns.max_backlog = 0;
    auto templates = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    if (!templates) return 2;
    boost::asio::io_context io;
    SystemClock clock;
    ReceiptStore receipts(io, config.receipts, OnCrash::resend, clock);
    redis::Endpoint endpoint;
    endpoint.port = port;
    redis::RedisConnection redis(io, endpoint, "bench");
    campaigns::CampaignRunner runner(io, config, redis, receipts, clock);
    redis.start();

    auto parsed = campaigns::parse_campaign_request(
        R"({"id":"bench-1","template":"street_event","priority":"bulk","audience":{"district":["Gerland","Presqu'île"]},)"
        R"("data":{"street":"rue Garibaldi","event":"Coupure d'électricité","starts":"aujourd'hui à 14 h","ends":"vers 16 h",)"
        R"("advice":"Débranchez les appareils sensibles.","info_url":"https://mairie.example.fr/travaux"}})",
        *templates, "voirie", false);
    if (!std::holds_alternative<campaigns::CampaignRequest>(parsed)) return 3;
    const auto started = Steady::now();
    Steady::time_point snapshot_done{};
    std::int64_t members = -1;
    boost::asio::steady_timer poll(io);
    std::function<void()> watch = [&] {
        poll.expires_after(std::chrono::milliseconds(2));
        poll.async_wait([&](boost::system::error_code) {
            if (runner.fanouts() == 0 && runner.jobs_queued() >= members) return io.stop();
            watch();
        });
    };
    auto launch = [&] {
        runner.create(std::get<campaigns::CampaignRequest>(std::move(parsed)), [&](campaigns::CampaignRunner::Answer a) {
            snapshot_done = Steady::now();
            members = a.campaign.members;
            if (a.outcome != campaigns::CampaignRunner::Outcome::done) {
                std::fprintf(stderr, "bench-campaigns: not launched: %s %s\n", a.part.c_str(), a.detail.c_str());
                return io.stop();
            }
            watch();
        });
    };
    redis.on_up(launch);
    io.run();
    const double snapshot_s = std::chrono::duration<double>(snapshot_done - started).count();
    const double fanout_s = std::chrono::duration<double>(Steady::now() - snapshot_done).count();
    runner.stop();
    std::printf("  snapshot of %lld citizens: %.2f s (%.0f citizens/s)\n", static_cast<long long>(members), snapshot_s,
                static_cast<double>(members) / snapshot_s);
    std::printf("  fan-out: %lld jobs in %.2f s: %.0f jobs/s into the stream (pages of %d)\n", static_cast<long long>(runner.jobs_queued()),
                fanout_s, static_cast<double>(runner.jobs_queued()) / fanout_s, page);
    (void)citizens;
    return runner.jobs_queued() == members ? 0 : 4;
}
}  // namespace

int main(int argc, char** argv) {
    int citizens = 1'000'000, page = 500;
    std::string keep;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--child" && i + 4 < argc)
            return child(argv[i + 1], std::atoi(argv[i + 2]), std::atoi(argv[i + 3]), std::atoi(argv[i + 4]));
        if (a == "--citizens" && i + 1 < argc) citizens = std::atoi(argv[++i]);
        else if (a == "--page" && i + 1 < argc) page = std::atoi(argv[++i]);
        else if (a == "--keep" && i + 1 < argc) keep = argv[++i];
        else {
            std::fprintf(stderr, "usage: bench-campaigns [--citizens N] [--page P] [--keep DIR]\n");
            return 2;
        }
    }
    test::TempDir temp;
    const std::string dir = keep.empty() ? temp.path().string() : keep;
    fs::create_directories(dir);
    const std::string directory = dir + "/directory.db";
    bench::ensure_town(directory, citizens, "bench-campaigns");
    for (auto f : {"campaigns.db", "campaigns.db-wal", "campaigns.db-shm", "receipts.sqlite", "receipts.sqlite-wal", "receipts.sqlite-shm"})
        fs::remove(dir + "/" + f);
    fs::remove_all(dir + "/redis");
    test::RedisServer redis(dir + "/redis");  // AOF, appendfsync everysec
    std::printf("bench-campaigns: %d citizens, one campaign to all of them, Redis AOF everysec, %u cores\n", citizens,
                std::thread::hardware_concurrency());
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "--child", dir.c_str(), std::to_string(redis.port()).c_str(), std::to_string(citizens).c_str(),
              std::to_string(page).c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    auto client = redis.client();
    const long long length = client.integer({"XLEN", "crieur:jobs"});
    std::printf("  peak RSS of the fan-out's process: %.1f MB (target 100 MB)\n", static_cast<double>(usage.ru_maxrss) / 1024.0);
    std::printf("  stream length %lld for %d citizens: %s\n", length, citizens, length == citizens ? "each once" : "MISMATCH");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "bench-campaigns: the fan-out failed (status %d)\n", status);
        return 1;
    }
    return length == citizens ? 0 : 1;
}
