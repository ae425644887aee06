// TwilioChannel: SMS through Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json,
// form-encoded, HTTP Basic auth), with the status callback URL so that Twilio reports delivery to
// /hooks/twilio. The classification of Twilio's answers is a table in twilio.cpp, tested row by
// row; the status callback's signature check (X-Twilio-Signature) is here too.
// Use from the io_context's thread only.
#pragma once

#include <string>
#include <vector>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

// What Twilio's answer to a create call means for us. Pure.
Outcome classify_twilio(const HttpResponse& response);
// An "undelivered"/"failed" callback's ErrorCode that means the number cannot be reached
// (30005 unknown destination, 30006 landline or unreachable carrier).
bool twilio_bad_address_code(const std::string& error_code);
// An incoming SMS's words that opt out of (STOP, ARRET, …) or back into (START, UNSTOP) messages:
// Twilio's default keywords for long codes, and the French ARRET.
enum class SmsKeyword { none, opt_out, opt_in };
SmsKeyword sms_keyword(std::string_view body);

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
    TwilioChannel(HttpClient& http, TwilioConfig config);
    std::string_view provider() const override { return "twilio"; }
    bool carries(std::string_view channel) const override { return channel == "sms"; }
    void send(Message message, Done done) override;

private:
    HttpClient& http_;
    TwilioConfig config_;
    std::string url_;
    std::shared_ptr<const HttpHeaders> headers_;  // built once: auth and content type
};

}  // namespace crieur
