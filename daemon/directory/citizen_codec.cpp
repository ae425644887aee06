#include "daemon/directory/citizen_codec.hpp"

#include <date/tz.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <tuple>

namespace crieur::directory {

namespace {

bool known(std::string_view v, const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* x) { return v == x; });
}

// An INSEE town code: 5 digits, or 2A / 2B and 3 digits (Corsica).
bool insee_code(const std::string& v) {
    if (v.size() != 5) return false;
    const bool corsica = v[0] == '2' && (v[1] == 'A' || v[1] == 'B');
    for (std::size_t i = corsica ? 2 : 0; i < 5; ++i)
        if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
    return true;
}

std::optional<FieldError> check_id(const std::string& id) {
    if (id.empty()) return FieldError{"id", "required, and not empty"};
    if (id.size() > 64) return FieldError{"id", "longer than 64 characters"};
    for (unsigned char c : id)
        if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return FieldError{"id", "only letters, digits and - _ . : may stand in an id"};
    return std::nullopt;
}

std::optional<FieldError> check_profile(const Citizen& c) {
    if (auto e = check_id(c.id)) return e;
    if (c.locale.size() > 35 || std::any_of(c.locale.begin(), c.locale.end(), [](unsigned char ch) {
            return !(std::isalnum(ch) || ch == '-' || ch == '_');
        }))
        return FieldError{"locale", "not a language tag such as fr or en-GB"};
    if (!c.time_zone.empty()) {
        try {
            (void)date::locate_zone(c.time_zone);
        } catch (const std::exception&) {
            return FieldError{"time_zone", "'" + c.time_zone + "' is not an IANA time zone (Europe/Paris)"};
        }
    }
    std::set<std::string> seen;
    for (auto& ch : c.channels) {
        if (!known(ch, kChannels)) return FieldError{"channels", "unknown channel '" + ch + "' (sms, email, whatsapp, push)"};
        if (!seen.insert(ch).second) return FieldError{"channels", "'" + ch + "' is listed twice"};
    }
    if (c.tags.size() > 64) return FieldError{"tags", "at most 64 tags"};
    for (auto& tag : c.tags)
        if (auto why = tag_problem(tag)) return FieldError{"tags", "'" + tag + "': " + *why};
    if (!c.insee.empty() && !insee_code(c.insee))
        return FieldError{"address.insee", "'" + c.insee + "' is not an INSEE town code (5 characters: 75056, 2A004)"};
    for (auto [field, value, max] : {std::tuple{"address.street", &c.street, 200}, {"address.number", &c.street_number, 16},
                                     {"address.district", &c.district, 100}, {"address.postcode", &c.postcode, 16}})
        if (value->size() > static_cast<std::size_t>(max))
            return FieldError{field, "longer than " + std::to_string(max) + " characters"};
    if (c.lat.has_value() != c.lon.has_value()) return FieldError{"location", "lat and lon go together"};
    if (c.lat && (!std::isfinite(*c.lat) || std::abs(*c.lat) > 90)) return FieldError{"lat", "not a latitude"};
    if (c.lon && (!std::isfinite(*c.lon) || std::abs(*c.lon) > 180)) return FieldError{"lon", "not a longitude"};
    return std::nullopt;
}

std::optional<FieldError> add_contact(Citizen& c, const std::string& channel, std::string_view text,
                                      const ContactCheck& check, const std::string& field) {
    auto r = check.check(channel, text);
    if (auto* bad = std::get_if<BadContact>(&r)) return FieldError{field, bad->reason};
    auto& address = std::get<std::string>(r);
    for (auto& k : c.contacts)
        if (k.channel == channel && k.address == address) return std::nullopt;  // the same, written twice
    c.contacts.push_back(Contact{channel, std::move(address), ContactState::unverified, {}, 0});
    return std::nullopt;
}

