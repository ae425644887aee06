// The dashboard's pages: Mustache templates (daemon/ui/pages, built in) rendered on the server
// with the project's own engine, in French or English (daemon/ui/i18n/<lang>.json: `t.<key>` in
// a template), and the headers every page carries (a strict Content-Security-Policy: scripts and
// styles from /ui/ only, nothing inline). Pure once built; use from one thread.
#pragma once

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/http/routes.hpp"
#include "daemon/render/mustache.hpp"

namespace crieur::ui {

enum class Lang { fr, en };
std::string_view to_string(Lang l);

class PageBook {
public:
    // Compiles every page; throws std::runtime_error naming the page and line of a syntax error
    // or a string missing from one language (both are the build's, caught by the unit tests).
    // `time_zone`: the town's (quiet_hours.time_zone), in which times are shown.
    // `tiles_origin`: the map's tile server's scheme://host[:port], allowed by the CSP; empty: none.
    PageBook(std::string time_zone, std::string tiles_origin);

    // The page `name` (pages/<name>.mustache) rendered with `data` (an object, changed: it gets
    // `t`, the language's strings, `lang`, and each time field's display), as an HTML response.
    http::Response page(int status, std::string_view name, rapidjson::Document& data, Lang lang) const;
    // A string of a language ("" when unknown).
    std::string text(Lang lang, std::string_view key) const;
    bool has_text(std::string_view key) const;
    // The headers every dashboard answer carries (pages and their fragments).
    void add_headers(http::Response& r) const;
    // "2026-12-04T21:15:03.120Z" shown in the town's time zone ("04/12/2026 22:15:03"); the input
    // when it is no such time.
    std::string show_time(std::string_view rfc3339, Lang lang) const;
    // A form's <input type="datetime-local"> value (town's time) as RFC 3339 UTC; "" when malformed.
    std::string local_to_rfc3339(std::string_view local) const;
    // Adds "<key>_text" beside every string member named at / *_at, through the whole tree.
    void add_time_texts(rapidjson::Value& v, rapidjson::Document::AllocatorType& a, Lang lang) const;
    // The version token in the assets' URLs (?v=): a hash of the built-in files.
    const std::string& asset_version() const { return asset_version_; }

private:
    std::map<std::string, render::Template, std::less<>> pages_;
    render::PartialSet partials_;
    rapidjson::Document strings_[2];
    std::string time_zone_, csp_, asset_version_;
};

}  // namespace crieur::ui
