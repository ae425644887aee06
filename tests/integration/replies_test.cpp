// Citizens who answer back, against the real daemon, Redis, SQLite, the Twilio emulator (its
// signed incoming-message webhook) and a service's callback endpoint that verifies every request
// with the Standard Webhooks reference library: the shipped heatwave check answered "ok", left
// unanswered (the question again on another channel, then the service told to call), answered
// "Aide"; a reply with no journey forwarded to the service of the message it answers; a reply
// from nobody kept and counted; a provider's second delivery of one reply dropped.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "channels/encoding.hpp"
#include "channels/sms/twilio.hpp"
#include "daemon/callbacks/endpoints.hpp"
#include "daemon/callbacks/signature.hpp"
#include "daemon/types.hpp"
#include "support/daemon_fixture.hpp"
#include "support/twilio_rig.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kHour = 3600LL * 1000;
const std::string kReceiverDir = CRIEUR_SOURCE_DIR "/tests/emulators/callbacks";

rapidjson::Document parsed(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    return d;
}

struct RepliesRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    std::string clock_file = dir / "clock";
    std::int64_t offset = 0;
    int emulator_port = free_port();
    int daemon_port = free_port();
    int receiver_port = free_port();
    std::string inbound_url = "http://127.0.0.1:" + std::to_string(daemon_port) + "/hooks/twilio/inbound";
    std::string secret = callbacks::new_secret();
    Process emulator{{TWILIO_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--account-sid", kSid,
                      "--auth-token", kToken, "--callback-delay-ms", "50", "--inbound-url", inbound_url},
                     dir / "emulator.log"};
    std::unique_ptr<Process> receiver;
    std::unique_ptr<DaemonUnderTest> daemon;

    RepliesRig() {
        REQUIRE_MESSAGE(std::filesystem::exists(kReceiverDir + "/node_modules/standardwebhooks"),
                        "tools/setup installs the receiver's npm packages");
        receiver = std::make_unique<Process>(
            std::vector<std::string>{"node", kReceiverDir + "/receiver.js", std::to_string(receiver_port), secret},
            dir / "receiver.log");
        REQUIRE(wait_until([&] { return http_get(receiver_port, "/stats").status == 200; }, 10s));
        REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
        const std::string hook = "http://127.0.0.1:" + std::to_string(receiver_port) + "/hooks/crieur";
        std::ofstream(dir / "callbacks.jsonl") << callbacks::to_json_line({"ccas", hook, {secret}, 0}) << "\n"
                                               << callbacks::to_json_line({"etat-civil", hook, {secret}, 0}) << "\n";
        std::ofstream(clock_file) << 0;
        DaemonOptions o;
        o.extra_sections = "[[providers]]\ntype = \"twilio\"\nbase_url = \"http://127.0.0.1:" + std::to_string(emulator_port) +
                           "\"\naccount_sid = \"" + kSid + "\"\nauth_token_env = \"CRIEUR_TEST_TWILIO_TOKEN\"\n"
                           "from = \"+33700000001\"\ninbound_url = \"" + inbound_url + "\"\n"
                           "status_callback = \"http://127.0.0.1:" + std::to_string(daemon_port) + "/hooks/twilio\"\n"
                           "[callbacks]\nfile = \"callbacks.jsonl\"\nallow_hosts = [\"127.0.0.1\"]\n";
        o.env = {std::string("CRIEUR_TEST_TWILIO_TOKEN=") + kToken, "CRIEUR_TEST_CLOCK_FILE=" + clock_file};
        daemon = std::make_unique<DaemonUnderTest>(dir, redis, o, daemon_port);
        daemon->start();
    }
    // Moves the daemon's "now" on.
    void later(std::int64_t ms) {
        offset += ms;
        std::ofstream(clock_file) << offset;
        http_request(receiver_port, "POST", "/control", R"({"clock_offset_ms":)" + std::to_string(offset) + "}");
    }
    void citizen(const std::string& id, const std::string& phone) {
        REQUIRE(daemon->api("PUT", "/v1/citizens/" + id,
                            R"({"given_name":"Paul","family_name":"Leroy","locale":"fr","time_zone":"Europe/Paris",)"
                            R"("channels":["sms"],"contacts":{"sms":")" + phone + R"("}})")
                    .status == 201);
    }
    void heatwave(const std::string& id, const std::string& citizen) {
        auto r = daemon->api("POST", "/v1/journeys",
                             R"({"journey":"heatwave_check","id":")" + id + R"(","citizen":")" + citizen +
                                 R"(","service":"ccas","reference":"canicule-2026","data":{"callback_number":"04 72 00 00 00"}})");
        INFO(r.body);
        REQUIRE(r.status == 201);
    }
    // How many SMS the emulator took for a number.
    int sms_to(const std::string& phone) {
        auto d = parsed(http_get(emulator_port, "/emulator/messages").body);
        int n = 0;
        if (d.IsArray())
            for (auto& m : d.GetArray())
                if (m.HasMember("To") && m["To"].IsString() && m["To"].GetString() == phone) ++n;
        return n;
    }
    void reply(const std::string& phone, const std::string& text) {
        auto r = http_post(emulator_port, "/emulator/inbound", form_encode({{"From", phone}, {"Body", text}}),
                           {"Content-Type: application/x-www-form-urlencoded"});
        REQUIRE(r.status / 100 == 2);
    }
    rapidjson::Document show(const std::string& id) { return parsed(daemon->api("GET", "/v1/journeys/" + id).body); }
    std::string state(const std::string& id) {
        auto d = show(id);
        return d.IsObject() && d.HasMember("state") ? d["state"].GetString() : "";
    }
    std::string step(const std::string& id) {
        auto d = show(id);
        return d.IsObject() && d.HasMember("step") ? d["step"].GetString() : "";
    }
    // The callbacks that are no message's status, as the receiver verified them.
    std::vector<std::string> others(const std::string& type) {
        auto d = parsed(http_get(receiver_port, "/stats").body);
        std::vector<std::string> out;
        if (!d.IsObject() || !d.HasMember("others")) return out;
        for (auto& o : d["others"].GetArray()) {
            if (std::string(o["type"].GetString()) != type) continue;
            rapidjson::StringBuffer b;
            rapidjson::Writer<rapidjson::StringBuffer> w(b);
            o["data"].Accept(w);
            out.emplace_back(b.GetString(), b.GetSize());
        }
        return out;
    }
    int invalid_callbacks() { return parsed(http_get(receiver_port, "/stats").body)["invalid"].GetInt(); }
};

}  // namespace

