// The Web Push driver end to end: crieurd → push-emulator, which checks VAPID with `jose` and
// decrypts with `http_ece` (implementations independent of crieur's). Skipped, and says so,
// when Node or the emulator's npm packages are not installed (tools/setup installs them).
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>

#include "support/daemon_fixture.hpp"
#include "provider_conformance.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

const std::string kEmulatorDir = CRIEUR_SOURCE_DIR "/tests/emulators/push";

bool node_ready() {
    return std::system("command -v node >/dev/null 2>&1") == 0 &&
           std::filesystem::exists(kEmulatorDir + "/node_modules/http_ece") &&
           std::filesystem::exists(kEmulatorDir + "/node_modules/jose");
}

std::string push_job(const std::string& id, const std::string& subscription, const char* priority) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("v"); w.Int(1);
    w.Key("id"); w.String(id.c_str());
    w.Key("service"); w.String("action-sociale");
    w.Key("template"); w.String("heatwave_check");
    w.Key("priority"); w.String(priority);
    w.Key("to"); w.StartObject(); w.Key("push"); w.String(subscription.c_str()); w.EndObject();
    w.Key("data"); w.StartObject();
    w.Key("name"); w.String("Monsieur Leroy");
    w.Key("callback_number"); w.String("04 72 00 00 00");
    w.EndObject();
    w.EndObject();
    return b.GetString();
}

bool push_ready() {
    if (node_ready()) return true;
    MESSAGE("skipped: node or tests/emulators/push/node_modules missing (tools/setup installs them)");
    return false;
}

// The Web Push provider, signing with the rig's key, allowed to reach the emulator.
const std::string kWebPushProvider = "[[providers]]\ntype = \"webpush\"\nvapid_key_file = \"vapid.pem\"\n"
                                     "allowed_hosts = [\"127.0.0.1\"]\nvapid_subject = \"mailto:ops@mairie.example.fr\"\n";

// A VAPID key, a Redis and the push service emulator (skipped by the caller when Node is missing).
struct PushRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int port = free_port();
    Process emulator{{"node", kEmulatorDir + "/push_emulator.js", std::to_string(port)}, dir / "push.log"};
    PushRig() {
        REQUIRE(std::system(("openssl ecparam -name prime256v1 -genkey -noout -out " + (dir / "vapid.pem") + " 2>/dev/null").c_str()) == 0);
        REQUIRE(wait_until([&] { return http_get(port, "/emulator/received").status == 200; }, 15s));
    }
};

}  // namespace

