// POST /v1/messages (issue 13): a service sends over HTTP with its key, against a real crieurd,
// Redis and receipts database.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "support/daemon_fixture.hpp"
#include "support/openapi_check.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
std::string job(const std::string& id, const std::string& extra = "") {
    return R"({"v":1,"id":")" + id + R"(","template":"passport_expiry","to":{"sms":"+33612345678"},"data":)" +
           kPassportData + extra + "}";
}
}  // namespace

TEST_CASE("POST /v1/messages: a service's key queues a checked job once per id, and answers with problems naming the field") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonOptions options;
    options.extra_http = "keys_file = \"keys.jsonl\"\n";
    DaemonUnderTest daemon(dir, redis, options);
    const std::string key = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "send,read"});
    const std::string reader = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "read"});
    const std::string test_key = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "send", "--test"});
    REQUIRE_FALSE(key.empty());
    daemon.start();
    auto client = redis.client();

    const HttpResult sent = request_as(daemon, key, "POST", "/v1/messages?preview=1", job("api-1"));
    REQUIRE(sent.status == 202);
    CHECK(sent.header("Location") == "/v1/messages/api-1");
    CHECK(sent.body.find(R"("id":"api-1","service":"etat-civil","template":"passport_expiry","status":"queued")") !=
          std::string::npos);
    CHECK(sent.body.find(R"("channels":[)") != std::string::npos);
    CHECK(sent.body.find(R"("preview":{"template":"passport_expiry","channel":"sms")") != std::string::npos);
    CHECK(sent.body.find("Madame Martin") != std::string::npos);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE job_id = 'api-1' AND status = 'sent'") == 1; }, 10s));
    CHECK(daemon.query("SELECT count(*) FROM messages WHERE job_id = 'api-1' AND service = 'etat-civil'") == 1);
    CHECK(request_as(daemon, key, "GET", "/v1/messages/api-1").status == 200);

    // The same request again (a lost answer): the same answer, nothing queued again.
    const HttpResult again = request_as(daemon, key, "POST", "/v1/messages?preview=1", job("api-1"));
    CHECK(again.status == 202);
    CHECK(again.body == sent.body);
    CHECK(entries_added(client) == 1);
    const HttpResult reused = request_as(daemon, key, "POST", "/v1/messages", job("api-1", R"(,"priority":"bulk")"));
    CHECK(reused.status == 409);
    CHECK(reused.header("Content-Type") == "application/problem+json");
    CHECK(reused.body.find(R"("type":"urn:crieur:problem:id_reused")") != std::string::npos);
    CHECK(entries_added(client) == 1);

    // A Redis that lost its scripts (restarted, SCRIPT FLUSH): the script is sent again.
    client.command({"SCRIPT", "FLUSH"});
    CHECK(request_as(daemon, key, "POST", "/v1/messages", job("api-after-flush")).status == 202);
    CHECK(entries_added(client) == 2);

    // Urgent jobs go to the urgent stream.
    CHECK(request_as(daemon, key, "POST", "/v1/messages", job("api-urgent", R"(,"priority":"urgent")")).status == 202);
    CHECK(entries_added(client, "crieur:jobs:urgent") == 1);

    // Problems, each naming what was wrong; nothing queued for any of them.
    auto refused = [&](const std::string& body, int status, const std::string& code, const std::string& field) {
        const HttpResult r = request_as(daemon, key, "POST", "/v1/messages", body);
        CHECK(r.status == status);
        CHECK_MESSAGE(r.body.find(R"("type":"urn:crieur:problem:)" + code + "\"") != std::string::npos, r.body);
        if (!field.empty()) CHECK_MESSAGE(r.body.find(R"("field":")" + field + "\"") != std::string::npos, r.body);
    };
    refused(job("api-2", R"(,"prority":"bulk")"), 422, "job_unknown_field", "prority");
    refused(R"({"v":1,"id":"api-3","template":"no_such","to":{"sms":"+33612345678"}})", 422, "unknown_template", "template");
    refused(R"({"v":1,"id":"api-4","template":"passport_expiry","to":{"sms":"+33612345678"},"data":{}})", 422, "bad_template_data", "");
    refused("not json", 422, "job_not_json", "");
    refused(job("api-5", R"(,"service":"social")"), 403, "wrong_service", "service");
    CHECK(entries_added(client) == 2);

    CHECK(request_as(daemon, reader, "POST", "/v1/messages", job("api-6")).status == 403);  // no `send` scope
    const HttpResult tested = request_as(daemon, test_key, "POST", "/v1/messages", job("api-7", R"(,"test":false)"));
    CHECK(tested.status == 403);
    CHECK(tested.body.find("urn:crieur:problem:test_key") != std::string::npos);
    CHECK(request_as(daemon, "", "POST", "/v1/messages", job("api-8")).status == 401);
    // The operators' token names the service in the job.
    CHECK(daemon.api("POST", "/v1/messages", job("api-9")).status == 422);
    CHECK(daemon.api("POST", "/v1/messages", job("api-9", R"(,"service":"voirie")")).status == 202);
    // Another service's job under a used id is told, not silently dropped by the receipts.
    CHECK(daemon.api("POST", "/v1/messages", job("api-1", R"(,"service":"voirie")")).status == 409);

    // The answers, as the OpenAPI document describes them.
    OpenApiResponses seen(dir);
    seen.add("POST", "/v1/messages", sent);
    seen.add("POST", "/v1/messages", reused);
    seen.add("POST", "/v1/messages", tested);
    seen.add("POST", "/v1/messages", request_as(daemon, key, "POST", "/v1/messages", job("api-10")));
    seen.add("POST", "/v1/messages", request_as(daemon, key, "POST", "/v1/messages", "not json"));
    seen.add("POST", "/v1/messages", request_as(daemon, reader, "POST", "/v1/messages", job("api-11")));
    seen.add("POST", "/v1/messages", request_as(daemon, "", "POST", "/v1/messages", job("api-12")));
    seen.add("POST", "/v1/messages/{id}/cancel", request_as(daemon, key, "POST", "/v1/messages/api-1/cancel"));
    seen.check();
    CHECK(daemon.stop() == 0);
}

