// Routes: the operator HTTP API as a table of method + path → handler. Handlers see plain
// request/response values (no Beast types), answer through `reply` exactly once, and run on the
// io_context's thread, so they must not block: slow work goes to the receipt store's reader.
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

class Routes {
public:
    // A path ending in '/' matches every path under it.
    void add(std::string method, std::string path, Handler handler);
    void dispatch(const Request& req, Reply reply) const;

private:
    struct Route {
        std::string method, path;
        Handler handler;
    };
    std::vector<Route> routes_;
};

Response json_error(int status, std::string_view message);
// The operator API's bearer token (http.api_token): true when none is configured, or when the
// request carries it (compared in constant time).
bool authorised(const Request& req, const std::string& api_token);
// Percent-decodes a path segment into `out`; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace crieur::http
