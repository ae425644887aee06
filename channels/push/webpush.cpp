#include "channels/push/webpush.hpp"

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "channels/encoding.hpp"
#include "channels/url.hpp"
#include "daemon/config_section.hpp"

namespace crieur {

namespace {

// RAII for OpenSSL's objects.
struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct CipherCtxFree { void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
struct BnFree { void operator()(BIGNUM* p) const { BN_free(p); } };
struct GroupFree { void operator()(EC_GROUP* p) const { EC_GROUP_free(p); } };
struct PointFree { void operator()(EC_POINT* p) const { EC_POINT_free(p); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); } };
struct SigFree { void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); } };
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string("webpush: ") + what); }

// An EC P-256 key from its parts: a public point (65 bytes), and optionally the private scalar.
Pkey make_key(const std::string& public_point, const std::string& private_scalar = {}) {
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    std::unique_ptr<BIGNUM, BnFree> priv;
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_point.data(), public_point.size());
    if (!private_scalar.empty()) {
        priv.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(private_scalar.data()),
                             static_cast<int>(private_scalar.size()), nullptr));
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get());
    }
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, private_scalar.empty() ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEYPAIR,
                          params.get()) <= 0)
        fail("not a P-256 key");
    Pkey key(raw);
    // A point off the curve is refused (RFC 8291 §7).
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (EVP_PKEY_public_check(check.get()) <= 0) fail("the public key is not on P-256");
    return key;
}

// The public point of a private scalar (for a fixed ephemeral key in tests).
std::string public_of(const std::string& private_scalar) {
    std::unique_ptr<EC_GROUP, GroupFree> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
    std::unique_ptr<BIGNUM, BnFree> k(BN_bin2bn(reinterpret_cast<const unsigned char*>(private_scalar.data()),
                                                static_cast<int>(private_scalar.size()), nullptr));
    std::unique_ptr<EC_POINT, PointFree> point(EC_POINT_new(group.get()));
    if (!EC_POINT_mul(group.get(), point.get(), k.get(), nullptr, nullptr, nullptr)) fail("bad private key");
    unsigned char out[65];
    if (EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, out, sizeof out, nullptr) != 65)
        fail("bad public point");
    return std::string(reinterpret_cast<char*>(out), 65);
}

std::string encoded_public(EVP_PKEY* key) {
    unsigned char out[65];
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, sizeof out, &len) <= 0 || len != 65)
        fail("cannot read a public key");
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string origin_of(const std::string& url) {
    auto p = parts_of(url);
    return p ? p->scheme + "://" + p->host + (p->port.empty() ? "" : ":" + p->port) : "";
}

bool is_loopback_host(const std::string& host) { return host == "127.0.0.1" || host == "[::1]" || host == "localhost"; }

}  // namespace

std::string push_topic(std::string_view job_id) {
    // 24 bytes of the digest are 32 base64url characters, the most RFC 8030 allows.
    return base64url_encode(sha256(job_id).substr(0, 24));
}

std::optional<PushSubscription> parse_subscription(const std::string& json, std::string* why) {
    auto no = [&](const char* reason) -> std::optional<PushSubscription> {
        if (why) *why = reason;
        return std::nullopt;
    };
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("endpoint") || !d["endpoint"].IsString() ||
        !d.HasMember("keys") || !d["keys"].IsObject())
        return no("a push subscription is {\"endpoint\", \"keys\": {\"p256dh\", \"auth\"}}");
    PushSubscription s;
    s.endpoint = d["endpoint"].GetString();
    const auto url = parts_of(s.endpoint);
    if (!url || (url->scheme != "https" && !(url->scheme == "http" && is_loopback_host(url->host))))
        return no("the endpoint must be an https URL");
    auto& k = d["keys"];
    if (!k.HasMember("p256dh") || !k["p256dh"].IsString() || !k.HasMember("auth") || !k["auth"].IsString())
        return no("the subscription's keys need p256dh and auth");
    auto p256dh = base64url_decode(k["p256dh"].GetString());
    auto auth = base64url_decode(k["auth"].GetString());
    if (!p256dh || p256dh->size() != 65 || (*p256dh)[0] != 0x04) return no("keys.p256dh must be a 65-byte P-256 point");
    if (!auth || auth->size() < 16) return no("keys.auth must be 16 bytes");
    s.p256dh = std::move(*p256dh);
    s.auth = auth->substr(0, 16);
    return s;
}

std::string WebPushChannel::breaker_scope(std::string_view recipient) const {
    auto sub = parse_subscription(std::string(recipient));
    return sub ? sub->endpoint : std::string(recipient.substr(0, 512));
}