TEST_CASE("POST /v1/messages/batch: each line answered in order, the good ones queued, the bad ones named, and sizes bounded") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonOptions options;
    options.extra_http = "keys_file = \"keys.jsonl\"\n";
    DaemonUnderTest daemon(dir, redis, options);
    const std::string key = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "send"});
    daemon.start();
    auto client = redis.client();

    std::string body;
    for (int i = 0; i < 500; ++i) body += job("b-" + std::to_string(i)) + "\n";
    body += "\n";                                       // a blank line is skipped (line 501)
    body += job("b-bad", R"(,"prority":"bulk")") + "\r\n";  // line 502, CRLF
    body += "{not json\n";                             // line 503
    body += job("b-7", R"(,"priority":"bulk")") + "\n";  // line 504: b-7 again, another body
    const HttpResult r = request_as(daemon, key, "POST", "/v1/messages/batch", body);
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/x-ndjson");
    std::vector<std::string> answers;
    for (std::size_t from = 0, end; (end = r.body.find('\n', from)) != std::string::npos; from = end + 1)
        answers.push_back(r.body.substr(from, end - from));
    REQUIRE(answers.size() == 503);
    CHECK(answers[0].rfind(R"({"line":1,"id":"b-0","status":202,"stream_entry":")", 0) == 0);
    CHECK(answers[499].rfind(R"({"line":500,"id":"b-499","status":202)", 0) == 0);
    CHECK(answers[500].rfind(R"({"line":502,"id":"b-bad","status":422,"problem":{"type":"urn:crieur:problem:job_unknown_field")", 0) == 0);
    CHECK(answers[501].rfind(R"({"line":503,"status":422,"problem":{"type":"urn:crieur:problem:job_not_json")", 0) == 0);
    CHECK(answers[502].rfind(R"({"line":504,"id":"b-7","status":409)", 0) == 0);
    CHECK(entries_added(client) == 500);
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 500; }, 20s));

    // The same batch again: every good line answers as before, nothing more is queued.
    const HttpResult again = request_as(daemon, key, "POST", "/v1/messages/batch", body);
    CHECK(again.body == r.body);
    CHECK(entries_added(client) == 500);

    // Over 1 MiB in all, under the batch's own limit: taken whole.
    std::string large;
    for (int i = 0; i < 5000; ++i) large += job("big-" + std::to_string(i)) + "\n";
    REQUIRE(large.size() > (1u << 20));
    const HttpResult taken = request_as(daemon, key, "POST", "/v1/messages/batch", large);
    CHECK(taken.status == 200);
    std::size_t accepted = 0;
    for (std::size_t at = taken.body.find("\"status\":202"); at != std::string::npos; at = taken.body.find("\"status\":202", at + 1)) ++accepted;
    CHECK(accepted == 5000);
    CHECK(entries_added(client) == 5500);

    std::string too_many;
    for (int i = 0; i < 10'001; ++i) too_many += R"({"v":1})" "\n";
    const HttpResult over = request_as(daemon, key, "POST", "/v1/messages/batch", too_many);
    CHECK(over.status == 413);
    CHECK(over.body.find("batch_too_large") != std::string::npos);
    CHECK(request_as(daemon, key, "POST", "/v1/messages/batch", "\n\n").status == 422);

    // Past a route's body limit (1 MiB for one message, 16 MiB for a batch), the request is refused.
    const HttpResult huge = request_as(daemon, key, "POST", "/v1/messages", job("big", R"(,"reference":")" + std::string(2 << 20, 'r') + "\""));
    CHECK(huge.status == 413);
    CHECK(request_as(daemon, key, "POST", "/v1/messages", job("after-big")).status == 202);  // still serving

    // The answers, each batch line too, as the OpenAPI document describes them.
    OpenApiResponses seen(dir);
    seen.add("POST", "/v1/messages/batch", r);
    seen.add("POST", "/v1/messages/batch", over);
    seen.add("POST", "/v1/messages/batch", request_as(daemon, key, "POST", "/v1/messages/batch", "\n\n"));
    seen.add("POST", "/v1/messages", huge);
    seen.check();
    CHECK(daemon.stop() == 0);
}

