// The OVHcloud SMS driver end to end: crieurd → ovh-emulator (signed API v1 requests) →
// delivery reports on /hooks/ovh/<token> → receipts.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "support/daemon_fixture.hpp"
#include "channels/http_client.hpp"
#include "provider_conformance.hpp"

using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

struct OvhRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int emulator_port = free_port();
    int http_port = free_port();
    Process emulator{{OVH_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--service", "sms-ab12345-1",
                      "--application-key", "AK123", "--application-secret", "AS456", "--consumer-key", "CK789",
                      "--callback", "http://127.0.0.1:" + std::to_string(http_port) + "/hooks/ovh/t0ken-9f8e7d"},
                     dir / "emulator.log"};
    DaemonUnderTest daemon{
        dir, redis,
        // The older one-section-per-type form, kept here so that it stays read end to end.
        DaemonOptions{.extra_sections = "[ovh]\nenabled = true\nbase_url = \"http://127.0.0.1:" +
                                        std::to_string(emulator_port) +
                                        "/1.0\"\nservice_name = \"sms-ab12345-1\"\napplication_key = \"AK123\"\n"
                                        "application_secret_env = \"OVH_AS\"\nconsumer_key_env = \"OVH_CK\"\n"
                                        "sender = \"MairieLyon\"\ncallback_token_env = \"OVH_TOKEN\"\n",
                      .env = {"OVH_AS=AS456", "OVH_CK=CK789", "OVH_TOKEN=t0ken-9f8e7d"}},
        http_port};
    OvhRig() {
        REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/jobs").status == 200; }, 10s));
        daemon.start();
    }
    std::int64_t count(const std::string& where) { return daemon.query("SELECT count(*) FROM " + where); }
};

}  // namespace

TEST_CASE("an SMS goes to OVHcloud signed, without the STOP clause, and its report marks it delivered") {
    OvhRig rig;
    auto client = rig.redis.client();
    enqueue(client, {sms_job("ovh-ok"), R"({"v":1,"id":"ovh-bad","service":"s","template":"passport_expiry","to":{"sms":"+33600000000"},"data":)" + std::string(kPassportData) + "}",
                     R"({"v":1,"id":"ovh-lost","service":"s","template":"passport_expiry","to":{"sms":"+33600000002"},"data":)" + std::string(kPassportData) + "}"});
    REQUIRE(wait_until([&] { return rig.count("messages WHERE job_id = 'ovh-ok' AND status = 'delivered'") == 1; }, 15s));
    REQUIRE(wait_until([&] { return rig.count("messages WHERE job_id = 'ovh-lost' AND status = 'failed'") == 1; }, 15s));
    CHECK(rig.count("messages WHERE job_id = 'ovh-bad' AND status = 'failed'") == 1);
    CHECK(rig.count("attempts WHERE outcome = 'bad_address' AND error_code = 'invalidReceivers'") == 1);
    CHECK(rig.count("events WHERE provider_status = 'dlr 1' AND status = 'delivered'") == 1);
    rapidjson::Document d;
    d.Parse(http_get(rig.emulator_port, "/emulator/jobs").body.c_str());
    REQUIRE(d.IsArray());
    REQUIRE(d.Size() == 3);
    CHECK(d[0]["noStopClause"].GetBool());
    CHECK(std::string(d[0]["sender"].GetString()) == "MairieLyon");
    CHECK(std::string(d[0]["coding"].GetString()) == "7bit");  // the economy policy made it GSM
    CHECK(std::string(d[0]["message"].GetString()).starts_with("Madame Martin, votre passeport expire le 14 mars 2027."));
    CHECK(rig.daemon.stop() == 0);
}

TEST_CASE("an OVH report to a wrong token is refused") {
    OvhRig rig;
    CHECK(http_get(rig.http_port, "/hooks/ovh/guess?id=1&dlr=1").status == 403);
    CHECK(http_get(rig.http_port, "/hooks/ovh/t0ken-9f8e7d?id=1&dlr=1").status == 200);
    CHECK(rig.daemon.stop() == 0);
}

