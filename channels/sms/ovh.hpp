// OvhChannel: SMS through the OVHcloud API v1 (POST /sms/{service}/jobs), each request signed
// ("$1$" + SHA1 of secret, consumer key, method, URL, body and timestamp). Public-service messages
// go with noStopClause, so that OVH neither appends the commercial STOP mention nor holds them
// until marketing hours. Delivery reports come to /hooks/ovh/<token> (OVH signs nothing: the
// token in the path is the protection). Use from the io_context's thread only.
#pragma once

#include <string>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

// "$1$" + hex(SHA1(AS+CK+METHOD+URL+BODY+TS)).
std::string ovh_signature(const std::string& application_secret, const std::string& consumer_key,
                          const std::string& method, const std::string& url, const std::string& body,
                          const std::string& timestamp);
Outcome classify_ovh(const HttpResponse& response, const std::string& receiver);
// A delivery report's `dlr` as our status word: 1 delivered, 2 or 16 failed, else nothing.
std::string ovh_status(const std::string& dlr);

class OvhChannel final : public Channel {
public:
    OvhChannel(HttpClient& http, OvhConfig config);
    std::string_view provider() const override { return "ovh"; }
    bool carries(std::string_view channel) const override { return channel == "sms"; }
    void send(Message message, Done done) override;

private:
    HttpClient& http_;
    OvhConfig config_;
    std::string url_;
};

}  // namespace crieur