TEST_CASE("the heatwave check answered: 'ok' ends it, 'Aide' tells the service at once, and the service hears each "
          "reply with its keyword, masked") {
    RepliesRig rig;
    rig.citizen("C-ok", "+33611111111");
    rig.citizen("C-aide", "+33622222222");
    rig.heatwave("hw-ok", "C-ok");
    rig.heatwave("hw-aide", "C-aide");
    REQUIRE(wait_until([&] { return rig.sms_to("+33611111111") == 1 && rig.sms_to("+33622222222") == 1; }, 15s));
    REQUIRE(wait_until([&] { return rig.step("hw-ok") == "answer"; }, 5s));

    rig.reply("+33611111111", "  ok ");   // trimmed, any case
    rig.reply("+33622222222", "Aïde !");  // accents and punctuation are no matter
    REQUIRE_MESSAGE(wait_until([&] { return rig.state("hw-ok") == "ended"; }, 10s), read_file(rig.daemon->log()));
    const auto shown = rig.daemon->api("GET", "/v1/journeys/hw-ok").body;
    CHECK(shown.find("reply OK") != std::string::npos);
    // AIDE jumps from anywhere: the service is told, and the journey waits for the visit.
    REQUIRE(wait_until([&] { return rig.step("hw-aide") == "until_visited"; }, 10s));
    REQUIRE(wait_until([&] { return rig.others("journey.notice").size() == 1; }, 10s));
    const auto notice = rig.others("journey.notice").front();
    CHECK(notice.find(R"("notice":"help_asked")") != std::string::npos);
    CHECK(notice.find(R"("journey":"hw-aide")") != std::string::npos);
    CHECK(notice.find(R"("reference":"canicule-2026")") != std::string::npos);

    REQUIRE(wait_until([&] { return rig.others("reply.received").size() == 2; }, 10s));
    std::string replies;
    for (auto& r : rig.others("reply.received")) replies += r + "\n";
    INFO(replies);
    CHECK(replies.find(R"("keyword":"OK")") != std::string::npos);
    CHECK(replies.find(R"("keyword":"AIDE")") != std::string::npos);
    CHECK(replies.find(R"("journey":"hw-ok")") != std::string::npos);
    CHECK(replies.find(R"("in_reply_to":"hw-ok:check")") != std::string::npos);
    CHECK(replies.find("Aïde !") != std::string::npos);     // the service reads what was said
    CHECK(replies.find("611111111") == std::string::npos);  // never the whole number
    CHECK(rig.invalid_callbacks() == 0);
    // The receipts keep each reply with what became of it.
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE outcome = 'journey' AND keyword = 'OK' AND citizen = 'C-ok'") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE outcome = 'journey' AND keyword = 'AIDE' AND journey = 'hw-aide'") == 1);
    std::this_thread::sleep_for(1s);
    CHECK(rig.sms_to("+33611111111") == 1);  // nothing more was sent
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("the heatwave check unanswered: two hours later the question again on another channel, two more and the "
          "service is told to call") {
    RepliesRig rig;
    rig.citizen("C-silent", "+33633333333");
    rig.heatwave("hw-silent", "C-silent");
    REQUIRE(wait_until([&] { return rig.sms_to("+33633333333") == 1; }, 15s));
    REQUIRE(wait_until([&] { return rig.step("hw-silent") == "answer"; }, 5s));
    rig.later(2 * kHour + 60'000);
    // WhatsApp or push: this citizen has neither, so that message fails and the wait goes on.
    REQUIRE_MESSAGE(wait_until([&] { return rig.step("hw-silent") == "answer_again"; }, 15s), read_file(rig.daemon->log()));
    CHECK(rig.others("journey.notice").empty());
    rig.later(2 * kHour + 60'000);
    REQUIRE_MESSAGE(wait_until([&] { return rig.others("journey.notice").size() == 1; }, 15s), read_file(rig.daemon->log()));
    const auto notice = rig.others("journey.notice").front();
    CHECK(notice.find(R"("notice":"call_needed")") != std::string::npos);
    CHECK(notice.find(R"("id":"hw-silent:call")") != std::string::npos);  // the same id if it is ever sent again
    CHECK(notice.find(R"("citizen":"C-silent")") != std::string::npos);
    CHECK(rig.step("hw-silent") == "until_visited");
    // A reply now (late) is still taken: the journey ends on it.
    rig.reply("+33633333333", "je vais bien, merci");
    REQUIRE(wait_until([&] { return rig.state("hw-silent") == "ended"; }, 10s));
    REQUIRE(wait_until([&] { return rig.others("reply.received").size() == 1; }, 10s));
    const auto reply = rig.others("reply.received").front();
    CHECK(reply.find(R"("keyword":null)") != std::string::npos);  // free words, forwarded as they are
    CHECK(reply.find("je vais bien, merci") != std::string::npos);
    CHECK(rig.daemon->api("GET", "/v1/journeys/hw-silent").body.find("reply: \\\"je vais bien, merci\\\"") != std::string::npos);
    CHECK(rig.sms_to("+33633333333") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE citizen = 'C-silent'") == 1);

    // Erased at their request: their replies leave the receipts, their words the journey's history.
    const auto erased = rig.daemon->api("DELETE", "/v1/citizens/C-silent");
    INFO(erased.body);
    REQUIRE(erased.status / 100 == 2);
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE citizen = 'C-silent'") == 0);
    const auto after = rig.daemon->api("GET", "/v1/journeys/hw-silent").body;
    CHECK(after.find("je vais bien") == std::string::npos);
    CHECK(after.find("C-silent") == std::string::npos);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("a reply with no journey goes to the service of the message it answers, one from nobody is kept and "
          "counted, and a provider's second delivery of a reply is dropped") {
    RepliesRig rig;
    rig.citizen("C-msg", "+33644444444");
    auto client = rig.redis.client();
    enqueue(client, {R"({"v":1,"id":"pp-msg","service":"etat-civil","template":"passport_expiry","citizen":"C-msg","data":)" +
                     std::string(kPassportData) + "}"});
    REQUIRE(wait_until([&] { return rig.sms_to("+33644444444") == 1; }, 15s));
    rig.reply("+33644444444", "Quels papiers dois-je apporter ?");
    REQUIRE(wait_until([&] { return rig.others("reply.received").size() == 1; }, 10s));
    const auto forwarded = rig.others("reply.received").front();
    CHECK(forwarded.find(R"("in_reply_to":"pp-msg")") != std::string::npos);
    CHECK(forwarded.find(R"("service":"etat-civil")") != std::string::npos);
    CHECK(forwarded.find(R"("citizen":"C-msg")") != std::string::npos);
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE outcome = 'forwarded' AND answered_job = 'pp-msg'") == 1);

    // Nobody has this number: kept, counted, nobody called.
    rig.reply("+33699999999", "allo ?");
    REQUIRE(wait_until([&] { return rig.daemon->metric("crieur_inbound_unknown_sender_total") == 1; }, 10s));
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE outcome = 'unknown_sender'") == 1);
    CHECK(read_file(rig.daemon->log()).find("+33699999999") == std::string::npos);  // masked in the log

    // Twilio delivers one message twice (its answer was lost): one row, one callback.
    const std::vector<std::pair<std::string, std::string>> form{
        {"From", "+33644444444"}, {"Body", "merci"}, {"MessageSid", "SM0123456789abcdef0123456789abcdef"}};
    for (int i = 0; i < 2; ++i)
        CHECK(http_post(rig.daemon_port, "/hooks/twilio/inbound", form_encode(form),
                        {"X-Twilio-Signature: " + twilio_signature(kToken, rig.inbound_url, form),
                         "Content-Type: application/x-www-form-urlencoded"})
                  .status == 200);
    REQUIRE(wait_until([&] { return rig.others("reply.received").size() == 2; }, 10s));
    std::this_thread::sleep_for(1500ms);
    CHECK(rig.others("reply.received").size() == 2);
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE provider_id = 'SM0123456789abcdef0123456789abcdef'") == 1);
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE outcome = 'pending'") == 0);
    CHECK(rig.daemon->stop() == 0);
}

namespace {

// A journey that asks on WhatsApp and waits for the answer (the emulator reports every message
// read at once, so the shipped heatwave check, which a read also answers, would not wait).
constexpr const char* kAskJourney = R"(description = "Asks on WhatsApp, waits a day for OK"
[[step]]
id = "ask"
send = "heatwave_check"
channels = ["whatsapp"]
replies = ["OK", "AIDE"]

[[step]]
id = "answer"
wait = "1d"
until = ["reply"]
next = "end"
)";

struct WhatsappRepliesRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    int emulator_port = free_port();
    int daemon_port = free_port();
    Process emulator{{WHATSAPP_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--phone-number-id", "1234567890",
                      "--access-token", "wa-token", "--app-secret", "wa-secret", "--webhook",
                      "http://127.0.0.1:" + std::to_string(daemon_port) + "/hooks/whatsapp"},
                     dir / "emulator.log"};
    std::unique_ptr<DaemonUnderTest> daemon;

    WhatsappRepliesRig() {
        std::filesystem::create_directories(dir / "journeys");
        std::ofstream(dir / "journeys/ask.toml") << kAskJourney;
        REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
        DaemonOptions o;
        o.extra_sections = "[[providers]]\ntype = \"whatsapp\"\nbase_url = \"http://127.0.0.1:" + std::to_string(emulator_port) +
                           "/v21.0\"\nphone_number_id = \"1234567890\"\naccess_token_env = \"WA_TOKEN\"\n"
                           "app_secret_env = \"WA_SECRET\"\n[journeys]\ndir = \"journeys\"\n";
        o.env = {"WA_TOKEN=wa-token", "WA_SECRET=wa-secret"};
        daemon = std::make_unique<DaemonUnderTest>(dir, redis, o, daemon_port);
        daemon->start();
        REQUIRE(daemon->api("PUT", "/v1/citizens/C-wa",
                            R"({"locale":"fr","channels":["whatsapp"],"contacts":{"whatsapp":"+33655555555"}})")
                    .status == 201);
    }
    void ask(const std::string& id) {
        auto r = daemon->api("POST", "/v1/journeys",
                             R"({"journey":"ask","id":")" + id + R"(","citizen":"C-wa","service":"ccas","data":{"callback_number":"04 72 00 00 00"}})");
        INFO(r.body);
        REQUIRE(r.status == 201);
    }
    int sent() {
        auto d = parsed(http_get(emulator_port, "/emulator/messages").body);
        return d.IsArray() ? static_cast<int>(d.Size()) : 0;
    }
    std::string reply(const std::string& body) {
        auto r = http_post(emulator_port, "/emulator/inbound", body, {"Content-Type: application/json"});
        REQUIRE(r.status == 200);
        auto d = parsed(r.body);
        CHECK(d["webhook_status"].GetInt() == 200);
        return d["context"].GetString();
    }
    std::string state(const std::string& id) {
        auto d = parsed(daemon->api("GET", "/v1/journeys/" + id).body);
        return d.IsObject() && d.HasMember("state") ? d["state"].GetString() : "";
    }
};

}  // namespace

TEST_CASE("a WhatsApp reply goes to the journey of the message it answers (context.id), not the citizen's latest, and "
          "one that names none goes to the latest") {
    WhatsappRepliesRig rig;
    rig.ask("ask-1");
    REQUIRE(wait_until([&] { return rig.sent() == 1; }, 15s));
    rig.ask("ask-2");
    REQUIRE(wait_until([&] { return rig.sent() == 2; }, 15s));
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE journey IN ('ask-1', 'ask-2') AND status = 'read'") == 2; }, 15s));

    // The citizen answers the first question, with its quick-reply button.
    CHECK_FALSE(rig.reply(R"({"from":"33655555555","button":"OK","text":"Tout va bien","context":"first"})").empty());
    REQUIRE_MESSAGE(wait_until([&] { return rig.state("ask-1") == "ended"; }, 10s), read_file(rig.daemon->log()));
    std::this_thread::sleep_for(500ms);
    CHECK(rig.state("ask-2") == "active");
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE journey = 'ask-1' AND answered_job = 'ask-1:ask' AND keyword = 'OK'") == 1);

    // Typed without replying to a message: the latest open journey takes it.
    CHECK(rig.reply(R"({"from":"33655555555","text":"ok"})").empty());
    REQUIRE(wait_until([&] { return rig.state("ask-2") == "ended"; }, 10s));
    CHECK(rig.daemon->query("SELECT count(*) FROM inbound WHERE journey = 'ask-2' AND keyword = 'OK'") == 1);
    CHECK(rig.daemon->stop() == 0);
}

TEST_CASE("two daemons on one Redis: a reply that reaches the daemon which sent the message goes to the journey the "
          "other daemon keeps") {
    TempDir dir_a, dir_b, dir_redis;
    RedisServer redis{dir_redis / "redis"};
    const int emulator_port = free_port(), port_a = free_port(), port_b = free_port();
    const std::string inbound_url = "http://127.0.0.1:" + std::to_string(port_b) + "/hooks/twilio/inbound";
    Process emulator{{TWILIO_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--account-sid", kSid, "--auth-token",
                      kToken, "--callback-delay-ms", "50", "--inbound-url", inbound_url},
                     dir_redis / "emulator.log"};
    REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
    auto options = [&](const char* name) {
        DaemonOptions o;
        o.extra_redis = "claim_job_ids = true\n";
        o.consumer = name;
        o.extra_sections = "[[providers]]\ntype = \"twilio\"\nbase_url = \"http://127.0.0.1:" + std::to_string(emulator_port) +
                           "\"\naccount_sid = \"" + kSid + "\"\nauth_token_env = \"CRIEUR_TEST_TWILIO_TOKEN\"\n"
                           "from = \"+33700000001\"\ninbound_url = \"" + inbound_url + "\"\n";
        o.env = {std::string("CRIEUR_TEST_TWILIO_TOKEN=") + kToken};
        return o;
    };
    DaemonUnderTest a{dir_a, redis, options("daemon-a"), port_a}, b{dir_b, redis, options("daemon-b"), port_b};
    a.start();
    b.start();
    auto client = redis.client();
    constexpr int kPeople = 16;
    auto phone = [](int i) { return "+336000100" + std::string(i < 10 ? "0" : "") + std::to_string(i); };
    for (auto* d : {&a, &b})
        for (int i = 0; i < kPeople; ++i)
            REQUIRE(d->api("PUT", "/v1/citizens/C-" + std::to_string(i),
                           R"({"locale":"fr","channels":["sms"],"contacts":{"sms":")" + phone(i) + R"("}})").status == 201);
    REQUIRE(wait_until([&] { return client.integer({"HLEN", "crieur:jobs:daemons"}) == 2; }, 20s, 200ms));
    std::this_thread::sleep_for(5500ms);
    // Every heatwave check kept by A; each SMS goes out from either daemon.
    for (int i = 0; i < kPeople; ++i)
        REQUIRE(a.api("POST", "/v1/journeys",
                      R"({"journey":"heatwave_check","id":"hw-)" + std::to_string(i) + R"(","citizen":"C-)" + std::to_string(i) +
                          R"(","service":"ccas","data":{"callback_number":"04 72 00 00 00"}})").status == 201);
    auto sent_by_b = [&](int i) { return b.query("SELECT count(*) FROM messages WHERE job_id = 'hw-" + std::to_string(i) + ":check' AND status = 'sent'") == 1; };
    auto sent_by_a = [&](int i) { return a.query("SELECT count(*) FROM messages WHERE job_id = 'hw-" + std::to_string(i) + ":check' AND status = 'sent'") == 1; };
    REQUIRE(wait_until([&] {
        for (int i = 0; i < kPeople; ++i)
            if (!sent_by_a(i) && !sent_by_b(i)) return false;
        return true;
    }, 30s));
    // Each citizen answers OK; every reply reaches B (the number's webhook).
    std::vector<int> by_b;
    for (int i = 0; i < kPeople; ++i) {
        if (sent_by_b(i)) by_b.push_back(i);
        REQUIRE(http_post(emulator_port, "/emulator/inbound", form_encode({{"From", phone(i)}, {"Body", "OK"}}),
                          {"Content-Type: application/x-www-form-urlencoded"}).status == 200);
    }
    INFO(by_b.size() << " of the checks went out from B");
    REQUIRE(!by_b.empty());  // sixteen times a coin
    auto state = [&](int i) {
        rapidjson::Document d;
        d.Parse(a.api("GET", "/v1/journeys/hw-" + std::to_string(i)).body.c_str());
        return d.IsObject() && d.HasMember("state") ? std::string(d["state"].GetString()) : std::string();
    };
    // The ones B sent: B knows what they answer, and the journey kept by A takes the reply.
    CHECK(wait_until([&] {
        for (int i : by_b)
            if (state(i) != "ended") return false;
        return true;
    }, 15s));
    for (int i : by_b)
        CHECK(b.query("SELECT count(*) FROM inbound WHERE outcome = 'journey' AND journey = 'hw-" + std::to_string(i) + "'") == 1);
    CHECK(wait_until([&] { return client.integer({"XLEN", "crieur:jobs:journey-inbox:daemon-a"}) == 0; }, 10s));
}