// Whether a value nests no deeper than `levels` (a Web Push subscription has 2): checked before
// writing it out, which recurses.
bool shallow(const rapidjson::Value& v, int levels) {
    if (v.IsObject()) {
        if (levels == 0) return false;
        for (auto& m : v.GetObject())
            if (!shallow(m.value, levels - 1)) return false;
    } else if (v.IsArray()) {
        if (levels == 0) return false;
        for (auto& e : v.GetArray())
            if (!shallow(e, levels - 1)) return false;
    }
    return true;
}

std::string text_of(const rapidjson::Value& v) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    v.Accept(w);
    return std::string(b.GetString(), b.GetSize());
}

}  // namespace

// Tags are names a campaign selects on: kept simple so that an audience's tag is one to type.
std::optional<std::string> tag_problem(const std::string& tag) {
    if (tag.empty() || tag.size() > 64) return "a tag has 1 to 64 characters";
    for (unsigned char ch : tag)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == ':' || ch == '.'))
            return "only lower-case letters, digits and _ - : . may stand in a tag";
    return std::nullopt;
}

std::optional<int> minutes_of(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return std::nullopt;
    int h = 0, m = 0;
    if (std::from_chars(s.data(), s.data() + 2, h).ptr != s.data() + 2) return std::nullopt;
    if (std::from_chars(s.data() + 3, s.data() + 5, m).ptr != s.data() + 5) return std::nullopt;
    if (h > 23 || m > 59) return std::nullopt;
    return h * 60 + m;
}

