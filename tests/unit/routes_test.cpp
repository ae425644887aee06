// The route table's access rule: every route asks for the API key unless it was added as open,
// and with no key configured those routes are closed.
#include <doctest/doctest.h>

#include "daemon/http/routes.hpp"

using namespace crieur::http;
namespace keys = crieur::keys;

namespace {
// Dispatches one request and returns the answer it got, or its status.
Response answer_of(const Routes& routes, const std::string& method, const std::string& path, const std::string& auth = {},
                   Exposure on = Exposure::all) {
    Request req;
    req.method = method;
    req.path = path;
    if (!auth.empty()) req.headers.emplace_back("authorization", auth);
    Response out;
    out.status = 0;
    routes.dispatch(req, [&](Response r) { out = std::move(r); }, on);
    return out;
}
int status_of(const Routes& routes, const std::string& method, const std::string& path, const std::string& auth = {},
              Exposure on = Exposure::all) {
    return answer_of(routes, method, path, auth, on).status;
}

Routes table(bool* reached) {
    Routes routes;
    routes.add("GET", "/v1/messages/", [reached](const Request&, std::string_view, Reply reply) {
        *reached = true;
        reply({200, "application/json", "{}", {}});
    });
    routes.add("GET", "/healthz", [](const Request&, std::string_view, Reply reply) { reply({200, "", "", {}}); },
               Access::open);
    return routes;
}
}  // namespace

TEST_CASE("a route asks for the API key unless it is open, and the handler never runs without it") {
    bool reached = false;
    Routes routes = table(&reached);
    routes.set_api_token("s3cret-key");
    CHECK(status_of(routes, "GET", "/v1/messages/m-1") == 401);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer wrong") == 401);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer s3cret-key2") == 401);
    CHECK_FALSE(reached);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer s3cret-key") == 200);
    CHECK(reached);
    CHECK(status_of(routes, "GET", "/healthz") == 200);
    CHECK(status_of(routes, "GET", "/nothing") == 404);
}

TEST_CASE("with no API key configured, the keyed routes are closed, not open") {
    bool reached = false;
    Routes routes = table(&reached);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1") == 401);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer ") == 401);
    CHECK_FALSE(reached);
    CHECK(status_of(routes, "GET", "/healthz") == 200);
}

TEST_CASE("a scoped route takes a service key with its scope, refuses one without it, and tells the handler who called") {
    Routes routes;
    keys::Caller seen;
    routes.add("GET", "/v1/messages/", [&](const Request& req, std::string_view, Reply reply) {
        seen = req.caller;
        reply({200, "application/json", "{}", {}});
    }, keys::Scope::read);
    auto reader = keys::mint("etat-civil", "", static_cast<keys::Scopes>(keys::Scope::read), false, 0, 0);
    auto sender = keys::mint("etat-civil", "", static_cast<keys::Scopes>(keys::Scope::send), false, 0, 0);
    routes.set_keys(keys::KeyRing({reader.key, sender.key}, "ops-token"));
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer " + sender.token) == 403);
    CHECK(seen.service.empty());
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer " + reader.token) == 200);
    CHECK(seen.service == "etat-civil");
    CHECK(seen.key_id == reader.key.id);
    CHECK_FALSE(seen.every_service());
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", "Bearer ops-token") == 200);
    CHECK(seen.every_service());
}

TEST_CASE("a service key past its request rate is answered 429 with Retry-After, other keys and the operators are not") {
    Routes routes;
    routes.add("GET", "/v1/messages/", [](const Request&, std::string_view, Reply reply) {
        reply({200, "application/json", "{}", {}});
    }, keys::Scope::read);
    auto a = keys::mint("etat-civil", "", static_cast<keys::Scopes>(keys::Scope::read), false, 0, 0);
    auto b = keys::mint("social", "", static_cast<keys::Scopes>(keys::Scope::read), false, 0, 0);
    routes.set_keys(keys::KeyRing({a.key, b.key}, "ops-token"));
    routes.set_request_rate(3);
    for (int i = 0; i < 3; ++i) CHECK(status_of(routes, "GET", "/v1/messages/m", "Bearer " + a.token) == 200);
    Request req;
    req.method = "GET";
    req.path = "/v1/messages/m";
    req.headers.emplace_back("authorization", "Bearer " + a.token);
    Response slow;
    routes.dispatch(req, [&](Response r) { slow = std::move(r); });
    CHECK(slow.status == 429);
    REQUIRE(slow.headers.size() == 1);
    CHECK(slow.headers[0] == std::pair<std::string, std::string>{"Retry-After", "1"});
    CHECK(status_of(routes, "GET", "/v1/messages/m", "Bearer " + b.token) == 200);  // its own bucket
    for (int i = 0; i < 10; ++i) CHECK(status_of(routes, "GET", "/v1/messages/m", "Bearer ops-token") == 200);
    routes.set_request_rate(0);
    CHECK(status_of(routes, "GET", "/v1/messages/m", "Bearer " + a.token) == 200);
}

