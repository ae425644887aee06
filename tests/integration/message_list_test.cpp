// GET /v1/messages and /v1/stats (issue 13): a service's messages newest first, filtered, paged by a cursor that
// holds while new messages come in; another service's never shown. Real crieurd, Redis, SQLite.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <set>

#include "support/daemon_fixture.hpp"
#include "support/openapi_check.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
std::string job_of(const std::string& service, const std::string& id, const std::string& reference) {
    return R"({"v":1,"id":")" + id + R"(","service":")" + service +
           R"(","template":"passport_expiry","to":{"sms":"+33612345678"},"reference":")" + reference + R"(","data":)" +
           kPassportData + "}";
}

struct Page {
    std::vector<std::string> ids;
    std::string next;  // empty: the end
};
Page page_of(const HttpResult& r) {
    Page p;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    REQUIRE(d.IsObject());
    for (auto& m : d["messages"].GetArray()) p.ids.emplace_back(m["id"].GetString());
    if (d["next_cursor"].IsString()) p.next = d["next_cursor"].GetString();
    return p;
}
}  // namespace

TEST_CASE("GET /v1/messages: newest first, filtered, paged by a stable cursor, and a service sees its own only") {
    TempDir dir;
    RedisServer redis(dir / "redis");
    DaemonOptions options;
    options.extra_http = "keys_file = \"keys.jsonl\"\n";
    DaemonUnderTest daemon(dir, redis, options);
    const std::string civil = create_api_key(daemon, dir, {"--service", "etat-civil", "--scopes", "read"});
    const std::string social = create_api_key(daemon, dir, {"--service", "ccas", "--scopes", "read"});
    const std::string sender = create_api_key(daemon, dir, {"--service", "ccas", "--scopes", "send"});
    daemon.start();
    auto client = redis.client();
    std::vector<std::string> jobs;
    for (int i = 0; i < 7; ++i) jobs.push_back(job_of("etat-civil", "ec-" + std::to_string(i), "dossier-" + std::to_string(i)));
    jobs.push_back(job_of("ccas", "cc-1", "aide-1"));
    jobs.push_back(job_of("ccas", "cc-2", "aide-2"));
    for (const auto& j : jobs) enqueue(client, {j});  // one by one: the row ids follow the order
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE status = 'sent'") == 9; }, 20s));

    // Pages of 3, newest first; a message that comes in meanwhile does not shift them.
    const HttpResult first = request_as(daemon, civil, "GET", "/v1/messages?limit=3");
    REQUIRE(first.status == 200);
    const Page p1 = page_of(first);
    CHECK(p1.ids == std::vector<std::string>{"ec-6", "ec-5", "ec-4"});
    REQUIRE_FALSE(p1.next.empty());
    enqueue(client, {job_of("etat-civil", "ec-new", "dossier-new")});
    REQUIRE(wait_until([&] { return daemon.query("SELECT count(*) FROM messages WHERE job_id = 'ec-new'") == 1; }, 10s));
    const Page p2 = page_of(request_as(daemon, civil, "GET", "/v1/messages?limit=3&cursor=" + p1.next));
    CHECK(p2.ids == std::vector<std::string>{"ec-3", "ec-2", "ec-1"});
    const Page p3 = page_of(request_as(daemon, civil, "GET", "/v1/messages?limit=3&cursor=" + p2.next));
    CHECK(p3.ids == std::vector<std::string>{"ec-0"});
    CHECK(p3.next.empty());

    // Filters, and the other service's messages never in the list.
    CHECK(page_of(request_as(daemon, civil, "GET", "/v1/messages?reference=dossier-2")).ids == std::vector<std::string>{"ec-2"});
    CHECK(page_of(request_as(daemon, civil, "GET", "/v1/messages?reference=aide-1")).ids.empty());
    CHECK(page_of(request_as(daemon, social, "GET", "/v1/messages")).ids == std::vector<std::string>{"cc-2", "cc-1"});
    CHECK(page_of(request_as(daemon, civil, "GET", "/v1/messages?status=sent&template=passport_expiry&limit=500")).ids.size() == 8);
    CHECK(page_of(request_as(daemon, civil, "GET", "/v1/messages?status=delivered")).ids.empty());
    CHECK(page_of(request_as(daemon, civil, "GET", "/v1/messages?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z")).ids.empty());
    CHECK(page_of(daemon.api("GET", "/v1/messages?limit=500")).ids.size() == 10);  // the operators: every service
    CHECK(page_of(daemon.api("GET", "/v1/messages?service=ccas")).ids.size() == 2);
    // No recipient in the list, whole or masked: the message's own view has the attempts.
    CHECK(request_as(daemon, civil, "GET", "/v1/messages?limit=500").body.find("recipient") == std::string::npos);

    // Bad input: named problems.
    const HttpResult other = request_as(daemon, civil, "GET", "/v1/messages?service=ccas");
    CHECK(other.status == 403);
    CHECK(other.body.find("urn:crieur:problem:wrong_service") != std::string::npos);
    const HttpResult cursor = request_as(daemon, civil, "GET", "/v1/messages?cursor=zz");
    CHECK(cursor.status == 400);
    CHECK(cursor.body.find("urn:crieur:problem:bad_cursor") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/messages?limit=0").body.find(R"("field":"limit")") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/messages?status=sleeping").body.find(R"("field":"status")") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/messages?colour=red").body.find(R"("field":"colour")") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/messages?since=yesterday").status == 400);
    CHECK(request_as(daemon, sender, "GET", "/v1/messages").status == 403);  // no read scope

    // Counts: a service's own, an operator's by service.
    CHECK(request_as(daemon, civil, "GET", "/v1/stats").body == R"({"since":null,"by":"status","counts":{"sent":8}})");
    CHECK(request_as(daemon, civil, "GET", "/v1/stats?by=service").body.find(R"("counts":{"etat-civil":8})") != std::string::npos);
    CHECK(daemon.api("GET", "/v1/stats?by=service").body.find(R"("counts":{"ccas":2,"etat-civil":8})") != std::string::npos);
    CHECK(daemon.api("GET", "/v1/stats?by=channel&since=2000-01-01T00:00:00Z").body.find(R"("counts":{"sms":10})") != std::string::npos);
    CHECK(daemon.api("GET", "/v1/stats?since=2999-01-01T00:00:00Z").body.find(R"("counts":{})") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/stats?by=citizen").body.find(R"("field":"by")") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/stats?service=ccas").body.find("urn:crieur:problem:wrong_service") != std::string::npos);
    CHECK(request_as(daemon, civil, "GET", "/v1/stats?service=etat-civil").status == 200);  // its own: as the list takes it

    // The answers, as the OpenAPI document describes them (checked by validators from outside).
    OpenApiResponses seen(dir);
    seen.add("GET", "/v1/messages", first);
    seen.add("GET", "/v1/messages", request_as(daemon, civil, "GET", "/v1/messages?limit=500"));
    seen.add("GET", "/v1/messages", other);
    seen.add("GET", "/v1/messages", cursor);
    seen.add("GET", "/v1/messages", request_as(daemon, civil, "GET", "/v1/messages?colour=red"));
    seen.add("GET", "/v1/messages", request_as(daemon, sender, "GET", "/v1/messages"));
    seen.add("GET", "/v1/messages", request_as(daemon, "crieur_live_nope", "GET", "/v1/messages"));
    seen.add("GET", "/v1/messages/{id}", request_as(daemon, civil, "GET", "/v1/messages/ec-2"));
    seen.add("GET", "/v1/messages/{id}", request_as(daemon, civil, "GET", "/v1/messages/cc-1"));
    seen.add("GET", "/v1/stats", request_as(daemon, civil, "GET", "/v1/stats?by=channel"));
    seen.add("GET", "/v1/stats", request_as(daemon, civil, "GET", "/v1/stats?by=citizen"));
    seen.add("GET", "/readyz", http_get(daemon.http_port(), "/readyz"));
    seen.add("GET", "/healthz", http_get(daemon.http_port(), "/healthz"));
    const HttpResult served = seen.add("GET", "/v1/openapi.json", http_get(daemon.http_port(), "/v1/openapi.json"));
    CHECK(served.body == read_file(CRIEUR_SOURCE_DIR "/docs/openapi.json"));
    seen.check();
    CHECK(daemon.stop() == 0);
}