std::variant<Citizen, FieldError> citizen_from_json(std::string_view json, const ContactCheck& check,
                                                    const std::string& id_from_path) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());  // iterative: deep nesting cannot exhaust the stack
    if (d.HasParseError() || !d.IsObject()) return FieldError{"", "not a JSON object"};
    Citizen c;
    static const std::set<std::string> kKeys{"id",       "given_name", "family_name", "locale",   "time_zone",
                                             "quiet_hours", "channels", "address",     "location", "contacts",
                                             "consents", "tags"};
    for (auto& m : d.GetObject())
        if (!kKeys.count(m.name.GetString())) return FieldError{m.name.GetString(), "unknown field"};
    auto string = [&](const char* key, std::string& out) -> std::optional<FieldError> {
        if (!d.HasMember(key) || d[key].IsNull()) return std::nullopt;
        if (!d[key].IsString()) return FieldError{key, "expected a string"};
        out = d[key].GetString();
        return std::nullopt;
    };
    for (auto [key, out] : {std::pair{"id", &c.id}, {"given_name", &c.given_name}, {"family_name", &c.family_name},
                            {"locale", &c.locale}, {"time_zone", &c.time_zone}})
        if (auto e = string(key, *out)) return *e;
    if (c.id.empty()) c.id = id_from_path;
    else if (!id_from_path.empty() && c.id != id_from_path)
        return FieldError{"id", "'" + c.id + "' is not the id in the URL"};
    if (d.HasMember("quiet_hours") && !d["quiet_hours"].IsNull()) {
        const auto& q = d["quiet_hours"];
        if (!q.IsObject()) return FieldError{"quiet_hours", "expected {\"start\": \"21:00\", \"end\": \"08:00\"}"};
        std::optional<int> start, end;
        if (q.HasMember("start") && q["start"].IsString()) start = minutes_of(q["start"].GetString());
        if (q.HasMember("end") && q["end"].IsString()) end = minutes_of(q["end"].GetString());
        if (!start) return FieldError{"quiet_hours.start", "expected HH:MM"};
        if (!end) return FieldError{"quiet_hours.end", "expected HH:MM"};
        c.quiet_hours = QuietHours{*start, *end};
    }
    if (d.HasMember("channels")) {
        if (!d["channels"].IsArray()) return FieldError{"channels", "expected an array of channel names"};
        for (auto& v : d["channels"].GetArray()) {
            if (!v.IsString()) return FieldError{"channels", "expected an array of channel names"};
            c.channels.emplace_back(v.GetString());
        }
    }
    if (d.HasMember("address")) {
        const auto& a = d["address"];
        if (!a.IsObject())
            return FieldError{"address", "expected {\"line\", \"number\", \"street\", \"postcode\", \"city\", \"insee\", \"district\"}"};
        const std::pair<const char*, std::string*> parts[]{{"line", &c.address_line}, {"number", &c.street_number},
                                                           {"street", &c.street},     {"postcode", &c.postcode},
                                                           {"city", &c.city},         {"insee", &c.insee},
                                                           {"district", &c.district}};
        for (auto& m : a.GetObject())
            if (std::none_of(std::begin(parts), std::end(parts), [&](auto& p) { return m.name == p.first; }))
                return FieldError{std::string("address.") + m.name.GetString(), "unknown field"};
        for (auto [key, out] : parts) {
            if (!a.HasMember(key) || a[key].IsNull()) continue;
            if (!a[key].IsString()) return FieldError{std::string("address.") + key, "expected a string"};
            *out = a[key].GetString();
        }
    }
    if (d.HasMember("tags") && !d["tags"].IsNull()) {
        if (!d["tags"].IsArray()) return FieldError{"tags", "expected an array of tags"};
        for (auto& v : d["tags"].GetArray()) {
            if (!v.IsString()) return FieldError{"tags", "expected an array of tags"};
            std::string tag = v.GetString();
            if (std::find(c.tags.begin(), c.tags.end(), tag) == c.tags.end()) c.tags.push_back(std::move(tag));
        }
    }
    if (d.HasMember("location") && !d["location"].IsNull()) {
        const auto& l = d["location"];
        if (!l.IsObject() || !l.HasMember("lat") || !l.HasMember("lon") || !l["lat"].IsNumber() || !l["lon"].IsNumber())
            return FieldError{"location", "expected {\"lat\": number, \"lon\": number}"};
        c.lat = l["lat"].GetDouble();
        c.lon = l["lon"].GetDouble();
    }
    if (d.HasMember("contacts")) {
        const auto& k = d["contacts"];
        if (!k.IsObject()) return FieldError{"contacts", "expected an object by channel"};
        for (auto& m : k.GetObject()) {
            const std::string channel = m.name.GetString();
            const std::string field = "contacts." + channel;
            if (!known(channel, kChannels)) return FieldError{field, "unknown channel"};
            if (m.value.IsArray()) {
                int i = 0;
                for (auto& v : m.value.GetArray()) {
                    const std::string at = field + "[" + std::to_string(i++) + "]";
                    if (!v.IsString() && !(channel == "push" && v.IsObject() && shallow(v, 3)))
                        return FieldError{at, channel == "push" ? "expected a subscription object or a token" : "expected an address"};
                    if (auto e = add_contact(c, channel, text_of(v), check, at)) return *e;
                }
            } else if (m.value.IsString() || (channel == "push" && m.value.IsObject() && shallow(m.value, 3))) {
                if (auto e = add_contact(c, channel, text_of(m.value), check, field)) return *e;
            } else {
                return FieldError{field, "expected an address or an array of addresses"};
            }
        }
    }
    if (d.HasMember("consents")) {
        if (!d["consents"].IsArray()) return FieldError{"consents", "expected an array"};
        int i = 0;
        for (auto& v : d["consents"].GetArray()) {
            const std::string field = "consents[" + std::to_string(i++) + "]";
            if (!v.IsObject()) return FieldError{field, "expected {\"channel\", \"category\", \"granted\"}"};
            Consent k;
            if (!v.HasMember("channel") || !v["channel"].IsString() || !known(v["channel"].GetString(), kChannels))
                return FieldError{field + ".channel", "expected sms, email, whatsapp or push"};
            if (!v.HasMember("category") || !v["category"].IsString() || !known(v["category"].GetString(), kCategories))
                return FieldError{field + ".category", "expected service, information or alert"};
            if (!v.HasMember("granted") || !v["granted"].IsBool()) return FieldError{field + ".granted", "expected true or false"};
            k.channel = v["channel"].GetString();
            k.category = v["category"].GetString();
            k.granted = v["granted"].GetBool();
            if (v.HasMember("source") && v["source"].IsString()) k.source = v["source"].GetString();
            c.consents.push_back(std::move(k));
        }
    }
    if (auto e = check_profile(c)) return *e;
    return c;
}

