// WhatsappChannel: business-initiated WhatsApp messages through Meta's Cloud API
// (POST {base}/{phone-number-id}/messages, bearer token), always as the approved template the
// manifest names, with its ordered parameters. Meta's error codes are classified by a table in
// cloud_api.cpp; its webhooks on /hooks/<name> (the subscription handshake, then status updates
// and citizens' messages signed with X-Hub-Signature-256) are read here too.
// Use from the io_context's thread only.
//
// Its keys, in a [[providers]] entry with type = "whatsapp":
//   phone_number_id, access_token_env | _file, app_secret_env | _file (signs the webhooks): all
//   required; verify_token_env | _file (the webhook subscription handshake),
//   base_url = "https://graph.facebook.com/v21.0", timeout_ms = 10000.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"

namespace crieur {

struct WhatsappConfig {
    std::string base_url = "https://graph.facebook.com/v21.0";
    std::string phone_number_id;
    std::string access_token;  // from access_token_env or access_token_file
    std::string app_secret;    // signs the webhooks (X-Hub-Signature-256); from app_secret_env/_file
    std::string verify_token;  // the webhook subscription handshake; from verify_token_env/_file
    int timeout_ms = 10'000;
    bool operator==(const WhatsappConfig&) const = default;
};

ProviderType whatsapp_provider();

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
    bool temporary = false;       // the error code may pass (130429, 131049, 131056, ...)
};
// What a webhook body carries: statuses, and the text messages citizens sent (an empty list for
// other notifications); nullopt when the body is not a webhook's JSON at all.
struct WhatsappNotification {
    std::vector<WhatsappStatus> statuses;
    std::vector<InboundMessage> messages;
};
std::optional<WhatsappNotification> parse_whatsapp_notification(std::string_view body);

class WhatsappChannel final : public Channel {
public:
    WhatsappChannel(HttpClient& http, std::string name, WhatsappConfig config);
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "whatsapp"; }
    void send(Message message, Done done) override;
    HookResult hook(const HookRequest& request) const override;

private:
    HttpClient& http_;
    std::string name_;
    WhatsappConfig config_;
    std::string url_;
    std::shared_ptr<const HttpHeaders> headers_;  // built once: auth and content type
};

}  // namespace crieur
