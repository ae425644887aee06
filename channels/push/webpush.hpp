// WebPushChannel: Web Push (RFC 8030) to a browser subscription, the payload encrypted with
// aes128gcm (RFC 8291, on OpenSSL) and the request signed with VAPID (RFC 8292, ES256).
// Headers TTL, Urgency (urgent messages → high) and Topic. A 404 or 410 means the subscription is
// gone: a bad address. Use from the io_context's thread only; the crypto helpers are pure.
//
// Its keys, in a [[providers]] entry with type = "webpush":
//   vapid_key_file (the application server's P-256 private key, PEM), vapid_subject (a mailto:
//   or https: contact for the push services): both required; ttl_s = 86400, timeout_ms = 10000,
//   allowed_hosts = the push services a subscription may name (FCM, Mozilla, Windows, Apple).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "channels/channel.hpp"
#include "channels/encoding.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"
#include "daemon/clock.hpp"

namespace crieur {

struct WebPushConfig {
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

ProviderType webpush_provider();

// A browser's push subscription, as PushSubscription.toJSON() gives it.
struct PushSubscription {
    std::string endpoint;
    std::string p256dh;  // the user agent's public key: 65 bytes, uncompressed P-256
    std::string auth;    // the 16-byte auth secret
};
// Parses {"endpoint": "...", "keys": {"p256dh": "<base64url>", "auth": "<base64url>"}}; checks
// the endpoint is https (or http on loopback, for tests) and the key lengths.
// The Topic header for a message (RFC 8030 §5.4: at most 32 base64url characters): the push
// service replaces an undelivered message with a later one of the same topic, so it is a digest
// of the whole job id; two ids sharing a long prefix never share a topic.
std::string push_topic(std::string_view job_id);

// Whether an endpoint's host is one of `allowed` (an entry with a leading '.' matches its
// subdomains), the host read by libcurl's URL parser.
bool push_host_allowed(const std::string& endpoint, const std::vector<std::string>& allowed);

std::optional<PushSubscription> parse_subscription(const std::string& json, std::string* why = nullptr);

// RFC 8291 encryption of one record: salt(16) || rs(4) || idlen(1) || as_public(65) || ciphertext.
// `as_private` (32 bytes) and `salt` (16 bytes) are drawn at random when empty; tests fix them.
std::string webpush_encrypt(std::string_view plaintext, const std::string& ua_public, const std::string& auth_secret,
                            std::string as_private = {}, std::string salt = {});

// A VAPID signer: the application server's P-256 key, from a PEM file.
class Vapid {
public:
    // Throws std::runtime_error when the key cannot be read.
    Vapid(const std::string& pem_file, std::string subject);
    ~Vapid();
    Vapid(const Vapid&) = delete;
    Vapid& operator=(const Vapid&) = delete;
    // "vapid t=<JWT ES256 {aud, exp, sub}>, k=<base64url public key>"
    std::string authorization(const std::string& endpoint, std::int64_t expires_unix) const;
    const std::string& public_key() const { return public_key_; }

private:
    void* key_;  // EVP_PKEY*
    std::string subject_;
    std::string public_key_;  // 65 bytes, base64url
};

Outcome classify_webpush(const HttpResponse& response);

class WebPushChannel final : public Channel {
public:
    WebPushChannel(HttpClient& http, std::string name, WebPushConfig config, const Clock& clock);
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "push"; }
    // A browser subscription is JSON; an app's registration token is not.
    bool accepts(std::string_view recipient) const override { return recipient.starts_with("{"); }
    // Each subscription's endpoint: one that fails (gone, hostile, slow) trips only its own breaker.
    std::string breaker_scope(std::string_view recipient) const override;
    // An endpoint whose host is not in allowed_hosts: never fetched (no request towards the
    // town's internal network), and refused when a citizen's subscription is stored.
    std::string refusal(std::string_view recipient) const override;
    void send(Message message, Done done) override;

private:
    HttpClient& http_;
    const Clock& clock_;
    std::string name_;
    WebPushConfig config_;
    Vapid vapid_;
};

}  // namespace crieur