std::string WebPushChannel::refusal(std::string_view recipient) const {
    auto sub = parse_subscription(std::string(recipient));
    if (!sub || push_host_allowed(sub->endpoint, config_.allowed_hosts)) return {};
    const auto url = parts_of(sub->endpoint);
    return "the endpoint's host " + (url ? "'" + url->host.substr(0, 100) + "' " : std::string()) +
           "is not a push service in the allowed_hosts of provider " + name_;
}

std::string webpush_encrypt(std::string_view plaintext, const std::string& ua_public, const std::string& auth_secret,
                            std::string as_private, std::string salt) {
    // 1. The application server's ephemeral key pair, and the salt.
    Pkey as_key;
    std::string as_public;
    if (as_private.empty()) {
        as_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
        if (!as_key) fail("cannot generate a key");
        as_public = encoded_public(as_key.get());
    } else {
        as_public = public_of(as_private);
        as_key = make_key(as_public, as_private);
    }
    if (salt.empty()) {
        salt.resize(16);
        RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), 16);
    }
    // 2. ECDH with the user agent's public key.
    Pkey ua_key = make_key(ua_public);
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> dctx(EVP_PKEY_CTX_new_from_pkey(nullptr, as_key.get(), nullptr));
    std::size_t secret_len = 32;
    std::string ecdh(32, '\0');
    if (EVP_PKEY_derive_init(dctx.get()) <= 0 || EVP_PKEY_derive_set_peer(dctx.get(), ua_key.get()) <= 0 ||
        EVP_PKEY_derive(dctx.get(), reinterpret_cast<unsigned char*>(ecdh.data()), &secret_len) <= 0 || secret_len != 32)
        fail("ECDH failed");
    // 3–8. The key schedule of RFC 8291 §3.4 and RFC 8188 §2.2–2.3.
    const std::string prk_key = hmac_sha256(auth_secret, ecdh);
    std::string key_info = std::string("WebPush: info") + '\0' + ua_public + as_public + '\x01';
    const std::string ikm = hmac_sha256(prk_key, key_info);
    const std::string prk = hmac_sha256(salt, ikm);
    const std::string cek = hmac_sha256(prk, std::string("Content-Encoding: aes128gcm") + '\0' + '\x01').substr(0, 16);
    const std::string nonce = hmac_sha256(prk, std::string("Content-Encoding: nonce") + '\0' + '\x01').substr(0, 12);
    // 9–10. One record: the payload, the last-record delimiter 0x02, sealed with AES-128-GCM.
    std::string record(plaintext);
    record += '\x02';
    std::string out;
    out.reserve(86 + record.size() + 16);
    out += salt;
    out += std::string("\x00\x00\x10\x00", 4);  // rs = 4096
    out += static_cast<char>(65);
    out += as_public;
    std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> c(EVP_CIPHER_CTX_new());
    std::string sealed(record.size() + 16, '\0');
    int len = 0, fin = 0;
    if (EVP_EncryptInit_ex(c.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) <= 0 ||
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) <= 0 ||
        EVP_EncryptInit_ex(c.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(cek.data()),
                           reinterpret_cast<const unsigned char*>(nonce.data())) <= 0 ||
        EVP_EncryptUpdate(c.get(), reinterpret_cast<unsigned char*>(sealed.data()), &len,
                          reinterpret_cast<const unsigned char*>(record.data()), static_cast<int>(record.size())) <= 0 ||
        EVP_EncryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(sealed.data()) + len, &fin) <= 0 ||
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, 16,
                            reinterpret_cast<unsigned char*>(sealed.data()) + len + fin) <= 0)
        fail("AES-128-GCM failed");
    out += sealed;
    return out;
}

Vapid::Vapid(const std::string& pem_file, std::string subject) : key_(nullptr), subject_(std::move(subject)) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(pem_file.c_str(), "r"));
    if (!bio) throw std::runtime_error("webpush: cannot read the VAPID key " + pem_file);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (!key) throw std::runtime_error("webpush: " + pem_file + " holds no private key (PEM)");
    key_ = key;
    public_key_ = base64url_encode(encoded_public(key));
}

Vapid::~Vapid() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

std::string Vapid::authorization(const std::string& endpoint, std::int64_t expires_unix) const {
    const std::string header = base64url_encode(R"({"typ":"JWT","alg":"ES256"})");
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("aud"); w.String(origin_of(endpoint).c_str());
    w.Key("exp"); w.Int64(expires_unix);
    w.Key("sub"); w.String(subject_.c_str());
    w.EndObject();
    const std::string signing_input = header + "." + base64url_encode({b.GetString(), b.GetSize()});
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    std::size_t der_len = 0;
    auto* key = static_cast<EVP_PKEY*>(key_);
    if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) <= 0 ||
        EVP_DigestSign(md.get(), nullptr, &der_len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) <= 0)
        fail("VAPID signature failed");
    std::string der(der_len, '\0');
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) <= 0)
        fail("VAPID signature failed");
    // JWS ES256 is R || S, 32 bytes each, not OpenSSL's DER (RFC 7518 §3.4).
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
    if (!sig) fail("VAPID signature is not DER");
    const BIGNUM *r = nullptr, *s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    unsigned char raw[64];
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    return "vapid t=" + signing_input + "." + base64url_encode({reinterpret_cast<char*>(raw), 64}) + ", k=" + public_key_;
}

