// The services' status callbacks, piece by piece: Standard Webhooks signing, the endpoints file,
// the URL check, how an endpoint's answer is read, and the outbox the receipts' triggers fill.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "channels/http_client.hpp"
#include "channels/url.hpp"
#include "daemon/callbacks/dispatcher.hpp"
#include "daemon/callbacks/endpoints.hpp"
#include "daemon/callbacks/signature.hpp"
#include "daemon/receipts/schema.hpp"
#include "daemon/receipts/sqlite.hpp"

using namespace crieur;

TEST_CASE("the signature matches the Standard Webhooks reference libraries' test vector") {
    // From the reference libraries' tests (standard-webhooks/standard-webhooks, libraries/*).
    const auto key = callbacks::secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    REQUIRE(key);
    CHECK(callbacks::signature_header({*key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // Two secrets during a rotation: two signatures, space-separated, the newest first.
    const auto other = callbacks::secret_key(callbacks::new_secret());
    REQUIRE(other);
    const auto both = callbacks::signature_header({*other, *key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                                  R"({"test": 2432232314})");
    CHECK(both.ends_with(" v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    CHECK(both.starts_with("v1,"));
}

TEST_CASE("a secret is whsec_ and the Base64 of 24 to 64 bytes") {
    const auto fresh = callbacks::new_secret();
    CHECK(fresh.starts_with("whsec_"));
    REQUIRE(callbacks::secret_key(fresh));
    CHECK(callbacks::secret_key(fresh)->size() == 32);
    CHECK_FALSE(callbacks::secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));  // no prefix
    CHECK_FALSE(callbacks::secret_key("whsec_c2hvcnQ="));                     // 5 bytes
    CHECK_FALSE(callbacks::secret_key("whsec_not base64!"));
    CHECK(callbacks::new_secret() != fresh);
}

TEST_CASE("callback URLs: https on a public host, internal hosts only when listed in allow_hosts") {
    using callbacks::url_problem;
    CHECK(url_problem("https://crm.ville.example/hooks/crieur", {}).empty());
    CHECK(url_problem("http://crm.ville.example/hooks", {}).find("https") != std::string::npos);
    for (const char* internal : {"https://127.0.0.1/x", "https://localhost/x", "https://10.0.0.5/x", "https://172.20.1.1/x",
                                 "https://192.168.1.10/x", "https://169.254.169.254/latest/meta-data", "https://[::1]/x",
                                 "https://[fd00::1]/x", "https://[::ffff:127.0.0.1]/x", "https://0.0.0.0/x"})
        CHECK_MESSAGE(url_problem(internal, {}).find("private network") != std::string::npos, internal);
    CHECK(url_problem("https://127.0.0.1.evil.example/x", {}).empty());  // a public name, read by libcurl's parser
    CHECK(url_problem("https://172.32.0.1/x", {}).empty());               // outside 172.16/12
    CHECK(url_problem("http://127.0.0.1:8081/hooks", {"127.0.0.1"}).empty());
    CHECK(url_problem("https://hooks.intranet.example/x", {".intranet.example"}).empty());
    CHECK_FALSE(url_problem("not a url", {}).empty());
}

TEST_CASE("the endpoints file keeps service, URL and secrets, and names what is wrong in a line") {
    const callbacks::Endpoint e{"etat-civil", "https://crm.example/h", {callbacks::new_secret(), callbacks::new_secret()}, 42};
    auto back = callbacks::from_json_line(callbacks::to_json_line(e));
    REQUIRE(std::holds_alternative<callbacks::Endpoint>(back));
    CHECK(std::get<callbacks::Endpoint>(back) == e);
    auto why = [](const char* line) {
        auto r = callbacks::from_json_line(line);
        return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
    };
    CHECK(why(R"({"service":"s","url":"https://x.example","secrets":[]})").find("secrets") != std::string::npos);
    CHECK(why(R"({"service":"s","url":"https://x.example","secrets":["abc"]})").find("whsec_") != std::string::npos);
    CHECK(why(R"({"url":"https://x.example","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]})").find("service") !=
          std::string::npos);
    CHECK(why(R"({"service":"s","url":"https://x.example","secret":"x"})").find("unknown field 'secret'") != std::string::npos);
}

TEST_CASE("an endpoint's answer: 2xx taken, 410 gone, 408 429 5xx 3xx and no answer retried, other 4xx refused") {
    auto verdict = [](int status) {
        HttpResponse r;
        r.status = status;
        return classify_callback_answer(r);
    };
    CHECK(verdict(200) == CallbackVerdict::delivered);
    CHECK(verdict(204) == CallbackVerdict::delivered);
    CHECK(verdict(410) == CallbackVerdict::gone);
    for (int s : {0, 301, 302, 408, 429, 500, 502, 503, 504}) CHECK_MESSAGE(verdict(s) == CallbackVerdict::retry, s);
    for (int s : {400, 401, 403, 404, 413, 422}) CHECK_MESSAGE(verdict(s) == CallbackVerdict::refused, s);
    using namespace std::chrono;
    CHECK(callback_backoff(1) == seconds(5));
    CHECK(callback_backoff(2) == minutes(5));
    CHECK(callback_backoff(3) == minutes(30));
    CHECK(callback_backoff(6) == hours(10));
    CHECK(callback_backoff(40) == hours(10));
}

namespace {
struct Outbox {
    sqlite::DbPtr db = sqlite::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    Outbox() {
        sqlite::migrate(db.get(), schema::kMigrations, "receipts");
        sqlite::exec(db.get(), schema::callback_triggers().c_str());  // as the writer does once a service has an endpoint
        sqlite::exec(db.get(), "INSERT INTO callback_services VALUES ('etat-civil')");
    }
    void run(const char* sql) { sqlite::exec(db.get(), sql); }
    std::vector<std::string> payloads() {
        sqlite::Stmt q(db.get(), "SELECT payload FROM callbacks ORDER BY id");
        std::vector<std::string> out;
        while (q.step()) out.emplace_back(q.text(0));
        return out;
    }
};
}  // namespace

TEST_CASE("the receipts' triggers queue one callback per status change of a service with an endpoint") {
    Outbox o;
    o.run(R"(INSERT INTO messages (id, job_id, stream_id, service, template, reference, channel, status, created_at, updated_at)
             VALUES (1, 'job-1', '1-0', 'etat-civil', 'passport_expiry', 'dossier-7', 'sms', 'sending', 0, 1764748800123))");
    o.run("INSERT INTO attempts (message_id, n, channel, provider, recipient, started_at) VALUES (1, 1, 'sms', 'twilio', '+33612345678', 0)");
    CHECK(o.payloads().empty());  // sending is not a status a service hears of
    o.run("UPDATE messages SET status = 'sent', updated_at = 1764748801000 WHERE id = 1");
    o.run("UPDATE messages SET status = 'sent', updated_at = 1764748802000 WHERE id = 1");  // no change, no callback
    o.run("UPDATE messages SET status = 'delivered', updated_at = 1764748803000 WHERE id = 1");
    // Another service's message: nothing.
    o.run(R"(INSERT INTO messages (job_id, stream_id, service, status, created_at, updated_at)
             VALUES ('job-2', '2-0', 'voirie', 'rejected', 0, 0))");
    // A rejected job of the service is inserted with its status: one callback.
    o.run(R"(INSERT INTO messages (job_id, stream_id, service, status, status_reason, created_at, updated_at)
             VALUES ('job-3', '3-0', 'etat-civil', 'rejected', 'data.name: missing', 0, 0))");
    const auto p = o.payloads();
    REQUIRE(p.size() == 3);
    rapidjson::Document d;
    d.Parse(p[0].c_str());
    REQUIRE(d.IsObject());
    CHECK(std::string(d["type"].GetString()) == "message.sent");
    CHECK(std::string(d["timestamp"].GetString()) == "2025-12-03T08:00:01.000Z");
    const auto& data = d["data"];
    CHECK(std::string(data["id"].GetString()) == "job-1");
    CHECK(std::string(data["service"].GetString()) == "etat-civil");
    CHECK(std::string(data["reference"].GetString()) == "dossier-7");
    CHECK(std::string(data["channel"].GetString()) == "sms");
    CHECK(std::string(data["provider"].GetString()) == "twilio");
    CHECK(data["attempts"].GetInt() == 1);
    CHECK(p[0].find("+33612345678") == std::string::npos);  // never the recipient
    d.Parse(p[1].c_str());
    CHECK(std::string(d["type"].GetString()) == "message.delivered");
    d.Parse(p[2].c_str());
    CHECK(std::string(d["type"].GetString()) == "message.rejected");
    // No endpoint left: the triggers are dropped, and a status change costs nothing more.
    sqlite::exec(o.db.get(), schema::kDropCallbackTriggers);
    o.run("UPDATE messages SET status = 'read', updated_at = 1764748804000 WHERE id = 1");
    CHECK(o.payloads().size() == 3);
    CHECK(std::string(d["data"]["status_reason"].GetString()) == "data.name: missing");
    // A database of its own has an instance id for the webhook-ids.
    sqlite::Stmt q(o.db.get(), "SELECT value FROM meta WHERE key = 'instance'");
    REQUIRE(q.step());
    CHECK(std::string(q.text(0)).size() == 12);
}

TEST_CASE("a callback URL as listed: credentials and query values masked, the rest kept") {
    CHECK(redact_url("https://crm.mairie.example/hooks/crieur") == "https://crm.mairie.example/hooks/crieur");
    CHECK(redact_url("https://svc:s3cret@crm.mairie.example:8443/h?token=abc&v=2#frag") ==
          "https://***:***@crm.mairie.example:8443/h?token=***&v=***");
    CHECK(redact_url("https://crm.mairie.example/h?flag") == "https://crm.mairie.example/h?flag");
    CHECK(redact_url("not a url") == "***");
}
