// Config: one TOML file (config/crieur.toml documents every key), read into plain structs with
// their defaults here. Loading is all-or-nothing: unknown keys, wrong types and missing required
// keys are reported together as "file:line: key: what is wrong". Start-up and SIGHUP only.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <map>

#include "channels/provider.hpp"
#include "daemon/caps.hpp"
#include "daemon/callbacks/endpoints.hpp"
#include "daemon/keys/api_keys.hpp"
#include "daemon/ui/operators.hpp"
#include "daemon/retry_policy.hpp"
#include <string>
#include <vector>

namespace crieur {

struct RedisConfig {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password;  // from password_env or password_file, never inline
    // Redis Sentinel: "host:port" of each sentinel, and the name of the set they watch. With them,
    // host and port are not written: the sentinels say which server is the primary.
    std::vector<std::string> sentinels;
    std::string master_name;
    std::string sentinel_password;  // sentinel_password_env or _file, when the sentinels ask for one
    std::string stream = "crieur:jobs";
    std::string urgent_stream;  // read before `stream`, by a reader of its own; empty: "<stream>:urgent"
    std::string dead_stream = "crieur:dead";
    std::string schedule = "crieur:scheduled";
    std::string group = "crieurd";
    std::string consumer;  // empty: "<hostname>-<pid>"
    int batch = 256;
    int block_ms = 1000;
    int claim_after_ms = 60'000;
    int claim_interval_ms = 5'000;
    int max_deliveries = 5;
    int reconnect_max_ms = 5'000;
    // Consumers of the group with nothing pending and idle this long are removed at start-up (each
    // restart of a daemon named <hostname>-<pid> leaves one); 0: never.
    int prune_consumers_after_s = 3600;
    // Several daemons on this Redis: each job id is claimed in Redis before its send (JobClaims),
    // so that two daemons never both send it. Set on every daemon that shares the streams.
    bool claim_job_ids = false;
    int claim_ttl_s = 86'400;  // how long a claim holds after its last use (the API's idempotency window)
    bool operator==(const RedisConfig&) const = default;
};

// The urgent jobs' stream: redis.urgent_stream, or "<stream>:urgent" (also for a Config built in code).
inline std::string urgent_stream_of(const RedisConfig& r) { return r.urgent_stream.empty() ? r.stream + ":urgent" : r.urgent_stream; }

enum class OnCrash { resend, unknown };

struct IntakeConfig {
    std::size_t max_job_bytes = 64 * 1024;
    int max_inflight = 4096;
    OnCrash on_crash = OnCrash::resend;
    std::string default_channel = "sms";
    bool operator==(const IntakeConfig&) const = default;
};

struct ReceiptsConfig {
    std::string path;  // required
    int batch_max = 4096;
    std::string synchronous = "normal";  // SQLite PRAGMA synchronous: normal or full
    // A cancelled campaign also cancels its jobs queued this long after the cancellation (a
    // service still fanning it out); later, its name may be used again.
    int cancelled_campaign_hold_s = 86'400;
    bool operator==(const ReceiptsConfig&) const = default;
};

struct HttpConfig {
    bool enabled = true;
    std::string listen = "127.0.0.1";
    int port = 8080;
    int max_connections = 1024;  // open at once; more are closed as they come (a slow-client flood)
    std::string api_token;  // the operators' token: every scope, every service (api_token_env/_file)
    std::string keys_file;  // the services' API keys (JSON lines, `crieur keys`); empty: none
    std::vector<keys::ApiKey> api_keys;  // read from keys_file with the config, and again on reload
    std::string operators_file;  // the dashboard's operator accounts (JSON lines, `crieur operators`); empty: none
    std::vector<ui::Operator> operators;  // read from operators_file with the config, and again on reload
    // The dashboard (/ui/): a session ends after this long without a request, and this long in all.
    int ui_session_idle_s = 30 * 60;
    int ui_session_max_s = 12 * 3600;
    // The session cookie is Secure when the request came over https through a proxy that says so
    // (X-Forwarded-Proto), or always with this set.
    bool ui_secure_cookie = false;
    // The map's tiles ("https://tiles.example.org/{z}/{x}/{y}.png") and their credit; empty: the
    // map draws the citizens and the area on a plain background (a network without internet).
    std::string ui_tiles_url, ui_tiles_attribution;
    std::string ui_assets_dir = CRIEUR_UI_ASSETS_DIR;  // Leaflet & co. from npm (tools/setup)
    // The reverse proxies in front of the dashboard (IP addresses): a request from one of them is
    // from the address its X-Forwarded-For names, for the sign-in throttle and the audit log.
    std::vector<std::string> ui_trusted_proxies;
    std::string ui_town_name;  // shown in the dashboard's header and titles ("Mairie de Lyon"); empty: none
    int requests_per_key_per_s = 100;     // each service key's requests; 0: no limit
    // The public listener: /hooks/, /u/, /t/ (and /healthz), what providers and citizens reach;
    // then the listener above serves the rest only. 0: one listener serves everything.
    std::string public_listen = "127.0.0.1";
    int public_port = 0;
    // Several daemons (redis.claim_job_ids): the URL at which the others reach this one's internal
    // listener, registered in Redis. Empty: http://<listen>:<port>, the host name for 0.0.0.0 or ::.
    std::string advertise_url;
    bool operator==(const HttpConfig&) const = default;
};