std::string citizen_to_json(const Citizen& c) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto hhmm = [](int m) {
        char s[16];
        std::snprintf(s, sizeof s, "%02d:%02d", m / 60, m % 60);
        return std::string(s);
    };
    w.StartObject();
    w.Key("id"); w.String(c.id.c_str());
    auto opt = [&](const char* key, const std::string& v) {
        if (v.empty()) return;
        w.Key(key);
        w.String(v.c_str());
    };
    opt("given_name", c.given_name);
    opt("family_name", c.family_name);
    opt("locale", c.locale);
    opt("time_zone", c.time_zone);
    if (c.quiet_hours) {
        w.Key("quiet_hours"); w.StartObject();
        w.Key("start"); w.String(hhmm(c.quiet_hours->start_minute).c_str());
        w.Key("end"); w.String(hhmm(c.quiet_hours->end_minute).c_str());
        w.EndObject();
    }
    w.Key("channels"); w.StartArray();
    for (auto& ch : c.channels) w.String(ch.c_str());
    w.EndArray();
    if (!c.address_line.empty() || !c.street_number.empty() || !c.street.empty() || !c.postcode.empty() ||
        !c.city.empty() || !c.insee.empty() || !c.district.empty()) {
        w.Key("address"); w.StartObject();
        opt("line", c.address_line);
        opt("number", c.street_number);
        opt("street", c.street);
        opt("postcode", c.postcode);
        opt("city", c.city);
        opt("insee", c.insee);
        opt("district", c.district);
        w.EndObject();
    }
    w.Key("tags"); w.StartArray();
    for (auto& t : c.tags) w.String(t.c_str());
    w.EndArray();
    if (c.lat && c.lon) {
        w.Key("location"); w.StartObject();
        w.Key("lat"); w.Double(*c.lat);
        w.Key("lon"); w.Double(*c.lon);
        w.EndObject();
    }
    w.Key("contacts"); w.StartArray();
    for (auto& k : c.contacts) {
        w.StartObject();
        w.Key("channel"); w.String(k.channel.c_str());
        w.Key("address"); w.String(k.address.c_str());
        w.Key("state"); w.String(to_string(k.state));
        opt("reason", k.reason);
        w.EndObject();
    }
    w.EndArray();
    w.Key("consents"); w.StartArray();
    for (auto& k : c.consents) {
        w.StartObject();
        w.Key("channel"); w.String(k.channel.c_str());
        w.Key("category"); w.String(k.category.c_str());
        w.Key("granted"); w.Bool(k.granted);
        opt("source", k.source);
        w.Key("at"); w.Int64(k.at);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

namespace {
const std::set<std::string> kCsvColumns{"id",       "given_name", "family_name", "locale",       "time_zone",
                                        "channels", "sms",        "whatsapp",    "email",        "address_line",
                                        "postcode", "city",       "lat",         "lon",          "quiet_start",
                                        "quiet_end", "consent_information", "street_number", "street", "insee",
                                        "district", "tags"};

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto semi = s.find(';');
        auto part = s.substr(0, semi);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (!part.empty()) out.emplace_back(part);
        if (semi == std::string_view::npos) break;
        s.remove_prefix(semi + 1);
    }
    return out;
}

std::optional<double> number_of(const std::string& s) {
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}
}  // namespace

