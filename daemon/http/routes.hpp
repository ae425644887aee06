// Routes: the HTTP API as a table of method + path → handler. Handlers see plain request/response
// values (no Beast types), answer through `reply` exactly once, and run on the io_context's
// thread, so they must not block: slow work goes to the receipt store's reader.
// Secure by default: a route asks for the API key (a bearer token) unless it is added as
// Access::open, and the table checks it before the handler runs, so no handler can forget to.
// With no key configured, those routes are closed.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace crieur::http {

struct Request {
    std::string method;  // "GET", "POST", ...
    std::string path;    // without the query string
    std::string query;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

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

// Who may call a route. `open` is for what providers, citizens' mail clients and probes must
// reach without our key: they prove themselves otherwise (a signature, a signed token) or read
// nothing personal (/healthz).
enum class Access { key, open };

class Routes {
public:
    // A path ending in '/' matches every path under it.
    void add(std::string method, std::string path, Handler handler, Access access = Access::key);
    void dispatch(const Request& req, Reply reply) const;
    // The API key (http.api_token); empty: every Access::key route answers 401. Replaced on reload.
    void set_api_token(std::string token) { api_token_ = std::move(token); }

private:
    struct Route {
        std::string method, path;
        Handler handler;
        Access access;
    };
    std::vector<Route> routes_;
    std::string api_token_;
};

Response json_error(int status, std::string_view message);
// Whether the request carries the bearer token (compared in constant time); never with an empty token.
bool authorised(const Request& req, const std::string& api_token);
// Percent-decodes a path segment into `out`; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace crieur::http
