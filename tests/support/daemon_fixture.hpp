// Test support: crieurd under test, started as its own process on a config written for the test
// (a RedisServer, a SQLite file and an outbox in a TempDir), plus helpers to queue jobs and read
// what came out. Test code only.
#pragma once

#include <signal.h>
#include <sqlite3.h>

#include <memory>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "daemon/receipts/sqlite.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace crieur::test {

// The API key every daemon under test is given (DaemonOptions::api_token), and the header that carries it.
inline constexpr const char* kTestApiToken = "test-api-key-0123456789";
inline std::string api_auth() { return std::string("Authorization: Bearer ") + kTestApiToken; }

struct DaemonOptions {
    std::string extra_redis;    // lines added to [redis]
    std::string redis_address;  // the [redis] lines that say where it is; empty: port = <the server's>
    std::string extra_intake;   // lines added to [intake]
    std::string extra_receipts; // lines added to [receipts]
    std::string extra_http;     // lines added to [http]
    // [quiet_hours]: off unless a test is about them, so that tests pass at any hour.
    std::string quiet_hours = "enabled = false\n";
    // [send_time]: off unless a test is about it, so that every message goes at once.
    std::string send_time = "enabled = false\n";
    std::string log_level = "info";
    std::string consumer;       // empty: hostname-pid
    std::string templates_dir = CRIEUR_SOURCE_DIR "/templates";
    std::string extra_sections;        // whole sections appended to the config
    std::vector<std::string> env;      // NAME=value for the daemon's environment
    std::string api_token = kTestApiToken;  // http.api_token (through the environment); empty: none
};

class DaemonUnderTest {
public:
    DaemonUnderTest(const TempDir& dir, const RedisServer& redis, DaemonOptions options = {}, int http_port = 0)
        : dir_(dir), http_port_(http_port ? http_port : free_port()) {
        config_ = dir / "crieur.toml";
        // Claims after 1 s, looked for every 100 ms, unless the test says otherwise.
        std::string text = "[redis]\n" + (options.redis_address.empty() ? "port = " + std::to_string(redis.port()) + "\n"
                                                                          : options.redis_address);
        if (options.extra_redis.find("claim_after_ms") == std::string::npos) text += "claim_after_ms = 1000\n";
        if (options.extra_redis.find("claim_interval_ms") == std::string::npos) text += "claim_interval_ms = 100\n";
        text += options.extra_redis;
        if (!options.consumer.empty()) text += "consumer = \"" + options.consumer + "\"\n";
        text += "[intake]\n" + options.extra_intake;
        text += "[receipts]\npath = \"receipts.sqlite\"\n" + options.extra_receipts;
        text += "[outbox]\ndir = \"outbox\"\n";
        text += "[templates]\ndir = \"" + options.templates_dir + "\"\n";
        text += "[http]\nport = " + std::to_string(http_port_) + "\n" + options.extra_http;
        if (!options.api_token.empty()) {
            text += "api_token_env = \"CRIEUR_TEST_API_TOKEN\"\n";
            options.env.push_back("CRIEUR_TEST_API_TOKEN=" + options.api_token);
        }
        text += "[daemon]\ndrain_timeout_ms = 5000\n";
        text += "[log]\nlevel = \"" + options.log_level + "\"\n";
        text += "[quiet_hours]\n" + options.quiet_hours;
        text += "[send_time]\n" + options.send_time;
        text += options.extra_sections;
        std::ofstream(config_) << text;
        env_ = options.env;
    }

    void start() {
        process_ = std::make_unique<Process>(std::vector<std::string>{CRIEURD_PATH, "--config", config_}, log(), env_);
        wait_until([&] { return http_get(http_port_, "/healthz").status == 200 || !process_->running(); },
                   std::chrono::seconds(10));
    }
    void kill9() {
        process_->signal(SIGKILL);
        process_->wait(std::chrono::seconds(10));
    }
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
        process_->signal(SIGTERM);
        return process_->wait(timeout);
    }
    Process& process() { return *process_; }
    int http_port() const { return http_port_; }
    // A request with the API key.
    HttpResult api(const std::string& method, const std::string& path, const std::string& body = {}) const {
        return http_request(http_port_, method, path, body, {api_auth(), "Content-Type: application/json"});
    }
    // A counter or gauge from /metrics (its first sample); -1 when absent.
    double metric(const std::string& name) const {
        const std::string body = api("GET", "/metrics").body;
        for (std::size_t at = body.find(name); at != std::string::npos; at = body.find(name, at + 1)) {
            const bool line_start = at == 0 || body[at - 1] == '\n';
            const char next = at + name.size() < body.size() ? body[at + name.size()] : '\0';
            if (line_start && (next == ' ' || next == '{')) return std::stod(body.substr(body.find(' ', at) + 1));
        }
        return -1;
    }
    std::string log() const { return dir_ / "crieurd.log"; }
    std::string config() const { return config_; }
    // The daemon's environment (the secrets its config names): a CLI run on its config needs it too.
    const std::vector<std::string>& env() const { return env_; }
    std::string outbox(const std::string& channel) const { return dir_ / ("outbox/" + channel + ".jsonl"); }
    std::string receipts() const { return dir_ / "receipts.sqlite"; }

    // One integer from the receipts database (a read-only connection per call).
    std::int64_t query(const std::string& sql) const {
        if (!std::filesystem::exists(receipts())) return 0;
        auto db = sqlite::open(receipts(), SQLITE_OPEN_READONLY);
        sqlite3_busy_timeout(db.get(), 2000);
        sqlite::Stmt s(db.get(), sql);
        return s.step() ? s.int64(0) : 0;
    }