TEST_CASE("with two listeners, the public one serves the hooks and links only, the internal one everything else") {
    bool reached = false;
    Routes routes = table(&reached);
    routes.set_api_token("s3cret-key");
    auto ok = [](const Request&, std::string_view, Reply reply) { reply({200, "", "", {}}); };
    routes.add("POST", "/hooks/", ok, Access::external);
    routes.add("GET", "/u/", ok, Access::external);
    routes.add("GET", "/livez", ok, Access::probe);
    const std::string key = "Bearer s3cret-key";
    // The public listener: hooks, links and the probe; /v1 and the open /healthz do not exist there.
    CHECK(status_of(routes, "POST", "/hooks/twilio", {}, Exposure::external) == 200);
    CHECK(status_of(routes, "GET", "/u/token", {}, Exposure::external) == 200);
    CHECK(status_of(routes, "GET", "/livez", {}, Exposure::external) == 200);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", key, Exposure::external) == 404);
    CHECK(status_of(routes, "GET", "/healthz", {}, Exposure::external) == 404);
    CHECK(status_of(routes, "GET", "/hooks/twilio", {}, Exposure::external) == 405);
    CHECK_FALSE(reached);
    // The internal listener: everything but the hooks and links.
    CHECK(status_of(routes, "POST", "/hooks/twilio", {}, Exposure::internal) == 404);
    CHECK(status_of(routes, "GET", "/u/token", {}, Exposure::internal) == 404);
    CHECK(status_of(routes, "GET", "/livez", {}, Exposure::internal) == 200);
    CHECK(status_of(routes, "GET", "/v1/messages/m-1", key, Exposure::internal) == 200);
    // One listener: all of them.
    CHECK(status_of(routes, "POST", "/hooks/twilio", {}, Exposure::all) == 200);
    CHECK(status_of(routes, "GET", "/healthz", {}, Exposure::all) == 200);
}

TEST_CASE("every refusal of the route table is an RFC 9457 problem with a type of its own") {
    bool reached = false;
    Routes routes = table(&reached);
    routes.set_api_token("s3cret-key");
    auto answer = [&](const std::string& method, const std::string& path, const std::string& auth = {}) {
        return answer_of(routes, method, path, auth);
    };
    auto type_of = [](const Response& r) {
        const auto at = r.body.find(R"("type":"urn:crieur:problem:)");
        if (at == std::string::npos) return std::string();
        const auto from = at + std::string_view(R"("type":"urn:crieur:problem:)").size();
        return r.body.substr(from, r.body.find('"', from) - from);
    };
    const Response missing = answer("GET", "/v1/messages/m-1");
    CHECK(missing.content_type == "application/problem+json");
    CHECK(type_of(missing) == "key_missing");
    CHECK(missing.body.find(R"("status":401)") != std::string::npos);
    CHECK(type_of(answer("GET", "/v1/messages/m-1", "Bearer nope")) == "key_invalid");
    CHECK(type_of(answer("GET", "/v1/nothing", "Bearer s3cret-key")) == "no_such_route");
    CHECK(type_of(answer("DELETE", "/healthz")) == "method_not_allowed");
    CHECK(type_of(status_problem(503, "try again")) == "unavailable");
    CHECK(problem(422, "citizen_invalid", "contacts.sms: not a number", "contacts.sms").body.find(R"("field":"contacts.sms")") !=
          std::string::npos);
    CHECK_FALSE(reached);
}
