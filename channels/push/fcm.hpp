// FcmChannel: push notifications to the municipal app through FCM HTTP v1
// (POST /v1/projects/{project}/messages:send). The OAuth2 access token comes from the service
// account: an RS256 JWT exchanged at the token URI, cached until shortly before it expires, one
// exchange at a time (sends wait for it). Use from the io_context's thread only.
#pragma once

#include <chrono>
#include <deque>
#include <string>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

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
    FcmChannel(HttpClient& http, FcmConfig config);
    std::string_view provider() const override { return "fcm"; }
    bool carries(std::string_view channel) const override { return channel == "push"; }
    // An app registration token (a browser subscription is JSON, for Web Push).
    bool accepts(std::string_view recipient) const override { return !recipient.empty() && recipient.front() != '{'; }
    void send(Message message, Done done) override;

private:
    void fetch_token();
    void post(Message message, Done done);

    HttpClient& http_;
    FcmConfig config_;
    ServiceAccount account_;
    std::string url_;
    std::string token_;
    std::chrono::steady_clock::time_point token_expires_{};
    bool fetching_ = false;
    std::deque<std::pair<Message, Done>> waiting_;  // sends waiting for a token
};

}  // namespace crieur
