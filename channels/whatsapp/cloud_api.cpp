#include "channels/whatsapp/cloud_api.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

#include "channels/encoding.hpp"
#include "daemon/config_section.hpp"
#include "daemon/status.hpp"

namespace crieur {

namespace {

struct CodeRule {
    int code;
    OutcomeKind kind;
};

// Meta's codes, as the research notes classify them (docs/channels.md). Build on `code`, not on
// titles or HTTP statuses, as Meta recommends.
constexpr std::array<CodeRule, 27> kCodes{{
    {131026, OutcomeKind::bad_address},  // not on WhatsApp, terms not accepted, old app
    {131047, OutcomeKind::failed},       // outside the 24 h window: must be a template
    {132000, OutcomeKind::failed},       // template parameter count mismatch
    {132001, OutcomeKind::failed},       // template missing in that language
    {131008, OutcomeKind::failed},       // required parameter missing
    {131009, OutcomeKind::failed},       // parameter value invalid
    {100, OutcomeKind::failed},          // invalid parameter
    {130429, OutcomeKind::retry},        // throughput limit of the number
    {131056, OutcomeKind::retry},        // pair rate limit for this recipient
    {131057, OutcomeKind::retry},        // number in maintenance
    {80007, OutcomeKind::retry},         // WABA rate limit
    {1, OutcomeKind::retry},             // unknown
    {2, OutcomeKind::retry},             // service temporarily down
    {131000, OutcomeKind::retry},        // something went wrong
    {131049, OutcomeKind::retry},        // held for ecosystem engagement: much later
    {131048, OutcomeKind::provider_down},  // spam rate limit: our sender's quality
    {131042, OutcomeKind::provider_down},  // eligibility or payment
    {131031, OutcomeKind::provider_down},  // account locked
    {368, OutcomeKind::provider_down},     // temporarily blocked for policy
    {0, OutcomeKind::provider_down},       // auth exception
    {190, OutcomeKind::provider_down},     // token expired
    {10, OutcomeKind::provider_down},      // permission denied
    {200, OutcomeKind::provider_down},     // permission (200–299)
    {131051, OutcomeKind::failed},       // unsupported message type
    {131052, OutcomeKind::retry},        // media download error
    {131053, OutcomeKind::retry},        // media upload error
    {133010, OutcomeKind::failed},       // phone number not registered
}};

}  // namespace

Outcome classify_whatsapp(const HttpResponse& r) {
    if (auto none = classify_no_answer(r, "whatsapp")) return *none;
    Outcome o;
    o.provider = "whatsapp";
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    const bool json = !d.HasParseError() && d.IsObject();
    if (r.status == 200 && json && d.HasMember("messages") && d["messages"].IsArray() && !d["messages"].Empty() &&
        d["messages"][0].HasMember("id") && d["messages"][0]["id"].IsString()) {
        o.kind = OutcomeKind::accepted;
        o.provider_id = d["messages"][0]["id"].GetString();
        auto& m = d["messages"][0];
        o.code = m.HasMember("message_status") && m["message_status"].IsString() ? m["message_status"].GetString() : "accepted";
        return o;
    }
    if (r.status >= 200 && r.status < 300) {
        o.kind = OutcomeKind::unknown;  // taken perhaps, but we cannot tell which message it is
        o.code = std::to_string(r.status);
        o.reason = "a success answer without a message id";
        return o;
    }
    int code = -1;
    if (json && d.HasMember("error") && d["error"].IsObject()) {
        auto& e = d["error"];
        if (e.HasMember("code") && e["code"].IsInt()) code = e["code"].GetInt();
        if (e.HasMember("message") && e["message"].IsString()) o.reason = e["message"].GetString();
    }
    o.code = code >= 0 ? std::to_string(code) : std::to_string(r.status);
    auto rule = std::find_if(kCodes.begin(), kCodes.end(), [&](const CodeRule& c) { return c.code == code; });
    if (rule != kCodes.end()) o.kind = rule->kind;
    else if (code > 200 && code < 300) o.kind = OutcomeKind::provider_down;  // the permission family
    else if (r.status == 429 || r.status >= 500) o.kind = OutcomeKind::retry;
    else if (r.status == 401 || r.status == 403) o.kind = OutcomeKind::provider_down;  // our token or rights
    else o.kind = OutcomeKind::failed;
    if (o.kind == OutcomeKind::retry) o.retry_after_ms = retry_after_ms(r);
    return o;
}

std::string whatsapp_template_body(const std::string& to, const render::Rendered& c, const std::string& job_id) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto str = [&w](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
    w.StartObject();
    w.Key("messaging_product"); w.String("whatsapp");
    w.Key("recipient_type"); w.String("individual");
    w.Key("to"); str(to.starts_with("+") ? to.substr(1) : to);  // the Cloud API takes digits
    w.Key("type"); w.String("template");
    w.Key("biz_opaque_callback_data"); str(job_id);  // comes back with every status
    w.Key("template");
    w.StartObject();
    w.Key("name"); str(c.whatsapp_name);
    w.Key("language"); w.StartObject(); w.Key("code"); str(c.whatsapp_language); w.EndObject();
    w.Key("components");
    w.StartArray();
    if (!c.whatsapp_parameters.empty()) {
        w.StartObject();
        w.Key("type"); w.String("body");
        w.Key("parameters");
        w.StartArray();
        for (auto& p : c.whatsapp_parameters) {
            w.StartObject();
            w.Key("type"); w.String("text");
            w.Key("text"); str(p);
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
    return {b.GetString(), b.GetSize()};
}

std::string whatsapp_signature(const std::string& app_secret, const std::string& body) {
    return "sha256=" + hex_encode(hmac_sha256(app_secret, body));
}

bool whatsapp_signature_valid(const std::string& app_secret, const std::string& body, const std::string& header) {
    return same_bytes(whatsapp_signature(app_secret, body), header);
}

std::optional<WhatsappNotification> parse_whatsapp_notification(std::string_view body) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("entry") || !d["entry"].IsArray()) return std::nullopt;
    WhatsappNotification out;
    auto text = [](const rapidjson::Value& v, const char* key) {
        return v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString()) : std::string();
    };
    for (auto& entry : d["entry"].GetArray()) {
        if (!entry.IsObject() || !entry.HasMember("changes") || !entry["changes"].IsArray()) continue;
        for (auto& change : entry["changes"].GetArray()) {
            if (!change.IsObject() || !change.HasMember("value") || !change["value"].IsObject()) continue;
            auto& value = change["value"];
            if (value.HasMember("statuses") && value["statuses"].IsArray())
                for (auto& s : value["statuses"].GetArray()) {
                    if (!s.IsObject() || text(s, "id").empty() || text(s, "status").empty()) continue;
                    WhatsappStatus st{text(s, "id"), text(s, "status"), text(s, "status")};
                    if (s.HasMember("errors") && s["errors"].IsArray() && !s["errors"].Empty() &&
                        s["errors"][0].IsObject() && s["errors"][0].HasMember("code") && s["errors"][0]["code"].IsInt())
                    {
                        const int code = s["errors"][0]["code"].GetInt();
                        st.provider_status += " " + std::to_string(code);
                        auto rule = std::find_if(kCodes.begin(), kCodes.end(), [&](const CodeRule& c) { return c.code == code; });
                        st.bad_address = rule != kCodes.end() && rule->kind == OutcomeKind::bad_address;
                        // A code a send's answer would retry (a rate limit, held for engagement)
                        // says the same of a failure reported later.
                        st.temporary = rule != kCodes.end() && rule->kind == OutcomeKind::retry;
                    }
                    out.statuses.push_back(std::move(st));
                }
            // Citizens' messages: "from" is the number in digits, without the '+'; a text, a
            // template's quick-reply button (its payload) or an interactive reply (its id, as
            // we set it). Pictures, voice and the rest carry no words to read: skipped.
            if (value.HasMember("messages") && value["messages"].IsArray())
                for (auto& m : value["messages"].GetArray()) {
                    if (!m.IsObject() || text(m, "from").empty()) continue;
                    const std::string type = text(m, "type");
                    std::string said;
                    if (type == "text" && m.HasMember("text") && m["text"].IsObject()) said = text(m["text"], "body");
                    else if (type == "button" && m.HasMember("button") && m["button"].IsObject())
                        said = text(m["button"], "payload").empty() ? text(m["button"], "text") : text(m["button"], "payload");
                    else if (type == "interactive" && m.HasMember("interactive") && m["interactive"].IsObject()) {
                        auto& i = m["interactive"];
                        for (const char* kind : {"button_reply", "list_reply"})
                            if (i.HasMember(kind) && i[kind].IsObject())
                                said = text(i[kind], "id").empty() ? text(i[kind], "title") : text(i[kind], "id");
                    } else continue;
                    InboundMessage in{"whatsapp", "+" + text(m, "from"), said, text(m, "id")};
                    if (m.HasMember("context") && m["context"].IsObject()) in.in_reply_to = text(m["context"], "id");
                    // Unix seconds, as a string.
                    const std::string ts = text(m, "timestamp");
                    if (!ts.empty() && ts.size() <= 12 && ts.find_first_not_of("0123456789") == std::string::npos)
                        in.received_ms = std::stoll(ts) * 1000;
                    out.messages.push_back(std::move(in));
                }
        }
    }
    return out;
}