TEST_CASE("a push message is encrypted and signed so that an independent implementation reads it") {
    if (!push_ready()) return;
    PushRig rig;
    auto& [dir, redis, port, emulator] = rig;
    DaemonUnderTest daemon(dir, redis,
                           {.extra_sections = kWebPushProvider + "ttl_s = 3600\n"});
    daemon.start();

    const std::string good = http_get(port, "/emulator/subscribe?id=leroy").body;
    const std::string gone = R"({"endpoint":"http://127.0.0.1:)" + std::to_string(port) +
                             R"(/push/gone","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}})";
    auto client = redis.client();
    enqueue(client, {push_job("push-ok", good, "urgent"), push_job("push-gone", gone, "normal")});
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status IN ('sent', 'failed')") == 2; }, 15s));

    rapidjson::Document got;
    got.Parse(http_get(port, "/emulator/received").body.c_str());
    REQUIRE(got.IsArray());
    REQUIRE(got.Size() == 1);
    rapidjson::Document payload;
    payload.Parse(got[0]["payload"].GetString());
    REQUIRE(payload.IsObject());
    CHECK(std::string(payload["title"].GetString()) == "Canicule : tout va bien ?");
    CHECK(std::string(payload["body"].GetString()) == "Monsieur Leroy, besoin d'aide ou d'une visite ? Appelez le 04 72 00 00 00.");
    CHECK(std::string(payload["id"].GetString()) == "push-ok");
    CHECK(std::string(got[0]["urgency"].GetString()) == "high");
    CHECK(std::string(got[0]["ttl"].GetString()) == "3600");
    CHECK(std::string(got[0]["sub"].GetString()) == "mailto:ops@mairie.example.fr");
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id = 'push-ok' AND status = 'sent'") == 1);
    CHECK(daemon.query("SELECT count(*) FROM attempts WHERE outcome = 'bad_address' AND error_code = '410'") == 1);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a push endpoint that keeps failing opens a breaker of its own: the other subscriptions still get theirs") {
    if (!push_ready()) return;
    PushRig rig;
    auto& [dir, redis, port, emulator] = rig;
    // Two failures open a breaker for a minute: shared by every subscription, the busy one's
    // would hold the others' messages that long.
    DaemonUnderTest daemon(dir, redis,
                           {.extra_sections = "[provider_defaults]\nbreaker_failures = 2\nbreaker_open_ms = 60000\n" + kWebPushProvider});
    daemon.start();
    const std::string busy = R"({"endpoint":"http://127.0.0.1:)" + std::to_string(port) +
                             R"(/push/busy","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}})";
    auto client = redis.client();
    enqueue(client, {push_job("busy-1", busy, "normal"), push_job("busy-2", busy, "normal"), push_job("busy-3", busy, "normal")});
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM attempts WHERE outcome = 'retry'") >= 2; }, 15s));
    std::vector<std::string> good;
    for (int i = 0; i < 3; ++i)
        good.push_back(push_job("fine-" + std::to_string(i), http_get(port, "/emulator/subscribe?id=fine-" + std::to_string(i)).body, "normal"));
    enqueue(client, good);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE job_id LIKE 'fine-%' AND status = 'sent'") == 3; }, 10s));
    CHECK(daemon.metric("crieur_provider_up{provider=\"webpush\"}") == 1);
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id LIKE 'busy-%' AND status = 'sent'") == 0);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a citizen's push subscription to a host outside allowed_hosts is refused when stored, not at each send") {
    // No push service needed: the check is the provider's configuration.
    TempDir dir;
    RedisServer redis{dir / "redis"};
    REQUIRE(std::system(("openssl ecparam -name prime256v1 -genkey -noout -out " + (dir / "vapid.pem") + " 2>/dev/null").c_str()) == 0);
    DaemonUnderTest daemon(dir, redis, {.extra_sections = kWebPushProvider});
    daemon.start();
    const std::string keys = R"("keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"})";
    auto citizen = [&](const std::string& endpoint) {
        return R"({"channels":["push"],"contacts":{"push":[{"endpoint":")" + endpoint + R"(",)" + keys + "}]}}";
    };
    // The cloud's metadata service, an internal host: never stored, so never fetched.
    for (const char* endpoint : {"https://169.254.169.254/latest/meta-data", "https://intranet.mairie.local/push/1",
                                 "https://127.0.0.1.evil.example/push/1"}) {
        CAPTURE(endpoint);
        auto r = daemon.api("PUT", "/v1/citizens/C-P1", citizen(endpoint));
        CHECK(r.status == 422);
        CHECK(r.body.find("allowed_hosts of provider webpush") != std::string::npos);
    }
    CHECK(daemon.api("GET", "/v1/citizens/C-P1").status == 404);
    CHECK(daemon.api("PUT", "/v1/citizens/C-P1", citizen("https://127.0.0.1:4430/push/1")).status == 201);
    CHECK(daemon.stop() == 0);
}

namespace {

// Web Push in the conformance table: a push service at the subscription's endpoint. It has no
// callbacks: the push service answers the send, and nothing comes later.
crieur::test::ConformanceProfile webpush_profile() {
    crieur::test::ConformanceProfile p;
    p.type = "webpush";
    p.keys = [](const std::string&, const crieur::test::TempDir& dir) {
        if (!std::filesystem::exists(dir / "vapid.pem"))
            REQUIRE(std::system(("openssl ecparam -name prime256v1 -genkey -noout -out " + (dir / "vapid.pem") + " 2>/dev/null").c_str()) == 0);
        return std::string("vapid_key_file = \"vapid.pem\"\nvapid_subject = \"mailto:ops@mairie.example.fr\"\n"
                           "allowed_hosts = [\"127.0.0.1\"]\n");
    };
    p.message = [](const std::string& base) {
        crieur::Message m;
        m.job_id = "conformance-1";
        m.recipient = R"({"endpoint":")" + base +
                      R"(/push/sub-1","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}})";
        m.content.channel = "push";
        m.content.subject = "Mairie";
        m.content.text = "Bonjour";
        return m;
    };
    p.send_path = "/push/";
    p.success_status = 201;
    p.success_headers = {{"Location", "/message/m-1"}};
    p.success_reads_body = false;
    return p;
}
CRIEUR_CONFORMANCE_PROFILE(webpush_profile);

}  // namespace