private:
    const TempDir& dir_;
    int http_port_;
    std::string config_;
    std::vector<std::string> env_;
    std::unique_ptr<Process> process_;
};

// The data the shipped passport_expiry template needs.
inline const char* kPassportData =
    R"({"name":"Madame Martin","document":"passeport","expires_on":"14 mars 2027","booking_url":"https://mairie.example.fr/rdv"})";

// A valid job with an inline SMS recipient `number`; `extra` is spliced into the object (",\"k\":v").
inline std::string sms_job_to(const std::string& id, const std::string& number, const std::string& extra = "") {
    return R"({"v":1,"id":")" + id + R"(","service":"etat-civil","template":"passport_expiry","to":{"sms":")" + number +
           R"("},"data":)" + kPassportData + extra + "}";
}

// The same to +33612345678.
inline std::string sms_job(const std::string& id, const std::string& extra = "") {
    return sms_job_to(id, "+33612345678", extra);
}

// Queues jobs in one pipeline.
inline void enqueue(redis::SyncClient& redis, const std::vector<std::string>& jobs) {
    for (auto& j : jobs) redis.append({"XADD", "crieur:jobs", "*", "job", j});
    for (std::size_t i = 0; i < jobs.size(); ++i) redis.reply();
}

inline long long pending_count(redis::SyncClient& redis) {
    auto r = redis.command({"XPENDING", "crieur:jobs", "crieurd"});
    return r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->integer : -1;
}

// How many entries were ever added to the stream (XLEN counts only those not yet trimmed: the
// daemon trims acknowledged jobs).
inline long long entries_added(redis::SyncClient& redis, const char* stream = "crieur:jobs") {
    auto r = redis.command({"XINFO", "STREAM", stream});
    if (!r || r->type != REDIS_REPLY_ARRAY) return -1;
    for (std::size_t i = 0; i + 1 < r->elements; i += 2)
        if (redis::text(r->element[i]) == "entries-added") return r->element[i + 1]->integer;
    return -1;
}

// job_id → how many outbox lines carry it.
inline std::map<std::string, int> outbox_counts(const std::string& path) {
    std::map<std::string, int> counts;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        auto p = line.find("\"job_id\":\"");
        if (p == std::string::npos) continue;
        p += 10;
        counts[line.substr(p, line.find('"', p) - p)]++;
    }
    return counts;
}

// Runs the crieur CLI on the daemon's config, with its environment; its output (stdout and
// stderr together) in `out`.
inline int run_cli(const DaemonUnderTest& d, const TempDir& dir, std::vector<std::string> args, std::string& out) {
    static int n = 0;
    const std::string log = dir / ("run-cli-" + std::to_string(++n) + ".log");
    args.insert(args.begin(), {CRIEUR_CLI_PATH, "--config", d.config()});
    Process p(args, log, d.env());
    const int rc = p.wait(std::chrono::seconds(30));
    out = read_file(log);
    return rc;
}

// `crieur keys create ARGS...` on the daemon's config (its [http] keys_file): the key it printed,
// or empty when it failed.
inline std::string create_api_key(const DaemonUnderTest& d, const TempDir& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {"keys", "create"});
    std::string out;
    if (run_cli(d, dir, args, out) != 0) return {};
    const auto at = out.find("crieur_");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
}

// A request with another key than the test's operator token (none when empty).
inline HttpResult request_as(const DaemonUnderTest& d, const std::string& key, const std::string& method,
                             const std::string& path, const std::string& body = {}) {
    std::vector<std::string> headers{"Content-Type: application/json"};
    if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
    return http_request(d.http_port(), method, path, body, headers);
}

}  // namespace crieur::test
