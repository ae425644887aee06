// WhatsappChannel: business-initiated WhatsApp messages through Meta's Cloud API
// (POST {base}/{phone-number-id}/messages, bearer token), always as the approved template the
// manifest names, with its ordered parameters. Meta's error codes are classified by a table in
// cloud_api.cpp; its status webhooks (X-Hub-Signature-256) are parsed here too.
// Use from the io_context's thread only.
#pragma once

#include <string>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

Outcome classify_whatsapp(const HttpResponse& response);
// The JSON body of a template message.
std::string whatsapp_template_body(const std::string& to, const render::Rendered& content, const std::string& job_id);
// "sha256=<hex HMAC-SHA256(app secret, raw body)>", compared in constant time.
bool whatsapp_signature_valid(const std::string& app_secret, const std::string& body, const std::string& header);
std::string whatsapp_signature(const std::string& app_secret, const std::string& body);

// One status from a webhook: the message id, our status word, and Meta's (with its error code).
struct WhatsappStatus {
    std::string id;
    std::string status;           // sent, delivered, read, failed
    std::string provider_status;  // "failed 131026"
    bool bad_address = false;     // the error code means the number cannot be reached (131026)
};
// The statuses a webhook body carries (an empty list for other notifications or bad JSON).
std::vector<WhatsappStatus> parse_whatsapp_statuses(const std::string& body);

class WhatsappChannel final : public Channel {
public:
    WhatsappChannel(HttpClient& http, WhatsappConfig config);
    std::string_view provider() const override { return "whatsapp"; }
    bool carries(std::string_view channel) const override { return channel == "whatsapp"; }
    void send(Message message, Done done) override;

private:
    HttpClient& http_;
    WhatsappConfig config_;
    std::string url_;
    std::shared_ptr<const HttpHeaders> headers_;  // built once: auth and content type
};

}  // namespace crieur
