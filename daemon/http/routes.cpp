#include "daemon/http/routes.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>

#include "channels/encoding.hpp"

namespace crieur::http {

void Routes::add(std::string method, std::string path, Handler handler, Access access) {
    routes_.push_back({std::move(method), std::move(path), std::move(handler), access, keys::Scope::operator_});
}

void Routes::add(std::string method, std::string path, Handler handler, keys::Scope scope) {
    routes_.push_back({std::move(method), std::move(path), std::move(handler), Access::key, scope});
}

void Routes::set_body_limit(std::string path, std::uint64_t bytes) { body_limits_.emplace_back(std::move(path), bytes); }

std::uint64_t Routes::body_limit(std::string_view path) const {
    for (auto& [p, bytes] : body_limits_)
        if (p == path) return bytes;
    return kDefaultBodyLimit;
}

std::uint64_t Routes::largest_body_limit() const {
    std::uint64_t most = kDefaultBodyLimit;
    for (auto& [p, bytes] : body_limits_) most = std::max(most, bytes);
    return most;
}

std::int64_t Routes::wait_for(const std::string& key_id) const {
    if (rate_per_s_ <= 0) return 0;
    const auto now = std::chrono::steady_clock::now();
    const double capacity = rate_per_s_;
    auto it = buckets_.try_emplace(key_id, Bucket{capacity, now}).first;
    Bucket& b = it->second;
    b.tokens = std::min(capacity, b.tokens + std::chrono::duration<double>(now - b.at).count() * rate_per_s_);
    b.at = now;
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
    }
    return static_cast<std::int64_t>((1 - b.tokens) * 1000.0 / rate_per_s_) + 1;
}

void Routes::dispatch(const Request& req, Reply reply, Exposure on) const { run(req, std::move(reply), on, nullptr); }

void Routes::call_as(const keys::Caller& caller, const Request& req, Reply reply) const {
    run(req, std::move(reply), Exposure::internal, &caller);
}

void Routes::run(const Request& req, Reply reply, Exposure on, const keys::Caller* as) const {
    // A route the listener does not serve does not exist there: 404, as for any unknown path.
    auto served = [on](const Route& r) {
        switch (on) {
            case Exposure::all: return true;
            case Exposure::internal: return r.access != Access::external;
            case Exposure::external: return r.access == Access::external || r.access == Access::probe;
        }
        return false;
    };
    bool path_known = false;
    // An exact path first: POST /v1/messages/batch is not a message id under POST /v1/messages/.
    const Route* exact = nullptr;
    for (const auto& r : routes_)
        if (r.path == req.path && r.method == req.method && served(r)) exact = &r;
    for (const auto& r : routes_) {
        if ((exact && &r != exact) || !served(r)) continue;
        const bool prefix = r.path.ends_with('/');
        // A session route's prefix is also a page of its own (/ui/, the dashboard's overview).
        const bool match = prefix ? req.path.starts_with(r.path) && (req.path.size() > r.path.size() || r.access == Access::session)
                                  : req.path == r.path;
        if (!match) continue;
        path_known = true;
        if (r.method != req.method) continue;
        if (as) {
            // An internal call: only keyed routes, as the caller given.
            if (r.access != Access::key) return reply(problem(404, "no_such_route", "no such resource: " + req.path));
            req.caller = *as;
            if (!req.caller.has(r.scope))
                return reply(problem(403, "scope_missing", "the role lacks the scope '" + std::string(keys::to_string(r.scope)) +
                                                 "' that " + req.method + " " + r.path + " needs"));
        } else if (r.access == Access::session) {
            if (!session_gate_) return reply(problem(404, "no_such_route", "no such resource: " + req.path));
            auto who = session_gate_(req);
            if (auto* answer = std::get_if<Response>(&who)) return reply(std::move(*answer));
            req.caller = std::move(std::get<keys::Caller>(who));
        } else if (r.access == Access::key) {
            const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
            auto who = keys_->authenticate(req.header("authorization"), now);
            if (auto* no = std::get_if<keys::Refusal>(&who)) {
                Response refused = problem(no->status, no->code, no->reason);
                refused.headers.emplace_back("WWW-Authenticate", "Bearer");
                return reply(std::move(refused));
            }
            req.caller = std::move(std::get<keys::Caller>(who));
            if (const auto wait = req.caller.key_id.empty() ? 0 : wait_for(req.caller.key_id); wait > 0) {
                Response slow = problem(429, "rate_limited", "this key made more than " + std::to_string(rate_per_s_) +
                                                    " requests in a second (http.requests_per_key_per_s); try again shortly");
                slow.headers.emplace_back("Retry-After", std::to_string((wait + 999) / 1000));
                return reply(std::move(slow));
            }
            if (!req.caller.has(r.scope))
                return reply(problem(403, "scope_missing", "this key lacks the scope '" + std::string(keys::to_string(r.scope)) +
                                                 "' that " + req.method + " " + r.path + " needs"));
        }
        r.handler(req, std::string_view(req.path).substr(prefix ? r.path.size() : req.path.size()), std::move(reply));
        return;
    }
    reply(path_known ? problem(405, "method_not_allowed", req.method + " is not a method of " + req.path)
                     : problem(404, "no_such_route", "no such resource: " + req.path));
}

Response problem(int status, std::string_view code, std::string_view detail, std::string_view field) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto text = [&](const char* key, std::string_view v) {
        w.Key(key);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    text("type", "urn:crieur:problem:" + std::string(code));
    text("title", code);
    w.Key("status");
    w.Int(status);
    text("detail", detail);
    if (!field.empty()) text("field", field);
    w.EndObject();
    return {status, "application/problem+json", std::string(b.GetString(), b.GetSize()), {}};
}
std::string_view status_code_name(int status) {
    switch (status) {
        case 400: return "bad_request";
        case 401: return "unauthorized";
        case 403: return "forbidden";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 409: return "conflict";
        case 410: return "gone";
        case 413: return "body_too_large";
        case 422: return "invalid";
        case 429: return "rate_limited";
        case 503: return "unavailable";
        default: return status >= 500 ? "internal" : "bad_request";
    }
}

Response status_problem(int status, std::string_view detail) { return problem(status, status_code_name(status), detail); }

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

}  // namespace crieur::http
