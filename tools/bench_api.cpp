// bench-api: the services' HTTP API, as a service that sends a file of reminders uses it. A real
// crieurd (outbox driver) on a real Redis (AOF everysec), a key made as `crieur keys create`
// makes it, and one client posting batches of 10,000 jobs (POST /v1/messages/batch) one after
// the other, then single jobs (POST /v1/messages, a connection each). Prints jobs/s accepted
// (every line answered 202: checked, rendered, queued once per id) and crieurd's CPU per job,
// against the issue's target of 50,000 jobs/s from one client. crieurd delivers meanwhile, as
// it would in production: the figure includes that competition for the cores.
//   bench-api [--batches N] [--singles N]
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bench_support.hpp"
#include "daemon/keys/api_keys.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

using namespace crieur;
using namespace std::chrono_literals;

namespace {
std::string job(const std::string& id) {
    return R"({"v":1,"id":")" + id + R"(","template":"passport_expiry","to":{"sms":"+33612345678"},)"
           R"("data":{"name":"Madame Martin","document":"passeport","expires_on":"14 mars 2027",)"
           R"("booking_url":"https://mairie.example.fr/rdv"}})";
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}
}  // namespace

int main(int argc, char** argv) {
    int batches = 10, singles = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--batches")) batches = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--singles")) singles = std::atoi(argv[i + 1]);
    }
    constexpr int kPerBatch = 10'000;
    test::TempDir dir;
    test::RedisServer redis(dir / "redis");
    auto minted = keys::mint("etat-civil", "bench", static_cast<keys::Scopes>(keys::Scope::send), false, 0, 0);
    keys::write_key_file(dir / "keys.jsonl", {minted.key});
    const int port = test::free_port();
    std::ofstream(dir / "api.toml") << "[redis]\nport = " << redis.port() << "\n[receipts]\npath = \"receipts.sqlite\"\n"
                                    << "[outbox]\ndir = \"outbox\"\n[http]\nport = " << port << "\nkeys_file = \"keys.jsonl\"\nrequests_per_key_per_s = 0\n"
                                    << "[log]\nlevel = \"warn\"\n[quiet_hours]\nenabled = false\n[send_time]\nenabled = false\n"
                                    << "[templates]\ndir = \"" CRIEUR_SOURCE_DIR "/templates\"\n";
    test::Process daemon({CRIEURD_PATH, "--config", dir / "api.toml"}, dir / "crieurd.log");
    if (!test::wait_until([&] { return test::http_get(port, "/readyz").status == 200; }, 10s)) {
        std::fprintf(stderr, "bench-api: crieurd did not start: %s\n", test::read_file(dir / "crieurd.log").c_str());
        return 1;
    }
    const std::vector<std::string> headers{"Authorization: Bearer " + minted.token, "Content-Type: application/x-ndjson"};
    std::printf("bench-api: %d batches of %d jobs, then %d single jobs, one client, crieurd on the outbox, Redis AOF everysec\n",
                batches, kPerBatch, singles);

    // Built before the clock starts: the client's own work is not the daemon's.
    std::vector<std::string> bodies(static_cast<std::size_t>(batches));
    for (int b = 0; b < batches; ++b)
        for (int i = 0; i < kPerBatch; ++i) bodies[static_cast<std::size_t>(b)] += job("batch-" + std::to_string(b) + "-" + std::to_string(i)) + "\n";
    const double cpu0 = bench::process_cpu_seconds(daemon.pid());
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t accepted = 0;
    for (auto& body : bodies) {
        const auto r = test::http_request(port, "POST", "/v1/messages/batch", body, headers);
        if (r.status != 200) {
            std::fprintf(stderr, "bench-api: the batch answered %d: %s\n", r.status, r.body.substr(0, 300).c_str());
            return 1;
        }
        accepted += count(r.body, "\"status\":202");
    }
    const double batch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu1 = bench::process_cpu_seconds(daemon.pid());
    const double total = static_cast<double>(batches) * kPerBatch;
    if (accepted != static_cast<std::size_t>(total)) {
        std::fprintf(stderr, "bench-api: %zu of %.0f lines accepted\n", accepted, total);
        return 1;
    }
    std::printf("  batch:   %.0f jobs/s accepted (%.0f in %.2f s), crieurd %.1f µs/job while it also delivers\n",
                total / batch_s, total, batch_s, (cpu1 - cpu0) / total * 1e6);
    std::printf("           ratio to the 50,000 jobs/s target: %.2fx\n", total / batch_s / 50'000.0);

    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < singles; ++i) {
        const auto r = test::http_request(port, "POST", "/v1/messages", job("single-" + std::to_string(i)), headers);
        if (r.status != 202) {
            std::fprintf(stderr, "bench-api: a single job answered %d: %s\n", r.status, r.body.c_str());
            return 1;
        }
    }
    const double single_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::printf("  single:  %.0f requests/s (one job each, a new connection each, one at a time)\n", singles / single_s);
    daemon.signal(SIGTERM);
    daemon.wait(30s);
    return 0;
}
