// E-mail engagement for the send time: a 1×1 image that tells when a message was opened, and
// links that tell when one was clicked, both through crieurd's public /t/ routes. Their tokens
// carry the message id and a MAC under smtp.unsubscribe_secret (with a purpose of its own): they cannot be forged or enumerated, and
// a click token also covers its target URL, so /t/c/ is never an open redirect. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crieur::tracking {

std::string open_token(const std::string& secret, const std::string& message_id);
// The message id in an open token, when its MAC is right.
std::optional<std::string> open_message_id(const std::string& secret, std::string_view token);

std::string click_token(const std::string& secret, const std::string& message_id, std::string_view url);
// The message id in a click token, when its MAC covers this message and this URL.
std::optional<std::string> click_message_id(const std::string& secret, std::string_view token, std::string_view url);

// The HTML part with its http(s) links going through <base_url>/c/<token>?u=<url> and the image
// <base_url>/o/<token> before </body>. Other links (mailto:, tel:, anchors) are left alone.
std::string track_html(std::string_view html, const std::string& base_url, const std::string& secret,
                       const std::string& message_id);

}  // namespace crieur::tracking
