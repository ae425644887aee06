#include "channels/push/fcm.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "channels/encoding.hpp"
#include "daemon/config_section.hpp"
#include "daemon/log.hpp"

namespace crieur {

namespace {
constexpr const char* kScope = "https://www.googleapis.com/auth/firebase.messaging";
// Renew this long before the token expires, so that no send carries a token about to lapse.
constexpr auto kRenewAhead = std::chrono::minutes(5);

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
}  // namespace

ServiceAccount read_service_account(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("fcm: cannot read the service account key " + file);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document d;
    d.Parse(text.str().c_str());
    auto field = [&](const char* k) -> std::string {
        if (d.HasParseError() || !d.IsObject() || !d.HasMember(k) || !d[k].IsString())
            throw std::runtime_error("fcm: " + file + " has no '" + k + "'");
        return d[k].GetString();
    };
    return {field("client_email"), field("private_key"), field("token_uri")};
}

std::string fcm_assertion(const ServiceAccount& a, std::int64_t now) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("iss"); w.String(a.client_email.c_str());
    w.Key("scope"); w.String(kScope);
    w.Key("aud"); w.String(a.token_uri.c_str());
    w.Key("iat"); w.Int64(now);
    w.Key("exp"); w.Int64(now + 3600);
    w.EndObject();
    const std::string input = base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." +
                              base64url_encode({b.GetString(), b.GetSize()});
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(a.private_key_pem.data(), static_cast<int>(a.private_key_pem.size())));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) throw std::runtime_error("fcm: the service account's private_key is not a PEM key");
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) <= 0 ||
        EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) <= 0)
        throw std::runtime_error("fcm: cannot sign the assertion");
    std::string sig(len, '\0');
    EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    return input + "." + base64url_encode(sig);
}

Outcome classify_fcm(const HttpResponse& r) {
    if (auto none = classify_no_answer(r, "fcm")) return *none;
    Outcome o;
    o.provider = "fcm";
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    const bool json = !d.HasParseError() && d.IsObject();
    if (r.status == 200 && json && d.HasMember("name") && d["name"].IsString()) {
        o.kind = OutcomeKind::accepted;
        o.provider_id = d["name"].GetString();
        return o;
    }
    if (r.status >= 200 && r.status < 300) {
        o.kind = OutcomeKind::unknown;  // taken perhaps, but we cannot tell which message it is
        o.code = std::to_string(r.status);
        o.reason = "a success answer without a message name";
        return o;
    }
    // FCM's own code is in error.details[].errorCode, else error.status.
    std::string code;
    if (json && d.HasMember("error") && d["error"].IsObject()) {
        auto& e = d["error"];
        if (e.HasMember("message") && e["message"].IsString()) o.reason = e["message"].GetString();
        if (e.HasMember("status") && e["status"].IsString()) code = e["status"].GetString();
        if (e.HasMember("details") && e["details"].IsArray())
            for (auto& detail : e["details"].GetArray())
                if (detail.IsObject() && detail.HasMember("errorCode") && detail["errorCode"].IsString())
                    code = detail["errorCode"].GetString();
    }
    o.code = code.empty() ? std::to_string(r.status) : code;
    if (code == "UNREGISTERED" || code == "SENDER_ID_MISMATCH" || r.status == 404) o.kind = OutcomeKind::bad_address;
    else if (code == "QUOTA_EXCEEDED" || code == "UNAVAILABLE" || code == "INTERNAL" || r.status == 429 || r.status >= 500) {
        o.kind = OutcomeKind::retry;
        o.retry_after_ms = retry_after_ms(r);
    } else if (r.status == 401 && code != "THIRD_PARTY_AUTH_ERROR") {
        o.kind = OutcomeKind::retry;  // our access token lapsed: a fresh one is fetched
    } else if (code == "THIRD_PARTY_AUTH_ERROR" || code == "PERMISSION_DENIED" || r.status == 403) {
        o.kind = OutcomeKind::provider_down;  // our APNs credentials, or the service account's rights
    } else {
        o.kind = OutcomeKind::failed;  // INVALID_ARGUMENT: ours to mend
    }
    return o;
}

