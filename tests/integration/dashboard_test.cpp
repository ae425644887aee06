// The agents' dashboard over HTTP, as a browser speaks it (cookies, forms, redirects), against the
// real daemon, Redis and SQLite: signing in and being refused, the pages showing what was sent, a
// message cancelled, a dead letter requeued and discarded, a citizen erased, every action in the
// audit log; and what must not work: a forged or cross-site POST, a viewer's action, an expired
// session, a disabled account, a guessed password past the throttle. The pages in a real browser
// (Chromium, axe-core, the keyboard) are tests/ui/dashboard.mjs, run by the last test here.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "channels/http_client.hpp"
#include "daemon/ui/operators.hpp"
#include "support/daemon_fixture.hpp"
#include "support/openapi_check.hpp"
#include "support/town.hpp"

using namespace crieur;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "correct horse battery staple";

void write_operators(const std::string& path, const std::vector<std::pair<std::string, ui::Role>>& who, bool disabled_vic = false) {
    std::ofstream out(path);
    for (auto& [name, role] : who) {
        ui::Operator o{name, role, ui::hash_password(kPassword), disabled_vic && name == "vic", 1, 1};
        out << ui::to_json_line(o) << "\n";
    }
}

// A browser without the browser: a cookie jar, the CSRF token of the last page, forms posted.
struct Agent {
    int port;
    std::map<std::string, std::string> cookies;
    std::string csrf;
    std::string origin;  // the Origin header a browser sends with a POST; empty: none

    // The test client's requests say "Host: 127.0.0.1": a browser's Origin for that host.
    explicit Agent(int p) : port(p), origin("http://127.0.0.1") {}

    std::vector<std::string> extra;  // more header lines ("X-Forwarded-For: ...")

