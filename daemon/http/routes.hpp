// Routes: the HTTP API as a table of method + path → handler. Handlers see plain request/response
// values (no Beast types), answer through `reply` exactly once, and run on the io_context's
// thread, so they must not block: slow work goes to the receipt store's reader.
// Secure by default: a route asks for an API key with its scope (docs/api.md) unless it is added
// as Access::open, and the table checks the key before the handler runs, so no handler can forget
// to; a route added without a scope needs the operator scope. With no key configured, those
// routes are closed. The handler reads who called in `req.caller` (its service, its scopes).
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <memory>
#include <vector>

#include "daemon/keys/api_keys.hpp"

namespace crieur::http {

struct Request {
    std::string method;  // "GET", "POST", ...
    std::string path;    // without the query string
    std::string query;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string peer;  // the client's address (a proxy's, behind one)
    // Set by the route table once the key is checked, before the handler runs (mutable: the
    // request is the server's, the caller is what the table learnt about it).
    mutable keys::Caller caller;

    // The first header of that (lower-case) name, or empty.
    std::string header(std::string_view name) const {
        for (auto& [k, v] : headers)
            if (k == name) return v;
        return {};
    }
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

using Reply = std::function<void(Response)>;
// `tail` is what follows the route's prefix (for "/v1/messages/" routes: the id).
using Handler = std::function<void(const Request& req, std::string_view tail, Reply reply)>;

// Who may call a route, and on which listener (http.port, the internal one; http.public_port,
// the public one, when set):
//   key:      a key with the route's scope; internal listener.
//   open:     no key, reads nothing personal (/readyz); internal listener.
//   external: what providers and citizens' mail clients must reach without our key (/hooks/,
//             /u/, /t/): they prove themselves otherwise (a signature, a signed token); public
//             listener only, so that a reverse proxy publishing it never exposes /v1.
//   probe:    no key, reads nothing (/healthz); every listener, for the probes in front of each.
//   session:  an operator signed in to the dashboard (/ui/): the session gate (set_session_gate)
//             says who, or answers itself (to the sign-in page); internal listener.
enum class Access { key, open, external, probe, session };

// Which routes a listener serves: `all` when there is one listener (http.public_port = 0).
enum class Exposure { all, internal, external };

class Routes {
public:
    // A path ending in '/' matches every path under it (a session route's, itself too: /ui/ is a page).
    void add(std::string method, std::string path, Handler handler, Access access = Access::key);
    void add(std::string method, std::string path, Handler handler, keys::Scope scope);
    void dispatch(const Request& req, Reply reply, Exposure on = Exposure::all) const;
    // Calls a keyed route as `caller`, whose rights were checked elsewhere (the dashboard, for
    // its signed-in operator): the route's scope is still checked, so that a page cannot do
    // more than its operator's role lets the API do.
    void call_as(const keys::Caller& caller, const Request& req, Reply reply) const;
    // Who a session route's request comes from: the caller, or the answer to give instead.
    using SessionGate = std::function<std::variant<keys::Caller, Response>(const Request&)>;
    void set_session_gate(SessionGate gate) { session_gate_ = std::move(gate); }
    // The largest request body a path takes: 1 MiB unless a route set more (a batch of jobs).
    void set_body_limit(std::string path, std::uint64_t bytes);
    std::uint64_t body_limit(std::string_view path) const;
    std::uint64_t largest_body_limit() const;
    static constexpr std::uint64_t kDefaultBodyLimit = 1024 * 1024;
    // The keys (http.keys_file) and the operators' token (http.api_token); none: every keyed
    // route answers 401. Replaced whole on reload.
    void set_keys(keys::KeyRing ring) { keys_ = std::make_shared<const keys::KeyRing>(std::move(ring)); }
    void set_api_token(std::string token) { set_keys(keys::KeyRing({}, std::move(token))); }
    // Requests per second each service key may make (http.requests_per_key_per_s), a second's
    // worth at once; past it, 429 with Retry-After, so that one service cannot starve the others.
    // 0: no limit. The operators' token is not limited.
    void set_request_rate(int per_second) { rate_per_s_ = per_second; }

private:
    struct Route {
        std::string method, path;
        Handler handler;
        Access access;
        keys::Scope scope;
    };
    std::vector<Route> routes_;
    std::vector<std::pair<std::string, std::uint64_t>> body_limits_;  // exact paths
    // Each key's token bucket: tokens left, and when they were counted.
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point at;
    };
    // Milliseconds until the key may call again; 0 when it may now (and a token is spent).
    std::int64_t wait_for(const std::string& key_id) const;
    int rate_per_s_ = 0;
    mutable std::unordered_map<std::string, Bucket> buckets_;  // the io_context's thread only
    std::shared_ptr<const keys::KeyRing> keys_ = std::make_shared<const keys::KeyRing>();
    SessionGate session_gate_;
    void run(const Request& req, Reply reply, Exposure on, const keys::Caller* as) const;
};

// Every error is an RFC 9457 problem document (application/problem+json): `type` is
// urn:crieur:problem:<code>, one per kind of error (docs/api.md), `field` the request's field at
// fault when there is one.
Response problem(int status, std::string_view code, std::string_view detail, std::string_view field = {});
// A problem whose code is the status's own (not_found, conflict, unavailable, ...): for the errors
// that need no finer code than their status.
Response status_problem(int status, std::string_view detail);
std::string_view status_code_name(int status);
// Percent-decodes a path segment into `out`; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace crieur::http