FcmChannel::FcmChannel(HttpClient& http, std::string name, FcmConfig config, const Clock& clock)
    : http_(http), clock_(clock), name_(std::move(name)), config_(std::move(config)), account_(read_service_account(config_.service_account_file)),
      url_(config_.base_url + "/v1/projects/" + config_.project_id + "/messages:send") {
    fcm_assertion(account_, 0);  // fails at start-up, not at the first send, when the key is bad
}

void FcmChannel::send(Message message, Done done) {
    if (!token_.empty() && clock_.steady() + kRenewAhead < token_expires_) {
        post(std::move(message), std::move(done));
        return;
    }
    waiting_.emplace_back(std::move(message), std::move(done));
    fetch_token();
}

void FcmChannel::fetch_token() {
    if (fetching_) return;
    fetching_ = true;
    HttpRequest req;
    req.url = account_.token_uri;
    const auto now = to_unix_ms(clock_.now()) / 1000;
    req.body = form_encode({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
                            {"assertion", fcm_assertion(account_, now)}});
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    http_.perform(std::move(req), [this](HttpResponse r) {
        fetching_ = false;
        rapidjson::Document d;
        d.Parse(r.body.data(), r.body.size());
        if (r.status == 200 && !d.HasParseError() && d.IsObject() && d.HasMember("access_token") &&
            d["access_token"].IsString() && d.HasMember("expires_in") && d["expires_in"].IsInt()) {
            token_ = d["access_token"].GetString();
            token_expires_ = clock_.steady() + std::chrono::seconds(d["expires_in"].GetInt());
            auto waiting = std::move(waiting_);
            waiting_.clear();
            for (auto& [m, done] : waiting) post(std::move(m), std::move(done));
            return;
        }
        spdlog::error("fcm: the token exchange failed ({} {}); the waiting sends will be retried", r.status,
                      r.error ? r.error.message() : r.body.substr(0, 200));
        auto waiting = std::move(waiting_);
        waiting_.clear();
        for (auto& [m, done] : waiting)
            done(Outcome{OutcomeKind::retry, "fcm", {}, "token_exchange", "no FCM access token", 0});
    });
}

void FcmChannel::post(Message message, Done done) {
    const render::Rendered& c = message.content;
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    const bool urgent = message.priority == Priority::urgent;
    w.StartObject();
    w.Key("message"); w.StartObject();
    w.Key("token"); w.String(message.recipient.c_str());
    w.Key("notification"); w.StartObject();
    w.Key("title"); w.String(c.subject.c_str());
    w.Key("body"); w.String(c.text.c_str());
    if (!c.icon.empty()) { w.Key("image"); w.String(c.icon.c_str()); }
    w.EndObject();
    w.Key("data"); w.StartObject();
    w.Key("job_id"); w.String(message.job_id.c_str());
    if (!c.url.empty()) { w.Key("url"); w.String(c.url.c_str()); }
    w.EndObject();
    w.Key("android"); w.StartObject(); w.Key("priority"); w.String(urgent ? "high" : "normal"); w.EndObject();
    w.Key("apns"); w.StartObject(); w.Key("headers"); w.StartObject();
    w.Key("apns-priority"); w.String(urgent ? "10" : "5");
    w.EndObject(); w.EndObject();
    w.EndObject();
    w.EndObject();
    HttpRequest req;
    req.url = url_;
    req.body.assign(b.GetString(), b.GetSize());
    req.headers = {{"Authorization", "Bearer " + token_}, {"Content-Type", "application/json; charset=utf-8"}};
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    http_.perform(std::move(req), [this, done = std::move(done)](HttpResponse r) {
        if (r.status == 401) token_.clear();  // lapsed or revoked: the next send fetches a new one
        done(classify_fcm(r));
    });
}

namespace {

std::shared_ptr<const ProviderSettings> parse_fcm(config::Section& s) {
    FcmConfig f;
    s.string("base_url", f.base_url);
    s.string("project_id", f.project_id, true);
    s.path("service_account_file", f.service_account_file, true);
    s.integer("timeout_ms", f.timeout_ms, 100, 120'000);
    return std::make_shared<SettingsOf<FcmConfig>>(std::move(f));
}

std::unique_ptr<Channel> make_fcm(const ProviderContext& context, const ProviderConfig& instance) {
    return std::make_unique<FcmChannel>(context.http, instance.name, instance.settings_as<FcmConfig>(), context.clock);
}

}  // namespace

ProviderType fcm_provider() { return {"fcm", "push", parse_fcm, make_fcm}; }

}  // namespace crieur