std::variant<CsvCitizenReader, FieldError> CsvCitizenReader::from_header(const std::vector<std::string>& header) {
    CsvCitizenReader r;
    std::set<std::string> seen;
    for (auto h : header) {
        while (!h.empty() && (h.back() == ' ' || h.back() == '\r')) h.pop_back();
        if (h.starts_with("\xEF\xBB\xBF")) h.erase(0, 3);  // a spreadsheet's byte-order mark
        if (!kCsvColumns.count(h)) return FieldError{h, "unknown column"};
        if (!seen.insert(h).second) return FieldError{h, "column given twice"};
        r.columns_.push_back(h);
    }
    if (!seen.count("id")) return FieldError{"id", "the header has no id column"};
    return r;
}

std::variant<Citizen, FieldError> CsvCitizenReader::read(const std::vector<std::string>& row,
                                                         const ContactCheck& check) const {
    if (row.size() != columns_.size())
        return FieldError{"", std::to_string(row.size()) + " fields where the header has " +
                                  std::to_string(columns_.size())};
    Citizen c;
    std::string quiet_start, quiet_end, lat, lon;
    std::vector<std::string> consent_channels;
    for (std::size_t i = 0; i < row.size(); ++i) {
        const std::string& col = columns_[i];
        std::string v = row[i];
        while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
        if (col == "id") c.id = v;
        else if (col == "given_name") c.given_name = v;
        else if (col == "family_name") c.family_name = v;
        else if (col == "locale") c.locale = v;
        else if (col == "time_zone") c.time_zone = v;
        else if (col == "channels") c.channels = split_list(v);
        else if (col == "sms" || col == "whatsapp" || col == "email") {
            for (auto& a : split_list(v))
                if (auto e = add_contact(c, col, a, check, col)) return *e;
        } else if (col == "address_line") c.address_line = v;
        else if (col == "postcode") c.postcode = v;
        else if (col == "city") c.city = v;
        else if (col == "street_number") c.street_number = v;
        else if (col == "street") c.street = v;
        else if (col == "insee") c.insee = v;
        else if (col == "district") c.district = v;
        else if (col == "tags") {
            for (auto& t : split_list(v))
                if (std::find(c.tags.begin(), c.tags.end(), t) == c.tags.end()) c.tags.push_back(t);
        }
        else if (col == "lat") lat = v;
        else if (col == "lon") lon = v;
        else if (col == "quiet_start") quiet_start = v;
        else if (col == "quiet_end") quiet_end = v;
        else if (col == "consent_information") consent_channels = split_list(v);
    }
    if (!lat.empty() || !lon.empty()) {
        auto la = number_of(lat), lo = number_of(lon);
        if (!la) return FieldError{"lat", "not a number"};
        if (!lo) return FieldError{"lon", "not a number"};
        c.lat = la;
        c.lon = lo;
    }
    if (!quiet_start.empty() || !quiet_end.empty()) {
        auto s = minutes_of(quiet_start), e = minutes_of(quiet_end);
        if (!s) return FieldError{"quiet_start", "expected HH:MM"};
        if (!e) return FieldError{"quiet_end", "expected HH:MM"};
        c.quiet_hours = QuietHours{*s, *e};
    }
    for (auto& ch : consent_channels) {
        if (!known(ch, kChannels)) return FieldError{"consent_information", "unknown channel '" + ch + "'"};
        c.consents.push_back(Consent{ch, "information", true, "import", 0});
    }
    if (auto e = check_profile(c)) return *e;
    return c;
}

bool split_csv(std::string_view line, std::vector<std::string>& fields) {
    fields.clear();
    std::string field;
    bool quoted = false, in_quotes = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char ch = line[i];
        if (in_quotes) {
            if (ch == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    in_quotes = false;
                }
            } else {
                field += ch;
            }
        } else if (ch == '"' && field.empty() && !quoted) {
            in_quotes = quoted = true;
        } else if (ch == ',') {
            fields.push_back(std::move(field));
            field.clear();
            quoted = false;
        } else {
            field += ch;
        }
    }
    if (in_quotes) return false;
    fields.push_back(std::move(field));
    return true;
}

}  // namespace crieur::directory
