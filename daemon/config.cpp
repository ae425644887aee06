#include "daemon/config.hpp"

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

// Reads one table's keys into fields, remembering which keys it knew, so that what is left is unknown.
class Section {
public:
    Section(const toml::table* table, std::string prefix, const std::string& file, std::vector<std::string>& problems)
        : table_(table), prefix_(std::move(prefix)), file_(file), problems_(problems) {}

    void integer(const char* key, int& out, long min, long max) {
        const toml::node* n = find(key);
        if (!n) return;
        auto v = n->value<std::int64_t>();
        if (!n->is_integer() || !v) return fail(*n, key, "expected an integer");
        if (*v < min || *v > max)
            return fail(*n, key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
        out = static_cast<int>(*v);
    }
    void size(const char* key, std::size_t& out, long min, long max) {
        int v = static_cast<int>(out);
        integer(key, v, min, max);
        out = static_cast<std::size_t>(v);
    }
    void boolean(const char* key, bool& out) {
        const toml::node* n = find(key);
        if (!n) return;
        if (!n->is_boolean()) return fail(*n, key, "expected true or false");
        out = *n->value<bool>();
    }
    void string(const char* key, std::string& out, bool required = false,
                std::initializer_list<const char*> one_of = {}) {
        const toml::node* n = find(key);
        if (!n) {
            if (required) problems_.push_back(file_ + ":" + std::to_string(line_of_table()) + ": " + name(key) +
                                              ": required key is missing");
            return;
        }
        if (!n->is_string()) return fail(*n, key, "expected a string");
        std::string v = *n->value<std::string>();
        if (required && v.empty()) return fail(*n, key, "must not be empty");
        if (one_of.size() != 0) {
            bool ok = false;
            std::string list;
            for (const char* o : one_of) {
                ok = ok || v == o;
                list += (list.empty() ? "" : ", ") + std::string(o);
            }
            if (!ok) return fail(*n, key, "expected one of: " + list);
        }
        out = std::move(v);
    }
    // A secret: `<key>_env` names an environment variable, `<key>_file` a file; never the value itself.
    void secret(const char* key, std::string& out) {
        const std::string env_key = std::string(key) + "_env", file_key = std::string(key) + "_file";
        if (const toml::node* n = table_ ? table_->get(key) : nullptr) {
            seen_.insert(key);
            fail(*n, key, "secrets are not written in the config: use " + env_key + " or " + file_key);
        }
        std::string env, path;
        string(env_key.c_str(), env);
        string(file_key.c_str(), path);
        if (!env.empty()) {
            const char* v = std::getenv(env.c_str());
            if (!v) return fail(*find_seen(env_key), env_key.c_str(), "environment variable " + env + " is not set");
            out = v;
        } else if (!path.empty()) {
            std::ifstream in(path);
            if (!in) return fail(*find_seen(file_key), file_key.c_str(), "cannot read " + path);
            std::getline(in, out);
            if (out.empty()) return fail(*find_seen(file_key), file_key.c_str(), path + " is empty: an empty secret would open what it guards");
        }
        if (!env.empty() && out.empty())
            return fail(*find_seen(env_key), env_key.c_str(), "environment variable " + env + " is empty");
    }
    // A string that must pass `ok`; `what` says what was expected.
    void string_checked(const char* key, std::string& out, const std::function<bool(const std::string&)>& ok,
                        const std::string& what) {
        const toml::node* n = find(key);
        if (!n) return;
        auto v = n->value<std::string>();
        if (!n->is_string() || !v || !ok(*v)) return fail(*n, key, what);
        out = *v;
    }
    // An array of strings, each one of `one_of` (when given), none twice.
    void strings(const char* key, std::vector<std::string>& out, std::initializer_list<const char*> one_of = {}) {
        const toml::node* n = find(key);
        if (!n) return;
        auto parsed = list_of(*n, key, one_of);
        if (parsed) out = std::move(*parsed);
    }
    // A table of string arrays: { roads = ["push", "sms"], water = ["sms"] }.
    void string_lists(const char* key, std::map<std::string, std::vector<std::string>>& out,
                      std::initializer_list<const char*> one_of = {}) {
        const toml::node* n = find(key);
        if (!n) return;
        if (!n->is_table()) return fail(*n, key, "expected a table of arrays: { service = [\"sms\", \"email\"] }");
        for (auto&& [k, v] : *n->as_table()) {
            const std::string sub = std::string(key) + "." + std::string(k.str());
            if (auto parsed = list_of(v, sub.c_str(), one_of)) out[std::string(k.str())] = std::move(*parsed);
        }
    }
    // A table of integers by channel: { sms = 1800, whatsapp = 7200 }. Replaces the defaults.
    void integers_by(const char* key, std::map<std::string, int>& out, std::initializer_list<const char*> names,
                     long min, long max) {
        const toml::node* n = find(key);
        if (!n) return;
        if (!n->is_table()) return fail(*n, key, "expected a table: { sms = 1800, whatsapp = 7200 }");
        std::map<std::string, int> parsed;
        for (auto&& [k, v] : *n->as_table()) {
            const std::string name(k.str());
            const std::string sub = std::string(key) + "." + name;
            if (names.size() > 0 && std::none_of(names.begin(), names.end(), [&](const char* x) { return name == x; })) {
                std::string list;
                for (const char* x : names) list += (list.empty() ? "" : ", ") + std::string(x);
                return fail(v, sub.c_str(), "expected one of: " + list);
            }
            auto i = v.value<std::int64_t>();
            if (!v.is_integer() || !i || *i < min || *i > max)
                return fail(v, sub.c_str(), "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
            parsed[name] = static_cast<int>(*i);
        }
        out = std::move(parsed);
    }
    void reject_unknown() {
        if (!table_) return;
        for (auto&& [k, v] : *table_)
            if (!seen_.count(std::string(k.str())) && !v.is_table())
                fail(v, std::string(k.str()).c_str(), "unknown key");
    }

private:
    std::optional<std::vector<std::string>> list_of(const toml::node& n, const char* key,
                                                    std::initializer_list<const char*> one_of) {
        if (!n.is_array()) {
            fail(n, key, "expected an array of strings");
            return std::nullopt;
        }
        std::vector<std::string> values;
        for (auto&& item : *n.as_array()) {
            auto v = item.value<std::string>();
            if (!item.is_string() || !v) {
                fail(item, key, "expected an array of strings");
                return std::nullopt;
            }
            bool ok = one_of.size() == 0;
            std::string list;
            for (const char* o : one_of) {
                ok = ok || *v == o;
                list += (list.empty() ? "" : ", ") + std::string(o);
            }
            if (!ok) {
                fail(item, key, "'" + *v + "' is not one of: " + list);
                return std::nullopt;
            }
            if (std::find(values.begin(), values.end(), *v) != values.end()) {
                fail(item, key, "'" + *v + "' is listed twice");
                return std::nullopt;
            }
            values.push_back(*v);
        }
        return values;
    }
    const toml::node* find(const char* key) {
        seen_.insert(key);
        return table_ ? table_->get(key) : nullptr;
    }
    const toml::node* find_seen(const std::string& key) { return table_->get(key); }
    std::string name(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
    long line_of_table() const { return table_ ? static_cast<long>(table_->source().begin.line) : 1; }
    void fail(const toml::node& n, const char* key, const std::string& what) {
        problems_.push_back(file_ + ":" + std::to_string(n.source().begin.line) + ": " + name(key) + ": " + what);
    }

    const toml::table* table_;
    std::string prefix_;
    const std::string& file_;
    std::vector<std::string>& problems_;
    std::set<std::string, std::less<>> seen_;
};

std::string resolve(const std::string& base_dir, const std::string& path) {
    if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
    return (std::filesystem::path(base_dir) / path).lexically_normal().string();
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
                                                              "http",   "outbox", "templates", "log", "directory", "router", "retry", "quiet_hours", "rate_limits", "caps", "send_time",
                                                              "providers", "twilio", "smtp", "whatsapp", "webpush", "ovh", "fcm"};
    for (auto&& [k, v] : root) {
        if (!v.is_table() || !kSections.count(k.str()))
            problems.push_back(name + ":" + std::to_string(v.source().begin.line) + ": " + std::string(k.str()) +
                               ": unknown " + (v.is_table() ? "section" : "key"));
        else
            for (auto&& [sub, sv] : *v.as_table())
                if (sv.is_table() && k.str() != "rate_limits" && k.str() != "caps" && !(k.str() == "router" && (sub.str() == "service_order" || sub.str() == "escalate_after_s" ||
                                                                sub.str() == "urgent_escalate_after_s" || sub.str() == "fallback_on_failure_s")))
                    problems.push_back(name + ":" + std::to_string(sv.source().begin.line) + ": " +
                                       std::string(k.str()) + "." + std::string(sub.str()) + ": unknown section");
    }
    auto section = [&](const char* s) { return Section(root[s].as_table(), s, name, problems); };

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
        s.reject_unknown();
        // Secure by default: a listener others can reach serves the API only behind a key.
        boost::system::error_code bad;
        const auto address = boost::asio::ip::make_address(c.http.listen, bad);
        const toml::node* listen = root["http"]["listen"].node();
        const std::string where = name + ":" + std::to_string(listen ? listen->source().begin.line : 1);
        if (bad)
            problems.push_back(where + ": http.listen: '" + c.http.listen + "' is not an IP address (127.0.0.1, ::1, 0.0.0.0, ...)");
        else if (c.http.enabled && !address.is_loopback() && c.http.api_token.empty())
            problems.push_back(where + ": http.listen: " + c.http.listen +
                               " is reachable from other machines: set http.api_token_file (or api_token_env), "
                               "or listen on 127.0.0.1");
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
        static const std::set<std::string, std::less<>> kProviders{"twilio", "ovh", "smtp", "whatsapp", "webpush", "fcm", "outbox"};
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
                fail(v, provider, "unknown provider (twilio, ovh, smtp, whatsapp, webpush, fcm, outbox)");
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
        auto s = section("providers");
        s.string("ca_path", c.providers.ca_path);
        s.boolean("verify_tls", c.providers.verify_tls);
        s.integer("max_connections", c.providers.max_connections, 1, 10'000);
        s.integer("breaker_failures", c.providers.breaker_failures, 1, 10'000);
        s.integer("breaker_open_ms", c.providers.breaker_open_ms, 10, 86'400'000);
        s.integer("breaker_max_open_ms", c.providers.breaker_max_open_ms, 10, 86'400'000);
        s.integer("slow_ms", c.providers.slow_ms, 0, 600'000);
        s.reject_unknown();
    }
    {
        auto s = section("twilio");
        auto& t = c.twilio;
        s.boolean("enabled", t.enabled);
        s.string("base_url", t.base_url);
        s.string("account_sid", t.account_sid, t.enabled);
        s.secret("auth_token", t.auth_token);
        s.string("from", t.from);
        s.string("messaging_service_sid", t.messaging_service_sid);
        s.string("status_callback", t.status_callback);
        s.string("inbound_url", t.inbound_url);
        s.integer("timeout_ms", t.timeout_ms, 100, 120'000);
        s.integer("validity_period_s", t.validity_period_s, 0, 36'000);
        s.integer("weight", t.weight, 0, 1000);
        s.reject_unknown();
        if (t.enabled && t.auth_token.empty())
            problems.push_back(name + ": twilio.auth_token_env or twilio.auth_token_file: required when twilio is enabled");
        if (t.enabled && t.from.empty() && t.messaging_service_sid.empty())
            problems.push_back(name + ": twilio.from or twilio.messaging_service_sid: required when twilio is enabled");
    }
    {
        auto s = section("smtp");
        auto& m = c.smtp;
        s.boolean("enabled", m.enabled);
        s.string("url", m.url, m.enabled);
        s.string("starttls", m.starttls, false, {"required", "none"});
        s.string("username", m.username);
        s.secret("password", m.password);
        s.string("from", m.from, m.enabled);
        s.string("bounce_address", m.bounce_address);
        s.string("unsubscribe_url", m.unsubscribe_url);
        s.string("tracking_url", m.tracking_url);
        s.secret("unsubscribe_secret", m.unsubscribe_secret);
        s.integer("timeout_ms", m.timeout_ms, 100, 600'000);
        s.reject_unknown();
        if (m.enabled && !m.unsubscribe_url.empty() && m.unsubscribe_secret.empty())
            problems.push_back(name + ": smtp.unsubscribe_secret_env or smtp.unsubscribe_secret_file: required with smtp.unsubscribe_url");
        if (m.enabled && !m.tracking_url.empty() && m.unsubscribe_secret.empty())
            problems.push_back(name + ": smtp.unsubscribe_secret_env or smtp.unsubscribe_secret_file: required with smtp.tracking_url (it signs the links)");
    }
    {
        auto s = section("whatsapp");
        auto& w = c.whatsapp;
        s.boolean("enabled", w.enabled);
        s.string("base_url", w.base_url);
        s.string("phone_number_id", w.phone_number_id, w.enabled);
        s.secret("access_token", w.access_token);
        s.secret("app_secret", w.app_secret);
        s.secret("verify_token", w.verify_token);
        s.integer("timeout_ms", w.timeout_ms, 100, 120'000);
        s.reject_unknown();
        if (w.enabled && (w.access_token.empty() || w.app_secret.empty()))
            problems.push_back(name + ": whatsapp.access_token_env/_file and whatsapp.app_secret_env/_file: required when whatsapp is enabled");
    }
    {
        auto s = section("webpush");
        auto& w = c.webpush;
        s.boolean("enabled", w.enabled);
        s.string("vapid_key_file", w.vapid_key_file, w.enabled);
        s.string("vapid_subject", w.vapid_subject, w.enabled);
        s.integer("ttl_s", w.ttl_s, 0, 2'419'200);
        s.integer("timeout_ms", w.timeout_ms, 100, 120'000);
        s.strings("allowed_hosts", w.allowed_hosts);
        s.reject_unknown();
        w.vapid_key_file = resolve(base_dir, w.vapid_key_file);
    }
    {
        auto s = section("ovh");
        auto& o = c.ovh;
        s.boolean("enabled", o.enabled);
        s.string("base_url", o.base_url);
        s.string("service_name", o.service_name, o.enabled);
        s.string("application_key", o.application_key, o.enabled);
        s.secret("application_secret", o.application_secret);
        s.secret("consumer_key", o.consumer_key);
        s.string("sender", o.sender, o.enabled);
        s.secret("callback_token", o.callback_token);
        s.integer("weight", o.weight, 0, 1000);
        s.integer("timeout_ms", o.timeout_ms, 100, 120'000);
        s.reject_unknown();
        if (o.enabled && (o.application_secret.empty() || o.consumer_key.empty()))
            problems.push_back(name + ": ovh.application_secret_env/_file and ovh.consumer_key_env/_file: required when ovh is enabled");
    }
    {
        auto s = section("fcm");
        auto& f = c.fcm;
        s.boolean("enabled", f.enabled);
        s.string("base_url", f.base_url);
        s.string("project_id", f.project_id, f.enabled);
        s.string("service_account_file", f.service_account_file, f.enabled);
        s.integer("timeout_ms", f.timeout_ms, 100, 120'000);
        s.reject_unknown();
        f.service_account_file = resolve(base_dir, f.service_account_file);
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
