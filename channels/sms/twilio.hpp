// TwilioChannel: SMS through Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json,
// form-encoded, HTTP Basic auth), with the status callback URL so that Twilio reports delivery to
// /hooks/<name>. The classification of Twilio's answers is a table in twilio.cpp, tested row by
// row; the callbacks (status, and citizens' replies on /hooks/<name>/inbound) are read here too,
// each checked by its X-Twilio-Signature. Use from the io_context's thread only.
//
// Its keys, in a [[providers]] entry with type = "twilio":
//   account_sid (required), auth_token_env | auth_token_file (required),
//   from | messaging_service_sid (one required), status_callback (the public URL of /hooks/<name>),
//   inbound_url (the public URL of /hooks/<name>/inbound, as set on the number in Twilio),
//   base_url = "https://api.twilio.com", timeout_ms = 10000, validity_period_s = 0 (Twilio's 10 h).
#pragma once

#include <string>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"

namespace crieur {

struct TwilioConfig {
    std::string base_url = "https://api.twilio.com";
    std::string account_sid;
    std::string auth_token;              // from auth_token_env or auth_token_file
    std::string from;                    // a sender number or alphanumeric sender id…
    std::string messaging_service_sid;   // …or a Messaging Service
    std::string status_callback;         // the public URL of this instance's /hooks/<name>
    std::string inbound_url;             // the public URL of /hooks/<name>/inbound
    int timeout_ms = 10'000;
    int validity_period_s = 0;           // 0: Twilio's default (10 h)
    bool operator==(const TwilioConfig&) const = default;
};

// The type's entry in channels/providers.cpp.
ProviderType twilio_provider();

// What Twilio's answer to a create call means for us. Pure.
Outcome classify_twilio(const HttpResponse& response);
// What an "undelivered"/"failed" callback's ErrorCode says of the failure: the number cannot be
// reached (30005 unknown destination, 30006 landline or unreachable carrier), the failure may pass
// (30001 queue overflow, 30003 handset unreachable, 30008 unknown error), or neither.
enum class TwilioLateFailure { for_good, bad_address, temporary };
TwilioLateFailure twilio_late_failure(const std::string& error_code);

// The X-Twilio-Signature of a callback: Base64(HMAC-SHA1(auth token, URL + each sorted name+value)).
std::string twilio_signature(const std::string& auth_token, const std::string& url,
                             std::vector<std::pair<std::string, std::string>> params);
// The URLs a Twilio signature may have been computed over, as Twilio's own validateRequest
// accepts them: the URL without the credentials it may carry (Twilio does not sign them), and
// the same with the scheme's default port written out (":443") or taken away.
std::vector<std::string> twilio_signed_urls(const std::string& url);
// Constant-time comparison of a received signature with the expected one, for each of those URLs.
bool twilio_signature_valid(const std::string& auth_token, const std::string& url,
                            const std::vector<std::pair<std::string, std::string>>& params,
                            const std::string& received);

// A Twilio MessageStatus as our status word (delivered, read, failed, sent), or empty for the
// statuses that change nothing (queued, sending, accepted, …).
std::string twilio_status(const std::string& message_status);

class TwilioChannel final : public Channel {
public:
    TwilioChannel(HttpClient& http, std::string name, TwilioConfig config);
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "sms"; }
    void send(Message message, Done done) override;
    HookResult hook(const HookRequest& request) const override;

private:
    HttpClient& http_;
    std::string name_;
    TwilioConfig config_;
    std::string url_;
    std::shared_ptr<const HttpHeaders> headers_;  // built once: auth and content type
};

}  // namespace crieur