WhatsappChannel::WhatsappChannel(HttpClient& http, std::string name, WhatsappConfig config)
    : http_(http), name_(std::move(name)), config_(std::move(config)), url_(config_.base_url + "/" + config_.phone_number_id + "/messages"),
      headers_(std::make_shared<HttpHeaders>(std::vector<std::pair<std::string, std::string>>{
          {"Authorization", "Bearer " + config_.access_token}, {"Content-Type", "application/json"}})) {}

void WhatsappChannel::send(Message message, Done done) {
    HttpRequest req;
    req.url = url_;
    req.body = whatsapp_template_body(message.recipient, message.content, message.job_id);
    req.fixed_headers = headers_;
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    http_.perform(std::move(req), [done = std::move(done)](HttpResponse r) { done(classify_whatsapp(r)); });
}

HookResult WhatsappChannel::hook(const HookRequest& req) const {
    if (!req.path.empty()) return {};
    if (req.method == "GET") {  // the subscription handshake
        std::string mode, token, challenge;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "hub.mode") mode = v;
            else if (k == "hub.verify_token") token = v;
            else if (k == "hub.challenge") challenge = v;
        }
        if (mode != "subscribe" || config_.verify_token.empty() || !same_bytes(token, config_.verify_token))
            return HookResult::refuse("a subscription handshake with a wrong verify token");
        return HookResult::taken(200, "text/plain", challenge);
    }
    if (req.method != "POST") return {};
    if (!whatsapp_signature_valid(config_.app_secret, std::string(req.body), req.header("x-hub-signature-256")))
        return HookResult::refuse("a notification with a bad signature");
    auto notification = parse_whatsapp_notification(req.body);
    if (!notification) return HookResult::malformed("a notification that is not a webhook's JSON");
    auto r = HookResult::taken(200);
    for (auto& s : notification->statuses)
        if (auto status = parse_status(s.status))
            r.events.push_back({name_, s.id, *status, s.provider_status, std::string(req.body), s.bad_address, s.temporary});
    r.inbound = std::move(notification->messages);
    return r;
}

namespace {

std::shared_ptr<const ProviderSettings> parse_whatsapp(config::Section& s) {
    WhatsappConfig w;
    s.string("base_url", w.base_url);
    s.string("phone_number_id", w.phone_number_id, true);
    s.secret("access_token", w.access_token);
    s.secret("app_secret", w.app_secret);
    s.secret("verify_token", w.verify_token);
    s.integer("timeout_ms", w.timeout_ms, 100, 120'000);
    if (w.access_token.empty()) s.problem("access_token_env", "required (or access_token_file)");
    if (w.app_secret.empty()) s.problem("app_secret_env", "required (or app_secret_file): it checks the webhooks");
    return std::make_shared<SettingsOf<WhatsappConfig>>(std::move(w));
}

std::unique_ptr<Channel> make_whatsapp(const ProviderContext& context, const ProviderConfig& instance) {
    return std::make_unique<WhatsappChannel>(context.http, instance.name, instance.settings_as<WhatsappConfig>());
}

}  // namespace

ProviderType whatsapp_provider() { return {"whatsapp", "whatsapp", parse_whatsapp, make_whatsapp}; }

}  // namespace crieur
