// The services' status callbacks end to end: crieurd → Twilio emulator (sent, then delivered by
// its signed status callback) → the receipts' outbox → the service's endpoint, a Node server that
// verifies every request with the Standard Webhooks reference library (npm standardwebhooks),
// not with crieur's code, and counts order and duplicates.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <filesystem>
#include <thread>

#include "daemon/callbacks/endpoints.hpp"
#include "daemon/callbacks/signature.hpp"
#include "support/twilio_rig.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

const std::string kReceiverDir = CRIEUR_SOURCE_DIR "/tests/emulators/callbacks";

struct Receiver {
    int port;
    std::unique_ptr<Process> process;
    Receiver(const TempDir& dir, const std::vector<std::string>& secrets, int port_ = free_port()) : port(port_) {
        REQUIRE_MESSAGE(std::filesystem::exists(kReceiverDir + "/node_modules/standardwebhooks"),
                        "tools/setup installs the receiver's npm packages");
        std::vector<std::string> args{"node", kReceiverDir + "/receiver.js", std::to_string(port)};
        args.insert(args.end(), secrets.begin(), secrets.end());
        process = std::make_unique<Process>(args, dir / ("receiver-" + std::to_string(port) + ".log"));
        REQUIRE(wait_until([&] { return http_get(port, "/stats").status == 200; }, 10s));
    }
    rapidjson::Document stats() const {
        rapidjson::Document d;
        d.Parse(http_get(port, "/stats").body.c_str());
        REQUIRE(d.IsObject());
        return d;
    }
    int count(const char* name) const { return stats()[name].GetInt(); }
    void control(const std::string& body) const { http_request(port, "POST", "/control", body); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hooks/crieur"; }
};

std::string endpoint_file(const std::string& service, const std::string& url, const std::vector<std::string>& secrets) {
    return callbacks::to_json_line({service, url, secrets, 0}) + "\n";
}

const std::string kCallbacks = "[callbacks]\nfile = \"callbacks.jsonl\"\nallow_hosts = [\"127.0.0.1\"]\n";

}  // namespace

