#include "daemon/ui/page_book.hpp"

#include <date/tz.h>
#include <rapidjson/error/en.h>
#include <sodium.h>

#include <sstream>
#include <stdexcept>

#include "daemon/job_codec.hpp"
#include "daemon/ui/resources.hpp"

namespace crieur::ui {

std::string_view to_string(Lang l) { return l == Lang::en ? "en" : "fr"; }

namespace {

constexpr std::string_view kPagePrefix = "pages/", kPageSuffix = ".mustache";

// Every key of `a` is in `b`, recursively: a string missing in English is a build error, not a
// blank on a page.
void same_keys(const rapidjson::Value& a, const rapidjson::Value& b, const std::string& where, std::string& missing) {
    for (auto& m : a.GetObject()) {
        const std::string key = where + m.name.GetString();
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd()) missing += (missing.empty() ? "" : ", ") + key;
        else if (m.value.IsObject() && it->value.IsObject()) same_keys(m.value, it->value, key + ".", missing);
    }
}

}  // namespace

PageBook::PageBook(std::string time_zone, std::string tiles_origin) : time_zone_(std::move(time_zone)) {
    std::string everything;
    for (auto& [name, content] : resources()) {
        everything.append(name).append(content);
        if (name.starts_with("i18n/")) {
            const Lang lang = name == "i18n/en.json" ? Lang::en : Lang::fr;
            auto& d = strings_[static_cast<int>(lang)];
            d.Parse(content.data(), content.size());
            if (d.HasParseError() || !d.IsObject())
                throw std::runtime_error("daemon/ui/" + std::string(name) + ": not a JSON object (offset " +
                                         std::to_string(d.GetErrorOffset()) + ")");
            continue;
        }
        if (!name.starts_with(kPagePrefix) || !name.ends_with(kPageSuffix)) continue;
        const std::string page(name.substr(kPagePrefix.size(), name.size() - kPagePrefix.size() - kPageSuffix.size()));
        auto compiled = render::compile(content);
        if (auto* e = std::get_if<render::SyntaxError>(&compiled))
            throw std::runtime_error("daemon/ui/" + std::string(name) + ":" + std::to_string(e->line) + ": " + e->message);
        pages_.emplace(page, std::move(std::get<render::Template>(compiled)));
        partials_.add(page, std::string(content));  // a page may include another ({{> _head}})
    }
    for (auto& d : strings_)
        if (!d.IsObject()) throw std::runtime_error("daemon/ui/i18n: fr.json and en.json are both needed");
    std::string missing;
    same_keys(strings_[0], strings_[1], "", missing);
    if (!missing.empty()) throw std::runtime_error("daemon/ui/i18n/en.json lacks " + missing);
    same_keys(strings_[1], strings_[0], "", missing);
    if (!missing.empty()) throw std::runtime_error("daemon/ui/i18n/fr.json lacks " + missing);
    if (!date::locate_zone(time_zone_)) throw std::runtime_error("unknown time zone " + time_zone_);

    unsigned char hash[16];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(everything.data()), everything.size(),
                       nullptr, 0);
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 6; ++i) {
        asset_version_ += kHex[hash[i] >> 4];
        asset_version_ += kHex[hash[i] & 15];
    }
    // Nothing inline, nothing from elsewhere but the map's tiles when a tile server is set.
    csp_ = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:" +
           (tiles_origin.empty() ? std::string() : " " + tiles_origin) +
           "; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
}

std::string PageBook::text(Lang lang, std::string_view key) const {
    const auto& d = strings_[static_cast<int>(lang)];
    auto it = d.FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
    return it != d.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

bool PageBook::has_text(std::string_view key) const {
    return strings_[0].HasMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
}

void PageBook::add_headers(http::Response& r) const {
    r.headers.emplace_back("Content-Security-Policy", csp_);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "same-origin");
    r.headers.emplace_back("X-Frame-Options", "DENY");
}

std::string PageBook::show_time(std::string_view rfc3339, Lang lang) const {
    auto t = parse_rfc3339(rfc3339);
    if (!t) return std::string(rfc3339);
    const auto zoned = date::make_zoned(date::locate_zone(time_zone_), date::floor<std::chrono::seconds>(*t));
    return date::format(lang == Lang::fr ? "%d/%m/%Y %H:%M:%S" : "%Y-%m-%d %H:%M:%S", zoned);
}

std::string PageBook::local_to_rfc3339(std::string_view local) const {
    // "2026-12-04T22:15" or with ":SS", as browsers send datetime-local.
    std::istringstream in{std::string(local)};
    date::local_time<std::chrono::seconds> lt;
    in >> date::parse(local.size() > 16 ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%dT%H:%M", lt);
    if (in.fail() || in.peek() != std::char_traits<char>::eof()) return {};
    try {
        // A time that does not exist or exists twice (the clocks changing): the earliest.
        const auto sys = date::locate_zone(time_zone_)->to_sys(lt, date::choose::earliest);
        return format_rfc3339(std::chrono::time_point_cast<std::chrono::milliseconds>(sys));
    } catch (const std::exception&) {
        return {};
    }
}

void PageBook::add_time_texts(rapidjson::Value& v, rapidjson::Document::AllocatorType& a, Lang lang) const {
    if (v.IsArray()) {
        for (auto& e : v.GetArray()) add_time_texts(e, a, lang);
        return;
    }
    if (!v.IsObject()) return;
    std::vector<std::pair<std::string, std::string>> added;
    for (auto& m : v.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (m.value.IsString() && (name == "at" || name.ends_with("_at")))
            added.emplace_back(std::string(name) + "_text", show_time(m.value.GetString(), lang));
        else add_time_texts(m.value, a, lang);
    }
    for (auto& [k, text] : added) {
        if (v.HasMember(k.c_str())) continue;
        v.AddMember(rapidjson::Value(k.c_str(), a), rapidjson::Value(text.c_str(), a), a);
    }
}

http::Response PageBook::page(int status, std::string_view name, rapidjson::Document& data, Lang lang) const {
    auto it = pages_.find(name);
    if (it == pages_.end()) throw std::logic_error("no dashboard page " + std::string(name));
    auto& a = data.GetAllocator();
    if (!data.IsObject()) data.SetObject();
    add_time_texts(data, a, lang);
    data.RemoveMember("t");
    data.AddMember("t", rapidjson::Value(strings_[static_cast<int>(lang)], a), a);
    data.RemoveMember("lang");
    data.AddMember("lang", rapidjson::Value(to_string(lang).data(), a), a);
    data.AddMember("lang_fr", lang == Lang::fr, a);
    data.AddMember("v", rapidjson::Value(asset_version_.c_str(), a), a);
    http::Response r{status, "text/html; charset=utf-8", render::render(it->second, data, render::Escape::html, &partials_), {}};
    r.headers.emplace_back("Content-Language", std::string(to_string(lang)));
    add_headers(r);
    return r;
}

}  // namespace crieur::ui
