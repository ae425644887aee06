// The FCM driver end to end: crieurd → fcm-emulator (the OAuth2 JWT exchange, then FCM HTTP v1).
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "support/daemon_fixture.hpp"
#include "provider_conformance.hpp"

using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
std::string app_job(const std::string& id, const std::string& token) {
    return R"({"v":1,"id":")" + id + R"(","service":"accueil","template":"welcome_resident","to":{"push":")" + token +
           R"("},"data":{"name":"Madame Petit","district":"la Croix-Rousse","services_url":"https://mairie.example.fr/b"}})";
}
}  // namespace

TEST_CASE("app push goes through FCM with a cached OAuth token, an unregistered token is a bad address") {
    TempDir dir;
    REQUIRE(std::system(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + (dir / "sa.pem") +
                         " 2>/dev/null").c_str()) == 0);
    const int port = free_port();
    {
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        w.StartObject();
        w.Key("type"); w.String("service_account");
        w.Key("client_email"); w.String("crieur@mairie-test.iam.gserviceaccount.com");
        w.Key("private_key"); w.String(read_file(dir / "sa.pem").c_str());
        w.Key("token_uri"); w.String(("http://127.0.0.1:" + std::to_string(port) + "/token").c_str());
        w.EndObject();
        std::ofstream(dir / "sa.json") << b.GetString();
    }
    RedisServer redis(dir / "redis");
    Process emulator({FCM_EMULATOR_PATH, "--port", std::to_string(port), "--project", "mairie-test", "--key-file",
                      dir / "sa.json"},
                     dir / "fcm.log");
    REQUIRE(wait_until([&] { return http_get(port, "/emulator/tokens").status == 200; }, 10s));
    DaemonUnderTest daemon(dir, redis,
                           {.extra_sections = "[[providers]]\ntype = \"fcm\"\nbase_url = \"http://127.0.0.1:" + std::to_string(port) +
                                              "\"\nproject_id = \"mairie-test\"\nservice_account_file = \"sa.json\"\n"});
    daemon.start();
    auto client = redis.client();
    enqueue(client, {app_job("app-1", "fcm-token-aaa"), app_job("app-2", "fcm-token-bbb"),
                     app_job("app-3", "unregistered-ccc")});
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status IN ('sent', 'failed')") == 3; }, 15s));
    CHECK(daemon.query("SELECT count(*) FROM attempts WHERE provider = 'fcm' AND outcome = 'accepted' AND provider_message_id LIKE 'projects/mairie-test/messages/%'") == 2);
    CHECK(daemon.query("SELECT count(*) FROM attempts WHERE outcome = 'bad_address' AND error_code = 'UNREGISTERED'") == 1);
    CHECK(http_get(port, "/emulator/tokens").body == R"({"exchanges":1})");  // one exchange for three sends
    rapidjson::Document d;
    d.Parse(http_get(port, "/emulator/messages").body.c_str());
    REQUIRE(d.IsArray());
    REQUIRE(d.Size() == 2);
    CHECK(std::string(d[0]["message"]["notification"]["title"].GetString()) == "Bienvenue à la Croix-Rousse");
    CHECK(std::string(d[0]["message"]["data"]["url"].GetString()) == "https://mairie.example.fr/b");
    CHECK(daemon.stop() == 0);
}

namespace {

// FCM in the conformance table: the OAuth2 token exchange at the stub, then HTTP v1 sends. No
// callbacks. A 401 is a lapsed access token: a retry, with a fresh one.
crieur::test::ConformanceProfile fcm_profile() {
    crieur::test::ConformanceProfile p;
    p.type = "fcm";
    p.keys = [](const std::string& base, const crieur::test::TempDir& dir) {
        if (!std::filesystem::exists(dir / "sa.pem"))
            REQUIRE(std::system(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + (dir / "sa.pem") +
                                 " 2>/dev/null").c_str()) == 0);
        // One key file per instance: its token URI is at its own base.
        const std::string file = "sa-" + std::to_string(std::hash<std::string>{}(base)) + ".json";
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        w.StartObject();
        w.Key("type"); w.String("service_account");
        w.Key("client_email"); w.String("crieur@mairie-test.iam.gserviceaccount.com");
        w.Key("private_key"); w.String(crieur::test::read_file(dir / "sa.pem").c_str());
        w.Key("token_uri"); w.String((base + "/token").c_str());
        w.EndObject();
        std::ofstream(dir / file) << b.GetString();
        return "base_url = \"" + base + "\"\nproject_id = \"p1\"\nservice_account_file = \"" + file + "\"\n";
    };
    p.message = [](const std::string&) {
        crieur::Message m;
        m.job_id = "conformance-1";
        m.recipient = "fcm-registration-token";
        m.content.channel = "push";
        m.content.subject = "Mairie";
        m.content.text = "Bonjour";
        return m;
    };
    p.extra_routes = [](crieur::http::Routes& stub, const std::string&) {
        stub.add("POST", "/token", [](const crieur::http::Request&, std::string_view, crieur::http::Reply reply) {
            reply({200, "application/json", R"({"access_token":"ya29.conformance","expires_in":3599,"token_type":"Bearer"})", {}});
        }, crieur::http::Access::open);
    };
    p.send_path = "/v1/projects/p1/messages:send";
    p.success_body = R"({"name":"projects/p1/messages/0:1"})";
    p.auth_refused = crieur::OutcomeKind::retry;
    return p;
}
CRIEUR_CONFORMANCE_PROFILE(fcm_profile);

}  // namespace
