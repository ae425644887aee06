// The directory and the router end to end: citizens through the HTTP API, jobs addressed by
// citizen id, fallback on a bad address through the Twilio emulator, consent, one-click
// unsubscribe, and the GDPR erasure proven by searching the database files.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <thread>

#include "channels/email/smtp.hpp"
#include "channels/encoding.hpp"
#include "channels/sms/twilio.hpp"
#include "support/daemon_fixture.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSid = "AC00000000000000000000000000000001";
constexpr const char* kToken = "emulator-auth-token";
constexpr const char* kUnsubscribeSecret = "unsubscribe-secret";
// The emulator refuses this number with Twilio's 21211 (not a valid phone number): a bad address.
constexpr const char* kRefusedPhone = "+33600021211";

struct DirectoryRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int emulator_port = free_port();
    int daemon_port = free_port();
    std::string inbound_url = "http://127.0.0.1:" + std::to_string(daemon_port) + "/hooks/twilio/inbound";
    Process emulator{{TWILIO_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--account-sid", kSid,
                      "--auth-token", kToken, "--callback-delay-ms", "100", "--inbound-url", inbound_url},
                     dir / "emulator.log"};
    std::unique_ptr<DaemonUnderTest> daemon;

    // `status_callbacks`: Twilio reports delivery to the daemon; `sections`: whole sections appended.
    explicit DirectoryRig(bool status_callbacks = false, const std::string& sections = "",
                          const std::string& quiet_hours = "enabled = false\n") {
        const std::string twilio_extra =
            status_callbacks ? "status_callback = \"http://127.0.0.1:" + std::to_string(daemon_port) + "/hooks/twilio\"\n" : "";
        REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
        daemon = std::make_unique<DaemonUnderTest>(
            dir, redis,
            DaemonOptions{.quiet_hours = quiet_hours,
                          .extra_sections = "[[providers]]\ntype = \"twilio\"\nbase_url = \"http://127.0.0.1:" +
                                            std::to_string(emulator_port) + "\"\naccount_sid = \"" + kSid +
                                            "\"\nauth_token_env = \"CRIEUR_TEST_TWILIO_TOKEN\"\nfrom = \"+33700000001\"\n"
                                            "inbound_url = \"" + inbound_url + "\"\n" + twilio_extra +
                                            "[links]\nsecret_env = \"CRIEUR_TEST_UNSUB\"\n" + sections,
                          .env = {std::string("CRIEUR_TEST_TWILIO_TOKEN=") + kToken,
                                  std::string("CRIEUR_TEST_UNSUB=") + kUnsubscribeSecret}},
            daemon_port);
        daemon->start();
    }
    HttpResult api(const std::string& method, const std::string& path, const std::string& body = {}) {
        return daemon->api(method, path, body);
    }
    rapidjson::Document message(const std::string& id) {
        rapidjson::Document d;
        d.Parse(daemon->api("GET", "/v1/messages/" + id).body.c_str());
        return d;
    }
    std::string status_of(const std::string& id) {
        auto d = message(id);
        return d.IsObject() && d.HasMember("status") && d["status"].IsString() ? d["status"].GetString() : "";
    }
    std::string reason_of(const std::string& id) {
        auto d = message(id);
        return d.IsObject() && d.HasMember("status_reason") && d["status_reason"].IsString() ? d["status_reason"].GetString() : "";
    }
};

std::string citizen_job(const std::string& id, const std::string& citizen, const std::string& tpl = "passport_expiry") {
    const std::string data = tpl == "passport_expiry"
                                 ? kPassportData
                                 : R"({"name":"Madame Martin","aid_name":"l'aide à la cantine","amount":"60 €","apply_url":"https://mairie.example.fr/aides","apply_by":"30 septembre"})";
    return R"({"v":1,"id":")" + id + R"(","service":"etat-civil","template":")" + tpl + R"(","citizen":")" + citizen +
           R"(","data":)" + data + "}";
}

const std::string kMarie = std::string(R"({"given_name":"Marie","family_name":"Martin","locale":"fr","channels":["sms","email"],
    "contacts":{"sms":")") + kRefusedPhone + R"(","email":"marie.martin@example.fr"}})";

}  // namespace

