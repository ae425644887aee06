// ContactCheck: an address as a citizen or a service wrote it, made canonical for its channel, or
// the reason it cannot be one. Phone numbers become E.164 through libphonenumber (national formats
// read in the configured default region); e-mail addresses are checked for a plausible syntax;
// push contacts are a Web Push subscription (endpoint + keys) or an FCM registration token.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace crieur::directory {

struct BadContact {
    std::string reason;  // a sentence naming what is wrong, without echoing the whole address
};

class ContactCheck {
public:
    explicit ContactCheck(std::string default_region = "FR");

    // "06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "(0)6.12.34.56.78" → "+33612345678".
    std::variant<std::string, BadContact> phone(std::string_view text) const;
    // Trimmed, domain lower-cased; one '@', no spaces or angle brackets, a dotted domain.
    std::variant<std::string, BadContact> email(std::string_view text) const;
    // A Web Push subscription as JSON ({"endpoint": "https://…", "keys": {"p256dh", "auth"}}), kept
    // in a compact canonical form; or an FCM token (no braces, no spaces, 20–4096 characters).
    std::variant<std::string, BadContact> push(std::string_view text) const;

    // By channel: sms and whatsapp are phones, email, push. An unknown channel is a BadContact.
    std::variant<std::string, BadContact> check(std::string_view channel, std::string_view text) const;

    const std::string& default_region() const { return region_; }

private:
    std::string region_;
};

}  // namespace crieur::directory
