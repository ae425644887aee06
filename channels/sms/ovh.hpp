// OvhChannel: SMS through the OVHcloud API v1 (POST /sms/{service}/jobs), each request signed
// ("$1$" + SHA1 of secret, consumer key, method, URL, body and timestamp). Public-service messages
// go with noStopClause, so that OVH neither appends the commercial STOP mention nor holds them
// until marketing hours. Delivery reports come to /hooks/<name>/<token> (OVH signs nothing: the
// token in the path is the protection). Use from the io_context's thread only.
//
// Its keys, in a [[providers]] entry with type = "ovh":
//   service_name (sms-xx12345-1), application_key, application_secret_env | _file,
//   consumer_key_env | _file, sender (validated by OVH, at most 11 characters): all required;
//   callback_token_env | _file (the secret path part of /hooks/<name>/<token>; without it no
//   delivery reports), base_url = "https://eu.api.ovh.com/1.0", timeout_ms = 10000.
#pragma once

#include <string>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"
#include "daemon/clock.hpp"

namespace crieur {

struct OvhConfig {
    std::string base_url = "https://eu.api.ovh.com/1.0";
    std::string service_name;        // sms-xx12345-1
    std::string application_key;
    std::string application_secret;  // from application_secret_env/_file
    std::string consumer_key;        // from consumer_key_env/_file
    std::string sender;              // a sender validated by OVH (≤ 11 characters)
    std::string callback_token;      // the secret path part of /hooks/<name>/<token>
    int timeout_ms = 10'000;
    bool operator==(const OvhConfig&) const = default;
};

ProviderType ovh_provider();

// "$1$" + hex(SHA1(AS+CK+METHOD+URL+BODY+TS)).
std::string ovh_signature(const std::string& application_secret, const std::string& consumer_key,
                          const std::string& method, const std::string& url, const std::string& body,
                          const std::string& timestamp);
Outcome classify_ovh(const HttpResponse& response, const std::string& receiver);
// A delivery report's `dlr` as our status word: 1 delivered, 2 or 16 failed, else nothing.
std::string ovh_status(const std::string& dlr);

class OvhChannel final : public Channel {
public:
    OvhChannel(HttpClient& http, std::string name, OvhConfig config, const Clock& clock);
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "sms"; }
    void send(Message message, Done done) override;
    HookResult hook(const HookRequest& request) const override;

private:
    HttpClient& http_;
    const Clock& clock_;
    std::string name_;
    OvhConfig config_;
    std::string url_;
};

}  // namespace crieur