// The services' status callbacks (docs/api.md): where each service's endpoint is, and how crieur calls them.
struct CallbacksConfig {
    std::string file;  // the endpoints (JSON lines, `crieur services callback`); empty: no callbacks
    std::vector<callbacks::Endpoint> endpoints;  // read from file with the config, and again on reload
    int timeout_ms = 15'000;  // the spec advises 15 to 30 s
    int max_in_flight = 16;   // requests at once per service
    int max_age_s = 86'400;   // a callback still failing this long after its status change is given up
    // Hosts that may be internal (loopback, private networks) or served over http: a service's
    // own intranet server. Anything else must be https on a public host.
    std::vector<std::string> allow_hosts;
    bool operator==(const CallbacksConfig&) const = default;
};

// Storage limitation (docs/privacy.md): how long personal data stays, in the receipts and in Redis.
// A number of days of 0 keeps that data for ever (an archive kept on purpose, said at start-up).
struct RetentionConfig {
    int personal_days = 7;     // receipts' recipients, references, provider texts and raw reports cleared
    int days = 90;             // receipts removed whole (with their attempts and events), app sessions too
    int audit_days = 365;      // the dashboard's audit log: who did what, kept longer than what it acted on
    int dead_letter_days = 7;  // dead-lettered jobs, which hold personal data, trimmed from the dead-letter stream
    bool trim_streams = true;  // acknowledged jobs trimmed from the job streams within seconds (XTRIM MINID)
    int batch = 500;           // messages per sweep and step: the writer is never held for long
    int interval_s = 60;       // between sweeps that found nothing more to do
    bool operator==(const RetentionConfig&) const = default;
};

struct OutboxConfig {
    std::string dir;  // required: one <channel>.jsonl file per channel
    bool operator==(const OutboxConfig&) const = default;
};

// The HTTP engine the provider drivers share, and what each provider instance gets unless its
// [[providers]] entry says otherwise ([provider_defaults]; [providers] as a table in older files).
struct ProviderDefaultsConfig {
    int breaker_failures = 5;        // failures in a row that open a provider's circuit breaker
    int breaker_open_ms = 30'000;    // how long it stays open before a probe (doubled at each failed probe)
    int breaker_max_open_ms = 600'000;
    int slow_ms = 2'000;             // answers slower than this on average cut a provider's share; 0: off
    std::string ca_path;      // CA bundle for TLS; empty: the system's
    bool verify_tls = true;   // false only for a local emulator over https with a self-signed certificate
    int max_connections = 64;
    bool operator==(const ProviderDefaultsConfig&) const = default;
};

// The links this daemon puts in what it sends (e-mail for now): the RFC 8058 one-click
// unsubscribe and the open/click tracking, both signed with `secret`.
struct LinksConfig {
    std::string unsubscribe_url;  // the public URL of /u/: "https://crieur.mairie.example.fr/u"
    std::string tracking_url;     // the public URL of /t/; empty: no tracking
    std::string secret;           // from secret_env or secret_file
    bool operator==(const LinksConfig&) const = default;
};

struct TemplatesConfig {
    std::string dir = "/usr/share/crieur/templates";  // templates/<name>/manifest.toml, <locale>/<channel>.mustache
    bool operator==(const TemplatesConfig&) const = default;
};

struct DirectoryConfig {
    std::string path;                  // empty: directory.db beside the receipts database
    std::string default_region = "FR"; // how national phone numbers are read (ISO 3166 alpha-2)
    bool operator==(const DirectoryConfig&) const = default;
};

// Campaigns (docs/campaigns.md): their database, and the pace of their fan-out.
struct CampaignsConfig {
    std::string path;        // empty: campaigns.db beside the receipts database
    int page = 500;          // jobs per XADD script: Redis is held about 1 ms per 500
    // The fan-out waits while the stream holds more unread entries than this, so that the other
    // services' messages never queue behind a whole campaign; 0: no wait (a bench, a test).
    int max_backlog = 20'000;
    bool operator==(const CampaignsConfig&) const = default;
};

// Journeys (docs/journeys.md): their definitions, their instances' database, and the pace of
// their due steps.
struct JourneysConfig {
    std::string dir;     // empty: the templates' _journeys folder
    std::string path;    // empty: journeys.db beside the receipts database
    int batch = 500;     // instances moved per round (one transaction, one Redis round trip)
    // Due steps wait while the stream holds more unread entries than this (as the campaigns'
    // fan-out does); 0: no wait. Urgent steps go to the urgent stream, which this does not hold.
    int max_backlog = 20'000;
    bool operator==(const JourneysConfig&) const = default;
};

