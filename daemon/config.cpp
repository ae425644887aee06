#include "daemon/config.hpp"
#include "daemon/ui/operators.hpp"

#include "daemon/config_section.hpp"
#include "daemon/redis/address.hpp"

#include <date/tz.h>
#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace crieur {
namespace {

using config::Section;
using config::resolve;


// A provider instance's name: in receipts, metrics labels, [rate_limits] keys and /hooks/<name>.
bool good_provider_name(const std::string& v) {
    if (v.empty() || v.size() > 63 || v == "outbox") return false;
    return std::all_of(v.begin(), v.end(), [](unsigned char ch) {
        return std::islower(ch) || std::isdigit(ch) || ch == '-' || ch == '_';
    });
}

// The provider instances: [[providers]] entries, each read by its type's own parser, and the
// older form (one [twilio], [ovh], ... section per type, `enabled = true`), read as an instance
// named after its type; plus [provider_defaults] (or the older [providers] table) and [links].
void parse_providers(const toml::table& root, const std::string& file, const std::string& base_dir, Config& c,
                     std::vector<std::string>& problems) {
    const toml::node* providers = root.get("providers");
    {
        const bool old_table = providers && providers->is_table();
        Section s(old_table ? providers->as_table() : root["provider_defaults"].as_table(),
                  old_table ? "providers" : "provider_defaults", file, problems, base_dir);
        auto& d = c.provider_defaults;
        s.path("ca_path", d.ca_path);
        s.boolean("verify_tls", d.verify_tls);
        s.integer("max_connections", d.max_connections, 1, 10'000);
        s.integer("breaker_failures", d.breaker_failures, 1, 10'000);
        s.integer("breaker_open_ms", d.breaker_open_ms, 10, 86'400'000);
        s.integer("breaker_max_open_ms", d.breaker_max_open_ms, 10, 86'400'000);
        s.integer("slow_ms", d.slow_ms, 0, 600'000);
        s.reject_unknown();
        if (old_table && root.get("provider_defaults"))
            problems.push_back(file + ":" + std::to_string(providers->source().begin.line) +
                               ": providers: [providers] and [provider_defaults] are the same settings: keep [provider_defaults]");
    }
    std::map<std::string, long> lines;  // name → where it is defined
    auto add = [&](Section& s, const ProviderType& type, ProviderConfig p) {
        s.integer("weight", p.weight, 0, 1000);
        s.integer("max_connections", p.max_connections, 1, 10'000);
        p.settings = type.parse(s);
        s.reject_unknown();
        p.line = static_cast<int>(s.line());
        if (auto [at, fresh] = lines.emplace(p.name, s.line()); !fresh) {
            s.problem("name", "'" + p.name + "' is already the name of the provider at line " + std::to_string(at->second) +
                                  ": each instance needs its own name");
            return;
        }
        c.providers.push_back(std::move(p));
    };
    std::string types;
    for (auto& t : provider_types()) types += (types.empty() ? "" : ", ") + std::string(t.type);
    if (providers && providers->is_array()) {
        std::size_t index = 0;
        for (auto&& item : *providers->as_array()) {
            const std::string prefix = "providers[" + std::to_string(index++) + "]";
            if (!item.is_table()) {
                problems.push_back(file + ":" + std::to_string(item.source().begin.line) + ": " + prefix +
                                   ": expected a table: write each provider as [[providers]]");
                continue;
            }
            Section s(item.as_table(), prefix, file, problems, base_dir);
            ProviderConfig p;
            s.string("type", p.type, true);
            const ProviderType* type = p.type.empty() ? nullptr : find_provider_type(p.type);
            if (!p.type.empty() && !type) s.problem("type", "'" + p.type + "' is not a provider type (" + types + ")");
            p.name = p.type;
            s.string_checked("name", p.name, good_provider_name,
                             "expected lower-case letters, digits, '-' and '_' (at most 63), not \"outbox\"");
            bool enabled = true;
            s.boolean("enabled", enabled);
            if (!type || !enabled) {
                s.mark_all_seen();
                continue;  // an instance switched off is not checked: it may be half-written
            }
            add(s, *type, std::move(p));
        }
    } else if (providers && !providers->is_table()) {
        problems.push_back(file + ":" + std::to_string(providers->source().begin.line) +
                           ": providers: expected [[providers]] entries");
    }
    // The older form: one section per type.
    std::string old_links_line;
    for (auto& type : provider_types()) {
        const toml::node* n = root.get(type.type);
        if (!n) continue;
        const std::string key(type.type);
        if (!n->is_table()) {
            problems.push_back(file + ":" + std::to_string(n->source().begin.line) + ": " + key + ": unknown key");
            continue;
        }
        Section s(n->as_table(), key, file, problems, base_dir);
        if (type.type == "smtp") {  // the links lived there
            s.string("unsubscribe_url", c.links.unsubscribe_url);
            s.string("tracking_url", c.links.tracking_url);
            s.secret("unsubscribe_secret", c.links.secret);
            if (!c.links.unsubscribe_url.empty() || !c.links.tracking_url.empty() || !c.links.secret.empty())
                old_links_line = file + ":" + std::to_string(s.line());
        }
        bool enabled = false;
        s.boolean("enabled", enabled);
        if (!enabled) {
            s.mark_all_seen();
            continue;
        }
        c.notices.push_back(file + ":" + std::to_string(s.line()) + ": [" + key + "] is read as [[providers]] type = \"" +
                            key + "\", name = \"" + key + "\"");
        ProviderConfig p;
        p.type = key;
        p.name = key;
        add(s, type, std::move(p));
    }
    Section s(root["links"].as_table(), "links", file, problems, base_dir);
    if (s.has("unsubscribe_url") || s.has("tracking_url") || s.has("secret_env") || s.has("secret_file")) {
        if (!old_links_line.empty())
            s.problem("unsubscribe_url", "[links] and the older smtp.unsubscribe_url, tracking_url and unsubscribe_secret (" +
                                             old_links_line + ") say the same: keep [links]");
        c.links = {};
    }
    s.string("unsubscribe_url", c.links.unsubscribe_url);
    s.string("tracking_url", c.links.tracking_url);
    s.secret("secret", c.links.secret);
    s.reject_unknown();
    if ((!c.links.unsubscribe_url.empty() || !c.links.tracking_url.empty()) && c.links.secret.empty())
        s.problem("secret_env", "required (or secret_file) with unsubscribe_url or tracking_url: it signs the links");
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
          std::string all;
          for (auto& p : problems) all += (all.empty() ? "" : "\n") + p;
          return all;
      }()),
      problems_(std::move(problems)) {}

Config parse_config(std::string_view text, const std::string& name, const std::string& base_dir) {
    toml::table root;
    try {
        root = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        throw ConfigError({name + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description())});
    }
    Config c;
    c.file = name;
    std::vector<std::string> problems;
    static const std::set<std::string, std::less<>> kSections{"daemon", "redis", "intake", "receipts",
                                                              "http",   "callbacks", "retention", "outbox", "templates", "log", "directory", "campaigns", "journeys", "router", "retry", "quiet_hours", "rate_limits", "caps", "send_time",
                                                              "provider_defaults", "links"};
    for (auto&& [k, v] : root) {
        // [[providers]] (an array of tables), the older [providers] table, and the older
        // one-section-per-type form ([twilio], ...) are read below.
        if (k.str() == "providers" || find_provider_type(k.str())) continue;
        if (!v.is_table() || !kSections.count(k.str()))
            problems.push_back(name + ":" + std::to_string(v.source().begin.line) + ": " + std::string(k.str()) +
                               ": unknown " + (v.is_table() ? "section" : "key"));
        else
            for (auto&& [sub, sv] : *v.as_table())
                if (sv.is_table() && k.str() != "rate_limits" && k.str() != "caps" && !(k.str() == "router" && (sub.str() == "service_order" || sub.str() == "escalate_after_s" ||
                                                                sub.str() == "urgent_escalate_after_s" || sub.str() == "fallback_on_failure_s" ||
                                                                sub.str() == "retry_late_failure_s")))
                    problems.push_back(name + ":" + std::to_string(sv.source().begin.line) + ": " +
                                       std::string(k.str()) + "." + std::string(sub.str()) + ": unknown section");
    }
    auto section = [&](const char* s) { return Section(root[s].as_table(), s, name, problems, base_dir); };
    parse_providers(root, name, base_dir, c, problems);

    {
        auto s = section("daemon");
        s.integer("drain_timeout_ms", c.daemon.drain_timeout_ms, 0, 3'600'000);
        s.reject_unknown();
    }
    {
        auto s = section("redis");
        auto& r = c.redis;
        s.string("host", r.host);
        s.integer("port", r.port, 1, 65535);
        s.secret("password", r.password);
        s.strings("sentinels", r.sentinels);
        s.string("master_name", r.master_name);
        s.secret("sentinel_password", r.sentinel_password);
        for (auto& address : r.sentinels)
            if (!redis::parse_address(address))
                s.problem("sentinels", "\"" + address + "\" is not host:port (an IPv6 address as [::1]:26379)");
        if (!r.sentinels.empty() && r.master_name.empty())
            s.problem("master_name", "required with sentinels: the name of the set they watch (sentinel monitor <name> ...)");
        if (r.sentinels.empty() && !r.master_name.empty())
            s.problem("master_name", "needs sentinels = [\"host:port\", ...]");
        if (!r.sentinels.empty() && (s.has("host") || s.has("port")))
            s.problem(s.has("host") ? "host" : "port", "not used with sentinels (they name the primary): remove it");
        s.string("stream", r.stream);
        s.string("urgent_stream", r.urgent_stream);
        s.string("dead_stream", r.dead_stream);
        s.string("schedule", r.schedule);
        s.string("group", r.group);
        s.string("consumer", r.consumer);
        s.integer("batch", r.batch, 1, 10'000);
        s.integer("block_ms", r.block_ms, 1, 60'000);
        s.integer("claim_after_ms", r.claim_after_ms, 100, 86'400'000);
        s.integer("claim_interval_ms", r.claim_interval_ms, 50, 3'600'000);
        s.integer("max_deliveries", r.max_deliveries, 1, 1000);
        s.integer("reconnect_max_ms", r.reconnect_max_ms, 10, 600'000);
        s.integer("prune_consumers_after_s", r.prune_consumers_after_s, 0, 30 * 86'400);
        s.boolean("claim_job_ids", r.claim_job_ids);
        s.integer("claim_ttl_s", r.claim_ttl_s, 60, 365 * 86'400);
        s.reject_unknown();
        if (r.urgent_stream.empty()) r.urgent_stream = r.stream + ":urgent";
        if (r.urgent_stream == r.stream || r.urgent_stream == r.dead_stream)
            problems.push_back(name + ": redis.urgent_stream: must differ from redis.stream and redis.dead_stream");
    }
    {
        auto s = section("intake");
        auto& i = c.intake;
        s.size("max_job_bytes", i.max_job_bytes, 256, 16 * 1024 * 1024);
        s.integer("max_inflight", i.max_inflight, 1, 1'000'000);
        std::string on_crash = "resend";
        s.string("on_crash", on_crash, false, {"resend", "unknown"});
        i.on_crash = on_crash == "unknown" ? OnCrash::unknown : OnCrash::resend;
        s.string("default_channel", i.default_channel, false, {"sms", "email", "whatsapp", "push"});
        s.reject_unknown();
    }
    {
        auto s = section("receipts");
        s.string("path", c.receipts.path, true);
        s.integer("batch_max", c.receipts.batch_max, 1, 1'000'000);
        s.string("synchronous", c.receipts.synchronous, false, {"normal", "full"});
        s.integer("cancelled_campaign_hold_s", c.receipts.cancelled_campaign_hold_s, 0, 365 * 86'400);
        s.reject_unknown();
        c.receipts.path = resolve(base_dir, c.receipts.path);
    }
    {
        auto s = section("http");
        s.boolean("enabled", c.http.enabled);
        s.string("listen", c.http.listen);
        s.integer("port", c.http.port, 0, 65535);
        s.integer("max_connections", c.http.max_connections, 1, 1'000'000);
        s.secret("api_token", c.http.api_token);
        s.path("keys_file", c.http.keys_file);
        s.path("operators_file", c.http.operators_file);
        s.integer("ui_session_idle_s", c.http.ui_session_idle_s, 1, 7 * 86'400);
        s.integer("ui_session_max_s", c.http.ui_session_max_s, 1, 30 * 86'400);
        s.boolean("ui_secure_cookie", c.http.ui_secure_cookie);
        s.string_checked("ui_tiles_url", c.http.ui_tiles_url, [](const std::string& v) {
            return v.empty() || ((v.starts_with("https://") || v.starts_with("http://")) && v.find("{z}") != std::string::npos &&
                                 v.find("{x}") != std::string::npos && v.find("{y}") != std::string::npos);
        }, "expected a tile URL with {z}, {x} and {y} (https://tiles.example.org/{z}/{x}/{y}.png), or nothing");
        s.string("ui_tiles_attribution", c.http.ui_tiles_attribution);
        s.path("ui_assets_dir", c.http.ui_assets_dir);
        s.strings("ui_trusted_proxies", c.http.ui_trusted_proxies);
        for (auto& p : c.http.ui_trusted_proxies) {
            boost::system::error_code not_ip;
            boost::asio::ip::make_address(p, not_ip);
            if (not_ip) s.problem("ui_trusted_proxies", "'" + p + "' is not an IP address (the proxy's, as crieurd sees it)");
        }
        s.string("ui_town_name", c.http.ui_town_name);
        s.integer("requests_per_key_per_s", c.http.requests_per_key_per_s, 0, 1'000'000);
        s.string("public_listen", c.http.public_listen);
        s.integer("public_port", c.http.public_port, 0, 65535);
        s.string_checked("advertise_url", c.http.advertise_url, [](const std::string& v) {
            return (v.starts_with("http://") || v.starts_with("https://")) && v.find_first_of(" ?#", 0) == std::string::npos;
        }, "expected the internal listener's base URL as other daemons reach it (http://10.0.0.5:8080)");
        s.reject_unknown();
        if (!c.http.keys_file.empty()) {
            auto read = keys::read_key_file(c.http.keys_file);
            if (!read.error.empty()) s.problem("keys_file", read.error);
            c.http.api_keys = std::move(read.keys);
        }
        if (!c.http.operators_file.empty()) {
            auto read = ui::read_operator_file(c.http.operators_file);
            if (!read.error.empty()) s.problem("operators_file", read.error);
            c.http.operators = std::move(read.operators);
        }
        // Secure by default: a listener others can reach serves the API only behind a key.
        boost::system::error_code bad;
        const auto address = boost::asio::ip::make_address(c.http.listen, bad);
        const toml::node* listen = root["http"]["listen"].node();
        const std::string where = name + ":" + std::to_string(listen ? listen->source().begin.line : 1);
        if (bad)
            problems.push_back(where + ": http.listen: '" + c.http.listen + "' is not an IP address (127.0.0.1, ::1, 0.0.0.0, ...)");
        else if (c.http.enabled && !address.is_loopback() && c.http.api_token.empty() && c.http.keys_file.empty())
            problems.push_back(where + ": http.listen: " + c.http.listen +
                               " is reachable from other machines: set http.keys_file (crieur keys create) or "
                               "http.api_token_file (or api_token_env), or listen on 127.0.0.1");
        // The public listener serves only what must be reachable from outside (hooks, links).
        const toml::node* public_port = root["http"]["public_port"].node();
        const std::string public_where = name + ":" + std::to_string(public_port ? public_port->source().begin.line : 1);
        boost::asio::ip::make_address(c.http.public_listen, bad);
        if (bad) {
            const toml::node* at = root["http"]["public_listen"].node();
            problems.push_back(name + ":" + std::to_string(at ? at->source().begin.line : 1) + ": http.public_listen: '" +
                               c.http.public_listen + "' is not an IP address");
        }
        else if (c.http.enabled && c.http.public_port != 0 && c.http.public_port == c.http.port)
            problems.push_back(public_where + ": http.public_port: " + std::to_string(c.http.public_port) +
                               " is http.port too: the public listener needs a port of its own");
        else if (c.http.enabled && c.http.public_port == 0)
            c.notices.push_back("http.public_port is not set: the providers' callbacks (/hooks/), unsubscribe (/u/) and "
                                "tracking links (/t/) are served by the one listener with /v1; set it to serve them apart");
    }
    {
        auto s = section("callbacks");
        s.path("file", c.callbacks.file);
        s.integer("timeout_ms", c.callbacks.timeout_ms, 100, 120'000);
        s.integer("max_in_flight", c.callbacks.max_in_flight, 1, 1'000);
        s.integer("max_age_s", c.callbacks.max_age_s, 60, 30 * 86'400);
        s.strings("allow_hosts", c.callbacks.allow_hosts);
        s.reject_unknown();
        if (!c.callbacks.file.empty()) {
            auto read = callbacks::read_endpoint_file(c.callbacks.file);
            if (!read.error.empty()) s.problem("file", read.error);
            for (const auto& e : read.endpoints)
                if (auto why = callbacks::url_problem(e.url, c.callbacks.allow_hosts); !why.empty())
                    s.problem("file", c.callbacks.file + ": service " + e.service + ": url: " + why);
            c.callbacks.endpoints = std::move(read.endpoints);
        }
    }
    {
        auto s = section("retention");
        auto& r = c.retention;
        s.integer("personal_days", r.personal_days, 0, 36'500);
        s.integer("days", r.days, 0, 36'500);
        s.integer("dead_letter_days", r.dead_letter_days, 0, 36'500);
        s.integer("audit_days", r.audit_days, 0, 36'500);
        s.boolean("trim_streams", r.trim_streams);
        s.integer("batch", r.batch, 10, 10'000);
        s.integer("interval_s", r.interval_s, 1, 86'400);
        if (r.days > 0 && r.personal_days > r.days)
            s.problem("days", "days = " + std::to_string(r.days) + " removes receipts before their personal fields are due (personal_days = " +
                                  std::to_string(r.personal_days) + "): make days at least personal_days");
        s.reject_unknown();
        if (r.personal_days == 0)
            c.notices.push_back(r.days == 0 ? "retention.personal_days = 0: the receipts' personal fields are kept for ever"
                                            : "retention.personal_days = 0: the receipts' personal fields are kept until the receipts go (retention.days)");
        if (r.days == 0) c.notices.push_back("retention.days = 0: receipts are kept for ever");
    }
    {
        auto s = section("outbox");
        s.string("dir", c.outbox.dir, true);
        s.reject_unknown();
        c.outbox.dir = resolve(base_dir, c.outbox.dir);
    }
    {
        auto s = section("templates");
        s.string("dir", c.templates.dir);
        s.reject_unknown();
        c.templates.dir = resolve(base_dir, c.templates.dir);
    }
    {
        auto s = section("directory");
        s.string("path", c.directory.path);
        s.string_checked(
            "default_region", c.directory.default_region,
            [](const std::string& v) {
                return v.size() == 2 && std::isupper(static_cast<unsigned char>(v[0])) &&
                       std::isupper(static_cast<unsigned char>(v[1]));
            },
            "expected a two-letter country code such as FR");
        s.reject_unknown();
        c.directory.path = c.directory.path.empty()
                               ? (std::filesystem::path(c.receipts.path).parent_path() / "directory.db").string()
                               : resolve(base_dir, c.directory.path);
    }
    {
        auto s = section("campaigns");
        s.string("path", c.campaigns.path);
        s.integer("page", c.campaigns.page, 1, 10'000);
        s.integer("max_backlog", c.campaigns.max_backlog, 0, 100'000'000);
        s.reject_unknown();
        c.campaigns.path = c.campaigns.path.empty()
                               ? (std::filesystem::path(c.receipts.path).parent_path() / "campaigns.db").string()
                               : resolve(base_dir, c.campaigns.path);
    }
    {
        auto s = section("journeys");
        s.string("dir", c.journeys.dir);
        s.string("path", c.journeys.path);
        s.integer("batch", c.journeys.batch, 1, 10'000);
        s.integer("max_backlog", c.journeys.max_backlog, 0, 100'000'000);
        s.reject_unknown();
        c.journeys.dir = c.journeys.dir.empty() ? (std::filesystem::path(c.templates.dir) / "_journeys").string()
                                                : resolve(base_dir, c.journeys.dir);
        c.journeys.path = c.journeys.path.empty()
                              ? (std::filesystem::path(c.receipts.path).parent_path() / "journeys.db").string()
                              : resolve(base_dir, c.journeys.path);
    }
    {
        auto s = section("router");
        auto& r = c.router;
        s.strings("default_order", r.default_order, {"sms", "email", "whatsapp", "push"});
        s.string_lists("service_order", r.service_order, {"sms", "email", "whatsapp", "push"});
        s.strings("consent_required", r.consent_required, {"service", "information", "alert"});
        s.integers_by("escalate_after_s", r.escalate_after_s, {"sms", "email", "whatsapp", "push"}, 1, 30 * 86'400);
        s.integers_by("urgent_escalate_after_s", r.urgent_escalate_after_s, {"sms", "email", "whatsapp", "push"}, 1,
                      30 * 86'400);
        s.integers_by("fallback_on_failure_s", r.fallback_on_failure_s, {"sms", "email", "whatsapp", "push"}, 1,
                      30 * 86'400);
        s.integers_by("retry_late_failure_s", r.retry_late_failure_s, {"sms", "email", "whatsapp", "push"}, 1,
                      30 * 86'400);
        s.reject_unknown();
    }
    {
        auto s = section("quiet_hours");
        auto& q = c.quiet_hours;
        s.boolean("enabled", q.enabled);
        auto hhmm = [](const std::string& v, int& out) {
            if (v.size() != 5 || v[2] != ':' || !std::isdigit(static_cast<unsigned char>(v[0])) ||
                !std::isdigit(static_cast<unsigned char>(v[1])) || !std::isdigit(static_cast<unsigned char>(v[3])) ||
                !std::isdigit(static_cast<unsigned char>(v[4])))
                return false;
            const int h = (v[0] - '0') * 10 + (v[1] - '0'), m = (v[3] - '0') * 10 + (v[4] - '0');
            if (h > 23 || m > 59) return false;
            out = h * 60 + m;
            return true;
        };
        std::string ignored;
        s.string_checked("start", ignored, [&](const std::string& v) { return hhmm(v, q.start_minute); }, "expected HH:MM");
        s.string_checked("end", ignored, [&](const std::string& v) { return hhmm(v, q.end_minute); }, "expected HH:MM");
        s.string_checked(
            "time_zone", q.time_zone,
            [](const std::string& v) {
                try {
                    return date::locate_zone(v) != nullptr;
                } catch (const std::exception&) {
                    return false;
                }
            },
            "expected an IANA time zone such as Europe/Paris");
        s.reject_unknown();
    }
    if (const toml::table* t = root["rate_limits"].as_table()) {
        std::set<std::string, std::less<>> kProviders{"outbox"};
        std::string known = "outbox";
        for (auto& p : c.providers) {
            kProviders.insert(p.name);
            known += ", " + p.name;
        }
        auto fail = [&](const toml::node& n, const std::string& key, const std::string& what) {
            problems.push_back(name + ":" + std::to_string(n.source().begin.line) + ": rate_limits." + key + ": " + what);
        };
        for (auto&& [k, v] : *t) {
            const std::string provider(k.str());
            if (provider == "horizon_ms") {
                auto i = v.value<std::int64_t>();
                if (!v.is_integer() || !i || *i < 0 || *i > 600'000) fail(v, provider, "expected an integer from 0 to 600000");
                else c.rate_limits.horizon_ms = static_cast<int>(*i);
                continue;
            }
            if (!kProviders.count(provider)) {
                fail(v, provider, "no provider of that name (configured: " + known + ")");
                continue;
            }
            const toml::table* limit = v.as_table();
            if (!limit) {
                fail(v, provider, "expected { per_s = 50, burst = 10 }");
                continue;
            }
            RateLimitsConfig::Limit l;
            for (auto&& [lk, lv] : *limit) {
                const std::string key = provider + "." + std::string(lk.str());
                if (lk.str() == "per_s") {
                    auto d = lv.value<double>();
                    if (!d || *d <= 0 || *d > 1e6) fail(lv, key, "expected a number of messages per second above 0");
                    else l.per_s = *d;
                } else if (lk.str() == "burst") {
                    auto i = lv.value<std::int64_t>();
                    if (!lv.is_integer() || !i || *i < 1 || *i > 1'000'000) fail(lv, key, "expected an integer from 1 to 1000000");
                    else l.burst = static_cast<int>(*i);
                } else if (lk.str() == "segments") {
                    if (!lv.is_boolean()) fail(lv, key, "expected true or false");
                    else l.segments = *lv.value<bool>();
                } else if (lk.str() == "segments_per_s") {
                    auto d = lv.value<double>();
                    if (!d || *d <= 0 || *d > 1e6) fail(lv, key, "expected a number of SMS segments per second above 0");
                    else l.segments_per_s = *d;
                } else if (lk.str() == "recipient_every_s") {
                    auto d = lv.value<double>();
                    if (!d || *d <= 0 || *d > 86'400) fail(lv, key, "expected a number of seconds above 0 (at most 86400)");
                    else l.recipient_every_s = *d;
                } else if (lk.str() == "segments_burst") {
                    auto i = lv.value<std::int64_t>();
                    if (!lv.is_integer() || !i || *i < 1 || *i > 1'000'000) fail(lv, key, "expected an integer from 1 to 1000000");
                    else l.segments_burst = static_cast<int>(*i);
                } else {
                    fail(lv, key, "unknown key");
                }
            }
            if (l.per_s <= 0 && l.segments_per_s <= 0 && l.recipient_every_s <= 0) fail(v, provider + ".per_s", "required");
            else if (l.segments && l.segments_per_s > 0)
                fail(v, provider + ".segments", "per_s in segments and segments_per_s together: give per_s in messages, or drop segments_per_s");
            else c.rate_limits.providers[provider] = l;
        }
        if (!c.rate_limits.providers.empty() && c.rate_limits.horizon_ms >= c.redis.claim_after_ms)
            problems.push_back(name + ": rate_limits.horizon_ms (" + std::to_string(c.rate_limits.horizon_ms) +
                               ") must be below redis.claim_after_ms (" + std::to_string(c.redis.claim_after_ms) +
                               "): a job waiting for its slot would be claimed by another daemon");
    }
    {
        auto s = section("send_time");
        s.boolean("enabled", c.send_time.enabled);
        s.integer("window_h", c.send_time.window_h, 1, 24 * 30);
        s.integer("relearn_s", c.send_time.relearn_s, 10, 7 * 86'400);
        s.integer("history_attempts", c.send_time.history_attempts, 1000, 50'000'000);
        int explore_percent = static_cast<int>(c.send_time.explore * 100 + 0.5);
        s.integer("explore_percent", explore_percent, 0, 50);
        c.send_time.explore = explore_percent / 100.0;
        s.reject_unknown();
    }
    {
        auto s = section("caps");
        s.integers_by("citizen_per_day", c.caps.citizen_per_day, {"service", "information", "alert"}, 1, 1'000'000);
        s.integers_by("citizen_per_week", c.caps.citizen_per_week, {"service", "information", "alert"}, 1, 1'000'000);
        s.integers_by("service_per_day", c.caps.service_per_day, {}, 1, 1'000'000'000);
        s.reject_unknown();
    }
    {
        auto s = section("retry");
        s.integer("max_attempts", c.retry.max_attempts, 1, 100);
        s.integer("base_ms", c.retry.base_ms, 1, 86'400'000);
        s.integer("max_ms", c.retry.max_ms, 1, 86'400'000);
        s.reject_unknown();
    }
    {
        auto s = section("log");
        s.string("level", c.log.level, false, {"trace", "debug", "info", "warn", "error"});
        s.reject_unknown();
    }
    if (!problems.empty()) throw ConfigError(std::move(problems));
    return c;
}

Config load_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError({path + ": cannot open the config file"});
    std::stringstream text;
    text << in.rdbuf();
    auto dir = std::filesystem::absolute(path).parent_path().string();
    return parse_config(text.str(), path, dir);
}

}  // namespace crieur