TEST_CASE("a citizen job falls back from a bad SMS number to e-mail, the number is marked invalid and skipped after") {
    DirectoryRig rig;
    CHECK(http_request(rig.daemon->http_port(), "PUT", "/v1/citizens/C-1", kMarie).status == 401);  // no token
    REQUIRE(rig.api("PUT", "/v1/citizens/C-1", kMarie).status == 201);
    CHECK(rig.api("PUT", "/v1/citizens/C-1", kMarie).status == 200);  // an upsert
    CHECK(rig.api("PUT", "/v1/citizens/C-2", R"({"contacts":{"sms":"06 12"}})").status == 422);

    auto client = rig.redis.client();
    enqueue(client, {citizen_job("dir-1", "C-1")});
    REQUIRE(wait_until([&] { return rig.status_of("dir-1") == "sent"; }, 15s));
    // Two attempts: Twilio refused the number, the outbox took the e-mail.
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = "
                            "'dir-1' AND a.n = 1 AND a.channel = 'sms' AND a.outcome = 'bad_address'") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = "
                            "'dir-1' AND a.n = 2 AND a.channel = 'email' AND a.outcome = 'accepted'") == 1);
    CHECK(outbox_counts(rig.daemon->outbox("email"))["dir-1"] == 1);
    // The directory now knows the number is bad.
    REQUIRE(wait_until([&] { return rig.api("GET", "/v1/citizens/C-1").body.find(R"("state":"invalid")") != std::string::npos; }, 5s));
    // The next job goes straight to e-mail.
    enqueue(client, {citizen_job("dir-2", "C-1")});
    REQUIRE(wait_until([&] { return rig.status_of("dir-2") == "sent"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = 'dir-2'") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE channel = 'sms'") == 1);  // the bad number, once
    // An unknown citizen ends failed, saying so.
    enqueue(client, {citizen_job("dir-3", "C-404")});
    REQUIRE(wait_until([&] { return rig.status_of("dir-3") == "failed"; }, 15s));
    CHECK(rig.reason_of("dir-3") == "citizen 'C-404' is not in the directory");
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("Twilio's 21610 (the number replied STOP) is an opt-out, not an invalid number") {
    DirectoryRig rig;
    REQUIRE(rig.api("PUT", "/v1/citizens/C-6", R"({"channels":["sms","email"],"contacts":{"sms":"+33600021610","email":"s@example.fr"}})").status == 201);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("optout-1", "C-6")});
    REQUIRE(wait_until([&] { return rig.status_of("optout-1") == "sent"; }, 15s));
    REQUIRE(wait_until([&] { return rig.api("GET", "/v1/citizens/C-6").body.find(R"("source":"sms STOP")") != std::string::npos; }, 5s));
    const auto shown = rig.api("GET", "/v1/citizens/C-6").body;
    CHECK(shown.find(R"("state":"invalid")") == std::string::npos);
    CHECK(shown.find(R"("channel":"sms","category":"alert","granted":false)") != std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("information needs consent, the exclusions are recorded, a one-click unsubscribe takes it back") {
    DirectoryRig rig;
    REQUIRE(rig.api("PUT", "/v1/citizens/C-7", R"({"channels":["email","sms"],"contacts":{"email":"paul@example.fr","sms":"06 12 34 56 78"}})").status == 201);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("info-1", "C-7", "aid_eligibility")});
    REQUIRE(wait_until([&] { return rig.status_of("info-1") == "failed"; }, 15s));
    CHECK(rig.reason_of("info-1") ==
          "no_reachable_channel: email: no_consent (information messages need the citizen's consent on email); "
          "sms: no_consent (information messages need the citizen's consent on sms)");

    REQUIRE(rig.api("POST", "/v1/citizens/C-7/consents", R"({"channel":"email","category":"information","granted":true,"source":"portal"})").status == 204);
    CHECK(rig.api("POST", "/v1/citizens/C-7/consents", R"({"channel":"email","category":"spam","granted":true})").status == 422);
    CHECK(rig.api("POST", "/v1/citizens/C-404/consents", R"({"channel":"email","category":"information","granted":true})").status == 404);
    enqueue(client, {citizen_job("info-2", "C-7", "aid_eligibility")});
    REQUIRE(wait_until([&] { return rig.status_of("info-2") == "sent"; }, 15s));
    CHECK(outbox_counts(rig.daemon->outbox("email"))["info-2"] == 1);

    // The unsubscribe link of that e-mail: a forged or altered token is refused, the real one works.
    const std::string token = unsubscribe_token(kUnsubscribeSecret, "info-2");
    CHECK(http_post(rig.daemon->http_port(), "/u/" + unsubscribe_token("guessed", "info-2"), "List-Unsubscribe=One-Click").status == 404);
    CHECK(http_post(rig.daemon->http_port(), "/u/" + unsubscribe_token(kUnsubscribeSecret, "info-2").substr(0, token.size() - 1) + "0",
                    "List-Unsubscribe=One-Click").status == 404);
    CHECK(http_get(rig.daemon->http_port(), "/u/" + token).status == 200);  // a page; nothing changes
    CHECK(rig.api("GET", "/v1/citizens/C-7").body.find(R"("granted":false)") == std::string::npos);
    CHECK(http_post(rig.daemon->http_port(), "/u/" + token, "List-Unsubscribe=One-Click").status == 200);
    const auto shown = rig.api("GET", "/v1/citizens/C-7").body;
    CHECK(shown.find(R"("channel":"email","category":"information","granted":false,"source":"unsubscribe link")") != std::string::npos);
    enqueue(client, {citizen_job("info-3", "C-7", "aid_eligibility")});
    REQUIRE(wait_until([&] { return rig.status_of("info-3") == "failed"; }, 15s));
    CHECK(rig.reason_of("info-3").find("email: refused") != std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("erasure: no trace of the citizen's phone, e-mail or name in the database files, later jobs refused") {
    DirectoryRig rig;
    const std::string body = R"({"given_name":"Zoé","family_name":"Quenardel","channels":["email"],
        "contacts":{"sms":"06 98 76 54 32","email":"zoe.quenardel@example.fr"},
        "consents":[{"channel":"sms","category":"information","granted":true}],
        "address":{"line":"12 rue des Lilas","postcode":"69003","city":"Lyon"},"location":{"lat":45.75,"lon":4.85}})";
    REQUIRE(rig.api("PUT", "/v1/citizens/C-9", body).status == 201);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("gdpr-1", "C-9")});
    REQUIRE(wait_until([&] { return rig.status_of("gdpr-1") == "sent"; }, 15s));
    const std::string directory_db = (rig.dir / "directory.db");
    auto everything = [&] {
        std::string all;
        for (auto* f : {"directory.db", "directory.db-wal", "receipts.sqlite", "receipts.sqlite-wal"})
            all += read_file(rig.dir / f);
        return all;
    };
    // Before: the data is there (so the search below can fail).
    REQUIRE(everything().find("zoe.quenardel@example.fr") != std::string::npos);
    REQUIRE(everything().find("+33698765432") != std::string::npos);

    auto erased = rig.api("DELETE", "/v1/citizens/C-9");
    REQUIRE(erased.status == 200);
    CHECK(erased.body == R"({"erased":true,"was_in_directory":true})");
    const auto all = everything();
    CHECK(all.find("zoe.quenardel@example.fr") == std::string::npos);
    CHECK(all.find("+33698765432") == std::string::npos);
    CHECK(all.find("Quenardel") == std::string::npos);
    CHECK(all.find("rue des Lilas") == std::string::npos);
    // Anonymous counts stay.
    CHECK(rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'gdpr-1' AND status = 'sent' AND citizen IS NULL") == 1);
    CHECK(rig.api("GET", "/v1/citizens/C-9").status == 410);
    CHECK(rig.api("PUT", "/v1/citizens/C-9", body).status == 410);
    enqueue(client, {citizen_job("gdpr-2", "C-9")});
    REQUIRE(wait_until([&] { return rig.status_of("gdpr-2") == "rejected"; }, 15s));
    CHECK(rig.reason_of("gdpr-2").find("erased at their request") != std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("POST /v1/events: sessions and reads are recorded once, unknown messages named, an erased citizen's sessions gone") {
    DirectoryRig rig;
    REQUIRE(rig.api("PUT", "/v1/citizens/C-7", R"({"given_name":"Léa","channels":["sms"],"contacts":{"sms":"06 12 34 56 78"}})").status == 201);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("ev-1", "C-7")});
    REQUIRE(wait_until([&] { return rig.status_of("ev-1") == "sent"; }, 15s));
    const std::string earlier = format_rfc3339(SystemClock().now() - std::chrono::minutes(10));
    const std::string batch = R"({"events":[
        {"type":"session","citizen":"C-7","at":")" + earlier + R"("},
        {"type":"session","citizen":"C-7"},
        {"type":"read","message":"ev-1"},
        {"type":"read","message":"ev-1"},
        {"type":"tap","message":"ev-1"},
        {"type":"click","message":"nope"}]})";
    CHECK(http_post(rig.daemon->http_port(), "/v1/events", batch).status == 401);
    auto r = rig.api("POST", "/v1/events", batch);
    CHECK(r.status == 200);
    CHECK(r.body == R"({"recorded":4,"erased_citizens":0,"unknown_messages":["ev-1","nope"]})");  // ev-1 has no push attempt
    // One session per quarter of an hour, one read per attempt: a chatty app does not grow the database.
    CHECK(rig.daemon->query("SELECT count(*) FROM app_sessions WHERE citizen = 'C-7'") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM events e JOIN messages m ON m.id = e.message_id "
                            "WHERE m.job_id = 'ev-1' AND e.status = 'read' AND e.provider_status = 'app'") == 1);
    auto bad = rig.api("POST", "/v1/events", R"({"events":[{"type":"session","citizen":"C-7"},{"type":"swipe"}]})");
    CHECK(bad.status == 422);
    CHECK(bad.body.find("events[1].type: expected session, tap, open, click or read") != std::string::npos);

    REQUIRE(rig.api("DELETE", "/v1/citizens/C-7").status == 200);
    CHECK(rig.daemon->query("SELECT count(*) FROM app_sessions WHERE citizen = 'C-7'") == 0);
    r = rig.api("POST", "/v1/events", R"({"type":"session","citizen":"C-7"})");
    CHECK(r.body == R"({"recorded":0,"erased_citizens":1,"unknown_messages":[]})");
    CHECK(rig.daemon->query("SELECT count(*) FROM app_sessions WHERE citizen = 'C-7'") == 0);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("a STOP is confirmed to Twilio only once it is written: a directory that cannot be written answers 500") {
    DirectoryRig rig;
    REQUIRE(rig.api("PUT", "/v1/citizens/C-5", R"({"channels":["sms"],"contacts":{"sms":"06 12 34 56 78"}})").status == 201);
    const std::vector<std::pair<std::string, std::string>> form{{"From", "+33612345678"}, {"Body", "STOP"}};
    auto post_stop = [&] {
        return http_post(rig.daemon->http_port(), "/hooks/twilio/inbound", form_encode(form),
                         {"X-Twilio-Signature: " + twilio_signature(kToken, rig.inbound_url, form),
                          "Content-Type: application/x-www-form-urlencoded"});
    };
    {
        // Another writer holds the directory for longer than its busy timeout.
        auto db = sqlite::open(rig.dir / "directory.db", SQLITE_OPEN_READWRITE);
        sqlite::exec(db.get(), "BEGIN IMMEDIATE");
        CHECK(post_stop().status == 500);  // Twilio posts it again
        sqlite::exec(db.get(), "ROLLBACK");
    }
    CHECK(post_stop().status == 200);
    CHECK(rig.api("GET", "/v1/citizens/C-5").body.find(R"("granted":false,"source":"sms STOP")") != std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("an SMS STOP opts the number out of every SMS, citizen or inline, START brings it back") {
    DirectoryRig rig;
    REQUIRE(rig.api("PUT", "/v1/citizens/C-5", R"({"channels":["sms","email"],"contacts":{"sms":"06 12 34 56 78","email":"lea@example.fr"}})").status == 201);
    auto reply = [&](const std::string& body) {
        return http_post(rig.emulator_port, "/emulator/inbound", "From=%2B33612345678&Body=" + body,
                         {"Content-Type: application/x-www-form-urlencoded"});
    };
    // A reply that is not signed by Twilio changes nothing.
    CHECK(http_post(rig.daemon->http_port(), "/hooks/twilio/inbound", "From=%2B33612345678&Body=STOP",
                    {"X-Twilio-Signature: AAAA", "Content-Type: application/x-www-form-urlencoded"}).status == 403);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("stop-0", "C-5")});
    REQUIRE(wait_until([&] { return rig.status_of("stop-0") == "sent"; }, 15s));  // by SMS

    CHECK(reply("Stop").body == R"({"webhook_status":200})");
    REQUIRE(wait_until([&] { return rig.api("GET", "/v1/citizens/C-5").body.find(R"("channel":"sms","category":"service","granted":false,"source":"sms STOP")") != std::string::npos; }, 5s));
    enqueue(client, {citizen_job("stop-1", "C-5"), sms_job("stop-2")});  // sms_job: inline, to +33612345678
    REQUIRE(wait_until([&] { return rig.status_of("stop-1") == "sent" && rig.status_of("stop-2") == "failed"; }, 15s));
    CHECK(outbox_counts(rig.daemon->outbox("email"))["stop-1"] == 1);
    CHECK(rig.reason_of("stop-1").empty());
    CHECK(rig.reason_of("stop-2") == "no_reachable_channel: sms: suppressed (the address asked for no more messages)");

    CHECK(reply("START").body == R"({"webhook_status":200})");
    REQUIRE(wait_until([&] { return rig.api("GET", "/v1/citizens/C-5").body.find(R"("granted":false)") == std::string::npos; }, 5s));
    enqueue(client, {citizen_job("stop-3", "C-5")});
    REQUIRE(wait_until([&] { return rig.status_of("stop-3") == "sent"; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = "
                            "'stop-3' AND a.channel = 'sms'") == 1);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("an SMS reported undelivered after Twilio accepted it goes out on the citizen's next channel") {
    // +33600030006: the emulator accepts it, then calls back "undelivered" 30006.
    auto check = [](DirectoryRig& rig) {
        REQUIRE(rig.api("PUT", "/v1/citizens/C-8", R"({"channels":["sms","email"],"contacts":{"sms":"+33600030006","email":"c8@example.fr"}})").status == 201);
        auto client = rig.redis.client();
        enqueue(client, {citizen_job("late-1", "C-8")});
        REQUIRE(wait_until([&] { return outbox_counts(rig.daemon->outbox("email"))["late-1"] == 1; }, 15s));
        REQUIRE(wait_until([&] { return rig.status_of("late-1") == "sent"; }, 5s));  // by e-mail
        CHECK(rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = "
                                "'late-1' AND a.outcome = 'accepted'") == 2);
        CHECK(rig.daemon->query("SELECT count(*) FROM events WHERE status = 'failed' AND provider_status LIKE 'undelivered%'") == 1);
        CHECK(rig.daemon->metric("crieur_late_failures_total") == 1);
        CHECK(rig.daemon->stop() == 0);
    };
    SUBCASE("an escalation on silence was planned for later: it comes at once") {
        DirectoryRig rig(true, "[router]\nescalate_after_s = { sms = 3600 }\n");
        check(rig);
    }
    SUBCASE("no escalation on silence for SMS: the fallback on failure") {
        DirectoryRig rig(true, "[router]\nescalate_after_s = { whatsapp = 7200 }\n");
        check(rig);
    }
}

TEST_CASE("a late failure that may pass (the handset switched off) is sent again on the same channel, not on the next") {
    // +33600030003: the emulator accepts it, calls back "undelivered" 30003 the first time, and
    // "delivered" the next. Retries within a second.
    const std::string retry = "[retry]\nbase_ms = 100\nmax_ms = 1000\n";
    auto sms_sent = [](DirectoryRig& rig) {
        rapidjson::Document d;
        d.Parse(http_get(rig.emulator_port, "/emulator/messages").body.c_str());
        int n = 0;
        for (auto& m : d.GetArray())
            if (m.HasMember("To") && std::string(m["To"].GetString()) == "+33600030003") ++n;
        return n;
    };
    // The citizen, then their job, on a daemon with these [router] keys.
    auto run = [&](const std::string& router, const std::string& citizen, const std::string& id) {
        auto rig = std::make_unique<DirectoryRig>(true, "[router]\nescalate_after_s = { whatsapp = 7200 }\n" + router + retry);
        REQUIRE(rig->api("PUT", "/v1/citizens/C-" + id, citizen).status == 201);
        auto client = rig->redis.client();
        enqueue(client, {citizen_job(id, "C-" + id)});
        return rig;
    };
    auto check_sent_again = [&](DirectoryRig& rig, const std::string& id) {
        REQUIRE(wait_until([&] { return rig.status_of(id) == "delivered"; }, 20s));
        CHECK(sms_sent(rig) == 2);
        CHECK(rig.daemon->query("SELECT count(*) FROM events WHERE status = 'failed' AND provider_status = 'undelivered 30003'") == 1);
        CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE channel = 'sms' AND outcome = 'accepted'") == 2);
        CHECK(rig.daemon->metric("crieur_late_retries_total") == 1);
        CHECK(outbox_counts(rig.daemon->outbox("email"))[id] == 0);  // not moved on to e-mail
        CHECK(rig.daemon->stop() == 0);
    };
    const std::string sms_only = R"({"channels":["sms"],"contacts":{"sms":"+33600030003"}})";
    SUBCASE("a next channel waits (the fallback on failure): the same channel first") {
        auto rig = run("", R"({"channels":["sms","email"],"contacts":{"sms":"+33600030003","email":"c10@example.fr"}})", "off-1");
        check_sent_again(*rig, "off-1");
    }
    SUBCASE("SMS is the citizen's only channel, watched for it (retry_late_failure_s)") {
        auto rig = run("retry_late_failure_s = { sms = 3600 }\n", sms_only, "off-2");
        check_sent_again(*rig, "off-2");
    }
    SUBCASE("SMS is the citizen's only channel, not watched: the message stays failed, as it said") {
        auto rig = run("", sms_only, "off-3");
        REQUIRE(wait_until([&] { return rig->status_of("off-3") == "failed"; }, 20s));
        std::this_thread::sleep_for(1500ms);
        CHECK(sms_sent(*rig) == 1);
        CHECK(rig->daemon->metric("crieur_late_retries_total") == 0);
        CHECK(rig->redis.client().command({"ZCARD", "crieur:scheduled"})->integer == 0);  // nothing kept
        CHECK(rig->daemon->stop() == 0);
    }
}

TEST_CASE("escalation on silence: no delivery receipt in time sends on the next channel, a receipt in time stops it") {
    const std::string router = "[router]\nescalate_after_s = { sms = 1 }\n";
    SUBCASE("silence: the SMS is never reported delivered") {
        DirectoryRig rig(false, router);  // no status_callback: Twilio reports nothing
        REQUIRE(rig.api("PUT", "/v1/citizens/C-3", R"({"channels":["sms","email"],"contacts":{"sms":"06 12 34 56 78","email":"c3@example.fr"}})").status == 201);
        auto client = rig.redis.client();
        enqueue(client, {citizen_job("esc-1", "C-3")});
        REQUIRE(wait_until([&] { return rig.status_of("esc-1") == "sent"; }, 15s));
        CHECK(outbox_counts(rig.daemon->outbox("email"))["esc-1"] == 0);  // not yet
        REQUIRE(wait_until([&] { return outbox_counts(rig.daemon->outbox("email"))["esc-1"] == 1; }, 15s));
        REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id "
                                                          "WHERE m.job_id = 'esc-1' AND a.outcome = 'accepted'") == 2; }, 5s));
        CHECK(rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = "
                                "'esc-1' AND a.n = 2 AND a.channel = 'email'") == 1);
        CHECK(rig.status_of("esc-1") == "sent");
        // Nothing after e-mail: no third attempt, and nothing left in the schedule.
        std::this_thread::sleep_for(1500ms);
        CHECK(rig.daemon->query("SELECT count(*) FROM attempts") == 2);
        CHECK(client.command({"ZCARD", "crieur:scheduled"})->integer == 0);
        CHECK(rig.daemon->api("GET", "/metrics").body.find("crieur_escalations_sent_total 1") != std::string::npos);
        CHECK(rig.daemon->stop() == 0);
    }
    SUBCASE("a delivery receipt in time: nothing more goes out") {
        DirectoryRig rig(true, "[router]\nescalate_after_s = { sms = 2 }\n");  // delivered after ~0.1 s
        REQUIRE(rig.api("PUT", "/v1/citizens/C-3", R"({"channels":["sms","email"],"contacts":{"sms":"06 12 34 56 78","email":"c3@example.fr"}})").status == 201);
        auto client = rig.redis.client();
        enqueue(client, {citizen_job("esc-2", "C-3")});
        REQUIRE(wait_until([&] { return rig.status_of("esc-2") == "delivered"; }, 15s));
        REQUIRE(wait_until([&] { return rig.daemon->api("GET", "/metrics").body.find("crieur_escalations_cancelled_total 1") != std::string::npos; }, 10s));
        CHECK(outbox_counts(rig.daemon->outbox("email"))["esc-2"] == 0);
        CHECK(rig.daemon->query("SELECT count(*) FROM attempts") == 1);
        CHECK(rig.status_of("esc-2") == "delivered");
        CHECK(rig.daemon->stop() == 0);
    }
}

