#include "channels/email/smtp.hpp"

#include <curl/curl.h>
#include <openssl/rand.h>

#include <chrono>
#include <ctime>
#include <vector>

#include "channels/email/tracking.hpp"
#include "channels/encoding.hpp"
#include "daemon/config.hpp"
#include "daemon/config_section.hpp"

namespace crieur {

namespace {

std::string address_of(const std::string& from) {
    auto lt = from.find('<'), gt = from.find('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt) return from.substr(lt + 1, gt - lt - 1);
    return from;
}

std::string rfc5322_date() {
    char buf[64];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

// The message id's characters that may stand in a Message-ID's left part.
std::string id_safe(const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += std::isalnum(c) || c == '.' || c == '-' || c == '_' ? static_cast<char>(c) : '-';
    return out;
}

// Owns what libcurl's options point into during one SMTP transaction.
struct SmtpTransfer {
    curl_mime* mime = nullptr;
    curl_slist* recipients = nullptr;
    curl_slist* headers = nullptr;
    std::string url, from, username, password;
    std::string last_reply;  // the server's last refusal (4xx or 5xx reply line), for its text
    ~SmtpTransfer() {
        if (mime) curl_mime_free(mime);
        if (recipients) curl_slist_free_all(recipients);
        if (headers) curl_slist_free_all(headers);
    }
};

std::size_t on_reply_line(char* data, std::size_t size, std::size_t n, void* self) {
    std::string line(data, size * n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    // Keep the refusal, not the 221 of the QUIT that follows it.
    if (line.size() >= 3 && (line[0] == '4' || line[0] == '5')) static_cast<SmtpTransfer*>(self)->last_reply = line;
    return size * n;
}

}  // namespace

Outcome classify_smtp(int curl_code, int reply_code, const std::string& reply_text, bool request_sent) {
    Outcome o;
    o.provider = "smtp";
    o.code = reply_code ? std::to_string(reply_code) : std::to_string(curl_code);
    if (curl_code == CURLE_OK) {
        o.kind = OutcomeKind::accepted;
        return o;
    }
    o.reason = reply_text.empty() ? curl_easy_strerror(static_cast<CURLcode>(curl_code)) : reply_text;
    if (reply_code >= 400 && reply_code < 500) {
        o.kind = OutcomeKind::retry;  // transient: mailbox busy, greylisting, storage
        return o;
    }
    if (reply_code >= 500) {
        // A refused mailbox is a bad address; a policy refusal (5.7.x) is about us, not the citizen;
        // authentication failures are our configuration.
        const bool policy = reply_text.find(" 5.7.") != std::string::npos;
        if ((reply_code == 550 || reply_code == 551 || reply_code == 553) && !policy) o.kind = OutcomeKind::bad_address;
        else if (reply_code == 535 || reply_code == 530) o.kind = OutcomeKind::provider_down;  // our credentials
        else o.kind = OutcomeKind::failed;
        return o;
    }
    // No reply code: the connection or TLS failed. After DATA began, the relay may have it.
    o.kind = (curl_code == CURLE_OPERATION_TIMEDOUT && request_sent) ? OutcomeKind::unknown : OutcomeKind::retry;
    return o;
}

std::string encode_header(const std::string& value) {
    bool ascii = true;
    for (unsigned char c : value) ascii = ascii && c >= 0x20 && c < 0x7f;
    if (ascii) return value;
    // Encoded words of at most 75 characters: 45 bytes of UTF-8 each, cut between characters.
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t end = std::min(value.size(), i + 45);
        while (end < value.size() && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
        out += (out.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") + base64_encode(value.substr(i, end - i)) + "?=";
        i = end;
    }
    return out;
}

std::string unsubscribe_token(const std::string& secret, const std::string& message_id) {
    return base64url_encode(message_id) + "." + hex_encode(hmac_sha256(secret, message_id).substr(0, 16));
}

std::optional<std::string> unsubscribe_message_id(const std::string& secret, std::string_view token) {
    const auto dot = token.find('.');
    if (secret.empty() || dot == std::string_view::npos || token.size() > 1024) return std::nullopt;
    auto id = base64url_decode(token.substr(0, dot));
    if (!id || id->empty()) return std::nullopt;
    // Compared in constant time: a near miss tells nothing about the right MAC.
    if (!same_bytes(hex_encode(hmac_sha256(secret, *id).substr(0, 16)), token.substr(dot + 1))) return std::nullopt;
    return id;
}

SmtpChannel::SmtpChannel(HttpClient& http, std::string name, SmtpConfig config)
    : http_(http), name_(std::move(name)), config_(std::move(config)) {
    envelope_from_ = config_.bounce_address.empty() ? address_of(config_.from) : config_.bounce_address;
    auto at = envelope_from_.find('@');
    domain_ = at == std::string::npos ? "crieur.invalid" : envelope_from_.substr(at + 1);
}

// An address that may stand in RCPT TO and the To header: local@domain, nothing that could end
// the command or the header (control characters, <, >, spaces).
bool plausible_address(std::string_view a) {
    const auto at = a.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= a.size() || a.find('@', at + 1) != std::string_view::npos)
        return false;
    for (unsigned char c : a)
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';') return false;
    return true;
}

void SmtpChannel::send(Message message, Done done) {
    if (!plausible_address(message.recipient)) {
        done(Outcome{OutcomeKind::bad_address, "smtp", {}, "bad_address", "not an e-mail address", 0});
        return;
    }
    std::string nonce(6, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size()));
    const std::string message_id = "<" + id_safe(message.job_id) + "." + hex_encode(nonce) + "@" + domain_ + ">";

    auto transfer = std::make_shared<SmtpTransfer>();
    auto setup = [this, &message, &message_id, transfer](void* easy) -> std::shared_ptr<void> {
        CURL* e = static_cast<CURL*>(easy);
        SmtpTransfer& t = *transfer;
        t.url = config_.url;
        t.from = "<" + envelope_from_ + ">";
        curl_easy_setopt(e, CURLOPT_URL, t.url.c_str());
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        curl_easy_setopt(e, CURLOPT_USE_SSL, config_.starttls == "none" ? CURLUSESSL_NONE : CURLUSESSL_ALL);
        if (!config_.username.empty()) {
            t.username = config_.username;
            t.password = config_.password;
            curl_easy_setopt(e, CURLOPT_USERNAME, t.username.c_str());
            curl_easy_setopt(e, CURLOPT_PASSWORD, t.password.c_str());
        }
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, t.from.c_str());
        t.recipients = curl_slist_append(nullptr, ("<" + message.recipient + ">").c_str());
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t.recipients);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_reply_line);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);

        const render::Rendered& c = message.content;
        std::vector<std::string> headers{
            "Date: " + rfc5322_date(),
            "From: " + config_.from,
            "To: <" + message.recipient + ">",
            "Subject: " + encode_header(c.subject),
            "Message-ID: " + message_id,
            "Auto-Submitted: auto-generated",
            "Content-Language: " + c.locale,
            "Content-Type: multipart/alternative",
        };
        if (c.category == "information" && !config_.unsubscribe_url.empty()) {
            headers.push_back("List-Unsubscribe: <" + config_.unsubscribe_url + "/" +
                              unsubscribe_token(config_.unsubscribe_secret, message.job_id) + ">");
            headers.push_back("List-Unsubscribe-Post: List-Unsubscribe=One-Click");
        }
        for (auto& h : headers) t.headers = curl_slist_append(t.headers, h.c_str());
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);

        t.mime = curl_mime_init(e);
        curl_mimepart* text = curl_mime_addpart(t.mime);
        curl_mime_data(text, c.text.data(), c.text.size());
        curl_mime_type(text, "text/plain; charset=utf-8");
        curl_mime_encoder(text, "quoted-printable");
        curl_mimepart* html = curl_mime_addpart(t.mime);
        // Opens and clicks, for the send time: the HTML part only (curl_mime_data copies it).
        const std::string tracked = config_.tracking_url.empty()
                                        ? std::string()
                                        : tracking::track_html(c.html, config_.tracking_url, config_.unsubscribe_secret, message.job_id);
        const std::string& body = config_.tracking_url.empty() ? c.html : tracked;
        curl_mime_data(html, body.data(), body.size());
        curl_mime_type(html, "text/html; charset=utf-8");
        curl_mime_encoder(html, "quoted-printable");
        curl_easy_setopt(e, CURLOPT_MIMEPOST, t.mime);
        return transfer;
    };
    http_.perform_custom(setup, std::chrono::milliseconds(config_.timeout_ms),
                         [transfer, message_id, done = std::move(done)](HttpResponse r) {
                             const int code = r.error ? r.error.value() : CURLE_OK;  // curl_category's
                             Outcome o = classify_smtp(code, r.status, code == CURLE_OK ? "" : transfer->last_reply,
                                                       r.request_sent);
                             if (o.kind == OutcomeKind::accepted) o.provider_id = message_id;
                             done(std::move(o));
                         });
}

namespace {

std::shared_ptr<const ProviderSettings> parse_smtp(config::Section& s) {
    SmtpConfig m;
    s.string("url", m.url, true);
    s.string("starttls", m.starttls, false, {"required", "none"});
    s.string("username", m.username);
    s.secret("password", m.password);
    s.string("from", m.from, true);
    s.string("bounce_address", m.bounce_address);
    s.integer("timeout_ms", m.timeout_ms, 100, 600'000);
    return std::make_shared<SettingsOf<SmtpConfig>>(std::move(m));
}

std::unique_ptr<Channel> make_smtp(const ProviderContext& context, const ProviderConfig& instance) {
    SmtpConfig c = instance.settings_as<SmtpConfig>();
    c.unsubscribe_url = context.config.links.unsubscribe_url;
    c.unsubscribe_secret = context.config.links.secret;
    c.tracking_url = context.config.links.tracking_url;
    return std::make_unique<SmtpChannel>(context.http, instance.name, std::move(c));
}

}  // namespace

ProviderType smtp_provider() { return {"smtp", "email", parse_smtp, make_smtp}; }

}  // namespace crieur
