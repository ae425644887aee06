// The route table's access rule: every route asks for the API key unless it was added as open,
// and with no key configured those routes are closed.
#include <doctest/doctest.h>

#include "daemon/http/routes.hpp"

using namespace crieur::http;

namespace {
// Dispatches one request and returns the status it got.
int status_of(const Routes& routes, const std::string& method, const std::string& path, const std::string& auth = {}) {
    Request req;
    req.method = method;
    req.path = path;
    if (!auth.empty()) req.headers.emplace_back("authorization", auth);
    int status = 0;
    routes.dispatch(req, [&](Response r) { status = r.status; });
    return status;
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
