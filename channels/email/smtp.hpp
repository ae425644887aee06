// SmtpChannel: e-mail by SMTP submission through libcurl (on the shared HttpClient's multi
// handle, so on the io_context): one recipient per transaction, STARTTLS required unless the
// config says "none", multipart/alternative text + HTML, the headers a municipal message needs
// (Date, Message-ID with our message id, Auto-Submitted, and for "information" templates
// List-Unsubscribe with RFC 8058 one-click). The SMTP reply code decides the outcome.
// Use from the io_context's thread only.
#pragma once

#include <optional>
#include <string>

#include "channels/channel.hpp"
#include "channels/http_client.hpp"
#include "daemon/config.hpp"

namespace crieur {

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
    SmtpChannel(HttpClient& http, SmtpConfig config);
    std::string_view provider() const override { return "smtp"; }
    bool carries(std::string_view channel) const override { return channel == "email"; }
    void send(Message message, Done done) override;

private:
    HttpClient& http_;
    SmtpConfig config_;
    std::string envelope_from_;
    std::string domain_;
};

}  // namespace crieur
