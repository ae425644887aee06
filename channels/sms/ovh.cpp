#include "channels/sms/ovh.hpp"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>

#include "channels/encoding.hpp"
#include "daemon/config_section.hpp"
#include "daemon/status.hpp"

namespace crieur {

std::string ovh_signature(const std::string& application_secret, const std::string& consumer_key,
                          const std::string& method, const std::string& url, const std::string& body,
                          const std::string& timestamp) {
    const std::string data = application_secret + "+" + consumer_key + "+" + method + "+" + url + "+" + body + "+" + timestamp;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr);
    return "$1$" + hex_encode({reinterpret_cast<char*>(digest), len});
}

Outcome classify_ovh(const HttpResponse& r, const std::string& receiver) {
    if (auto none = classify_no_answer(r, "ovh")) return *none;
    Outcome o;
    o.provider = "ovh";
    o.code = std::to_string(r.status);
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    const bool json = !d.HasParseError() && d.IsObject();
    if (json && d.HasMember("message") && d["message"].IsString()) o.reason = d["message"].GetString();
    if (r.status == 200 && json) {
        auto in = [&](const char* list) {
            if (!d.HasMember(list) || !d[list].IsArray()) return false;
            for (auto& v : d[list].GetArray())
                if (v.IsString() && receiver == v.GetString()) return true;
            return false;
        };
        if (in("invalidReceivers")) {
            o.kind = OutcomeKind::bad_address;
            o.code = "invalidReceivers";
            o.reason = "OVH refused the number";
            return o;
        }
        if (d.HasMember("ids") && d["ids"].IsArray() && !d["ids"].Empty() && d["ids"][0].IsUint64()) {
            o.kind = OutcomeKind::accepted;
            o.provider_id = std::to_string(d["ids"][0].GetUint64());
            return o;
        }
        o.kind = OutcomeKind::unknown;
        o.reason = "an answer with neither ids nor invalid receivers";
        return o;
    }
    if (r.status >= 200 && r.status < 300) {
        o.kind = OutcomeKind::unknown;  // taken perhaps, but we cannot tell which message it is
        o.reason = "a success answer that is not OVH's JSON";
        return o;
    }
    if (r.status == 429 || r.status >= 500) {
        o.kind = OutcomeKind::retry;
        o.retry_after_ms = retry_after_ms(r);
    } else if (r.status == 401 || r.status == 403) {
        o.kind = OutcomeKind::provider_down;  // credentials or rights
    } else {
        o.kind = OutcomeKind::failed;  // 400: a bad parameter or sender, ours to mend
    }
    return o;
}

std::string ovh_status(const std::string& dlr) {
    if (dlr == "1") return "delivered";
    if (dlr == "2" || dlr == "16") return "failed";
    return {};
}

OvhChannel::OvhChannel(HttpClient& http, std::string name, OvhConfig config, const Clock& clock)
    : http_(http), clock_(clock), name_(std::move(name)), config_(std::move(config)), url_(config_.base_url + "/sms/" + config_.service_name + "/jobs") {}

void OvhChannel::send(Message message, Done done) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("message"); w.String(message.content.text.c_str());
    w.Key("receivers"); w.StartArray(); w.String(message.recipient.c_str()); w.EndArray();
    w.Key("sender"); w.String(config_.sender.c_str());
    w.Key("charset"); w.String("UTF-8");
    w.Key("coding"); w.String(message.content.sms && message.content.sms->encoding == sms::Encoding::ucs2 ? "8bit" : "7bit");
    w.Key("noStopClause"); w.Bool(true);  // a public-service message, not marketing
    w.Key("priority"); w.String(message.priority == Priority::urgent ? "high" : "medium");
    w.Key("tag"); w.String(message.job_id.substr(0, 128).c_str());
    w.EndObject();
    HttpRequest req;
    req.url = url_;
    req.body.assign(b.GetString(), b.GetSize());
    const std::string ts = std::to_string(to_unix_ms(clock_.now()) / 1000);
    req.headers = {{"Content-Type", "application/json"},
                   {"X-Ovh-Application", config_.application_key},
                   {"X-Ovh-Consumer", config_.consumer_key},
                   {"X-Ovh-Timestamp", ts},
                   {"X-Ovh-Signature", ovh_signature(config_.application_secret, config_.consumer_key, "POST", url_,
                                                     req.body, ts)}};
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    http_.perform(std::move(req), [receiver = message.recipient, done = std::move(done)](HttpResponse r) {
        done(classify_ovh(r, receiver));
    });
}

HookResult OvhChannel::hook(const HookRequest& req) const {
    if (req.method != "GET" && req.method != "POST") return {};
    // GET (or POST) /hooks/<name>/<token>?id=<outgoing id>&dlr=<code>.
    std::string_view token = req.path;
    if (token.starts_with('/')) token.remove_prefix(1);
    if (config_.callback_token.empty() || !same_bytes(token, config_.callback_token))
        return HookResult::refuse("a delivery report on an unknown path");
    std::string id, dlr;
    auto params = form_decode(std::string(req.query));  // the parameters come in the query string, or in a form body
    for (auto& p : form_decode(std::string(req.body))) params.push_back(std::move(p));
    for (auto& [k, v] : params) {
        if (k == "id") id = v;
        else if (k == "dlr") dlr = v;
    }
    if (id.empty() || dlr.empty()) return HookResult::malformed("a delivery report without id or dlr");
    auto r = HookResult::taken(200);
    const std::string ours = ovh_status(dlr);
    if (ours.empty()) return r;
    r.events.push_back({name_, id, *parse_status(ours), "dlr " + dlr,
                        std::string(req.query) + (req.body.empty() ? "" : "&" + std::string(req.body))});
    return r;
}

namespace {

std::shared_ptr<const ProviderSettings> parse_ovh(config::Section& s) {
    OvhConfig o;
    s.string("base_url", o.base_url);
    s.string("service_name", o.service_name, true);
    s.string("application_key", o.application_key, true);
    s.secret("application_secret", o.application_secret);
    s.secret("consumer_key", o.consumer_key);
    s.string("sender", o.sender, true);
    s.secret("callback_token", o.callback_token);
    s.integer("timeout_ms", o.timeout_ms, 100, 120'000);
    if (o.application_secret.empty()) s.problem("application_secret_env", "required (or application_secret_file)");
    if (o.consumer_key.empty()) s.problem("consumer_key_env", "required (or consumer_key_file)");
    return std::make_shared<SettingsOf<OvhConfig>>(std::move(o));
}

std::unique_ptr<Channel> make_ovh(const ProviderContext& context, const ProviderConfig& instance) {
    return std::make_unique<OvhChannel>(context.http, instance.name, instance.settings_as<OvhConfig>(), context.clock);
}

}  // namespace

ProviderType ovh_provider() { return {"ovh", "sms", parse_ovh, make_ovh}; }

}  // namespace crieur
