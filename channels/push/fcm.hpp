// FcmChannel: push notifications to the municipal app through FCM HTTP v1
// (POST /v1/projects/{project}/messages:send). The OAuth2 access token comes from the service
// account: an RS256 JWT exchanged at the token URI, cached until shortly before it expires, one
// exchange at a time (sends wait for it). Use from the io_context's thread only.
//
// Its keys, in a [[providers]] entry with type = "fcm":
//   project_id, service_account_file (the service account's JSON key): both required;
//   base_url = "https://fcm.googleapis.com", timeout_ms = 10000.
#pragma once

#include <chrono>
#include <deque>
#include <string>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"
#include "daemon/clock.hpp"

namespace crieur {

struct FcmConfig {
    std::string base_url = "https://fcm.googleapis.com";
    std::string project_id;
    std::string service_account_file;  // the service account's JSON key (client_email, private_key, token_uri)
    int timeout_ms = 10'000;
    bool operator==(const FcmConfig&) const = default;
};

ProviderType fcm_provider();

struct ServiceAccount {
    std::string client_email;
    std::string private_key_pem;
    std::string token_uri;
};
// Reads a service account's JSON key; throws std::runtime_error naming what is missing.
ServiceAccount read_service_account(const std::string& file);
// The signed assertion for the token exchange: RS256 JWT {iss, scope, aud, iat, exp = iat + 1 h}.
std::string fcm_assertion(const ServiceAccount& account, std::int64_t now_unix);

Outcome classify_fcm(const HttpResponse& response);

class FcmChannel final : public Channel {
public:
    FcmChannel(HttpClient& http, std::string name, FcmConfig config, const Clock& clock);
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "push"; }
    // An app registration token (a browser subscription is JSON, for Web Push).
    bool accepts(std::string_view recipient) const override { return !recipient.empty() && recipient.front() != '{'; }
    void send(Message message, Done done) override;

private:
    void fetch_token();
    void post(Message message, Done done);

    HttpClient& http_;
    const Clock& clock_;
    std::string name_;
    FcmConfig config_;
    ServiceAccount account_;
    std::string url_;
    std::string token_;
    std::chrono::steady_clock::time_point token_expires_{};
    bool fetching_ = false;
    std::deque<std::pair<Message, Done>> waiting_;  // sends waiting for a token
};

}  // namespace crieur
