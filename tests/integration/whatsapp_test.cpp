// The WhatsApp driver end to end: crieurd → whatsapp-emulator (Meta's Cloud API protocol) →
// signed status webhooks → receipts.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "channels/whatsapp/cloud_api.hpp"
#include "support/daemon_fixture.hpp"
#include "provider_conformance.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

struct WhatsappRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int emulator_port = free_port();
    int http_port = free_port();
    Process emulator{{WHATSAPP_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--phone-number-id", "1234567890",
                      "--access-token", "wa-token", "--app-secret", "wa-secret", "--webhook",
                      "http://127.0.0.1:" + std::to_string(http_port) + "/hooks/whatsapp"},
                     dir / "emulator.log"};
    DaemonUnderTest daemon{
        dir, redis,
        DaemonOptions{.extra_sections = "[[providers]]\ntype = \"whatsapp\"\nbase_url = \"http://127.0.0.1:" +
                                        std::to_string(emulator_port) +
                                        "/v21.0\"\nphone_number_id = \"1234567890\"\naccess_token_env = \"WA_TOKEN\"\n"
                                        "app_secret_env = \"WA_SECRET\"\nverify_token_env = \"WA_VERIFY\"\n",
                      .env = {"WA_TOKEN=wa-token", "WA_SECRET=wa-secret", "WA_VERIFY=verify-me"}},
        http_port};

    WhatsappRig() {
        REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
        daemon.start();
    }
    std::string status_of(const std::string& id) {
        return daemon.query("SELECT count(*) FROM messages WHERE job_id = '" + id + "' AND status = 'read'") ? "read"
               : daemon.query("SELECT count(*) FROM messages WHERE job_id = '" + id + "' AND status = 'failed'") ? "failed"
                                                                                                                   : "";
    }
};

std::string wa_job(const std::string& id, const std::string& to) {
    return R"({"v":1,"id":")" + id + R"(","service":"action-sociale","template":"aid_eligibility","to":{"whatsapp":")" + to +
           R"("},"locale":"en","data":{"name":"Ms Bernard","aid_name":"school meal aid","amount":"up to 60 euros a month",)"
           R"("apply_url":"https://mairie.example.fr/aid","apply_by":"30 September"}})";
}

}  // namespace

TEST_CASE("a WhatsApp template message goes out with its parameters and ends read") {
    WhatsappRig rig;
    auto client = rig.redis.client();
    enqueue(client, {wa_job("wa-ok", "+33612345678")});
    REQUIRE(wait_until([&] { return rig.status_of("wa-ok") == "read"; }, 15s));
    rapidjson::Document d;
    d.Parse(http_get(rig.emulator_port, "/emulator/messages").body.c_str());
    REQUIRE(d.IsArray());
    REQUIRE(d.Size() == 1);
    CHECK(std::string(d[0]["to"].GetString()) == "33612345678");
    CHECK(std::string(d[0]["template"]["name"].GetString()) == "aid_eligibility_v1");
    CHECK(std::string(d[0]["template"]["language"]["code"].GetString()) == "en_GB");
    auto& params = d[0]["template"]["components"][0]["parameters"];
    REQUIRE(params.Size() == 4);
    CHECK(std::string(params[0]["text"].GetString()) == "Ms Bernard");
    CHECK(std::string(params[3]["text"].GetString()) == "30 September");
    CHECK(rig.daemon.query("SELECT count(*) FROM events WHERE status IN ('sent', 'delivered', 'read')") == 3);
    CHECK(rig.daemon.stop() == 0);
}

TEST_CASE("a number not on WhatsApp (131026) fails the message with Meta's code") {
    WhatsappRig rig;
    auto client = rig.redis.client();
    enqueue(client, {wa_job("wa-gone", "+33600131026"), wa_job("wa-busy", "+33600130429")});
    REQUIRE(wait_until([&] { return rig.status_of("wa-gone") == "failed"; }, 15s));
    CHECK(rig.daemon.query("SELECT count(*) FROM events WHERE provider_status = 'failed 131026'") == 1);
    REQUIRE(wait_until([&] { return rig.daemon.query("SELECT count(*) FROM attempts WHERE outcome = 'retry' AND error_code = '130429'") >= 1; }, 15s));
    CHECK(rig.daemon.stop() == 0);
}

TEST_CASE("the webhook handshake answers the challenge only for our verify token, bad signatures get 403") {
    WhatsappRig rig;
    auto ok = http_get(rig.http_port, "/hooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444");
    CHECK(ok.status == 200);
    CHECK(ok.body == "1158201444");
    CHECK(http_get(rig.http_port, "/hooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1").status == 403);
    const std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
    CHECK(http_post(rig.http_port, "/hooks/whatsapp", body, {"X-Hub-Signature-256: sha256=00"}).status == 403);
    CHECK(http_post(rig.http_port, "/hooks/whatsapp", body,
                    {"X-Hub-Signature-256: " + whatsapp_signature("wa-secret", body)}).status == 200);
    CHECK(rig.daemon.stop() == 0);
}

namespace {

// WhatsApp in the conformance table: the Cloud API's messages, and its signed webhooks.
crieur::test::ConformanceProfile whatsapp_profile() {
    setenv("CRIEUR_CONFORMANCE_WA_TOKEN", "conformance-token", 1);
    setenv("CRIEUR_CONFORMANCE_WA_SECRET", "conformance-app-secret", 1);
    crieur::test::ConformanceProfile p;
    p.type = "whatsapp";
    p.keys = [](const std::string& base, const crieur::test::TempDir&) {
        return "base_url = \"" + base + "\"\nphone_number_id = \"1234\"\naccess_token_env = \"CRIEUR_CONFORMANCE_WA_TOKEN\"\n"
               "app_secret_env = \"CRIEUR_CONFORMANCE_WA_SECRET\"\n";
    };
    p.message = [](const std::string&) {
        crieur::Message m;
        m.job_id = "conformance-1";
        m.recipient = "+33612345678";
        m.content.channel = "whatsapp";
        m.content.whatsapp_name = "passport_expiry_v1";
        m.content.whatsapp_language = "fr";
        return m;
    };
    p.send_path = "/1234/messages";
    p.success_body = R"({"messaging_product":"whatsapp","contacts":[{"input":"+33612345678","wa_id":"33612345678"}],"messages":[{"id":"wamid.C1"}]})";
    auto notification = [](std::string body, const std::string& secret) {
        crieur::test::HookCall c;
        c.headers = {{"content-type", "application/json"}, {"x-hub-signature-256", crieur::whatsapp_signature(secret, body)}};
        c.body = std::move(body);
        return c;
    };
    static const std::string delivered = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","statuses":[{"id":"wamid.C1","status":"delivered","timestamp":"1"}]},"field":"messages"}]}]})";
    p.good_callback = [notification](const std::string&) { return notification(delivered, "conformance-app-secret"); };
    p.bad_proof_callback = [notification](const std::string&) { return notification(delivered, "another-secret"); };
    p.malformed_callback = [notification](const std::string&) { return notification("{\"entry\": [", "conformance-app-secret"); };
    return p;
}
CRIEUR_CONFORMANCE_PROFILE(whatsapp_profile);

}  // namespace
