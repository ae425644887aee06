// SmtpChannel: e-mail by SMTP submission through libcurl (on the shared HttpClient's multi
// handle, so on the io_context): one recipient per transaction, STARTTLS required unless the
// config says "none", multipart/alternative text + HTML, the headers a municipal message needs
// (Date, Message-ID with our message id, Auto-Submitted, and for "information" templates
// List-Unsubscribe with RFC 8058 one-click). The SMTP reply code decides the outcome.
// Use from the io_context's thread only.
//
// Its keys, in a [[providers]] entry with type = "smtp":
//   url (smtp://relay:587 with STARTTLS, or smtps://relay:465), from (the From header: "Ville de
//   Lyon <noreply@mairie.example.fr>"): both required; starttls = "required" ("none" only for a
//   relay on loopback), username, password_env | _file, bounce_address (the envelope sender;
//   empty: From's address), timeout_ms = 30000. The unsubscribe and tracking links are the
//   daemon's [links].
#pragma once

#include <optional>
#include <string>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "channels/provider.hpp"

namespace crieur {

struct SmtpConfig {
    std::string url;                  // smtp://relay:587 (STARTTLS) or smtps://relay:465
    std::string starttls = "required";  // "required", or "none" for a relay on loopback
    std::string username;
    std::string password;             // from password_env or password_file
    std::string from;                 // the From header: "Ville de Lyon <noreply@mairie.example.fr>"
    std::string bounce_address;       // the envelope sender; empty: From's address
    int timeout_ms = 30'000;
    // From [links], given by the factory (not keys of the provider).
    std::string unsubscribe_url;      // RFC 8058 one-click base URL, for templates of category information
    std::string unsubscribe_secret;   // signs the unsubscribe and tracking tokens
    std::string tracking_url;         // public base URL of /t/; empty: off
    bool operator==(const SmtpConfig&) const = default;
};

ProviderType smtp_provider();

// What an SMTP transaction's end means: libcurl's result, the last reply code and its text. Pure.
Outcome classify_smtp(int curl_code, int reply_code, const std::string& reply_text, bool request_sent);

// "=?UTF-8?B?...?=" words for a header value that is not plain ASCII (RFC 2047), else the value.
std::string encode_header(const std::string& value);

// An unsubscribe token for a message: its id and a MAC, so that it cannot be forged or guessed.
std::string unsubscribe_token(const std::string& secret, const std::string& message_id);
// The message id in a token, when its MAC is right; nullopt for a forged or damaged token.
std::optional<std::string> unsubscribe_message_id(const std::string& secret, std::string_view token);

class SmtpChannel final : public Channel {
public:
    SmtpChannel(HttpClient& http, std::string name, SmtpConfig config);
    std::string_view provider() const override { return name_; }
    bool carries(std::string_view channel) const override { return channel == "email"; }
    void send(Message message, Done done) override;

private:
    HttpClient& http_;
    std::string name_;
    SmtpConfig config_;
    std::string envelope_from_;
    std::string domain_;
};

}  // namespace crieur
