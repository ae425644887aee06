#include "channels/sms/ovh.hpp"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>

#include "channels/encoding.hpp"
#include "daemon/config_section.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/log.hpp"
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

std::optional<InboundMessage> parse_ovh_incoming(std::string_view body) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("id") || !d["id"].IsInt64() || !d.HasMember("sender") ||
        !d["sender"].IsString())
        return std::nullopt;
    InboundMessage m;
    m.channel = "sms";
    m.from = d["sender"].GetString();
    if (m.from.starts_with("00")) m.from = "+" + m.from.substr(2);
    if (m.from.empty()) return std::nullopt;
    if (d.HasMember("message") && d["message"].IsString()) m.text = d["message"].GetString();
    m.provider_id = std::to_string(d["id"].GetInt64());
    if (d.HasMember("creationDatetime") && d["creationDatetime"].IsString())
        if (auto at = parse_rfc3339(d["creationDatetime"].GetString())) m.received_ms = to_unix_ms(*at);
    return m;
}

OvhChannel::OvhChannel(boost::asio::io_context& io, HttpClient& http, std::string name, OvhConfig config, const Clock& clock)
    : io_(io), http_(http), clock_(clock), name_(std::move(name)), config_(std::move(config)),
      url_(config_.base_url + "/sms/" + config_.service_name + "/jobs") {}

OvhChannel::~OvhChannel() { *alive_ = false; }

HttpRequest OvhChannel::signed_request(std::string method, std::string url, std::string body) const {
    HttpRequest req;
    req.method = std::move(method);
    req.url = std::move(url);
    req.body = std::move(body);
    const std::string ts = std::to_string(to_unix_ms(clock_.now()) / 1000);
    req.headers = {{"X-Ovh-Application", config_.application_key},
                   {"X-Ovh-Consumer", config_.consumer_key},
                   {"X-Ovh-Timestamp", ts},
                   {"X-Ovh-Signature", ovh_signature(config_.application_secret, config_.consumer_key, req.method,
                                                     req.url, req.body, ts)}};
    if (!req.body.empty()) req.headers.insert(req.headers.begin(), {"Content-Type", "application/json"});
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    return req;
}

// OVH pushes no citizens' messages: they are fetched (the list of ids, then each one), handed to
// the sink, and deleted at OVH once stored, since OVH offers no filter for the unread ones. One
// round at a time; a round that fails waits for the next.
void OvhChannel::start_inbound(InboundSink sink) {
    if (config_.inbound_poll_s <= 0 || sink_) return;
    sink_ = std::move(sink);
    poll_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    poll_later(std::chrono::seconds(0));
}

void OvhChannel::stop() {
    *alive_ = false;
    if (poll_timer_) poll_timer_->cancel();
}

void OvhChannel::poll_later(std::chrono::seconds after) {
    if (!*alive_) return;
    poll_timer_->expires_after(after);
    poll_timer_->async_wait([this, alive = alive_](boost::system::error_code e) {
        if (!e && *alive) poll();
    });
}

void OvhChannel::poll() {
    const std::string base = config_.base_url + "/sms/" + config_.service_name + "/incoming";
    http_.perform(signed_request("GET", base, ""), [this, alive = alive_](HttpResponse r) {
        if (!*alive) return;
        const auto every = std::chrono::seconds(config_.inbound_poll_s);
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        if (r.status != 200 || d.HasParseError() || !d.IsArray()) {
            spdlog::warn("ovh: {}: the incoming messages could not be listed (HTTP {}{})", name_, r.status,
                         r.error ? ", " + r.error.message() : "");
            return poll_later(every);
        }
        auto ids = std::make_shared<std::vector<long long>>();
        for (auto& v : d.GetArray())
            if (v.IsInt64() && ids->size() < 100) ids->push_back(v.GetInt64());
        if (ids->empty()) return poll_later(every);
        fetch(ids, 0, {});
    });
}

void OvhChannel::fetch(std::shared_ptr<std::vector<long long>> ids, std::size_t next, std::vector<InboundMessage> got) {
    const auto every = std::chrono::seconds(config_.inbound_poll_s);
    if (next == ids->size()) {
        // Deleted at OVH only once written here: a crash before keeps them there for the next round.
        auto fetched = std::make_shared<std::vector<long long>>();
        for (auto& m : got) fetched->push_back(std::stoll(m.provider_id));
        if (got.empty()) return poll_later(every);
        return sink_(name_, std::move(got), [this, alive = alive_, fetched, every, full = ids->size() >= 100](bool stored) {
            if (!*alive) return;
            if (stored) remove(*fetched);
            poll_later(stored && full ? std::chrono::seconds(0) : every);
        });
    }
    const std::string url = config_.base_url + "/sms/" + config_.service_name + "/incoming/" + std::to_string((*ids)[next]);
    http_.perform(signed_request("GET", url, ""),
                  [this, alive = alive_, ids, next, got = std::move(got)](HttpResponse r) mutable {
                      if (!*alive) return;
                      if (r.status == 200) {
                          if (auto m = parse_ovh_incoming(r.body)) got.push_back(std::move(*m));
                          else spdlog::warn("ovh: {}: incoming message {} could not be read", name_, (*ids)[next]);
                      }  // gone meanwhile (404) or unanswered: the next round sees it again, or not
                      fetch(ids, next + 1, std::move(got));
                  });
}

void OvhChannel::remove(const std::vector<long long>& ids) {
    for (auto id : ids) {
        const std::string url = config_.base_url + "/sms/" + config_.service_name + "/incoming/" + std::to_string(id);
        http_.perform(signed_request("DELETE", url, ""), [this, alive = alive_, id](HttpResponse r) {
            // Not deleted: fetched again next round, and dropped as a copy by its id.
            if (*alive && r.status / 100 != 2)
                spdlog::warn("ovh: {}: incoming message {} could not be deleted (HTTP {})", name_, id, r.status);
        });
    }
}

void OvhChannel::send(Message message, Done done) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("message"); w.String(message.content.text.c_str());
    w.Key("receivers"); w.StartArray(); w.String(message.recipient.c_str()); w.EndArray();
    if (config_.sender_for_response) {
        w.Key("senderForResponse"); w.Bool(true);  // from a number citizens can answer
    } else {
        w.Key("sender"); w.String(config_.sender.c_str());
    }
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
    s.string("sender", o.sender);
    s.secret("callback_token", o.callback_token);
    s.integer("timeout_ms", o.timeout_ms, 100, 120'000);
    s.boolean("sender_for_response", o.sender_for_response);
    s.integer("inbound_poll_s", o.inbound_poll_s, 0, 3600);
    if (o.sender.empty() && !o.sender_for_response) s.problem("sender", "required (or sender_for_response = true)");
    if (o.application_secret.empty()) s.problem("application_secret_env", "required (or application_secret_file)");
    if (o.consumer_key.empty()) s.problem("consumer_key_env", "required (or consumer_key_file)");
    return std::make_shared<SettingsOf<OvhConfig>>(std::move(o));
}

std::unique_ptr<Channel> make_ovh(const ProviderContext& context, const ProviderConfig& instance) {
    return std::make_unique<OvhChannel>(context.io, context.http, instance.name, instance.settings_as<OvhConfig>(), context.clock);
}

}  // namespace

ProviderType ovh_provider() { return {"ovh", "sms", parse_ovh, make_ovh}; }

}  // namespace crieur