    std::vector<std::string> headers() const {
        std::string c;
        for (auto& [k, v] : cookies) c += (c.empty() ? "" : "; ") + k + "=" + v;
        std::vector<std::string> h = extra;
        if (!c.empty()) h.push_back("Cookie: " + c);
        return h;
    }
    void keep(const HttpResult& r) {
        static const std::regex set_cookie(R"(Set-Cookie: ([a-z_]+)=([^;\r\n]*)([^\r\n]*))", std::regex::icase);
        for (std::sregex_iterator it(r.head.begin(), r.head.end(), set_cookie), end; it != end; ++it) {
            const std::string name = (*it)[1], value = (*it)[2], rest = (*it)[3];
            if (value.empty() || rest.find("Max-Age=0") != std::string::npos) cookies.erase(name);
            else cookies[name] = value;
        }
        static const std::regex token(R"re(name="csrf" value="([^"]+)")re");
        std::smatch m;
        if (std::regex_search(r.body, m, token)) csrf = m[1];
    }
    HttpResult get(const std::string& path) {
        auto r = http_request(port, "GET", path, {}, headers());
        keep(r);
        return r;
    }
    HttpResult post(const std::string& path, std::vector<std::pair<std::string, std::string>> form, bool with_csrf = true) {
        if (with_csrf) form.emplace_back("csrf", csrf);
        auto h = headers();
        h.push_back("Content-Type: application/x-www-form-urlencoded");
        if (!origin.empty()) h.push_back("Origin: " + origin);
        auto r = http_request(port, "POST", path, form_encode(form), h);
        keep(r);
        return r;
    }
    HttpResult sign_in(const std::string& name, const std::string& password = kPassword) {
        get("/ui/login");
        return post("/ui/login", {{"name", name}, {"password", password}, {"next", "/ui/"}});
    }
};

struct DashboardRig {
    TempDir dir;
    RedisServer redis{dir / "redis"};
    std::unique_ptr<DaemonUnderTest> daemon;

    explicit DashboardRig(std::string extra_http = {}) {
        write_operators(dir / "operators.jsonl", {{"lea", ui::Role::agent}, {"ana", ui::Role::admin}, {"vic", ui::Role::viewer}});
        DaemonOptions o;
        o.extra_http = "operators_file = \"operators.jsonl\"\n" + extra_http;
        daemon = std::make_unique<DaemonUnderTest>(dir, redis, o);
        daemon->start();
    }
    Agent agent() const { return Agent(daemon->http_port()); }
};

// The audit log is written by the receipts' writer after the answer: a count waited for.
bool audit_reaches(const DaemonUnderTest& d, const std::string& where, std::int64_t n) {
    return wait_until([&] { return d.query("SELECT count(*) FROM audit WHERE " + where) == n; }, std::chrono::seconds(5));
}

int count_of(const std::string& body, const std::string& what) {
    int n = 0;
    for (auto at = body.find(what); at != std::string::npos; at = body.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("dashboard: every page asks for a sign-in, a wrong password is refused, and past 5 failures the name waits") {
    DashboardRig rig;
    Agent a = rig.agent();
    auto r = a.get("/ui/messages?status=sent");
    CHECK(r.status == 303);
    CHECK(r.header("Location") == "/ui/login?next=%2Fui%2Fmessages%3Fstatus%3Dsent");
    CHECK(a.get("/ui/audit").status == 303);
    CHECK(a.post("/ui/logout", {}).status == 303);  // no session: nothing done
    // The assets and the sign-in page read nothing: open; the API stays behind its key.
    CHECK(a.get("/ui/assets/crieur.css").status == 200);
    CHECK(http_get(rig.daemon->http_port(), "/v1/dead-letters").status == 401);

    auto page = a.get("/ui/login");
    CHECK(page.status == 200);
    CHECK(page.body.find("<html lang=\"fr\">") != std::string::npos);
    CHECK(page.header("Content-Security-Policy").find("script-src 'self'") != std::string::npos);
    // The other language's link keeps the page and where the sign-in leads.
    CHECK(a.get("/ui/login?next=%2Fui%2Faudit&lang=fr").body.find(R"(href="/ui/login?next=%2Fui%2Faudit&amp;lang=en")") != std::string::npos);
    // A form posted without the sign-in page's token (another site's form) is refused.
    Agent other = rig.agent();
    CHECK(other.post("/ui/login", {{"name", "lea"}, {"password", kPassword}}, false).status == 403);

    r = a.post("/ui/login", {{"name", "lea"}, {"password", "not the password"}});
    CHECK(r.status == 401);
    CHECK(r.body.find("Identifiant ou mot de passe incorrect") != std::string::npos);
    CHECK(a.cookies.count("crieur_session") == 0);
    // An unknown name gets the same answer.
    CHECK(a.post("/ui/login", {{"name", "nobody"}, {"password", "not the password"}}).status == 401);
    for (int i = 0; i < 4; ++i) a.post("/ui/login", {{"name", "lea"}, {"password", "guess " + std::to_string(i)}});
    r = a.post("/ui/login", {{"name", "lea"}, {"password", kPassword}});  // the right one, too late
    CHECK(r.status == 429);
    CHECK(r.body.find("Trop de tentatives") != std::string::npos);
    CHECK(a.cookies.count("crieur_session") == 0);

    // Another account signs in; its cookie is HttpOnly and SameSite=Strict, and not Secure over plain http.
    Agent b = rig.agent();
    b.get("/ui/login?lang=en");
    r = b.post("/ui/login", {{"name", "ana"}, {"password", kPassword}, {"next", "/ui/audit"}});
    CHECK(r.status == 303);
    CHECK(r.header("Location") == "/ui/audit");
    CHECK(r.head.find("crieur_session=") != std::string::npos);
    CHECK(r.head.find("; Path=/ui/; HttpOnly; SameSite=Strict\r\n") != std::string::npos);
    // Somewhere else than a page of ours is never where a sign-in leads.
    Agent c = rig.agent();
    c.get("/ui/login");
    CHECK(c.post("/ui/login", {{"name", "ana"}, {"password", kPassword}, {"next", "https://evil.example/"}}).header("Location") == "/ui/");
    REQUIRE(audit_reaches(*rig.daemon, "action = 'sign_in'", 2));  // written after the answers
    auto audit = b.get("/ui/audit");
    CHECK(audit.status == 200);
    CHECK(audit.body.find("Audit log") != std::string::npos);  // the language chosen at sign-in
    CHECK(count_of(audit.body, "data-action=\"sign_in_refused\"") >= 7);
    CHECK(count_of(audit.body, "data-action=\"sign_in\"") == 2);
    CHECK(audit.body.find("throttled") != std::string::npos);
    CHECK(audit_reaches(*rig.daemon, "action = 'sign_in_refused' AND operator = 'nobody'", 1));
}

TEST_CASE("dashboard: behind a trusted proxy the client is the address X-Forwarded-For names, for the throttle and the audit log") {
    DashboardRig rig("ui_trusted_proxies = [\"127.0.0.1\"]\nui_town_name = \"Mairie de Lyon\"\n");
    Agent a = rig.agent();
    a.extra = {"X-Forwarded-For: 198.51.100.7, 203.0.113.9"};  // what the client wrote, then what our proxy saw
    auto page = a.get("/ui/login");
    CHECK(page.body.find("<title>Connexion · Mairie de Lyon · crieur</title>") != std::string::npos);
    REQUIRE(a.sign_in("lea").status == 303);
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM audit WHERE action = 'sign_in' AND address = '203.0.113.9'") == 1; }, 5s));
    // 20 failures from one client lock that client out, not the others behind the same proxy.
    Agent guesser = rig.agent();
    guesser.extra = {"X-Forwarded-For: 203.0.113.66"};
    for (int i = 0; i < 20; ++i) {
        guesser.get("/ui/login");
        guesser.post("/ui/login", {{"name", "user" + std::to_string(i)}, {"password", "guess"}});
    }
    guesser.get("/ui/login");
    CHECK(guesser.post("/ui/login", {{"name", "ana"}, {"password", kPassword}}).status == 429);
    Agent other = rig.agent();
    other.extra = {"X-Forwarded-For: 203.0.113.67"};
    CHECK(other.sign_in("ana").status == 303);
}

TEST_CASE("dashboard: an agent sees what was sent, reads a message timeline and cancels a scheduled one, the audit log says so") {
    DashboardRig rig;
    auto redis = rig.redis.client();
    enqueue(redis, {sms_job("dash-sent-1"), sms_job("dash-sent-2"),
                    sms_job("dash-later", R"(,"not_before":"2099-01-01T09:00:00+01:00")")});
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE status IN ('sent','scheduled')") == 3; }, 10s));
    Agent a = rig.agent();
    REQUIRE(a.sign_in("lea").status == 303);
    auto overview = a.get("/ui/");
    CHECK(overview.status == 200);
    CHECK(overview.body.find("<td data-status=\"sent\">2</td>") != std::string::npos);
    CHECK(overview.body.find("<td data-status=\"scheduled\">1</td>") != std::string::npos);
    CHECK(overview.body.find("<td data-status=\"total\">3</td>") != std::string::npos);
    // The live part alone, for the page's refresh.
    auto live = a.get("/ui/?part=live");
    CHECK(live.body.find("<html") == std::string::npos);
    CHECK(live.body.find("data-status=\"sent\">2<") != std::string::npos);

    auto list = a.get("/ui/messages?status=sent");
    CHECK(list.status == 200);
    CHECK(list.body.find("/ui/messages/dash-sent-1") != std::string::npos);
    CHECK(list.body.find("/ui/messages/dash-later") == std::string::npos);
    CHECK(a.get("/ui/messages?since=yesterday").status == 422);

    auto msg = a.get("/ui/messages/dash-sent-1");
    CHECK(msg.status == 200);
    CHECK(msg.body.find("+33612345678") == std::string::npos);  // masked
    CHECK(msg.body.find("Tentative 1") != std::string::npos);
    CHECK(msg.body.find("outbox") != std::string::npos);
    CHECK(msg.body.find("/cancel") == std::string::npos);  // sent: nothing to cancel

    auto later = a.get("/ui/messages/dash-later");
    CHECK(later.body.find("action=\"/ui/messages/dash-later/cancel\"") != std::string::npos);
    auto done = a.post("/ui/messages/dash-later/cancel", {});
    CHECK(done.status == 303);
    CHECK(done.header("Location") == "/ui/messages/dash-later?done=cancelled");
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'dash-later' AND status = 'cancelled'") == 1; }, 5s));
    CHECK(a.get("/ui/messages/dash-later?done=cancelled").body.find("Le message est annulé.") != std::string::npos);
    CHECK(a.get("/ui/messages/nope").status == 404);
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM audit WHERE operator = 'lea' AND action = 'message_cancel' AND target = 'dash-later' AND outcome = 'ok' AND role = 'agent'") == 1; }, 5s));
    // The agent's own audit page shows their actions, not the others'.
    auto audit = a.get("/ui/audit");
    CHECK(audit.body.find("data-action=\"message_cancel\"") != std::string::npos);
}

TEST_CASE("dashboard: a campaign message is sent again on another channel, once, with the campaign's content") {
    DashboardRig rig;
    REQUIRE(rig.daemon->api("PUT", "/v1/citizens/C-5", R"({"channels":["sms","email"],"contacts":{"sms":"+33612345675","email":"c5@example.fr"}})").status == 201);
    auto launched = rig.daemon->api("POST", "/v1/campaigns",
        R"({"id":"coupure-r","service":"voirie","template":"street_event","channels":["sms"],"audience":{"citizens":["C-5"]},)"
        R"("data":{"street":"rue Garibaldi","event":"Coupure d'électricité","starts":"14 h","ends":"16 h","advice":"Débranchez.","info_url":"https://mairie.example.fr/travaux"}})");
    REQUIRE(launched.status == 202);
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'coupure-r:C-5' AND status = 'sent'") == 1; }, 10s));
    Agent a = rig.agent();
    REQUIRE(a.sign_in("lea").status == 303);
    auto page = a.get("/ui/messages/coupure-r:C-5");
    CHECK(page.body.find(R"(action="/ui/messages/coupure-r:C-5/resend")") != std::string::npos);
    CHECK(page.body.find(R"(<option value="email">)") != std::string::npos);
    CHECK(page.body.find(R"(<option value="sms">)") == std::string::npos);  // the channel it went on
    auto r = a.post("/ui/messages/coupure-r:C-5/resend", {{"channel", "email"}});
    CHECK(r.status == 303);
    CHECK(r.header("Location") == "/ui/messages/coupure-r%3AC-5~email?done=resent");
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'coupure-r:C-5~email' AND channel = 'email' AND status = 'sent'") == 1; }, 10s));
    CHECK(read_file(rig.daemon->outbox("email")).find("rue Garibaldi") != std::string::npos);
    CHECK(a.post("/ui/messages/coupure-r:C-5/resend", {{"channel", "email"}}).status == 303);  // again: the same job id
    std::this_thread::sleep_for(500ms);
    CHECK(outbox_counts(rig.daemon->outbox("email"))["coupure-r:C-5~email"] == 1);
    // A message of a service's own job cannot be rebuilt: no form, and the POST says why.
    auto redis = rig.redis.client();
    enqueue(redis, {sms_job("own-1")});
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'own-1' AND status = 'sent'") == 1; }, 10s));
    CHECK(a.get("/ui/messages/own-1").body.find("/resend") == std::string::npos);
    CHECK(a.post("/ui/messages/own-1/resend", {{"channel", "email"}}).status == 409);
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM audit WHERE action = 'message_resend' AND target = 'coupure-r:C-5' AND outcome = 'ok' AND detail = 'email'") == 2; }, 5s));
}

TEST_CASE("dashboard: a POST without the session's CSRF token, or from another origin, does nothing and is logged") {
    DashboardRig rig;
    auto redis = rig.redis.client();
    enqueue(redis, {sms_job("csrf-later", R"(,"not_before":"2099-01-01T09:00:00+01:00")")});
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE status = 'scheduled'") == 1; }, 10s));
    Agent a = rig.agent();
    REQUIRE(a.sign_in("lea").status == 303);
    a.get("/ui/messages/csrf-later");
    const std::string good = a.csrf;
    a.csrf = "forged-token-forged-token-forged-token-abcd";
    auto r = a.post("/ui/messages/csrf-later/cancel", {});
    CHECK(r.status == 403);
    CHECK(r.body.find("jeton de sécurité invalide") != std::string::npos);
    a.csrf = good;
    a.origin = "http://evil.example";
    CHECK(a.post("/ui/messages/csrf-later/cancel", {}).status == 403);
    std::this_thread::sleep_for(300ms);
    CHECK(rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'csrf-later' AND status = 'scheduled'") == 1);
    CHECK(audit_reaches(*rig.daemon, "action = 'csrf_refused' AND operator = 'lea'", 2));
    // With both right, it is done.
    a.origin = "http://127.0.0.1";
    CHECK(a.post("/ui/messages/csrf-later/cancel", {}).status == 303);
}

TEST_CASE("dashboard: a viewer reads but has no action button, and its POSTs are refused by the API's scopes") {
    DashboardRig rig;
    auto redis = rig.redis.client();
    enqueue(redis, {sms_job("viewer-later", R"(,"not_before":"2099-01-01T09:00:00+01:00")")});
    redis.command({"XADD", "crieur:jobs", "*", "job", R"({"v":1,"id":"viewer-bad","service":"etat-civil","template":"no_such_template","to":{"sms":"+33612345678"}})"});
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE status IN ('scheduled','rejected')") == 2; }, 10s));
    Agent v = rig.agent();
    REQUIRE(v.sign_in("vic").status == 303);
    auto msg = v.get("/ui/messages/viewer-later");
    CHECK(msg.status == 200);
    CHECK(msg.body.find("/cancel") == std::string::npos);
    auto dead = v.get("/ui/dead-letters");
    CHECK(dead.body.find("viewer-bad") != std::string::npos);
    CHECK(dead.body.find("/requeue") == std::string::npos);
    const std::regex entry_re(R"re(data-entry="([0-9]+-[0-9]+)")re");
    std::smatch m;
    REQUIRE(std::regex_search(dead.body, m, entry_re));
    const std::string entry = m[1];
    // The form's POST, made by hand: the API refuses the role's missing scope.
    auto r = v.post("/ui/messages/viewer-later/cancel", {});
    CHECK(r.status == 403);
    CHECK(r.body.find("Votre rôle ne permet pas cette action") != std::string::npos);
    CHECK(v.post("/ui/dead-letters/" + entry + "/requeue", {}).status == 403);
    CHECK(v.get("/ui/citizens?id=T-1").status == 403);  // the directory: admins only
    // No campaign button for a viewer, and the form's POST refused (the dry run needs the send scope too).
    CHECK(v.get("/ui/campaigns").body.find("/ui/campaigns/new") == std::string::npos);
    auto form = v.get("/ui/campaigns/new?template=street_event");
    CHECK(form.status == 200);
    CHECK(form.body.find("id=\"launch\"") == std::string::npos);
    CHECK(v.post("/ui/campaigns/new", {{"template", "street_event"}, {"service", "voirie"}, {"district", "Gerland"}, {"channels", "sms"},
                                       {"intent", "launch"}}).status == 403);
    std::this_thread::sleep_for(300ms);
    CHECK(rig.daemon->query("SELECT count(*) FROM messages WHERE job_id = 'viewer-later' AND status = 'scheduled'") == 1);
    CHECK(redis.integer({"XLEN", "crieur:dead"}) == 1);
    CHECK(audit_reaches(*rig.daemon, "operator = 'vic' AND outcome = 'scope_missing'", 3));
    CHECK(rig.daemon->api("GET", "/v1/campaigns").body.find(R"("campaigns":[])") != std::string::npos);
}

TEST_CASE("dashboard: a dead letter is requeued back to its stream, another discarded, each once") {
    DashboardRig rig;
    auto redis = rig.redis.client();
    // Unknown templates: dead-lettered; requeued, the first comes back (the template is still unknown).
    for (const char* id : {"dead-1", "dead-2"})
        redis.command({"XADD", "crieur:jobs", "*", "job",
                       std::string(R"({"v":1,"id":")") + id + R"(","service":"etat-civil","template":"no_such_template","to":{"sms":"+33612345678"}})"});
    REQUIRE(wait_until([&] { return redis.integer({"XLEN", "crieur:dead"}) == 2; }, 10s));
    Agent a = rig.agent();
    REQUIRE(a.sign_in("lea").status == 303);
    auto page = a.get("/ui/dead-letters");
    CHECK(page.status == 200);
    CHECK(page.body.find("<code>unknown_template</code>") != std::string::npos);
    CHECK(page.body.find("+33612345678") == std::string::npos);  // the job's data is not shown
    const std::regex entry_re(R"re(<tr data-entry="([0-9]+-[0-9]+)">\s*<td><time[^>]*>[^<]*</time></td>\s*<th scope="row">(dead-[12])</th>)re");
    std::map<std::string, std::string> entries;
    for (std::sregex_iterator it(page.body.begin(), page.body.end(), entry_re), end; it != end; ++it) entries[(*it)[2]] = (*it)[1];
    REQUIRE(entries.size() == 2);
    const auto added_before = entries_added(redis);
    auto r = a.post("/ui/dead-letters/" + entries["dead-1"] + "/requeue", {});
    CHECK(r.status == 303);
    CHECK(r.header("Location") == "/ui/dead-letters?done=requeued");
    CHECK(entries_added(redis) == added_before + 1);  // back on the jobs stream
    // Twice: the entry is gone, nothing more queued.
    CHECK(a.post("/ui/dead-letters/" + entries["dead-1"] + "/requeue", {}).status == 409);
    CHECK(entries_added(redis) == added_before + 1);
    CHECK(a.post("/ui/dead-letters/" + entries["dead-2"] + "/discard", {}).status == 303);
    // dead-1 comes back dead (its template is still unknown): a new entry; dead-2 is gone.
    REQUIRE(wait_until([&] { return redis.integer({"XLEN", "crieur:dead"}) == 1; }, 10s));
    page = a.get("/ui/dead-letters");
    CHECK(page.body.find(">dead-1<") != std::string::npos);
    CHECK(page.body.find(">dead-2<") == std::string::npos);
    CHECK(page.body.find(entries["dead-1"]) == std::string::npos);
    CHECK(audit_reaches(*rig.daemon, "action IN ('dead_letter_requeue','dead_letter_discard') AND outcome = 'ok'", 2));
    CHECK(audit_reaches(*rig.daemon, "action = 'dead_letter_requeue' AND outcome = 'dead_letter_not_found'", 1));
}

TEST_CASE("GET and POST /v1/dead-letters and GET /v1/journey-steps answer as docs/openapi.json says, a service's key sees its own only") {
    DashboardRig rig("keys_file = \"keys.jsonl\"\n");
    auto redis = rig.redis.client();
    for (const char* svc : {"etat-civil", "voirie"})
        redis.command({"XADD", "crieur:jobs", "*", "job",
                       std::string(R"({"v":1,"id":"oa-)") + svc + R"(","service":")" + svc + R"(","template":"no_such_template","to":{"sms":"+33612345678"}})"});
    REQUIRE(wait_until([&] { return redis.integer({"XLEN", "crieur:dead"}) == 2; }, 10s));
    OpenApiResponses seen(rig.dir);
    auto all = seen.add("GET", "/v1/dead-letters", rig.daemon->api("GET", "/v1/dead-letters?limit=1"));
    CHECK(all.status == 200);
    CHECK(all.body.find(R"("total":2)") != std::string::npos);
    CHECK(all.body.find(R"("next_cursor":")") != std::string::npos);  // one of two shown
    CHECK(all.body.find("+33612345678") == std::string::npos);
    seen.add("GET", "/v1/dead-letters", rig.daemon->api("GET", "/v1/dead-letters?limit=0"));
    // A service's key: its own only, and no total.
    const std::string key = create_api_key(*rig.daemon, rig.dir, {"--service", "voirie", "--scopes", "read,send", "--name", "voirie"});
    REQUIRE_FALSE(key.empty());
    rig.daemon->process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return request_as(*rig.daemon, key, "GET", "/v1/dead-letters").status == 200; }, 5s));
    auto own = seen.add("GET", "/v1/dead-letters", request_as(*rig.daemon, key, "GET", "/v1/dead-letters"));
    CHECK(own.body.find("oa-voirie") != std::string::npos);
    CHECK(own.body.find("oa-etat-civil") == std::string::npos);
    CHECK(own.body.find("total") == std::string::npos);
    const std::regex entry_re(R"re("entry":"([0-9]+-[0-9]+)","at":"[^"]*","job_id":"oa-etat-civil")re");
    std::smatch m;
    const std::string full = rig.daemon->api("GET", "/v1/dead-letters").body;
    REQUIRE(std::regex_search(full, m, entry_re));
    const std::string other = m[1];
    CHECK(seen.add("POST", "/v1/dead-letters/{entry}/{action}", request_as(*rig.daemon, key, "POST", "/v1/dead-letters/" + other + "/requeue")).status == 404);
    CHECK(seen.add("POST", "/v1/dead-letters/{entry}/{action}", request_as(*rig.daemon, key, "POST", "/v1/dead-letters/" + other + "/discard")).status == 403);
    CHECK(seen.add("POST", "/v1/dead-letters/{entry}/{action}", rig.daemon->api("POST", "/v1/dead-letters/" + other + "/discard")).status == 200);
    CHECK(seen.add("POST", "/v1/dead-letters/{entry}/{action}", rig.daemon->api("POST", "/v1/dead-letters/" + other + "/discard")).status == 404);
    CHECK(seen.add("POST", "/v1/dead-letters/{entry}/{action}", rig.daemon->api("POST", "/v1/dead-letters/x/requeue")).status == 400);
    CHECK(seen.add("GET", "/v1/dead-letters", http_get(rig.daemon->http_port(), "/v1/dead-letters")).status == 401);
    REQUIRE(rig.daemon->api("PUT", "/v1/citizens/C-1", R"({"channels":["sms"],"contacts":{"sms":"+33612345678"}})").status == 201);
    REQUIRE(rig.daemon->api("POST", "/v1/journeys",
        R"({"journey":"passport_renewal","id":"oa-pp","citizen":"C-1","service":"etat-civil","data":{"expiry_date":"2028-01-01","name":"M","document":"passeport","expires_on":"x","booking_url":"https://mairie.example.fr/rdv"}})").status == 201);
    auto steps = seen.add("GET", "/v1/journey-steps", rig.daemon->api("GET", "/v1/journey-steps"));
    CHECK(steps.body == R"({"steps":[{"journey":"passport_renewal","step":"until_warning","state":"active","instances":1}]})");
    CHECK(seen.add("GET", "/v1/journey-steps", request_as(*rig.daemon, key, "GET", "/v1/journey-steps")).body == R"({"steps":[]})");
    seen.check();
}

TEST_CASE("dashboard: an admin looks a citizen up, masked until asked and audited, and erases them after typing the id") {
    DashboardRig rig;
    REQUIRE(rig.daemon->api("PUT", "/v1/citizens/C-77", R"({"given_name":"Jeanne","family_name":"Martin","channels":["sms"],"contacts":{"sms":"+33612345677"}})").status / 100 == 2);
    Agent a = rig.agent();
    REQUIRE(a.sign_in("ana").status == 303);
    auto page = a.get("/ui/citizens?id=C-77");
    CHECK(page.status == 200);
    CHECK(page.body.find("Jeanne") == std::string::npos);
    CHECK(page.body.find("+33612345677") == std::string::npos);
    CHECK(page.body.find("J…") != std::string::npos);
    auto shown = a.get("/ui/citizens?id=C-77&reveal=1");
    CHECK(shown.body.find("Jeanne") != std::string::npos);
    CHECK(shown.body.find("+33612345677") != std::string::npos);
    CHECK(a.get("/ui/citizens?id=C-404").status == 404);
    // A mistyped confirmation erases nothing.
    auto r = a.post("/ui/citizens/C-77/erase", {{"confirm", "C-7"}});
    CHECK(r.status == 422);
    CHECK(r.body.find("rien n'a été effacé") != std::string::npos);
    CHECK(rig.daemon->api("GET", "/v1/citizens/C-77").status == 200);
    r = a.post("/ui/citizens/C-77/erase", {{"confirm", "C-77"}});
    CHECK(r.status == 303);
    CHECK(rig.daemon->api("GET", "/v1/citizens/C-77").status == 410);
    CHECK(a.get("/ui/citizens?id=C-77").status == 404);
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM audit WHERE operator = 'ana' AND target = 'C-77' AND action IN ('citizen_reveal','citizen_erase')") == 3; }, 5s));
    // An agent may not erase: the API's citizens:write scope is an admin's.
    Agent lea = rig.agent();
    REQUIRE(lea.sign_in("lea").status == 303);
    lea.get("/ui/citizens");
    CHECK(lea.post("/ui/citizens/C-1/erase", {{"confirm", "C-1"}}).status == 403);
}

TEST_CASE("dashboard: a session ends after ui_session_idle_s without a request, and at once when its account is disabled") {
    DashboardRig rig("ui_session_idle_s = 2\n");
    Agent a = rig.agent(), v = rig.agent();
    REQUIRE(a.sign_in("lea").status == 303);
    REQUIRE(v.sign_in("vic").status == 303);
    CHECK(a.get("/ui/").status == 200);
    // The overview's own refresh does not keep a session alive.
    std::this_thread::sleep_for(1200ms);
    CHECK(a.get("/ui/?part=live").status == 200);
    std::this_thread::sleep_for(1200ms);
    auto r = a.get("/ui/messages");
    CHECK(r.status == 303);
    CHECK(r.header("Location").find("expired=1") != std::string::npos);
    CHECK(a.get(r.header("Location")).body.find("Votre session a expiré") != std::string::npos);
    REQUIRE(v.sign_in("vic").status == 303);
    CHECK(v.get("/ui/").status == 200);
    // vic disabled, the daemon reloaded: vic's session ends, and vic cannot sign in again.
    write_operators(rig.dir / "operators.jsonl", {{"lea", ui::Role::agent}, {"ana", ui::Role::admin}, {"vic", ui::Role::viewer}}, true);
    rig.daemon->process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return v.get("/ui/").status == 303; }, 5s));
    CHECK(v.sign_in("vic").status == 401);
    // Signing out ends the session on the server too: the old cookie opens nothing.
    REQUIRE(a.sign_in("lea").status == 303);
    const auto cookie = a.cookies["crieur_session"];
    a.get("/ui/");
    CHECK(a.post("/ui/logout", {}).status == 303);
    a.cookies["crieur_session"] = cookie;
    CHECK(a.get("/ui/").status == 303);
}

TEST_CASE("dashboard: an agent finds a journey by its step, reschedules its wait, pauses, resumes and stops it, each in the history and the audit log") {
    DashboardRig rig;
    REQUIRE(rig.daemon->api("PUT", "/v1/citizens/C-1", R"({"given_name":"Marie","channels":["sms"],"contacts":{"sms":"+33612345678"}})").status == 201);
    auto started = rig.daemon->api("POST", "/v1/journeys",
        R"({"journey":"passport_renewal","id":"pp-ui","citizen":"C-1","service":"etat-civil","data":{"expiry_date":"2028-01-01","name":"Madame Martin","document":"passeport","expires_on":"1er janvier 2028","booking_url":"https://mairie.example.fr/rdv"}})");
    REQUIRE(started.status == 201);
    Agent a = rig.agent();
    REQUIRE(a.sign_in("lea").status == 303);
    auto list = a.get("/ui/journeys");
    CHECK(list.status == 200);
    CHECK(list.body.find(R"(<a href="/ui/journeys?journey=passport_renewal&amp;step=until_warning&amp;state=active" data-count="active">1</a>)") != std::string::npos);
    auto at_step = a.get("/ui/journeys?journey=passport_renewal&step=until_warning&state=active");
    CHECK(at_step.body.find("/ui/journeys/pp-ui") != std::string::npos);
    auto page = a.get("/ui/journeys/pp-ui");
    CHECK(page.status == 200);
    CHECK(page.body.find("id=\"journey-step\">until_warning<") != std::string::npos);
    // The wait's end moved to 5 January 2027, 9:30 in Paris (8:30 UTC).
    auto r = a.post("/ui/journeys/pp-ui/actions", {{"action", "reschedule"}, {"at", "2027-01-05T09:30"}});
    CHECK(r.status == 303);
    CHECK(r.header("Location") == "/ui/journeys/pp-ui?done=journey_reschedule");
    auto shown = rig.daemon->api("GET", "/v1/journeys/pp-ui").body;
    CHECK(shown.find(R"("next_at":"2027-01-05T08:30:00.000Z")") != std::string::npos);
    CHECK(a.post("/ui/journeys/pp-ui/actions", {{"action", "reschedule"}, {"at", "soon"}}).status == 422);
    CHECK(a.post("/ui/journeys/pp-ui/actions", {{"action", "pause"}}).status == 303);
    CHECK(rig.daemon->api("GET", "/v1/journeys/pp-ui").body.find(R"("state":"paused")") != std::string::npos);
    CHECK(a.get("/ui/journeys/pp-ui").body.find("id=\"resume\"") != std::string::npos);
    CHECK(a.post("/ui/journeys/pp-ui/actions", {{"action", "resume"}}).status == 303);
    // A viewer may look, not step in.
    Agent v = rig.agent();
    REQUIRE(v.sign_in("vic").status == 303);
    CHECK(v.get("/ui/journeys/pp-ui").body.find("reschedule-form") == std::string::npos);
    CHECK(v.post("/ui/journeys/pp-ui/actions", {{"action", "stop"}}).status == 403);
    CHECK(a.post("/ui/journeys/pp-ui/actions", {{"action", "stop"}}).status == 303);
    shown = rig.daemon->api("GET", "/v1/journeys/pp-ui").body;
    CHECK(shown.find(R"("state":"ended")") != std::string::npos);
    CHECK(shown.find(R"("by":"lea")") != std::string::npos);  // the history names the agent
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM audit WHERE operator = 'lea' AND target = 'pp-ui' AND outcome = 'ok'") == 4; }, 5s));
    CHECK(audit_reaches(*rig.daemon, "operator = 'vic' AND action = 'journey_stop' AND outcome = 'scope_missing'", 1));
}

TEST_CASE("dashboard in Chromium: axe-core finds no WCAG 2.1 A or AA violation on any page, the keyboard alone searches and signs out") {
    const std::string ui_dir = CRIEUR_SOURCE_DIR "/tests/ui";
    REQUIRE_MESSAGE(std::filesystem::exists(ui_dir + "/node_modules/puppeteer-core"), "tools/setup installs tests/ui's npm packages");
    REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "tools/setup installs Debian's chromium");
    DashboardRig rig;
    auto redis = rig.redis.client();
    enqueue(redis, {sms_job("ui-sent-1"), sms_job("ui-sent-2", R"(,"reference":"dossier-ui-42")"),
                    sms_job("ui-later", R"(,"not_before":"2099-01-01T09:00:00+01:00")")});
    redis.command({"XADD", "crieur:jobs", "*", "job", R"({"v":1,"id":"ui-bad","service":"etat-civil","template":"no_such_template","to":{"sms":"+33612345678"}})"});
    REQUIRE(rig.daemon->api("PUT", "/v1/citizens/C-9", R"({"given_name":"Jeanne","family_name":"Martin","channels":["sms"],"contacts":{"sms":"+33612345679"},"tags":["registre_canicule"]})").status / 100 == 2);
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages") == 4; }, 10s));
    REQUIRE(rig.daemon->api("POST", "/v1/journeys",
        R"({"journey":"passport_renewal","id":"pp-ui","citizen":"C-9","service":"etat-civil","data":{"expiry_date":"2028-01-01","name":"Madame Martin","document":"passeport","expires_on":"1er janvier 2028","booking_url":"https://mairie.example.fr/rdv"}})").status == 201);
    const Town town = make_town();
    write_town(town, rig.dir / "directory.db");
    const std::string shots = CRIEUR_BINARY_DIR "/ui-screenshots", results = rig.dir / "ui-results.json";
    Process node({"node", ui_dir + "/dashboard.mjs", "http://127.0.0.1:" + std::to_string(rig.daemon->http_port()), "ana",
                  kPassword, shots, results, "ui-sent-1", "C-9"},
                 rig.dir / "ui.log",
                 {std::string("CRIEUR_UI_POLYGON=") + R"([[4.82,45.73],[4.87,45.73],[4.87,45.75],[4.84,45.75],[4.84,45.78],[4.82,45.78],[4.82,45.73]])",
                  R"(CRIEUR_UI_EXPECT={"sent":2,"scheduled":1,"rejected":1})", "CRIEUR_UI_REFERENCE=dossier-ui-42", "CRIEUR_UI_JOURNEY=pp-ui"});
    const int rc = node.wait(300s);
    MESSAGE(read_file(rig.dir / "ui.log"));
    MESSAGE(read_file(results));
    CHECK(rc == 0);
    // The campaign drawn in the browser reached exactly whom shapely finds inside what was drawn.
    rapidjson::Document r;
    const std::string text = read_file(results);
    r.Parse(text.c_str());
    REQUIRE(r.IsObject());
    REQUIRE(r.HasMember("drawn_area"));
    const auto inside = inside_by_shapely(town, rig.dir.path().string(), r["drawn_area"].GetString());
    CHECK(inside.size() > 200);
    CHECK(r["preview_citizens"].GetInt64() == static_cast<std::int64_t>(inside.size()));
    std::set<std::string> reached;
    {
        auto db = sqlite::open(rig.daemon->receipts(), SQLITE_OPEN_READONLY);
        sqlite::Stmt s(db.get(), "SELECT citizen FROM messages WHERE campaign = 'coupure-ui-1'");
        while (s.step()) reached.insert(std::string(s.text(0)));
    }
    CHECK(reached == inside);
    // Its resolution went to the same citizens.
    REQUIRE(wait_until([&] { return rig.daemon->query("SELECT count(*) FROM messages WHERE campaign = 'coupure-ui-1~1'") == static_cast<std::int64_t>(inside.size()); }, 30s));
    CHECK(audit_reaches(*rig.daemon, "operator = 'ana' AND action = 'campaign_launch' AND target = 'coupure-ui-1' AND outcome = 'ok'", 1));
    CHECK(audit_reaches(*rig.daemon, "action = 'campaign_followup' AND outcome = 'ok'", 1));
    // What the agent did in the browser reached the daemon.
    CHECK(rig.daemon->api("GET", "/v1/citizens/C-9").status == 410);
    CHECK(audit_reaches(*rig.daemon, "action IN ('dead_letter_requeue','citizen_erase','journey_reschedule') AND outcome = 'ok'", 3));
    for (const char* page : {"login", "overview", "messages", "message", "dead-letters", "citizens", "audit", "campaign-new",
                             "campaign-drawn", "campaign-preview", "campaign", "campaign-done", "campaign-invalid", "journeys", "journey",
                             "message-timeline"})
        CHECK_MESSAGE(std::filesystem::exists(shots + "/" + page + ".png"), page);
}