Outcome classify_webpush(const HttpResponse& r) {
    if (auto none = classify_no_answer(r, "webpush")) return *none;
    Outcome o;
    o.provider = "webpush";
    o.code = std::to_string(r.status);
    if (r.status == 201 || r.status == 202) {
        o.kind = OutcomeKind::accepted;
        auto loc = r.headers.find("location");
        o.provider_id = loc != r.headers.end() ? loc->second : "";
        return o;
    }
    o.reason = r.body.substr(0, 200);
    if (r.status == 404 || r.status == 410) {
        o.kind = OutcomeKind::bad_address;  // the subscription expired or was withdrawn
    } else if (r.status == 429 || r.status >= 500) {
        o.kind = OutcomeKind::retry;
        o.retry_after_ms = retry_after_ms(r);
    } else if (r.status == 401 || r.status == 403) {
        o.kind = OutcomeKind::provider_down;  // our VAPID key is refused
    } else {
        o.kind = OutcomeKind::failed;  // 400 bad headers, 413 too large: ours to mend
    }
    return o;
}

WebPushChannel::WebPushChannel(HttpClient& http, std::string name, WebPushConfig config, const Clock& clock)
    : http_(http), clock_(clock), name_(std::move(name)), config_(std::move(config)), vapid_(config_.vapid_key_file, config_.vapid_subject) {}

bool push_host_allowed(const std::string& endpoint, const std::vector<std::string>& allowed) {
    const auto url = parts_of(endpoint);
    return url && host_listed(url->host, allowed);
}

void WebPushChannel::send(Message message, Done done) {
    std::string why;
    auto sub = parse_subscription(message.recipient, &why);
    if (!sub) {
        done(Outcome{OutcomeKind::bad_address, "webpush", {}, "bad_subscription", why, 0});
        return;
    }
    if (!push_host_allowed(sub->endpoint, config_.allowed_hosts)) {
        done(Outcome{OutcomeKind::bad_address, "webpush", {}, "host_not_allowed",
                     "the endpoint's host is not a push service in the provider's allowed_hosts", 0});
        return;
    }
    const render::Rendered& c = message.content;
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("title"); w.String(c.subject.c_str());
    w.Key("body"); w.String(c.text.c_str());
    if (!c.url.empty()) { w.Key("url"); w.String(c.url.c_str()); }
    if (!c.icon.empty()) { w.Key("icon"); w.String(c.icon.c_str()); }
    w.Key("id"); w.String(message.job_id.c_str());
    w.EndObject();
    HttpRequest req;
    req.url = sub->endpoint;
    req.body = webpush_encrypt({b.GetString(), b.GetSize()}, sub->p256dh, sub->auth);
    const auto exp = to_unix_ms(clock_.now()) / 1000 + 12 * 3600;  // VAPID: at most 24 h ahead
    std::string topic = push_topic(message.job_id);
    req.headers = {{"TTL", std::to_string(config_.ttl_s)},
                   {"Urgency", message.priority == Priority::urgent ? "high" : "normal"},
                   {"Topic", topic},
                   {"Content-Encoding", "aes128gcm"},
                   {"Content-Type", "application/octet-stream"},
                   {"Authorization", vapid_.authorization(sub->endpoint, exp)}};
    req.timeout = std::chrono::milliseconds(config_.timeout_ms);
    http_.perform(std::move(req), [done = std::move(done)](HttpResponse r) { done(classify_webpush(r)); });
}

namespace {

std::shared_ptr<const ProviderSettings> parse_webpush(config::Section& s) {
    WebPushConfig w;
    s.path("vapid_key_file", w.vapid_key_file, true);
    s.string("vapid_subject", w.vapid_subject, true);
    s.integer("ttl_s", w.ttl_s, 0, 2'419'200);
    s.integer("timeout_ms", w.timeout_ms, 100, 120'000);
    s.strings("allowed_hosts", w.allowed_hosts);
    return std::make_shared<SettingsOf<WebPushConfig>>(std::move(w));
}

std::unique_ptr<Channel> make_webpush(const ProviderContext& context, const ProviderConfig& instance) {
    return std::make_unique<WebPushChannel>(context.http, instance.name, instance.settings_as<WebPushConfig>(), context.clock);
}

}  // namespace

ProviderType webpush_provider() { return {"webpush", "push", parse_webpush, make_webpush}; }

}  // namespace crieur
