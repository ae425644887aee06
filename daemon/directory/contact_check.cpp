#include "daemon/directory/contact_check.hpp"

#include <phonenumbers/phonenumberutil.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>

#include "channels/encoding.hpp"

namespace crieur::directory {

namespace {
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}
}  // namespace

ContactCheck::ContactCheck(std::string default_region) : region_(std::move(default_region)) {}

std::variant<std::string, BadContact> ContactCheck::phone(std::string_view text) const {
    text = trim(text);
    if (text.empty()) return BadContact{"empty phone number"};
    if (text.size() > 40) return BadContact{"too long for a phone number"};
    std::string input(text);
    // "0033…" is how French speakers write the international prefix; libphonenumber reads it only
    // from a region whose exit code is 00, which the default region may not be.
    if (input.starts_with("00")) input = "+" + input.substr(2);
    // "+33 (0)6 …": the trunk prefix in brackets is a habit, not a digit to dial.
    if (auto p = input.find("(0)"); p != std::string::npos) input.erase(p, 3);
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    if (util.Parse(input, region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR)
        return BadContact{"not a phone number"};
    if (!util.IsValidNumber(number)) return BadContact{"not a valid number for its country"};
    std::string e164;
    util.Format(number, PhoneNumberUtil::E164, &e164);
    return e164;
}

std::variant<std::string, BadContact> ContactCheck::email(std::string_view text) const {
    text = trim(text);
    if (text.empty()) return BadContact{"empty e-mail address"};
    if (text.size() > 254) return BadContact{"longer than an e-mail address may be (254)"};
    const auto at = text.rfind('@');
    if (at == std::string_view::npos || text.find('@') != at) return BadContact{"an e-mail address has one '@'"};
    const auto local = text.substr(0, at), domain = text.substr(at + 1);
    if (local.empty() || local.size() > 64) return BadContact{"the part before '@' is empty or too long"};
    for (unsigned char c : text)
        if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '(' || c == ')' || c == '\\' ||
            c == 127)
            return BadContact{"an e-mail address has no spaces, quotes, brackets or separators"};
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
        return BadContact{"the part before '@' has a misplaced dot"};
    if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos || domain.front() == '-')
        return BadContact{"the domain is not a dotted host name"};
    std::string out(local);
    out += '@';
    for (unsigned char c : domain) out += static_cast<char>(std::tolower(c));
    return out;
}

std::variant<std::string, BadContact> ContactCheck::push(std::string_view text) const {
    text = trim(text);
    if (text.empty()) return BadContact{"empty push contact"};
    if (text.front() != '{') {
        if (text.size() < 20 || text.size() > 4096) return BadContact{"an FCM token has 20 to 4096 characters"};
        for (unsigned char c : text)
            if (!(std::isalnum(c) || c == '-' || c == '_' || c == ':' || c == '.'))
                return BadContact{"an FCM token has only letters, digits and - _ : ."};
        return std::string(text);
    }
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) return BadContact{"a Web Push subscription is a JSON object"};
    if (!doc.HasMember("endpoint") || !doc["endpoint"].IsString())
        return BadContact{"a Web Push subscription has an 'endpoint' string"};
    const std::string endpoint = doc["endpoint"].GetString();
    if (!endpoint.starts_with("https://") || endpoint.size() < 12)
        return BadContact{"the subscription's endpoint is not an https URL"};
    if (!doc.HasMember("keys") || !doc["keys"].IsObject()) return BadContact{"a Web Push subscription has 'keys'"};
    const auto& keys = doc["keys"];
    auto key = [&](const char* name) -> std::optional<std::string> {
        if (!keys.HasMember(name) || !keys[name].IsString()) return std::nullopt;
        return base64url_decode(keys[name].GetString());
    };
    const auto p256dh = key("p256dh"), auth = key("auth");
    // RFC 8291: the user agent's public key is an uncompressed P-256 point (65 bytes, 0x04 first);
    // the authentication secret is 16 bytes.
    if (!p256dh || p256dh->size() != 65 || (*p256dh)[0] != 4)
        return BadContact{"keys.p256dh is not a base64url P-256 public key (65 bytes)"};
    if (!auth || auth->size() != 16) return BadContact{"keys.auth is not a base64url 16-byte secret"};
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    w.StartObject();
    w.Key("endpoint");
    w.String(endpoint.c_str());
    w.Key("keys");
    w.StartObject();
    w.Key("p256dh");
    w.String(keys["p256dh"].GetString());
    w.Key("auth");
    w.String(keys["auth"].GetString());
    w.EndObject();
    w.EndObject();
    return std::string(out.GetString(), out.GetSize());
}

std::variant<std::string, BadContact> ContactCheck::check(std::string_view channel, std::string_view text) const {
    if (channel == "sms" || channel == "whatsapp") return phone(text);
    if (channel == "email") return email(text);
    if (channel == "push") return push(text);
    return BadContact{"unknown channel '" + std::string(channel) + "'"};
}

}  // namespace crieur::directory
