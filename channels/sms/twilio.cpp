#include "channels/sms/twilio.hpp"

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <memory>
#include <array>
#include <cctype>

#include "channels/encoding.hpp"
#include "daemon/status.hpp"
#include "daemon/config_section.hpp"

namespace crieur {

namespace {

struct CodeRule {
    int code;
    OutcomeKind kind;
    const char* reason;
};

// Twilio's error codes on the create call (docs: twilio.com/docs/api/errors), as the research
// notes classify them. Codes not listed fall back on the HTTP status.
constexpr std::array<CodeRule, 14> kCodes{{
    {20429, OutcomeKind::retry, "too many concurrent requests"},
    {21611, OutcomeKind::retry, "the sender's queue is full"},
    {63017, OutcomeKind::retry, "account rate limit"},
    {21211, OutcomeKind::bad_address, "invalid 'To' number"},
    {21614, OutcomeKind::bad_address, "'To' is not a mobile number"},
    {21635, OutcomeKind::bad_address, "'To' is a landline"},
    {21610, OutcomeKind::bad_address, "the recipient replied STOP"},
    {21612, OutcomeKind::failed, "unroutable destination"},
    {21408, OutcomeKind::failed, "region not enabled on the account"},
    {21602, OutcomeKind::failed, "the message body is missing"},
    {21603, OutcomeKind::failed, "a 'From' number is required"},
    {20003, OutcomeKind::provider_down, "authentication failed: check the account SID and token"},
    {21606, OutcomeKind::provider_down, "the 'From' number cannot send SMS"},
    {21608, OutcomeKind::provider_down, "trial account: the 'To' number is not verified"},
}};

// The ErrorCode of a status callback that reports a failure after acceptance (30001–30010).
struct LateCodeRule {
    std::string_view code;
    TwilioLateFailure means;
};
constexpr std::array<LateCodeRule, 5> kLateCodes{{
    {"30001", TwilioLateFailure::temporary},    // queue overflow
    {"30003", TwilioLateFailure::temporary},    // unreachable destination handset: switched off, out of coverage
    {"30008", TwilioLateFailure::temporary},    // unknown error
    {"30005", TwilioLateFailure::bad_address},  // unknown destination handset
    {"30006", TwilioLateFailure::bad_address},  // landline or unreachable carrier
}};

}  // namespace

Outcome classify_twilio(const HttpResponse& r) {
    if (auto none = classify_no_answer(r, "twilio")) return *none;
    Outcome o;
    o.provider = "twilio";
    rapidjson::Document body;
    body.Parse(r.body.data(), r.body.size());
    const bool json = !body.HasParseError() && body.IsObject();
    if (r.status >= 200 && r.status < 300) {
        if (json && body.HasMember("sid") && body["sid"].IsString()) {
            o.kind = OutcomeKind::accepted;
            o.provider_id = body["sid"].GetString();
            o.code = json && body.HasMember("status") && body["status"].IsString() ? body["status"].GetString() : "";
        } else {
            o.kind = OutcomeKind::unknown;  // taken, but we cannot tell which message it is
            o.reason = "a success answer without a message sid";
        }
        return o;
    }
    int code = 0;
    if (json && body.HasMember("code") && body["code"].IsInt()) code = body["code"].GetInt();
    o.code = code ? std::to_string(code) : std::to_string(r.status);
    if (json && body.HasMember("message") && body["message"].IsString()) o.reason = body["message"].GetString();
    auto rule = std::find_if(kCodes.begin(), kCodes.end(), [&](const CodeRule& c) { return c.code == code; });
    if (rule != kCodes.end()) {
        o.kind = rule->kind;
        if (o.reason.empty()) o.reason = rule->reason;
    } else if (r.status == 429 || r.status >= 500) {
        o.kind = OutcomeKind::retry;
    } else if (r.status == 401 || r.status == 403) {
        o.kind = OutcomeKind::provider_down;
        if (o.reason.empty()) o.reason = "authentication failed";
    } else {
        o.kind = OutcomeKind::failed;  // another 4xx: our request is wrong; retrying will not mend it
    }
    if (o.kind == OutcomeKind::retry) o.retry_after_ms = retry_after_ms(r);
    o.opted_out = code == 21610;
    return o;
}

std::string twilio_signature(const std::string& auth_token, const std::string& url,
                             std::vector<std::pair<std::string, std::string>> params) {
    std::stable_sort(params.begin(), params.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::string data = url;
    for (auto& [k, v] : params) data += k + v;
    return base64_encode(hmac_sha1(auth_token, data));
}

std::vector<std::string> twilio_signed_urls(const std::string& url) {
    using Url = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;
    Url u(curl_url(), &curl_url_cleanup);
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {url};
    // Credentials in the URL are not part of what Twilio signs.
    curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
    auto text = [&] {
        char* out = nullptr;
        std::string s = curl_url_get(u.get(), CURLUPART_URL, &out, 0) == CURLUE_OK && out ? out : url;
        curl_free(out);
        return s;
    };
    std::vector<std::string> urls{text()};
    // With the scheme's port written out, or without it, as Twilio's own validateRequest tries.
    char* port = nullptr;
    const bool has_port = curl_url_get(u.get(), CURLUPART_PORT, &port, 0) == CURLUE_OK && port;
    curl_free(port);
    if (has_port) {
        curl_url_set(u.get(), CURLUPART_PORT, nullptr, 0);
    } else {
        char* scheme = nullptr;
        curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0);
        const std::string s = scheme ? scheme : "";
        curl_free(scheme);
        if (s != "https" && s != "http") return urls;
        curl_url_set(u.get(), CURLUPART_PORT, s == "https" ? "443" : "80", 0);
    }
    urls.push_back(text());
    return urls;
}

bool twilio_signature_valid(const std::string& auth_token, const std::string& url,
                            const std::vector<std::pair<std::string, std::string>>& params,
                            const std::string& received) {
    bool valid = false;  // every variant is checked: the time taken does not say which matched
    for (const auto& candidate : twilio_signed_urls(url))
        valid = same_bytes(twilio_signature(auth_token, candidate, params), received) || valid;
    return valid;
}

TwilioLateFailure twilio_late_failure(const std::string& error_code) {
    for (const auto& rule : kLateCodes)
        if (rule.code == error_code) return rule.means;
    return TwilioLateFailure::for_good;
}

std::string twilio_status(const std::string& s) {
    if (s == "delivered") return "delivered";
    if (s == "read") return "read";
    if (s == "undelivered" || s == "failed") return "failed";
    if (s == "sent") return "sent";
    return {};
}

TwilioChannel::TwilioChannel(HttpClient& http, std::string name, TwilioConfig config)
    : http_(http), name_(std::move(name)), config_(std::move(config)),
      url_(config_.base_url + "/2010-04-01/Accounts/" + config_.account_sid + "/Messages.json"),
      headers_(std::make_shared<HttpHeaders>(std::vector<std::pair<std::string, std::string>>{
          {"Authorization", "Basic " + base64_encode(config_.account_sid + ":" + config_.auth_token)},
          {"Content-Type", "application/x-www-form-urlencoded"},
          {"Accept", "application/json"}})) {}

void TwilioChannel::send(Message message, Done done) {
    std::vector<std::pair<std::string, std::string>> form{{"To", message.recipient}, {"Body", message.content.text}};
    if (!config_.messaging_service_sid.empty()) form.emplace_back("MessagingServiceSid", config_.messaging_service_sid);
    else form.emplace_back("From", config_.from);
    if (!config_.status_callback.empty()) form.emplace_back("StatusCallback", config_.status_callback);
    if (config_.validity_period_s > 0) form.emplace_back("ValidityPeriod", std::to_string(config_.validity_period_s));
    HttpRequest req;
    req.url = url_;
    req.body = form_encode(form);
    req.fixed_headers = headers_;  // basic auth included
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    http_.perform(std::move(req), [done = std::move(done)](HttpResponse r) { done(classify_twilio(r)); });
}

HookResult TwilioChannel::hook(const HookRequest& req) const {
    if (req.method != "POST") return {};
    // Twilio signs what it posts with the auth token over the URL it called: the status callback
    // URL this daemon gave it, or the inbound URL set on the number.
    const bool inbound = req.path == "/inbound";
    if (!inbound && !req.path.empty()) return {};
    if (inbound && config_.inbound_url.empty()) return {};
    const auto form = form_decode(req.body);
    if (!twilio_signature_valid(config_.auth_token, inbound ? config_.inbound_url : config_.status_callback, form,
                                req.header("x-twilio-signature")))
        return HookResult::refuse(inbound ? "an incoming message with a bad signature" : "a status callback with a bad signature");
    auto field = [&form](std::string_view name) {
        for (auto& [k, v] : form)
            if (k == name) return v;
        return std::string();
    };
    if (inbound) {
        InboundMessage m{"sms", field("From"), field("Body"), field("MessageSid")};
        if (m.from.empty()) return HookResult::malformed("an incoming message without From");
        // Twilio's Advanced Opt-Out, when enabled, says itself what the message was.
        const std::string opt = field("OptOutType");
        m.provider_keyword = opt == "STOP" ? SmsKeyword::opt_out : opt == "START" ? SmsKeyword::opt_in : SmsKeyword::none;
        // An empty TwiML document: no automatic reply from us.
        auto r = HookResult::taken(200, "text/xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>");
        r.inbound.push_back(std::move(m));
        return r;
    }
    const std::string sid = field("MessageSid"), status = field("MessageStatus"), error_code = field("ErrorCode");
    if (sid.empty() || status.empty()) return HookResult::malformed("a status callback without MessageSid or MessageStatus");
    auto r = HookResult::taken(204);
    const std::string ours = twilio_status(status);
    if (ours.empty()) return r;  // queued, sending, ...: nothing to record
    const auto late = ours == "failed" ? twilio_late_failure(error_code) : TwilioLateFailure::for_good;
    r.events.push_back({name_, sid, *parse_status(ours), error_code.empty() ? status : status + " " + error_code,
                        std::string(req.body), late == TwilioLateFailure::bad_address,
                        late == TwilioLateFailure::temporary});
    return r;
}

namespace {

std::shared_ptr<const ProviderSettings> parse_twilio(config::Section& s) {
    TwilioConfig t;
    s.string("base_url", t.base_url);
    s.string("account_sid", t.account_sid, true);
    s.secret("auth_token", t.auth_token);
    s.string("from", t.from);
    s.string("messaging_service_sid", t.messaging_service_sid);
    s.string("status_callback", t.status_callback);
    s.string("inbound_url", t.inbound_url);
    s.integer("timeout_ms", t.timeout_ms, 100, 120'000);
    s.integer("validity_period_s", t.validity_period_s, 0, 36'000);
    if (t.auth_token.empty()) s.problem("auth_token_env", "required (or auth_token_file)");
    if (t.from.empty() && t.messaging_service_sid.empty()) s.problem("from", "required (or messaging_service_sid)");
    return std::make_shared<SettingsOf<TwilioConfig>>(std::move(t));
}

std::unique_ptr<Channel> make_twilio(const ProviderContext& context, const ProviderConfig& instance) {
    return std::make_unique<TwilioChannel>(context.http, instance.name, instance.settings_as<TwilioConfig>());
}

}  // namespace

ProviderType twilio_provider() { return {"twilio", "sms", parse_twilio, make_twilio}; }

}  // namespace crieur