namespace {

// OVHcloud in the conformance table: its SMS jobs API, and its delivery reports on a secret path.
crieur::test::ConformanceProfile ovh_profile() {
    setenv("CRIEUR_CONFORMANCE_OVH_SECRET", "conformance-secret", 1);
    setenv("CRIEUR_CONFORMANCE_OVH_PATH", "conformance-path-token", 1);
    crieur::test::ConformanceProfile p;
    p.type = "ovh";
    p.keys = [](const std::string& base, const crieur::test::TempDir&) {
        return "base_url = \"" + base + "\"\nservice_name = \"sms-1\"\napplication_key = \"ak\"\n"
               "application_secret_env = \"CRIEUR_CONFORMANCE_OVH_SECRET\"\nconsumer_key_env = \"CRIEUR_CONFORMANCE_OVH_SECRET\"\n"
               "sender = \"Mairie\"\ncallback_token_env = \"CRIEUR_CONFORMANCE_OVH_PATH\"\n";
    };
    p.message = [](const std::string&) {
        crieur::Message m;
        m.job_id = "conformance-1";
        m.recipient = "+33612345678";
        m.content.channel = "sms";
        m.content.text = "Bonjour";
        return m;
    };
    p.send_path = "/sms/sms-1/jobs";
    p.success_body = R"({"ids":[4242],"invalidReceivers":[],"validReceivers":["+33612345678"],"totalCreditsRemoved":1})";
    auto report = [](std::string path, std::string query) {
        crieur::test::HookCall c;
        c.method = "GET";
        c.path = std::move(path);
        c.query = std::move(query);
        return c;
    };
    p.good_callback = [report](const std::string&) { return report("/conformance-path-token", "id=4242&dlr=1"); };
    p.bad_proof_callback = [report](const std::string&) { return report("/guessed-token", "id=4242&dlr=1"); };
    p.malformed_callback = [report](const std::string&) { return report("/conformance-path-token", "dlr=1"); };
    return p;
}
CRIEUR_CONFORMANCE_PROFILE(ovh_profile);

}  // namespace

TEST_CASE("citizens' replies through OVHcloud are fetched (OVH pushes none), stored, then deleted there, and a STOP "
          "opts the number out") {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    const int emulator_port = free_port();
    Process emulator{{OVH_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--service", "sms-ab12345-1",
                      "--application-key", "AK123", "--application-secret", "AS456", "--consumer-key", "CK789"},
                     dir / "emulator.log"};
    REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/jobs").status == 200; }, 10s));
    DaemonUnderTest daemon{dir, redis,
                           DaemonOptions{.extra_sections = "[[providers]]\ntype = \"ovh\"\nname = \"sms-ovh\"\nbase_url = \"http://127.0.0.1:" +
                                                           std::to_string(emulator_port) +
                                                           "/1.0\"\nservice_name = \"sms-ab12345-1\"\napplication_key = \"AK123\"\n"
                                                           "application_secret_env = \"OVH_AS\"\nconsumer_key_env = \"OVH_CK\"\n"
                                                           "sender_for_response = true\ninbound_poll_s = 1\n",
                                         .env = {"OVH_AS=AS456", "OVH_CK=CK789"}}};
    daemon.start();
    REQUIRE(daemon.api("PUT", "/v1/citizens/C-ovh", R"({"channels":["sms"],"contacts":{"sms":"+33612345678"}})").status == 201);
    auto client = redis.client();
    enqueue(client, {R"({"v":1,"id":"ovh-ask","service":"etat-civil","template":"passport_expiry","citizen":"C-ovh","data":)" +
                     std::string(kPassportData) + "}"});
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE job_id = 'ovh-ask' AND status = 'sent'") == 1; }, 15s));
    rapidjson::Document d;
    d.Parse(http_get(emulator_port, "/emulator/jobs").body.c_str());
    REQUIRE(d.IsArray());
    CHECK(d[0]["senderForResponse"].GetBool());  // from a number that can be answered
    CHECK_FALSE(d[0].HasMember("sender"));

    auto play = [&](const std::string& text) {
        REQUIRE(http_post(emulator_port, "/emulator/inbound", "From=%2B33612345678&Body=" + text,
                          {"Content-Type: application/x-www-form-urlencoded"}).status == 200);
    };
    play("Merci%20beaucoup");
    REQUIRE_MESSAGE(wait_until([&] { return daemon.query("SELECT count(*) FROM inbound WHERE outcome = 'forwarded'") == 1; }, 10s),
                    read_file(daemon.log()));
    CHECK(daemon.query("SELECT count(*) FROM inbound WHERE provider = 'sms-ovh' AND answered_job = 'ovh-ask' AND "
                       "citizen = 'C-ovh' AND text = 'Merci beaucoup' AND received_at > 0") == 1);
    auto waiting = [&] {
        rapidjson::Document w;
        w.Parse(http_get(emulator_port, "/emulator/incoming").body.c_str());
        return w.IsObject() ? w["waiting"].GetInt() : -1;
    };
    CHECK(wait_until([&] { return waiting() == 0; }, 5s));  // deleted at OVH once stored

    play("STOP");
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM inbound WHERE outcome = 'opted_out'") == 1; }, 10s));
    CHECK(wait_until([&] { return daemon.api("GET", "/v1/citizens/C-ovh").body.find(R"("source":"sms STOP")") != std::string::npos; }, 5s));
    CHECK(wait_until([&] { return waiting() == 0; }, 5s));
    CHECK(daemon.query("SELECT count(*) FROM inbound") == 2);  // each read once
    CHECK(daemon.stop() == 0);
}
