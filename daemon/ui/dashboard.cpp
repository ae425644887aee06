#include "daemon/ui/dashboard.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "channels/http_client.hpp"
#include "daemon/clock.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/ui/page_values.hpp"
#include "daemon/ui/resources.hpp"

namespace crieur::ui {

using http::Reply;
using http::Request;
using http::Response;
namespace json = rapidjson;

namespace {

constexpr std::string_view kSessionCookie = "crieur_session";
constexpr std::string_view kLoginCookie = "crieur_login";
constexpr std::string_view kLangCookie = "crieur_lang";
// Checked against when the name is unknown, so that an unknown name takes as long as a known
// one: the answer's time tells nobody which accounts exist.
const std::string& dummy_hash() {
    static const std::string h = hash_password("crieur-no-such-operator-password");
    return h;
}

std::string cookie(const Request& req, std::string_view name) {
    const std::string all = req.header("cookie");
    std::string_view rest(all);
    while (!rest.empty()) {
        const auto semi = rest.find(';');
        std::string_view pair = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    }
    return {};
}


// A place to go back to after signing in: a page of the dashboard, nothing else (an open
// redirect would make our sign-in page a phisher's tool).
bool safe_next(std::string_view next) {
    return next.starts_with("/ui/") && next.find("//") == std::string_view::npos && next.find('\\') == std::string_view::npos &&
           next.find_first_of("\r\n") == std::string_view::npos;
}


// What `Scopes` a role gives in the API: a viewer reads, an agent sends and cancels, an admin
// may do everything (the directory included).
keys::Scopes scopes_of(Role r) {
    using keys::Scope;
    auto bit = [](Scope s) { return static_cast<keys::Scopes>(s); };
    switch (r) {
    case Role::viewer: return bit(Scope::read);
    case Role::agent: return bit(Scope::read) | bit(Scope::send) | bit(Scope::cancel) | bit(Scope::events);
    case Role::admin: return bit(Scope::operator_);
    }
    return 0;
}

std::string content_type_of(std::string_view name) {
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (name.ends_with(".png")) return "image/png";
    if (name.ends_with(".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

// The npm files the pages use, under http.ui_assets_dir: a list, not the whole directory.
constexpr std::array<std::string_view, 6> kVendorFiles{
    "leaflet/dist/leaflet.js",           "leaflet/dist/leaflet.css",         "leaflet/dist/images/marker-icon.png",
    "leaflet/dist/images/marker-icon-2x.png", "leaflet/dist/images/marker-shadow.png", "leaflet/dist/images/layers.png",
};

}  // namespace

Dashboard::Dashboard(boost::asio::io_context& io, const Config& config, http::Routes& routes, ReceiptStore& store,
                     const Clock& clock, const Metrics& metrics, Sources sources)
    : io_(io), config_(config), routes_(routes), store_(store), clock_(clock), metrics_(metrics),
      providers_(std::move(sources.providers)), templates_(std::move(sources.templates)),
      journeys_(std::move(sources.journeys)), directory_(sources.directory),
      pages_(config.quiet_hours.time_zone,
             [&] {
                 // The tile server's origin (scheme://host[:port]) for the CSP.
                 const std::string& u = config.http.ui_tiles_url;
                 const auto host = u.find("://");
                 if (host == std::string::npos) return std::string();
                 return u.substr(0, u.find('/', host + 3));
             }()),
      sessions_(config.http.ui_session_idle_s * 1000LL, config.http.ui_session_max_s * 1000LL) {
    reload(config.http);
    for (auto& [name, content] : resources())
        if (name.starts_with("static/"))
            assets_.emplace(std::string(name.substr(7)), std::pair{std::string(content), content_type_of(name)});
    // Read once, before the io_context runs: serving them never touches the disk.
    int found = 0;
    for (auto name : kVendorFiles) {
        std::ifstream in(std::filesystem::path(config.http.ui_assets_dir) / name, std::ios::binary);
        if (!in) continue;
        std::ostringstream content;
        content << in.rdbuf();
        vendor_.emplace(std::string(name), std::pair{content.str(), content_type_of(name)});
        ++found;
    }
    if (found < static_cast<int>(kVendorFiles.size()))
        spdlog::warn("dashboard: Leaflet not found under {} (tools/setup installs it): the campaigns' map will not draw",
                     config.http.ui_assets_dir);
}

Dashboard::~Dashboard() {
    *alive_ = false;
    hasher_.join();
}

void Dashboard::reload(const HttpConfig& http) {
    http_.ui_session_idle_s = http.ui_session_idle_s;
    http_.ui_session_max_s = http.ui_session_max_s;
    http_.ui_secure_cookie = http.ui_secure_cookie;
    sessions_.set_limits(http.ui_session_idle_s * 1000LL, http.ui_session_max_s * 1000LL);
    operators_.clear();
    for (auto& o : http.operators) operators_.emplace(o.name, o);
    sessions_.retain([this](const Session& s) {
        auto it = operators_.find(s.operator_name);
        return it != operators_.end() && !it->second.disabled && it->second.role == s.role;
    });
}

void Dashboard::tick() { sessions_.sweep(now_ms()); }

std::int64_t Dashboard::now_ms() const { return to_unix_ms(clock_.now()); }

keys::Caller Dashboard::caller_of(const Session& s) const {
    keys::Caller c;
    c.name = s.operator_name;
    c.scopes = scopes_of(s.role);
    c.all_services = true;
    return c;
}

// The client's address: the peer's, or behind a trusted proxy the last address of
// X-Forwarded-For that is not a trusted proxy's (the one our proxy saw; what comes before it, the
// client may have written).
std::string Dashboard::client_address(const Request& req) const {
    auto trusted = [&](std::string_view a) {
        return std::find(config_.http.ui_trusted_proxies.begin(), config_.http.ui_trusted_proxies.end(), a) !=
               config_.http.ui_trusted_proxies.end();
    };
    if (!trusted(req.peer)) return req.peer;
    std::string list = req.header("x-forwarded-for");
    std::string_view rest(list);
    while (!rest.empty()) {
        const auto comma = rest.rfind(',');
        std::string_view a = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
        while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
        while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
        if (a.empty() || trusted(a)) continue;
        boost::system::error_code bad;
        const auto ip = boost::asio::ip::make_address(std::string(a), bad);
        return bad ? req.peer : ip.to_string();
    }
    return req.peer;
}

Dashboard::View Dashboard::view_of(const Request& req) {
    View v;
    v.address = client_address(req);
    v.token = cookie(req, kSessionCookie);
    // The language: asked in the link (?lang=), then remembered, then the browser's, French first.
    const std::string asked = [&] {
        for (auto& [k, val] : form_decode(req.query))
            if (k == "lang") return val;
        return cookie(req, kLangCookie);
    }();
    Fields kept;
    for (auto& kv : form_decode(req.query))
        if (kv.first != "lang" && kv.first != "part") kept.push_back(kv);
    v.here = req.path + (kept.empty() ? "" : "?" + form_encode(kept));
    if (asked == "en") v.lang = Lang::en;
    else if (asked.empty() && req.header("accept-language").starts_with("en")) v.lang = Lang::en;
    if (req.caller.name.empty()) return v;
    // The gate found the session: its copy (it may end while the page is made).
    if (const Session* s = sessions_.find(v.token, now_ms(), false)) {
        v.session = *s;
        v.caller = req.caller;
        v.signed_in = true;
    }
    return v;
}

std::variant<keys::Caller, Response> Dashboard::gate(const Request& req) {
    const std::string token = cookie(req, kSessionCookie);
    const bool refreshing = req.query == "part=live";  // the overview's own refresh keeps no session alive
    const Session* s = token.empty() ? nullptr : sessions_.find(token, now_ms(), !refreshing);
    if (!s) {
        // A GET goes to the sign-in page and comes back after; a POST's action is not done.
        std::string to = "/ui/login";
        std::string next = req.path + (req.query.empty() ? "" : "?" + req.query);
        if (req.method == "GET" && safe_next(next)) to += "?next=" + url_encode(next) + (token.empty() ? "" : "&expired=1");
        else if (!token.empty()) to += "?expired=1";
        Response r{303, "text/plain; charset=utf-8", "", {{"Location", to}}};
        if (!token.empty())
            r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=; Path=/ui/; Max-Age=0; HttpOnly; SameSite=Strict");
        return r;
    }
    if (req.method != "GET" && req.method != "HEAD") {
        // A form of ours, from our page: its Origin (browsers send it on every POST) is this
        // host, and it carries the session's token, which no other site can read.
        // Behind a proxy, the host the browser saw is in X-Forwarded-Host when the proxy rewrote Host.
        const std::string origin = req.header("origin");
        auto from = [&](const std::string& host) { return !host.empty() && (origin == "http://" + host || origin == "https://" + host); };
        const bool origin_ok = origin.empty() || from(req.header("host")) || from(req.header("x-forwarded-host"));
        const auto form = form_decode(req.body);
        if (!origin_ok || !same_token(field_of(form, "csrf"), s->csrf)) {
            View v = view_of(req);
            v.session = *s;
            v.caller = caller_of(*s);
            v.signed_in = true;
            audit(v, "csrf_refused", req.path, "forbidden", origin_ok ? "token" : "origin");
            return error_page(v, 403, "error_csrf");
        }
    }
    return caller_of(*s);
}

void Dashboard::audit(const View& v, std::string action, std::string target, std::string outcome, std::string detail) {
    receipts::AuditEntry e;
    e.at_ms = now_ms();
    e.operator_name = v.signed_in ? v.session.operator_name : v.caller.name;
    e.role = v.signed_in ? std::string(to_string(v.session.role)) : std::string();
    e.action = std::move(action);
    e.target = std::move(target);
    e.outcome = std::move(outcome);
    e.detail = std::move(detail);
    e.address = v.address;
    spdlog::info("dashboard: {} {} {} {}", e.operator_name, e.action, e.target, e.outcome);
    store_.record_audit(std::move(e), [](std::error_code ec) {
        if (ec) spdlog::error("dashboard: an audit entry could not be written: {}", ec.message());
    });
}

std::string Dashboard::outcome_of(int status, const json::Document& body) {
    if (status < 300) return "ok";
    if (body.IsObject() && body.HasMember("title") && body["title"].IsString()) return body["title"].GetString();
    return std::string(http::status_code_name(status));
}

std::string Dashboard::problem_text(const View& v, int status, const json::Document& body) const {
    std::string code = outcome_of(status, body);
    std::string known = pages_.text(v.lang, "problem_" + code);
    std::string detail = body.IsObject() && body.HasMember("detail") && body["detail"].IsString() ? body["detail"].GetString() : "";
    std::string out = known.empty() ? pages_.text(v.lang, "problem_other") : known;
    if (body.IsObject() && body.HasMember("field") && body["field"].IsString()) {
        const std::string f = body["field"].GetString();
        std::string label = pages_.text(v.lang, "field_" + f);
        // audience.area.coordinates[0] → the area's label; data.advice → advice.
        if (label.empty() && f.starts_with("audience.")) label = pages_.text(v.lang, "field_" + f.substr(9, f.find_first_of(".[", 9) - 9));
        if (label.empty() && f.starts_with("data.")) label = f.substr(5);
        out += " (" + pages_.text(v.lang, "field") + " « " + (label.empty() ? f : label) + " »)";
    }
    // The API's own words, in English, for what the page's language does not say more precisely.
    if (!detail.empty()) out += " — " + detail;
    return out;
}

void Dashboard::api(const View& v, std::string method, std::string target, std::string body, ApiAnswer done) const {
    Request r;
    r.method = std::move(method);
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = std::move(body);
    r.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
    // With several daemons, a route may ask the others (the lists, a journey kept elsewhere),
    // forwarding the caller's key: the operators' token, when there is one, stands for the
    // signed-in operator there. The role was checked here first, by the route's scope.
    if (!config_.http.api_token.empty()) r.headers.emplace_back("authorization", "Bearer " + config_.http.api_token);
    r.peer = v.address;
    routes_.call_as(v.caller, r, [done = std::move(done)](Response answer) {
        json::Document d;
        d.Parse(answer.body.data(), answer.body.size());
        if (d.HasParseError() || !d.IsObject()) d.SetObject();
        done(answer.status, std::move(d));
    });
}

Response Dashboard::page(const View& v, int status, std::string_view name, json::Document& data, std::string_view nav) const {
    if (!data.IsObject()) data.SetObject();
    auto& a = data.GetAllocator();
    if (v.signed_in) {
        json::Value me(json::kObjectType);
        me.AddMember("name", str(v.session.operator_name, a), a);
        me.AddMember("role", str(to_string(v.session.role), a), a);
        me.AddMember("can_act", allows(v.session.role, Role::agent), a);
        me.AddMember("is_admin", allows(v.session.role, Role::admin), a);
        data.AddMember("me", me, a);
        data.AddMember("csrf", str(v.session.csrf, a), a);
    }
    json::Value nav_flags(json::kObjectType);
    if (!nav.empty()) {
        json::Value key = str(nav, a);
        nav_flags.AddMember(key, json::Value(true), a);
    }
    data.AddMember("nav", nav_flags, a);
    data.AddMember("version", json::Value(CRIEUR_VERSION), a);
    if (!config_.http.ui_town_name.empty()) data.AddMember("town", str(config_.http.ui_town_name, a), a);
    // The other language's link: this page, in it (a form's answer: the page it came from).
    const std::string other = v.lang == Lang::fr ? "en" : "fr";
    const std::string here = v.here.empty() ? std::string("/ui/") : v.here;
    data.AddMember("lang_href", str(here + (here.find('?') == std::string::npos ? "?" : "&") + "lang=" + other, a), a);
    if (!data.HasMember("title")) {
        const std::string title = pages_.text(v.lang, std::string(name) + "_title");
        data.AddMember("title", str(title.empty() ? pages_.text(v.lang, "app_tagline") : title, a), a);
    }
    Response r = pages_.page(status, name, data, v.lang);
    // The language chosen in a link is remembered (a year; it says nothing about anyone).
    r.headers.emplace_back("Set-Cookie", std::string(kLangCookie) + "=" + std::string(to_string(v.lang)) +
                                             "; Path=/ui/; Max-Age=31536000; SameSite=Strict");
    return r;
}

Response Dashboard::error_page(const View& v, int status, std::string_view message_key, std::string detail) const {
    json::Document d(json::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("status", status, a);
    d.AddMember("message", str(pages_.text(v.lang, message_key), a), a);
    if (!detail.empty()) d.AddMember("detail", str(detail, a), a);
    return page(v, status, "error", d, "");
}

Response Dashboard::redirect(const View&, std::string location) const {
    Response r{303, "text/plain; charset=utf-8", "", {{"Location", std::move(location)}}};
    pages_.add_headers(r);
    return r;
}

// ---- Routes ---------------------------------------------------------------------------------

void Dashboard::add_routes() {
    routes_.set_session_gate([this](const Request& req) { return gate(req); });
    using http::Access;
    auto on = [this](auto member) {
        return [this, member](const Request& req, std::string_view, Reply reply) { (this->*member)(req, std::move(reply)); };
    };
    auto on_tail = [this](auto member) {
        return [this, member](const Request& req, std::string_view tail, Reply reply) { (this->*member)(req, tail, std::move(reply)); };
    };
    // The sign-in page and the built-in assets read nothing: open (on the internal listener).
    routes_.add("GET", "/ui/login", on(&Dashboard::sign_in_page), Access::open);
    routes_.add("POST", "/ui/login", on(&Dashboard::sign_in), Access::open);
    routes_.add("GET", "/ui/assets/", [this](const Request& req, std::string_view tail, Reply reply) { asset(tail, req, std::move(reply)); },
                Access::open);
    routes_.add("GET", "/ui/vendor/", [this](const Request& req, std::string_view tail, Reply reply) {
        vendor_asset(tail, req, std::move(reply));
    }, Access::open);
    routes_.add("GET", "/ui", [](const Request&, std::string_view, Reply reply) {
        reply({308, "text/plain; charset=utf-8", "", {{"Location", "/ui/"}}});
    }, Access::open);
    // Everything else: a signed-in operator (the gate), every POST with its CSRF token.
    routes_.add("POST", "/ui/logout", on(&Dashboard::sign_out), Access::session);
    routes_.add("GET", "/ui/", [this](const Request& req, std::string_view tail, Reply reply) {
        if (tail.empty() || tail == "overview") return overview(req, std::move(reply));
        if (tail == "messages") return messages(req, std::move(reply));
        if (tail.starts_with("messages/")) return message(req, tail.substr(9), std::move(reply));
        if (tail == "dead-letters") return dead_letters(req, std::move(reply));
        if (tail == "citizens") return citizens(req, std::move(reply));
        if (tail == "audit") return audit_log(req, std::move(reply));
        if (tail == "campaigns") return campaigns(req, std::move(reply));
        if (tail == "campaigns/new") return campaign_form(req, std::move(reply));
        if (tail == "campaigns/points") return map_points(req, std::move(reply));
        if (tail.starts_with("campaigns/")) return campaign(req, tail.substr(10), std::move(reply));
        if (tail == "journeys") return journeys(req, std::move(reply));
        if (tail.starts_with("journeys/")) return journey(req, tail.substr(9), std::move(reply));
        reply(error_page(view_of(req), 404, "error_not_found"));
    }, Access::session);
    routes_.add("POST", "/ui/messages/", on_tail(&Dashboard::message_action), Access::session);
    routes_.add("POST", "/ui/dead-letters/", on_tail(&Dashboard::dead_letter_action), Access::session);
    routes_.add("POST", "/ui/citizens/", on_tail(&Dashboard::citizen_action), Access::session);
    routes_.add("POST", "/ui/campaigns/new", on(&Dashboard::campaign_submit), Access::session);
    routes_.add("POST", "/ui/campaigns/", on_tail(&Dashboard::campaign_action), Access::session);
    routes_.add("POST", "/ui/journeys/", on_tail(&Dashboard::journey_action), Access::session);
}

void Dashboard::asset(std::string_view name, const Request&, Reply reply) const {
    auto it = assets_.find(name);
    if (it == assets_.end()) return reply({404, "text/plain; charset=utf-8", "no such asset", {}});
    // The URLs carry the build's version (?v=): a year in the cache, a new build a new URL.
    Response r{200, it->second.second, it->second.first, {{"Cache-Control", "public, max-age=31536000, immutable"}}};
    pages_.add_headers(r);
    reply(std::move(r));
}

void Dashboard::vendor_asset(std::string_view name, const Request&, Reply reply) const {
    auto it = vendor_.find(name);
    if (it == vendor_.end()) return reply({404, "text/plain; charset=utf-8", "no such asset", {}});
    Response r{200, it->second.second, it->second.first, {{"Cache-Control", "public, max-age=86400"}}};
    pages_.add_headers(r);
    reply(std::move(r));
}

// ---- Signing in and out ---------------------------------------------------------------------

void Dashboard::sign_in_page(const Request& req, Reply reply) {
    View v = view_of(req);
    if (const std::string t = cookie(req, kSessionCookie); !t.empty() && sessions_.find(t, now_ms()))
        return reply(redirect(v, "/ui/"));
    json::Document d(json::kObjectType);
    auto& a = d.GetAllocator();
    // The sign-in form's own CSRF token (no session yet): a cookie and the same value in the form.
    const std::string login_token = random_token();
    d.AddMember("csrf", str(login_token, a), a);
    std::string next;
    for (auto& [k, val] : form_decode(req.query)) {
        if (k == "next" && safe_next(val)) next = val;
        if (k == "expired") d.AddMember("expired", true, a);
    }
    d.AddMember("next", str(next, a), a);
    Response r = page(v, 200, "login", d, "");
    r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=" + login_token +
                                             "; Path=/ui/login; HttpOnly; SameSite=Strict" +
                                             (http_.ui_secure_cookie || req.header("x-forwarded-proto") == "https" ? "; Secure" : ""));
    reply(std::move(r));
}

void Dashboard::sign_in(const Request& req, Reply reply) {
    View v = view_of(req);
    const auto form = form_decode(req.body);
    const std::string name = field_of(form, "name"), password = field_of(form, "password");
    std::string next = field_of(form, "next");
    if (!safe_next(next)) next = "/ui/";
    auto again = [this, v, name, next](int status, std::string_view key, std::string detail = {}) {
        json::Document d(json::kObjectType);
        auto& a = d.GetAllocator();
        const std::string login_token = random_token();
        d.AddMember("csrf", str(login_token, a), a);
        d.AddMember("next", str(next, a), a);
        d.AddMember("name", str(name, a), a);
        std::string message = pages_.text(v.lang, key);
        if (!detail.empty()) message += " " + detail;
        d.AddMember("error", str(message, a), a);
        Response r = page(v, status, "login", d, "");
        r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=" + login_token + "; Path=/ui/login; HttpOnly; SameSite=Strict");
        return r;
    };
    const std::string login_token = cookie(req, kLoginCookie);
    if (!same_token(field_of(form, "csrf"), login_token)) return reply(again(403, "login_form_expired"));
    if (name.empty() || password.empty()) return reply(again(422, "login_missing"));
    View who = v;
    // What was typed goes to the audit log and the throttle only when it could be a name: not
    // a password typed in the wrong field, not anything else.
    who.caller.name = name_problem(name).empty() ? name : std::string("(not a name)");
    if (const auto wait = throttle_.wait_ms(who.caller.name, who.address, now_ms()); wait > 0) {
        audit(who, "sign_in_refused", "", "throttled");
        const auto minutes = std::to_string((wait + 59'999) / 60'000);
        return reply(again(429, "login_throttled", minutes + " min."));
    }
    if (checks_waiting_ >= kMaxChecks) return reply(again(503, "login_busy"));
    ++checks_waiting_;
    auto it = operators_.find(name);
    const bool known = it != operators_.end() && !it->second.disabled;
    std::string hash = known ? it->second.password_hash : std::string();
    const Role role = known ? it->second.role : Role::viewer;
    // The check takes 0.1 s and 64 MiB: on the hasher's thread, the answer back on the io_context.
    boost::asio::post(hasher_, [this, alive = alive_, who, password, hash, known, role, next, again, reply,
                                secure = http_.ui_secure_cookie || req.header("x-forwarded-proto") == "https"]() mutable {
        // An unknown name is checked against a hash of our own (made here, once, off the io_context).
        const bool matches = password_matches(password, known ? hash : dummy_hash());
        boost::asio::post(io_, [this, alive, who, matches, known, role, next, again, reply, secure]() mutable {
            if (!*alive) return;
            --checks_waiting_;
            if (!matches || !known) {
                throttle_.failed(who.caller.name, who.address, now_ms());
                audit(who, "sign_in_refused", "", "bad_credentials");
                return reply(again(401, "login_wrong"));
            }
            throttle_.succeeded(who.caller.name);
            const std::string token = sessions_.open(who.caller.name, role, now_ms());
            View opened = who;
            opened.session = *sessions_.find(token, now_ms());
            opened.signed_in = true;
            audit(opened, "sign_in", "", "ok");
            Response r = redirect(opened, next);
            r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=" + token + "; Path=/ui/; HttpOnly; SameSite=Strict" +
                                                     (secure ? "; Secure" : ""));
            r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=; Path=/ui/login; Max-Age=0; HttpOnly; SameSite=Strict");
            reply(std::move(r));
        });
    });
}

void Dashboard::sign_out(const Request& req, Reply reply) {
    View v = view_of(req);
    audit(v, "sign_out", "", "ok");
    sessions_.close(v.token);
    Response r = redirect(v, "/ui/login");
    r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=; Path=/ui/; Max-Age=0; HttpOnly; SameSite=Strict");
    reply(std::move(r));
}

}  // namespace crieur::ui