TEST_CASE("a service's status callbacks are signed as Standard Webhooks, in order per message, each once, and another "
          "service's messages call nobody") {
    const auto fresh = callbacks::new_secret(), old = callbacks::new_secret();
    TempDir receiver_dir;
    Receiver receiver(receiver_dir, {old});  // the service still knows the old secret only: rotation in progress
    TwilioRig rig(kCallbacks, {{"callbacks.jsonl", endpoint_file("etat-civil", receiver.url(), {fresh, old})}});
    auto client = rig.redis.client();
    std::vector<std::string> jobs;
    constexpr int kMessages = 60;
    for (int i = 0; i < kMessages; ++i) jobs.push_back(sms_job_to("cb-" + std::to_string(i), "+33612345678"));
    // A job the renderer refuses (no data): rejected, and the service hears of it too.
    jobs.push_back(R"({"v":1,"id":"cb-bad","service":"etat-civil","template":"passport_expiry","to":{"sms":"+33612345678"},"data":{}})");
    // Another service, without an endpoint: nothing queued for it.
    jobs.push_back(R"({"v":1,"id":"cb-other","service":"voirie","template":"passport_expiry","to":{"sms":"+33612345678"},"data":)" +
                   std::string(kPassportData) + "}");
    enqueue(client, jobs);

    REQUIRE_MESSAGE(wait_until([&] { return receiver.count("unique") >= 2 * kMessages + 1; }, 30s),
                    http_get(receiver.port, "/stats").body, "\n", read_file(rig.daemon->log()));
    std::this_thread::sleep_for(500ms);  // nothing more should come
    auto s = receiver.stats();
    CHECK(s["invalid"].GetInt() == 0);
    CHECK(s["duplicates"].GetInt() == 0);
    CHECK(s["out_of_order"].GetInt() == 0);
    CHECK(s["unique"].GetInt() == 2 * kMessages + 1);
    CHECK(s["signatures"]["2"].GetInt() == s["valid"].GetInt());  // one signature per secret
    for (int i = 0; i < kMessages; ++i) {
        const std::string id = "cb-" + std::to_string(i);
        REQUIRE(s["messages"].HasMember(id.c_str()));
        const auto& statuses = s["messages"][id.c_str()];
        REQUIRE(statuses.Size() == 2);
        CHECK(std::string(statuses[0].GetString()) == "sent");
        CHECK(std::string(statuses[1].GetString()) == "delivered");
    }
    REQUIRE(s["messages"].HasMember("cb-bad"));
    CHECK(std::string(s["messages"]["cb-bad"][0].GetString()) == "rejected");
    CHECK_FALSE(s["messages"].HasMember("cb-other"));
    // Everything taken is deleted from the outbox (settled in batches).
    CHECK(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM callbacks") == 0; }, 5s));
    CHECK(rig.daemon->metric("crieur_service_callbacks_delivered_total") == 2 * kMessages + 1);
}

TEST_CASE("an endpoint that fails is retried after its Retry-After, one probe at a time, and a kill -9 in the middle "
          "loses no callback") {
    const auto secret = callbacks::new_secret();
    TempDir receiver_dir;
    Receiver receiver(receiver_dir, {secret});
    receiver.control(R"({"fail": 100000, "status": 503, "retry_after": "1"})");
    TwilioRig rig(kCallbacks, {{"callbacks.jsonl", endpoint_file("etat-civil", receiver.url(), {secret})}});
    auto client = rig.redis.client();
    std::vector<std::string> jobs;
    constexpr int kMessages = 20;
    for (int i = 0; i < kMessages; ++i) jobs.push_back(sms_job_to("rt-" + std::to_string(i), "+33612345678"));
    enqueue(client, jobs);
    // Every status change is in the outbox, and the endpoint is being probed.
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM callbacks") == 2 * kMessages; }, 20s));
    REQUIRE(wait_until([&] { return receiver.count("failed_on_purpose") >= 3; }, 10s));
    // After the first requests (up to max_in_flight at once), Retry-After: 1 s and one probe at
    // a time: about one request a second, not a storm.
    std::this_thread::sleep_for(1500ms);
    const int failed = receiver.count("failed_on_purpose");
    std::this_thread::sleep_for(3000ms);
    CHECK(receiver.count("failed_on_purpose") - failed >= 2);
    CHECK(receiver.count("failed_on_purpose") - failed <= 4);
    CHECK(rig.daemon->metric("crieur_service_callbacks_retried_total") >= 2);
    rig.daemon->kill9();
    CHECK(rig.daemon->query("SELECT count(*) FROM callbacks") == 2 * kMessages);
    CHECK(rig.daemon->query("SELECT max(attempts) FROM callbacks") >= 1);  // what failed was written back

    receiver.control(R"({"fail": 0})");
    rig.daemon->start();
    REQUIRE(wait_until([&] { return receiver.count("unique") == 2 * kMessages; }, 30s));
    auto s = receiver.stats();
    CHECK(s["invalid"].GetInt() == 0);
    CHECK(s["duplicates"].GetInt() == 0);
    CHECK(s["out_of_order"].GetInt() == 0);
    CHECK(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM callbacks") == 0; }, 5s));
}

TEST_CASE("a callback the endpoint refuses with a 4xx is dropped and counted, and 410 Gone suspends the endpoint") {
    const auto secret = callbacks::new_secret();
    TempDir receiver_dir;
    Receiver receiver(receiver_dir, {secret});
    receiver.control(R"({"refuse": 1})");
    TwilioRig rig(kCallbacks, {{"callbacks.jsonl", endpoint_file("etat-civil", receiver.url(), {secret})}});
    auto client = rig.redis.client();
    enqueue(client, {sms_job_to("rf-1", "+33612345678")});
    // "sent" refused once (400: dropped), "delivered" taken.
    REQUIRE(wait_until([&] { return receiver.count("unique") == 1; }, 20s));
    CHECK(wait_until([&] { return rig.daemon->metric("crieur_service_callbacks_refused_total") == 1; }, 5s));
    CHECK(std::string(receiver.stats()["messages"]["rf-1"][0].GetString()) == "delivered");

    receiver.control(R"({"gone": true})");
    const int before = receiver.count("requests");
    enqueue(client, {sms_job_to("rf-2", "+33612345678"), sms_job_to("rf-3", "+33612345678")});
    // Both messages sent and delivered: their four callbacks stay in the outbox until a reload,
    // after the 410s of the requests that were already out.
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM callbacks") == 4; }, 20s));
    std::this_thread::sleep_for(300ms);
    const int after = receiver.count("requests");
    CHECK(after > before);
    CHECK(after <= before + 2);  // at most one in flight per message when the first 410 came
    std::this_thread::sleep_for(1500ms);
    CHECK(receiver.count("requests") == after);
    // The service fixed its endpoint; the operator reloads: the four go out.
    receiver.control(R"({"gone": false})");
    rig.daemon->process().signal(SIGHUP);
    CHECK(wait_until([&] { return receiver.count("unique") == 5; }, 10s));
    CHECK(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM callbacks") == 0; }, 5s));
}

TEST_CASE("crieur services callback set, rotate, retire and remove, and crieurd takes each on SIGHUP") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonUnderTest daemon(dir, redis, DaemonOptions{.extra_sections = kCallbacks});
    daemon.start();
    auto client = redis.client();
    auto sent = [&](const std::string& id) {
        enqueue(client, {sms_job(id)});
        return wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE job_id = '" + id +
                                                    "' AND status = 'sent'") == 1; }, 10s);
    };
    int reloads = 0;
    auto reload = [&] {  // until the daemon says it took the endpoints (once more than before)
        daemon.process().signal(SIGHUP);
        ++reloads;
        return wait_until([&] {
            const std::string log = read_file(daemon.log());
            int n = 0;
            for (auto at = log.find("reloaded "); at != std::string::npos; at = log.find("reloaded ", at + 1)) ++n;
            return n == reloads;
        }, 5s);
    };
    REQUIRE(sent("before"));

    std::string out;
    CHECK(run_cli(daemon, dir, {"services", "callback", "set", "--service", "etat-civil", "--url", "https://10.1.2.3/hook"}, out) != 0);
    CHECK(out.find("private network") != std::string::npos);
    int receiver_port = free_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(receiver_port) + "/hook";
    REQUIRE(run_cli(daemon, dir, {"services", "callback", "set", "--service", "etat-civil", "--url", url}, out) == 0);
    auto printed_secret = [&] {
        const auto at = out.find("whsec_");
        return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
    };
    const std::string secret = printed_secret();
    REQUIRE(callbacks::secret_key(secret));
    CHECK((std::filesystem::status(dir / "callbacks.jsonl").permissions() & std::filesystem::perms::others_read) ==
          std::filesystem::perms::none);
    TempDir receiver_dir;
    Receiver receiver(receiver_dir, {secret}, receiver_port);
    // The URL changes, the secret stays.
    REQUIRE(run_cli(daemon, dir, {"services", "callback", "set", "--service", "etat-civil", "--url", receiver.url()}, out) == 0);
    CHECK(out.find("secrets kept") != std::string::npos);
    REQUIRE(reload());
    REQUIRE(sent("after"));
    REQUIRE(wait_until([&] { return receiver.count("unique") == 1; }, 10s));
    CHECK(receiver.stats()["messages"].HasMember("after"));
    CHECK_FALSE(receiver.stats()["messages"].HasMember("before"));  // its status changed before the endpoint existed

    REQUIRE(run_cli(daemon, dir, {"services", "callback", "rotate", "--service", "etat-civil"}, out) == 0);
    const std::string rotated = printed_secret();
    CHECK(rotated != secret);
    REQUIRE(run_cli(daemon, dir, {"services", "list"}, out) == 0);
    CHECK(out.find("etat-civil       2") != std::string::npos);
    CHECK(out.find(secret.substr(6)) == std::string::npos);  // never listed
    CHECK(out.find(rotated.substr(6)) == std::string::npos);
    REQUIRE(reload());
    REQUIRE(sent("rotated"));
    REQUIRE(wait_until([&] { return receiver.count("unique") == 2; }, 10s));
    CHECK(receiver.stats()["signatures"]["2"].GetInt() == 1);  // the old secret still verifies

    REQUIRE(run_cli(daemon, dir, {"services", "callback", "retire", "--service", "etat-civil"}, out) == 0);
    REQUIRE(run_cli(daemon, dir, {"services", "callback", "remove", "--service", "etat-civil"}, out) == 0);
    REQUIRE(run_cli(daemon, dir, {"services", "list", "--json"}, out) == 0);
    CHECK(out.find("etat-civil") == std::string::npos);
    REQUIRE(reload());
    CHECK(read_file(daemon.log()).find("etat-civil has no endpoint any more") != std::string::npos);
    REQUIRE(sent("removed"));
    std::this_thread::sleep_for(500ms);
    CHECK(receiver.count("requests") == 2);
    CHECK(daemon.query("SELECT count(*) FROM callbacks") == 0);
}
