// Config: one TOML file (config/crieur.toml documents every key), read into plain structs with
// their defaults here. Loading is all-or-nothing: unknown keys, wrong types and missing required
// keys are reported together as "file:line: key: what is wrong". Start-up and SIGHUP only.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <map>

#include "daemon/caps.hpp"
#include "daemon/retry_policy.hpp"
#include <string>
#include <vector>

namespace crieur {

struct RedisConfig {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password;  // from password_env or password_file, never inline
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
    std::string api_token;  // when set, /v1/citizens asks for "Authorization: Bearer <token>" (api_token_env/_file)
    bool operator==(const HttpConfig&) const = default;
};

struct OutboxConfig {
    std::string dir;  // required: one <channel>.jsonl file per channel
    bool operator==(const OutboxConfig&) const = default;
};

// The HTTP engine the provider drivers share.
struct ProvidersConfig {
    int breaker_failures = 5;        // failures in a row that open a provider's circuit breaker
    int breaker_open_ms = 30'000;    // how long it stays open before a probe (doubled at each failed probe)
    int breaker_max_open_ms = 600'000;
    int slow_ms = 2'000;             // answers slower than this on average cut a provider's share; 0: off
    std::string ca_path;      // CA bundle for TLS; empty: the system's
    bool verify_tls = true;   // false only for a local emulator over https with a self-signed certificate
    int max_connections = 64;
    bool operator==(const ProvidersConfig&) const = default;
};

// The Twilio SMS driver (channels/sms/twilio.cpp); off unless enabled.
struct TwilioConfig {
    bool enabled = false;
    std::string base_url = "https://api.twilio.com";
    std::string account_sid;
    std::string auth_token;              // from auth_token_env or auth_token_file
    std::string from;                    // a sender number or alphanumeric sender id…
    std::string messaging_service_sid;   // …or a Messaging Service
    std::string status_callback;         // the public URL of this daemon's /hooks/twilio
    std::string inbound_url;             // the public URL of /hooks/twilio/inbound, as set on the number in Twilio
    int timeout_ms = 10'000;
    int validity_period_s = 0;           // 0: Twilio's default (10 h)
    int weight = 1;                      // share of SMS among the SMS providers
    bool operator==(const TwilioConfig&) const = default;
};

// The e-mail driver: SMTP submission through libcurl (channels/email/smtp.cpp); off unless enabled.
struct SmtpConfig {
    bool enabled = false;
    std::string url;                  // smtp://relay:587 (STARTTLS) or smtps://relay:465
    std::string starttls = "required";  // "required", or "none" for a relay on loopback
    std::string username;
    std::string password;             // from password_env or password_file
    std::string from;                 // the From header: "Ville de Lyon <noreply@mairie.example.fr>"
    std::string bounce_address;       // the envelope sender; empty: From's address
    std::string unsubscribe_url;      // RFC 8058 one-click base URL, for templates of category information
    std::string unsubscribe_secret;   // signs the unsubscribe and tracking tokens (from unsubscribe_secret_env/_file)
    std::string tracking_url;         // public base URL of /t/: e-mail opens and clicks for the send time; empty: off
    int timeout_ms = 30'000;
    bool operator==(const SmtpConfig&) const = default;
};

// The WhatsApp driver: Meta's Cloud API template messages (channels/whatsapp/cloud_api.cpp).
struct WhatsappConfig {
    bool enabled = false;
    std::string base_url = "https://graph.facebook.com/v21.0";
    std::string phone_number_id;
    std::string access_token;  // from access_token_env or access_token_file
    std::string app_secret;    // signs the webhooks (X-Hub-Signature-256); from app_secret_env/_file
    std::string verify_token;  // the webhook subscription handshake; from verify_token_env/_file
    int timeout_ms = 10'000;
    bool operator==(const WhatsappConfig&) const = default;
};

// The Web Push driver (channels/push/webpush.cpp): VAPID-signed, aes128gcm-encrypted.
struct WebPushConfig {
    bool enabled = false;
    std::string vapid_key_file;   // the application server's P-256 private key, PEM
    std::string vapid_subject;    // mailto: or https: contact for the push services
    int ttl_s = 86'400;           // how long a push service keeps an undelivered message
    int timeout_ms = 10'000;
    // The push services a subscription's endpoint may name (a leading '.' matches any subdomain):
    // an endpoint is an address anyone can write, and must not aim crieurd at the town's network.
    std::vector<std::string> allowed_hosts{"fcm.googleapis.com", "updates.push.services.mozilla.com",
                                           ".notify.windows.com", ".push.apple.com"};
    bool operator==(const WebPushConfig&) const = default;
};

// The OVHcloud SMS driver (channels/sms/ovh.cpp): signed API v1 requests; off unless enabled.
struct OvhConfig {
    bool enabled = false;
    std::string base_url = "https://eu.api.ovh.com/1.0";
    std::string service_name;        // sms-xx12345-1
    std::string application_key;
    std::string application_secret;  // from application_secret_env/_file
    std::string consumer_key;        // from consumer_key_env/_file
    std::string sender;              // a sender validated by OVH (≤ 11 characters)
    std::string callback_token;      // the secret path part of /hooks/ovh/<token>; from callback_token_env/_file
    int weight = 1;                  // share of SMS among the SMS providers
    int timeout_ms = 10'000;
    bool operator==(const OvhConfig&) const = default;
};

// The FCM HTTP v1 driver (channels/push/fcm.cpp) for the municipal app's push notifications.
struct FcmConfig {
    bool enabled = false;
    std::string base_url = "https://fcm.googleapis.com";
    std::string project_id;
    std::string service_account_file;  // the service account's JSON key (client_email, private_key, token_uri)
    int timeout_ms = 10'000;
    bool operator==(const FcmConfig&) const = default;
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
    OutboxConfig outbox;
    TemplatesConfig templates;
    DirectoryConfig directory;
    RouterConfig router;
    RetryConfig retry;
    QuietHoursConfig quiet_hours;
    RateLimitsConfig rate_limits;
    CapsConfig caps;
    SendTimeConfig send_time;
    ProvidersConfig providers;
    TwilioConfig twilio;
    SmtpConfig smtp;
    WhatsappConfig whatsapp;
    WebPushConfig webpush;
    OvhConfig ovh;
    FcmConfig fcm;
    LogConfig log;
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
