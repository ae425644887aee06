// The agents' dashboard (issue 16), served under /ui/ on the internal listener: sign-in with an
// operator account, then pages rendered on the server (PageBook) from what the API answers.
// Each page calls the /v1 routes in process as its operator (Routes::call_as), with the scopes
// of the operator's role, so that the dashboard can do nothing the API would refuse its role,
// shows what the API shows (addresses masked), and needs no second copy of any rule.
//
// Sessions (SessionBook): a random token in a cookie (HttpOnly, SameSite=Strict, Secure behind
// TLS), ended after http.ui_session_idle_s without a request or http.ui_session_max_s in all.
// Every POST carries the session's CSRF token, checked by the session gate before any handler
// runs. Sign-ins are throttled per name and per address (LoginThrottle); a password is checked
// (Argon2id, about 0.1 s and 64 MiB) on a thread of its own, never on the io_context's.
// Every action, sign-ins included, goes to the audit log (receipts, migration 11).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "channels/registry.hpp"
#include "daemon/config.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/ui/page_book.hpp"
#include "daemon/ui/page_values.hpp"
#include "daemon/ui/session_book.hpp"

namespace crieur {
class Clock;
struct Metrics;
class ReceiptStore;
namespace directory {
class DirectoryService;
}
namespace render {
class TemplateStore;
}
namespace journeys {
class JourneyLibrary;
}
}  // namespace crieur

namespace crieur::ui {

class Dashboard {
public:
    using Providers = std::function<std::vector<ChannelRegistry::ProviderState>()>;
    using Templates = std::function<std::shared_ptr<const render::TemplateStore>()>;
    using Journeys = std::function<std::shared_ptr<const journeys::JourneyLibrary>()>;
    // What the pages read beside the API: the providers' state, the templates in force (the
    // campaign form's choices and previews), the directory's long-read connection (the map's points).
    struct Sources {
        Providers providers;
        Templates templates;
        Journeys journeys;
        directory::DirectoryService& directory;
    };
    // Throws std::runtime_error when a built-in page does not compile (a build's mistake).
    Dashboard(boost::asio::io_context& io, const Config& config, http::Routes& routes, ReceiptStore& store,
              const Clock& clock, const Metrics& metrics, Sources sources);
    ~Dashboard();
    Dashboard(const Dashboard&) = delete;
    Dashboard& operator=(const Dashboard&) = delete;

    void add_routes();
    // The accounts and session limits read again (SIGHUP): a session whose account was disabled,
    // removed or given another role ends now.
    void reload(const HttpConfig& http);
    // Drops expired sessions (the daemon's tick).
    void tick();

    std::size_t sessions() const { return sessions_.size(); }

private:
    // One request's: who (the session, copied), in which language, from where.
    struct View {
        std::string token;
        Session session;
        keys::Caller caller;
        Lang lang = Lang::fr;
        std::string address;
        std::string here;  // the page's path and query, without its lang: the other language's link
        bool signed_in = false;
    };
    using ApiAnswer = std::function<void(int status, rapidjson::Document body)>;

    std::variant<keys::Caller, http::Response> gate(const http::Request& req);
    View view_of(const http::Request& req);
    std::string client_address(const http::Request& req) const;
    keys::Caller caller_of(const Session& s) const;
    std::int64_t now_ms() const;

    // An API route called as the view's operator: its status and its JSON (an object; a problem
    // document when it failed).
    void api(const View& v, std::string method, std::string target, std::string body, ApiAnswer done) const;
    // The page with the view's operator, CSRF token and navigation in `data`.
    http::Response page(const View& v, int status, std::string_view name, rapidjson::Document& data,
                        std::string_view nav) const;
    http::Response error_page(const View& v, int status, std::string_view message_key, std::string detail = {}) const;
    http::Response redirect(const View& v, std::string location) const;
    void audit(const View& v, std::string action, std::string target, std::string outcome, std::string detail = {});
    // The outcome of an action for the audit log: "ok", or the API's problem code.
    static std::string outcome_of(int status, const rapidjson::Document& body);
    // A problem document as a sentence in the page's language, naming its field.
    std::string problem_text(const View& v, int status, const rapidjson::Document& body) const;

    void sign_in_page(const http::Request& req, http::Reply reply);
    void sign_in(const http::Request& req, http::Reply reply);
    void sign_out(const http::Request& req, http::Reply reply);
    void overview(const http::Request& req, http::Reply reply);
    void messages(const http::Request& req, http::Reply reply);
    void message(const http::Request& req, std::string_view tail, http::Reply reply);
    void message_action(const http::Request& req, std::string_view tail, http::Reply reply);
    void resend(const View& v, const std::string& id, const std::string& channel, http::Reply reply);
    void dead_letters(const http::Request& req, http::Reply reply);
    void dead_letter_action(const http::Request& req, std::string_view tail, http::Reply reply);
    void citizens(const http::Request& req, http::Reply reply);
    void citizen_action(const http::Request& req, std::string_view tail, http::Reply reply);
    void audit_log(const http::Request& req, http::Reply reply);
    void campaigns(const http::Request& req, http::Reply reply);
    void campaign_form(const http::Request& req, http::Reply reply);
    void campaign_submit(const http::Request& req, http::Reply reply);
    void campaign(const http::Request& req, std::string_view id, http::Reply reply);
    void campaign_action(const http::Request& req, std::string_view tail, http::Reply reply);
    void map_points(const http::Request& req, http::Reply reply);
    void journeys(const http::Request& req, http::Reply reply);
    void journey(const http::Request& req, std::string_view id, http::Reply reply);
    void journey_action(const http::Request& req, std::string_view tail, http::Reply reply);
    // The campaign form for a template, filled from `form` (a GET's query or a POST's body).
    rapidjson::Document campaign_form_data(const View& v, const std::string& template_name, const Fields& form) const;
    void asset(std::string_view name, const http::Request& req, http::Reply reply) const;
    void vendor_asset(std::string_view name, const http::Request& req, http::Reply reply) const;

    boost::asio::io_context& io_;
    const Config& config_;
    http::Routes& routes_;
    ReceiptStore& store_;
    const Clock& clock_;
    const Metrics& metrics_;
    Providers providers_;
    Templates templates_;
    Journeys journeys_;
    directory::DirectoryService& directory_;
    PageBook pages_;
    SessionBook sessions_;
    LoginThrottle throttle_;
    std::map<std::string, Operator, std::less<>> operators_;  // by name
    HttpConfig http_;  // the session and cookie settings in force
    // The built-in static files and the npm assets, read once at start (content, type).
    std::map<std::string, std::pair<std::string, std::string>, std::less<>> assets_, vendor_;
    // Password checks, one at a time off the io_context; more than kMaxChecks waiting: refused.
    boost::asio::thread_pool hasher_{1};
    int checks_waiting_ = 0;
    static constexpr int kMaxChecks = 8;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace crieur::ui
