#include "channels/email/tracking.hpp"

#include <cctype>

#include "channels/encoding.hpp"
#include "channels/http_client.hpp"

namespace crieur::tracking {

namespace {

// A purpose goes into each MAC, so that an open token is not a click or an unsubscribe token.
std::string mac(const std::string& secret, std::string_view purpose, std::string_view id, std::string_view url = {}) {
    std::string data(purpose);
    data += '\n';
    data += id;
    if (!url.empty()) {
        data += '\n';
        data += url;
    }
    return hex_encode(hmac_sha256(secret, data).substr(0, 16));
}

std::optional<std::string> checked(const std::string& secret, std::string_view purpose, std::string_view token,
                                   std::string_view url) {
    const auto dot = token.find('.');
    if (secret.empty() || dot == std::string_view::npos || token.size() > 1024) return std::nullopt;
    auto id = base64url_decode(token.substr(0, dot));
    if (!id || id->empty()) return std::nullopt;
    if (!same_bytes(mac(secret, purpose, *id, url), token.substr(dot + 1))) return std::nullopt;
    return id;
}

// cmark writes &, <, >, " and ' in an href as entities; the URL a reader's browser follows is the
// unescaped one.
std::string html_unescape(std::string_view s) {
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&#x27;", '\''}};
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        bool matched = false;
        if (s[i] == '&')
            for (auto& [entity, c] : kEntities)
                if (s.substr(i, entity.size()) == entity) {
                    out += c;
                    i += entity.size();
                    matched = true;
                    break;
                }
        if (!matched) out += s[i++];
    }
    return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

}  // namespace

std::string open_token(const std::string& secret, const std::string& message_id) {
    return base64url_encode(message_id) + "." + mac(secret, "open", message_id);
}

std::optional<std::string> open_message_id(const std::string& secret, std::string_view token) {
    return checked(secret, "open", token, {});
}

std::string click_token(const std::string& secret, const std::string& message_id, std::string_view url) {
    return base64url_encode(message_id) + "." + mac(secret, "click", message_id, url);
}

std::optional<std::string> click_message_id(const std::string& secret, std::string_view token, std::string_view url) {
    if (url.empty()) return std::nullopt;
    return checked(secret, "click", token, url);
}

std::string track_html(std::string_view html, const std::string& base_url, const std::string& secret,
                       const std::string& message_id) {
    std::string out;
    out.reserve(html.size() + 512);
    std::size_t at = 0;
    for (;;) {
        const auto href = html.find("href=\"", at);
        if (href == std::string_view::npos) break;
        const auto value = href + 6, end = html.find('"', value);
        if (end == std::string_view::npos) break;
        // Only an <a> tag's href: the last tag opened before it must be an "a".
        const auto open = html.rfind('<', href);
        const bool anchor = open != std::string_view::npos && open + 2 < html.size() && (html[open + 1] == 'a' || html[open + 1] == 'A') &&
                            std::isspace(static_cast<unsigned char>(html[open + 2])) && html.find('>', open) > href;
        const std::string url = html_unescape(html.substr(value, end - value));
        out.append(html.substr(at, value - at));
        if (anchor && (starts_with_nocase(url, "https://") || starts_with_nocase(url, "http://")))
            out += base_url + "/c/" + click_token(secret, message_id, url) + "?" + form_encode({{"u", url}});
        else
            out.append(html.substr(value, end - value));
        at = end;
    }
    out.append(html.substr(at));
    const std::string pixel = "<img src=\"" + base_url + "/o/" + open_token(secret, message_id) +
                              "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0\">";
    const auto body_end = out.rfind("</body>");
    if (body_end == std::string::npos) out += pixel;
    else out.insert(body_end, pixel);
    return out;
}

}  // namespace crieur::tracking