// The router's policy (daemon/router.hpp).
struct RouterConfig {
    std::vector<std::string> default_order{"sms", "email", "whatsapp", "push"};
    std::map<std::string, std::vector<std::string>> service_order;  // by service name
    std::vector<std::string> consent_required{"information"};      // categories that need a granted consent
    // Escalation on silence: after this long with no delivery receipt, the next candidate channel
    // is tried. Only channels whose providers report delivery (SMS, WhatsApp) make sense here.
    std::map<std::string, int> escalate_after_s{{"sms", 1800}, {"whatsapp", 7200}};
    std::map<std::string, int> urgent_escalate_after_s{{"sms", 300}, {"whatsapp", 300}};
    // Fallback on a late failure: for this long after an accepted send, a provider's report that
    // the message failed after all (SMS undelivered, WhatsApp failed) sends it on the next channel.
    // Used for the channels that have no escalation on silence.
    std::map<std::string, int> fallback_on_failure_s{{"sms", 259'200}, {"whatsapp", 259'200}};
    // A message sent on its last channel: for this long, a late failure that may pass (a handset
    // switched off, a rate limit) sends it again on the same channel. Off by default: the job is
    // kept in the schedule for that time, for every such message.
    std::map<std::string, int> retry_late_failure_s;
    bool operator==(const RouterConfig&) const = default;
};

// Hours without normal messages, in the citizen's time zone (urgent messages ignore them).
struct QuietHoursConfig {
    bool enabled = true;
    int start_minute = 21 * 60;
    int end_minute = 8 * 60;
    std::string time_zone = "Europe/Paris";  // for citizens without one, and inline recipients
    bool operator==(const QuietHoursConfig&) const = default;
};

// Provider rate limits shared by every daemon through Redis (daemon/rate_limiter.hpp).
struct RateLimitsConfig {
    struct Limit {
        double per_s = 0;
        int burst = 1;
        bool segments = false;  // SMS: per_s counts segments, not messages
        double segments_per_s = 0;  // SMS: a second limit in segments, beside per_s in messages
        int segments_burst = 1;
        double recipient_every_s = 0;  // at most one message per this many seconds to one recipient
        bool operator==(const Limit&) const = default;
    };
    std::map<std::string, Limit> providers;  // by provider name: twilio, ovh, whatsapp, webpush, fcm, smtp
    int horizon_ms = 5000;  // the furthest slot a job waits for in memory; later ones stay pending
    bool operator==(const RateLimitsConfig&) const = default;
};

// The send time chosen for non-urgent messages (docs/sendtime.md): off, every message goes at the
// earliest allowed instant.
struct SendTimeConfig {
    bool enabled = true;
    int window_h = 24;        // the window of a message without a deadline
    int relearn_s = 3600;     // how often the model is learnt again from the receipts
    double explore = 0.05;    // the share of messages sent at a random allowed instant
    int history_attempts = 200'000;  // the latest accepted attempts each learning reads (its work)
    bool operator==(const SendTimeConfig&) const = default;
};

struct DaemonConfig {
    int drain_timeout_ms = 10'000;
    bool operator==(const DaemonConfig&) const = default;
};

struct LogConfig {
    std::string level = "info";  // trace, debug, info, warn, error
    bool operator==(const LogConfig&) const = default;
};

struct Config {
    std::string file;  // where it was read from
    DaemonConfig daemon;
    RedisConfig redis;
    IntakeConfig intake;
    ReceiptsConfig receipts;
    HttpConfig http;
    CallbacksConfig callbacks;
    RetentionConfig retention;
    OutboxConfig outbox;
    TemplatesConfig templates;
    DirectoryConfig directory;
    CampaignsConfig campaigns;
    JourneysConfig journeys;
    RouterConfig router;
    RetryConfig retry;
    QuietHoursConfig quiet_hours;
    RateLimitsConfig rate_limits;
    CapsConfig caps;
    SendTimeConfig send_time;
    ProviderDefaultsConfig provider_defaults;
    std::vector<ProviderConfig> providers;  // the [[providers]] instances, in the file's order
    LinksConfig links;
    LogConfig log;
    // What start-up should tell the operator about the file (an old form still read).
    std::vector<std::string> notices;
};

// Every problem found in a config file, one "file:line: key: message" per line.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

// Reads and validates a config file. Relative paths in it are taken from the file's folder.
Config load_config(const std::string& path);
// The same from text (tests); `name` stands in for the file name in errors, `base_dir` for its folder.
Config parse_config(std::string_view text, const std::string& name, const std::string& base_dir);

}  // namespace crieur