TEST_CASE("a test key's messages are checked, rendered and recorded, then written to the outbox, never to the provider") {
    constexpr const char* kSid = "AC00000000000000000000000000000001";
    TempDir dir;
    RedisServer redis(dir / "redis");
    const int emulator_port = free_port();
    Process emulator({TWILIO_EMULATOR_PATH, "--port", std::to_string(emulator_port), "--account-sid", kSid, "--auth-token", "tok"},
                     dir / "emulator.log");
    REQUIRE(wait_until([&] { return http_get(emulator_port, "/emulator/messages").status == 200; }, 10s));
    DaemonOptions options;
    options.extra_http = "keys_file = \"keys.jsonl\"\n";
    options.extra_sections = "[[providers]]\ntype = \"twilio\"\nbase_url = \"http://127.0.0.1:" + std::to_string(emulator_port) +
                             "\"\naccount_sid = \"" + kSid + "\"\nauth_token_env = \"TW\"\nfrom = \"+33700000001\"\n";
    options.env = {"TW=tok"};
    DaemonUnderTest daemon(dir, redis, options);
    const std::string live = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "send"});
    const std::string test = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "send", "--test"});
    REQUIRE(test.rfind("crieur_test_", 0) == 0);
    daemon.start();

    CHECK(request_as(daemon, test, "POST", "/v1/messages", job("t-1")).status == 202);
    CHECK(request_as(daemon, live, "POST", "/v1/messages", job("l-1")).status == 202);
    auto client = redis.client();
    enqueue(client, {sms_job("t-2", R"(,"test":true)")});  // the contract's own field, for services that XADD
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 3; }, 15s));
    auto provider_of = [&](const std::string& id) {
        return daemon.query("SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.job_id = '" + id +
                            "' AND a.provider = 'outbox'");
    };
    CHECK(provider_of("t-1") == 1);
    CHECK(provider_of("t-2") == 1);
    CHECK(provider_of("l-1") == 0);
    rapidjson::Document listed;
    listed.Parse(http_get(emulator_port, "/emulator/messages").body.c_str());
    REQUIRE(listed.IsArray());
    CHECK(listed.Size() == 1);  // the live one only
    const auto outbox = outbox_counts(daemon.outbox("sms"));
    CHECK(outbox.count("t-1") == 1);
    CHECK(outbox.count("l-1") == 0);
    CHECK(daemon.stop() == 0);
}