TEST_CASE("an escalation's send that must be retried comes back as the escalation it is, to the same channel") {
    // E-mail first (the outbox: no receipt ever), then SMS after a second of silence, to a
    // number Twilio answers 429 with Retry-After: 2. The retry is an escalation still: sent
    // again to SMS, not sent again from its first channel (a second e-mail to the citizen).
    // Retries within a second (the emulator's Retry-After: 2 s sets the floor).
    DirectoryRig rig(true, "[router]\nescalate_after_s = { email = 1 }\n[retry]\nbase_ms = 100\nmax_ms = 1000\n");
    REQUIRE(rig.api("PUT", "/v1/citizens/C-9", R"({"channels":["email","sms"],"contacts":{"sms":"+33600000429","email":"c9@example.fr"}})").status == 201);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("esc-retry-1", "C-9")});
    auto sms_attempts = [&] {
        return rig.daemon->query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = "
                                 "'esc-retry-1' AND a.channel = 'sms'");
    };
    REQUIRE(wait_until([&] { return outbox_counts(rig.daemon->outbox("email"))["esc-retry-1"] == 1; }, 15s));
    REQUIRE(wait_until([&] { return sms_attempts() >= 1; }, 15s));
    REQUIRE(wait_until([&] { return sms_attempts() >= 2; }, 15s));
    // The second attempt is begun before its answer is recorded: wait for its outcome too.
    CHECK(wait_until([&] {
        return rig.daemon->query("SELECT count(*) FROM attempts WHERE channel = 'sms' AND outcome = 'retry'") >= 2;
    }, 5s));
    // Not sent again from the start: the citizen got the e-mail once.
    CHECK(rig.daemon->query("SELECT count(*) FROM attempts WHERE channel = 'email'") == 1);
    CHECK(outbox_counts(rig.daemon->outbox("email"))["esc-retry-1"] == 1);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("quiet hours: a normal message waits for their end in the citizen's time zone, urgent ones do not") {
    // A window around now, in UTC, for the daemon's default; a citizen far east is outside it.
    const auto now_min = std::chrono::duration_cast<std::chrono::minutes>(std::chrono::system_clock::now().time_since_epoch()).count() % 1440;
    auto hhmm = [](long long m) {
        char s[8];
        std::snprintf(s, sizeof s, "%02lld:%02lld", ((m % 1440) + 1440) % 1440 / 60, ((m % 1440) + 1440) % 1440 % 60);
        return std::string(s);
    };
    DirectoryRig rig(false, "", "start = \"" + hhmm(now_min - 60) + "\"\nend = \"" + hhmm(now_min + 60) +
                                    "\"\ntime_zone = \"UTC\"\n");
    REQUIRE(rig.api("PUT", "/v1/citizens/Q-1", R"({"contacts":{"sms":"06 12 34 56 78"}})").status == 201);
    REQUIRE(rig.api("PUT", "/v1/citizens/Q-2", R"({"time_zone":"Pacific/Kiritimati","contacts":{"sms":"06 12 34 56 79"}})").status == 201);
    REQUIRE(rig.api("PUT", "/v1/citizens/Q-3", R"({"quiet_hours":{"start":"00:00","end":"00:00"},"contacts":{"sms":"06 12 34 56 70"}})").status == 201);
    auto client = rig.redis.client();
    auto urgent = citizen_job("quiet-urgent", "Q-1");
    urgent.insert(urgent.size() - 1, R"(,"priority":"urgent")");
    auto soon = citizen_job("quiet-deadline", "Q-1");
    soon.insert(soon.size() - 1, R"(,"deadline":")" + format_rfc3339(SystemClock().now() + std::chrono::minutes(30)) + "\"");
    enqueue(client, {citizen_job("quiet-1", "Q-1"), urgent, citizen_job("quiet-2", "Q-2"), citizen_job("quiet-3", "Q-3"), soon});
    REQUIRE(wait_until([&] { return rig.status_of("quiet-1") == "scheduled"; }, 15s));
    CHECK(rig.reason_of("quiet-1").find("(quiet hours " + hhmm(now_min - 60) + "–" + hhmm(now_min + 60) + " UTC)") != std::string::npos);
    REQUIRE(wait_until([&] { return rig.status_of("quiet-urgent") == "sent"; }, 15s));
    REQUIRE(wait_until([&] { return rig.status_of("quiet-2") == "sent"; }, 15s));   // their own time zone
    REQUIRE(wait_until([&] { return rig.status_of("quiet-3") == "sent"; }, 15s));   // their own (empty) window
    REQUIRE(wait_until([&] { return rig.status_of("quiet-deadline") == "expired"; }, 15s));
    CHECK(rig.reason_of("quiet-deadline").find("only quiet hours") != std::string::npos);
    CHECK(client.command({"ZCARD", "crieur:scheduled"})->integer == 1);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("caps: a citizen's information messages per day, a service's daily quota, urgent ones are never capped") {
    DirectoryRig rig(false, "[caps]\ncitizen_per_day = { information = 2 }\nservice_per_day = { voirie = 3 }\n");
    REQUIRE(rig.api("PUT", "/v1/citizens/K-1", R"({"channels":["email"],"contacts":{"email":"k1@example.fr"},
        "consents":[{"channel":"email","category":"information","granted":true}]})").status == 201);
    auto client = rig.redis.client();
    enqueue(client, {citizen_job("cap-1", "K-1", "aid_eligibility"), citizen_job("cap-2", "K-1", "aid_eligibility"),
                     citizen_job("cap-3", "K-1", "aid_eligibility")});
    // cap-3 can be held before the first two have finished sending: wait for all three.
    REQUIRE(wait_until([&] { return rig.status_of("cap-3") == "scheduled"; }, 15s));
    CHECK(wait_until([&] { return rig.status_of("cap-1") == "sent" && rig.status_of("cap-2") == "sent"; }, 15s));
    CHECK(rig.reason_of("cap-3").find("(citizen cap: 2 information messages a day)") != std::string::npos);
    // The service quota counts every job of the service; urgent ones pass.
    std::vector<std::string> jobs;
    for (int i = 0; i < 4; ++i) {
        std::string j = sms_job("q-" + std::to_string(i));
        j.replace(j.find("etat-civil"), 10, "voirie");
        jobs.push_back(j);
    }
    std::string urgent = sms_job("q-urgent", R"(,"priority":"urgent")");
    urgent.replace(urgent.find("etat-civil"), 10, "voirie");
    jobs.push_back(urgent);
    enqueue(client, jobs);
    REQUIRE(wait_until([&] { return rig.status_of("q-urgent") == "sent"; }, 15s));
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE job_id LIKE 'q-%' AND status = 'scheduled'") == 1; }, 15s));
    CHECK(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE job_id LIKE 'q-%' AND status = 'sent'") == 4; }, 15s));
    CHECK(rig.daemon->query("SELECT count(*) FROM messages WHERE status_reason LIKE '%service quota: 3 messages a day for voirie%'") == 1);
    CHECK(rig.daemon->stop() == 0);
}
