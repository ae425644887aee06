// The Twilio SMS driver end to end: crieurd → twilio-emulator (Twilio's documented protocol) →
// signed status callbacks → receipts.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "channels/http_client.hpp"
#include "channels/sms/twilio.hpp"
#include "support/daemon_fixture.hpp"
#include "support/twilio_rig.hpp"
#include "provider_conformance.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;


TEST_CASE("an SMS goes to Twilio with every field, and Twilio's delivery callback marks it delivered") {
    TwilioRig rig;
    auto client = rig.redis.client();
    enqueue(client, {sms_job_to("tw-ok", "+33612345678")});
    REQUIRE(wait_until([&] { return rig.status_of("tw-ok") == "delivered"; }, 15s));
    auto listed = http_get(rig.emulator_port, "/emulator/messages");
    rapidjson::Document d;
    d.Parse(listed.body.c_str());
    REQUIRE(d.IsArray());
    REQUIRE(d.Size() == 1);
    CHECK(std::string(d[0]["To"].GetString()) == "+33612345678");
    CHECK(std::string(d[0]["From"].GetString()) == "+33700000001");
    CHECK(std::string(d[0]["Body"].GetString()).starts_with("Madame Martin, votre passeport expire le 14 mars 2027."));
    CHECK(std::string(d[0]["StatusCallback"].GetString()) ==
          "http://127.0.0.1:" + std::to_string(rig.daemon->http_port()) + "/hooks/twilio");
    const std::string sid = d[0]["Sid"].GetString();
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE provider = 'twilio' AND outcome = 'accepted' AND "
                            "provider_message_id = '" + sid + "' AND sms_encoding = 'gsm7' AND sms_segments = 1") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM events WHERE status IN ('sent', 'delivered')") == 2);
    // The callbacks' bodies hold the number (To=...): they stay in the database, out of the view.
    CHECK(rig.daemon->query("SELECT count(*) FROM events WHERE raw LIKE '%33612345678%'") == 2);
    const auto view = rig.daemon->api("GET", "/v1/messages/tw-ok");
    CHECK(view.status == 200);
    CHECK(view.body.find("33612345678") == std::string::npos);
    CHECK(view.body.find("\"raw\"") == std::string::npos);
    CHECK(http_get(rig.daemon->http_port(), "/v1/messages/tw-ok").status == 401);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("Twilio's refusals are classified: unsubscribed is a bad address, 429 is a retry that honours Retry-After") {
    // Backoff draws from [0, 50 ms]: only Retry-After (2 s) can space the attempts by seconds.
    TwilioRig rig("[retry]\nmax_attempts = 3\nbase_ms = 50\nmax_ms = 50\n");
    auto client = rig.redis.client();
    enqueue(client, {sms_job_to("tw-stop", "+33600021610"), sms_job_to("tw-busy", "+33600000429")});
    REQUIRE(wait_until([&] { return rig.status_of("tw-stop") == "failed"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE outcome = 'bad_address' AND error_code = '21610'") == 1);
    REQUIRE(wait_until([&] { return rig.status_of("tw-busy") == "scheduled"; }, 15s));
    REQUIRE(wait_until([&] { return rig.status_of("tw-busy") == "failed"; }, 20s));
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE outcome = 'retry' AND error_code = '20429'") == 3);
    // Each try came at least Retry-After after the one before (the schedule's promotion adds up to 0.5 s).
    CHECK(rig.daemon->query("SELECT min(b.started_at - a.finished_at) FROM attempts a JOIN attempts b ON b.message_id = "
                            "a.message_id AND b.n = a.n + 1 WHERE a.error_code = '20429'") >= 2000);
    auto status = rig.daemon->api("GET", "/v1/messages/tw-busy").body;
    CHECK(status.find("gave up after 3 attempts") != std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("an undelivered callback fails the message, a timeout after the request is unknown, not unsent") {
    TwilioRig rig;
    auto client = rig.redis.client();
    enqueue(client, {sms_job_to("tw-landline", "+33600030006"), sms_job_to("tw-slow", "+33600000408"),
                     sms_job_to("tw-dropped", "+33600000499")});
    REQUIRE(wait_until([&] { return rig.status_of("tw-landline") == "failed"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM events WHERE status = 'failed' AND provider_status = 'undelivered 30006'") == 1);
    REQUIRE(wait_until([&] { return rig.status_of("tw-slow") == "unknown"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE outcome = 'unknown' AND error_code = 'timeout'") == 1);
    // A connection dropped after the request went out: Twilio may have the message.
    REQUIRE(wait_until([&] { return rig.status_of("tw-dropped") == "unknown"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE outcome = 'unknown' AND error_code = 'network'") == 1);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("a callback that overtakes the send's answer is kept and recorded") {
    TwilioRig rig;
    auto client = rig.redis.client();
    enqueue(client, {sms_job_to("tw-early", "+33600000111")});
    REQUIRE(wait_until([&] { return rig.status_of("tw-early") == "delivered"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM events WHERE status = 'sent' AND attempt_id IS NOT NULL") == 1);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("a callback with a bad signature is refused with 403 and counted") {
    TwilioRig rig;
    const std::string body = form_encode({{"MessageSid", "SMdeadbeef"}, {"MessageStatus", "delivered"}});
    CHECK(http_post(rig.daemon->http_port(), "/hooks/twilio", body,
                    {"Content-Type: application/x-www-form-urlencoded", "X-Twilio-Signature: AAAA"})
              .status == 403);
    CHECK(http_post(rig.daemon->http_port(), "/hooks/twilio", body, {"Content-Type: application/x-www-form-urlencoded"})
              .status == 403);
    const std::string url = "http://127.0.0.1:" + std::to_string(rig.daemon->http_port()) + "/hooks/twilio";
    const std::string good = twilio_signature(kToken, url, form_decode(body));
    CHECK(http_post(rig.daemon->http_port(), "/hooks/twilio", body,
                    {"Content-Type: application/x-www-form-urlencoded", "X-Twilio-Signature: " + good})
              .status == 204);
    CHECK(rig.daemon->api("GET", "/metrics").body.find("crieur_callbacks_rejected_total 2\n") != std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("two Twilio accounts are two providers: SMS shared by weight, each one's callbacks on its own hook, under its own token") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    const int port_a = free_port(), port_b = free_port();
    constexpr const char* kSidB = "AC00000000000000000000000000000002";
    Process a({TWILIO_EMULATOR_PATH, "--port", std::to_string(port_a), "--account-sid", kSid, "--auth-token", kToken,
               "--callback-delay-ms", "50"}, dir / "a.log");
    Process b({TWILIO_EMULATOR_PATH, "--port", std::to_string(port_b), "--account-sid", kSidB, "--auth-token", "token-b",
               "--callback-delay-ms", "50"}, dir / "b.log");
    REQUIRE(wait_until([&] { return http_get(port_a, "/emulator/messages").status == 200 &&
                                    http_get(port_b, "/emulator/messages").status == 200; }, 10s));
    const int http_port = free_port();
    auto instance = [&](const char* name, int port, const char* sid, const char* token_env) {
        return std::string("[[providers]]\ntype = \"twilio\"\nname = \"") + name + "\"\nbase_url = \"http://127.0.0.1:" +
               std::to_string(port) + "\"\naccount_sid = \"" + sid + "\"\nauth_token_env = \"" + token_env +
               "\"\nfrom = \"+33700000001\"\nstatus_callback = \"http://127.0.0.1:" + std::to_string(http_port) +
               "/hooks/" + name + "\"\n";
    };
    DaemonUnderTest daemon(dir, redis,
                           {.extra_sections = instance("sms-etat-civil", port_a, kSid, "TOKEN_A") +
                                              instance("sms-ccas", port_b, kSidB, "TOKEN_B"),
                            .env = {std::string("TOKEN_A=") + kToken, "TOKEN_B=token-b"}},
                           http_port);
    daemon.start();
    auto client = redis.client();
    std::vector<std::string> jobs;
    for (int i = 0; i < 40; ++i) jobs.push_back(sms_job_to("two-" + std::to_string(i), "+336123456" + std::to_string(10 + i)));
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'delivered'") == 40; }, 20s));
    // Both accounts carried some (weights 1 and 1: 20 each expected), and each delivery receipt
    // came back on its own account's hook, checked with its own token.
    const auto by_a = daemon.query("SELECT count(*) FROM attempts WHERE provider = 'sms-etat-civil' AND outcome = 'accepted'");
    const auto by_b = daemon.query("SELECT count(*) FROM attempts WHERE provider = 'sms-ccas' AND outcome = 'accepted'");
    CHECK(by_a + by_b == 40);
    CHECK(by_a >= 5);
    CHECK(by_b >= 5);
    CHECK(daemon.metric("crieur_callbacks_rejected_total") == 0);
    // A callback signed with the other account's token is refused.
    const std::vector<std::pair<std::string, std::string>> form{{"MessageSid", "SMx"}, {"MessageStatus", "delivered"}};
    const std::string url = "http://127.0.0.1:" + std::to_string(http_port) + "/hooks/sms-ccas";
    CHECK(http_request(http_port, "POST", "/hooks/sms-ccas", form_encode(form),
                       {"Content-Type: application/x-www-form-urlencoded",
                        "X-Twilio-Signature: " + twilio_signature(kToken, url, form)}).status == 403);
    CHECK(http_request(http_port, "POST", "/hooks/sms-ccas", form_encode(form),
                       {"Content-Type: application/x-www-form-urlencoded",
                        "X-Twilio-Signature: " + twilio_signature("token-b", url, form)}).status == 204);
    CHECK(http_request(http_port, "POST", "/hooks/twilio", form_encode(form), {}).status == 404);  // no instance of that name
    CHECK(daemon.metric("crieur_callbacks_rejected_total") == 1);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a job waiting on a slow provider is not taken by a peer daemon: its entry is kept from looking idle") {
    TempDir dir_a, dir_b;
    RedisServer redis(dir_a / "redis");
    const int port = free_port();
    // Each send takes 3 s to be answered, three times the daemons' claim_after_ms (1 s).
    Process emulator({TWILIO_EMULATOR_PATH, "--port", std::to_string(port), "--account-sid", kSid, "--auth-token", kToken,
                      "--latency-ms", "3000"}, dir_a / "emulator.log");
    REQUIRE(wait_until([&] { return http_get(port, "/emulator/messages").status == 200; }, 10s));
    const std::string twilio = "[[providers]]\ntype = \"twilio\"\nbase_url = \"http://127.0.0.1:" + std::to_string(port) +
                               "\"\naccount_sid = \"" + kSid + "\"\nauth_token_env = \"TW\"\nfrom = \"+33700000001\"\n"
                               "timeout_ms = 10000\n";
    // daemon-a looks for idle entries only once a minute: it never claims its own entry back
    // (which would also make it look busy).
    DaemonUnderTest a(dir_a, redis, {.extra_redis = "claim_interval_ms = 60000\n", .consumer = "daemon-a",
                                     .extra_sections = twilio, .env = {std::string("TW=") + kToken}});
    a.start();
    auto client = redis.client();
    enqueue(client, {sms_job("slow-1")});
    REQUIRE(wait_until([&] { return a.query("SELECT count(*) FROM messages WHERE status = 'sending'") == 1; }, 10s));
    // A peer, which looks for entries idle for more than 1 s every 100 ms.
    DaemonUnderTest b(dir_b, redis, {.consumer = "daemon-b", .extra_sections = twilio, .env = {std::string("TW=") + kToken}});
    b.start();
    REQUIRE(wait_until([&] { return a.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 1; }, 15s));
    REQUIRE(wait_until([&] { return pending_count(client) == 0; }, 5s));
    rapidjson::Document d;
    d.Parse(http_get(port, "/emulator/messages").body.c_str());
    REQUIRE(d.IsArray());
    CHECK(d.Size() == 1);  // sent once, by daemon-a
    CHECK(b.metric("crieur_jobs_claimed_total") == 0);
    CHECK(a.metric("crieur_entries_touched_total") >= 1);
    CHECK(b.stop() == 0);
    CHECK(a.stop() == 0);
}

namespace {

// Twilio in the conformance table: its Messages API, and its signed status callbacks.
ConformanceProfile twilio_profile() {
    setenv("CRIEUR_CONFORMANCE_TWILIO_TOKEN", "conformance-token", 1);
    static const std::string callback = "https://crieur.mairie.example.fr/hooks/conformance-twilio";
    ConformanceProfile p;
    p.type = "twilio";
    p.keys = [](const std::string& base, const TempDir&) {
        return "base_url = \"" + base + "\"\naccount_sid = \"AC1\"\nauth_token_env = \"CRIEUR_CONFORMANCE_TWILIO_TOKEN\"\n"
               "from = \"+33700000001\"\nstatus_callback = \"" + callback + "\"\n";
    };
    p.message = [](const std::string&) {
        Message m;
        m.job_id = "conformance-1";
        m.recipient = "+33612345678";
        m.content.channel = "sms";
        m.content.text = "Bonjour";
        return m;
    };
    p.send_path = "/2010-04-01/Accounts/AC1/Messages.json";
    p.success_status = 201;
    p.success_body = R"({"sid":"SM0123","status":"queued"})";
    auto signed_form = [](std::vector<std::pair<std::string, std::string>> form, const std::string& token) {
        HookCall c;
        c.body = form_encode(form);
        c.headers = {{"content-type", "application/x-www-form-urlencoded"},
                     {"x-twilio-signature", twilio_signature(token, callback, form)}};
        return c;
    };
    p.good_callback = [signed_form](const std::string&) {
        return signed_form({{"MessageSid", "SM0123"}, {"MessageStatus", "delivered"}}, "conformance-token");
    };
    p.bad_proof_callback = [signed_form](const std::string&) {
        return signed_form({{"MessageSid", "SM0123"}, {"MessageStatus", "delivered"}}, "another-token");
    };
    p.malformed_callback = [signed_form](const std::string&) {
        return signed_form({{"MessageStatus", "delivered"}}, "conformance-token");
    };
    return p;
}
CRIEUR_CONFORMANCE_PROFILE(twilio_profile);

}  // namespace
