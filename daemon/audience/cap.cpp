#include "daemon/audience/cap.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <set>

#include "daemon/job_codec.hpp"

namespace crieur::audience {

namespace {
using Result = std::optional<AudienceError>;

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string_view name_of(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

std::string text_of(const xmlNode* n) {
    std::unique_ptr<xmlChar, decltype(xmlFree)> t(xmlNodeGetContent(n), xmlFree);
    std::string s = t ? reinterpret_cast<const char*>(t.get()) : "";
    const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string at(const std::string& part, std::size_t i) { return part + "[" + std::to_string(i) + "]"; }

// The element children of `parent` in CAP's namespace, each checked against the names allowed
// there; a text child that is not blank, or an element from nowhere, is refused.
Result children(const xmlNode* parent, const std::string& part, const std::set<std::string_view>& allowed,
                std::vector<const xmlNode*>& out) {
    for (const xmlNode* c = parent->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_COMMENT_NODE) continue;
        if (c->type != XML_ELEMENT_NODE) return AudienceError{part, "unexpected content"};
        // An XML signature of the alert (CAP 1.2 allows one): not checked, not in the way.
        if (c->ns && std::string_view(reinterpret_cast<const char*>(c->ns->href)) == "http://www.w3.org/2000/09/xmldsig#") continue;
        if (!c->ns || std::string_view(reinterpret_cast<const char*>(c->ns->href)) != kCapNamespace)
            return AudienceError{part + "." + std::string(name_of(c)), "not an element of CAP 1.2's namespace"};
        if (!allowed.count(name_of(c))) return AudienceError{part + "." + std::string(name_of(c)), "not an element of CAP 1.2 here"};
        out.push_back(c);
    }
    return std::nullopt;
}

std::vector<const xmlNode*> named(const std::vector<const xmlNode*>& nodes, std::string_view name) {
    std::vector<const xmlNode*> out;
    for (auto* n : nodes)
        if (name_of(n) == name) out.push_back(n);
    return out;
}

// One required (or optional) element's text, checked against an enumeration when one is given.
Result one(const std::vector<const xmlNode*>& nodes, const std::string& part, const char* name, std::string& out, bool required,
           std::initializer_list<std::string_view> allowed = {}) {
    auto found = named(nodes, name);
    if (found.empty()) return required ? Result(AudienceError{part + "." + name, "required"}) : std::nullopt;
    if (found.size() > 1) return AudienceError{part + "." + name, "given more than once"};
    out = text_of(found.front());
    if (required && out.empty()) return AudienceError{part + "." + name, "empty"};
    if (allowed.size() && std::find(allowed.begin(), allowed.end(), out) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        return AudienceError{part + "." + name, "'" + out + "' is not one of " + list};
    }
    return std::nullopt;
}

Result time_of(const std::vector<const xmlNode*>& nodes, const std::string& part, const char* name, std::optional<TimePoint>& out,
               bool required = false) {
    std::string text;
    if (auto e = one(nodes, part, name, text, required)) return e;
    if (text.empty()) return std::nullopt;
    out = parse_rfc3339(text);
    if (!out) return AudienceError{part + "." + name, "'" + text + "' is not a CAP date and time (2026-12-03T14:00:00+01:00)"};
    return std::nullopt;
}

bool number(std::string_view s, double& v) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && end == s.data() + s.size() && std::isfinite(v);
}

// "lat,lon" → (lon, lat), in range.
Result pair_of(std::string_view text, const std::string& part, double& lat, double& lon) {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos || !number(text.substr(0, comma), lat) || !number(text.substr(comma + 1), lon))
        return AudienceError{part, "'" + std::string(text) + "' is not a coordinate pair \"latitude,longitude\""};
    if (std::abs(lat) > 90) return AudienceError{part, "latitude " + std::string(text.substr(0, comma)) + " is out of range (CAP writes latitude first)"};
    if (std::abs(lon) > 180) return AudienceError{part, "longitude " + std::string(text.substr(comma + 1)) + " is out of range"};
    return std::nullopt;
}

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        const auto b = i;
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i > b) out.push_back(s.substr(b, i - b));
    }
    return out;
}

Result area_of(const xmlNode* node, const std::string& part, CapArea& a) {
    std::vector<const xmlNode*> kids;
    if (auto e = children(node, part, {"areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"}, kids)) return e;
    if (auto e = one(kids, part, "areaDesc", a.description, true)) return e;
    auto polygons = named(kids, "polygon");
    for (std::size_t i = 0; i < polygons.size(); ++i) {
        const std::string where = at(part + ".polygon", i);
        const std::string text = text_of(polygons[i]);
        const auto pairs = words(text);
        // "A minimum of 4 coordinate pairs MUST be present and the first and last pairs of
        // coordinates MUST be the same."
        if (pairs.size() < 4) return AudienceError{where, "a polygon has at least 4 coordinate pairs (" + std::to_string(pairs.size()) + " here)"};
        if (pairs.front() != pairs.back()) return AudienceError{where, "the first and last coordinate pairs must be the same"};
        std::vector<std::pair<double, double>> ring;
        for (auto p : pairs) {
            double lat = 0, lon = 0;
            if (auto e = pair_of(p, where, lat, lon)) return e;
            ring.emplace_back(lon, lat);
        }
        a.polygons.push_back(std::move(ring));
    }
    auto circles = named(kids, "circle");
    for (std::size_t i = 0; i < circles.size(); ++i) {
        const std::string where = at(part + ".circle", i);
        const auto w = words(text_of(circles[i]));
        double lat = 0, lon = 0, km = 0;
        if (w.size() != 2) return AudienceError{where, "a circle is \"latitude,longitude radius\" (the radius in km)"};
        if (auto e = pair_of(w[0], where, lat, lon)) return e;
        if (!number(w[1], km) || km < 0) return AudienceError{where, "'" + std::string(w[1]) + "' is not a radius in kilometres"};
        a.circles.push_back({lat, lon, km * 1000.0});
    }
    a.geocodes = named(kids, "geocode").size();
    return std::nullopt;
}

Result info_of(const xmlNode* node, const std::string& part, CapInfo& info) {
    std::vector<const xmlNode*> kids;
    if (auto e = children(node, part,
                          {"language", "category", "event", "responseType", "urgency", "severity", "certainty", "audience", "eventCode",
                           "effective", "onset", "expires", "senderName", "headline", "description", "instruction", "web", "contact",
                           "parameter", "resource", "area"},
                          kids))
        return e;
    std::string language;
    if (auto e = one(kids, part, "language", language, false)) return e;
    if (!language.empty()) info.language = language;
    auto categories = named(kids, "category");
    if (categories.empty()) return AudienceError{part + ".category", "required"};
    static const std::set<std::string, std::less<>> kCategories{"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health",
                                                                "Env", "Transport", "Infra", "CBRNE", "Other"};
    for (std::size_t i = 0; i < categories.size(); ++i) {
        auto c = text_of(categories[i]);
        if (!kCategories.count(c)) return AudienceError{at(part + ".category", i), "'" + c + "' is not a CAP category"};
        info.categories.push_back(std::move(c));
    }
    if (auto e = one(kids, part, "event", info.event, true)) return e;
    for (auto* r : named(kids, "responseType")) {
        auto t = text_of(r);
        static const std::set<std::string, std::less<>> kTypes{"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"};
        if (!kTypes.count(t)) return AudienceError{part + ".responseType", "'" + t + "' is not a CAP response type"};
        info.response_types.push_back(std::move(t));
    }
    if (auto e = one(kids, part, "urgency", info.urgency, true, {"Immediate", "Expected", "Future", "Past", "Unknown"})) return e;
    if (auto e = one(kids, part, "severity", info.severity, true, {"Extreme", "Severe", "Moderate", "Minor", "Unknown"})) return e;
    if (auto e = one(kids, part, "certainty", info.certainty, true, {"Observed", "Likely", "Possible", "Unlikely", "Unknown"})) return e;
    if (auto e = time_of(kids, part, "effective", info.effective)) return e;
    if (auto e = time_of(kids, part, "onset", info.onset)) return e;
    if (auto e = time_of(kids, part, "expires", info.expires)) return e;
    for (auto [name, out] : {std::pair{"senderName", &info.sender_name}, {"headline", &info.headline}, {"description", &info.description},
                             {"instruction", &info.instruction}, {"web", &info.web}, {"contact", &info.contact}})
        if (auto e = one(kids, part, name, *out, false)) return e;
    auto areas = named(kids, "area");
    for (std::size_t i = 0; i < areas.size(); ++i) {
        CapArea a;
        if (auto e = area_of(areas[i], at(part + ".area", i), a)) return e;
        info.areas.push_back(std::move(a));
    }
    return std::nullopt;
}

// "sender,identifier,sent" triplets, separated by white space.
Result references_of(const std::string& text, const std::string& part, std::vector<CapReference>& out) {
    for (auto w : words(text)) {
        const auto a = w.find(','), b = a == std::string_view::npos ? a : w.find(',', a + 1);
        if (b == std::string_view::npos || w.find(',', b + 1) != std::string_view::npos)
            return AudienceError{part, "'" + std::string(w) + "' is not a reference \"sender,identifier,sent\""};
        out.push_back({std::string(w.substr(0, a)), std::string(w.substr(a + 1, b - a - 1)), std::string(w.substr(b + 1))});
    }
    return std::nullopt;
}
}  // namespace

std::variant<CapAlert, AudienceError> parse_cap(std::string_view xml) {
    if (xml.size() > 1024 * 1024) return AudienceError{"alert", "larger than 1 MiB"};
    // No network, no entity substitution, no DTD loading; errors come back, not on stderr.
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "alert.xml", nullptr, options));
    if (!doc) {
        const xmlError* e = xmlGetLastError();
        std::string why = e && e->message ? e->message : "not well-formed XML";
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        return AudienceError{"alert", "not well-formed XML" + (e ? " (line " + std::to_string(e->line) + "): " + why : std::string())};
    }
    if (doc->intSubset || doc->extSubset) return AudienceError{"alert", "a CAP alert holds no DTD (<!DOCTYPE>): refused"};
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!root || name_of(root) != "alert" || !root->ns || std::string_view(reinterpret_cast<const char*>(root->ns->href)) != kCapNamespace)
        return AudienceError{"alert", std::string("not a CAP 1.2 alert: expected <alert xmlns=\"") + kCapNamespace + "\">"};
    CapAlert alert;
    std::vector<const xmlNode*> kids;
    if (auto e = children(root, "alert",
                          {"identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction", "addresses", "code", "note",
                           "references", "incidents", "info"},
                          kids))
        return *e;
    if (auto e = one(kids, "alert", "identifier", alert.identifier, true)) return *e;
    if (auto e = one(kids, "alert", "sender", alert.sender, true)) return *e;
    for (auto* s : {&alert.identifier, &alert.sender})
        if (s->find_first_of(" ,<&") != std::string::npos)
            return AudienceError{s == &alert.identifier ? "alert.identifier" : "alert.sender", "must not hold spaces, commas, < or &"};
    std::optional<TimePoint> sent;
    if (auto e = time_of(kids, "alert", "sent", sent, true)) return *e;
    alert.sent = *sent;
    if (auto e = one(kids, "alert", "status", alert.status, true, {"Actual", "Exercise", "System", "Test", "Draft"})) return *e;
    if (auto e = one(kids, "alert", "msgType", alert.msg_type, true, {"Alert", "Update", "Cancel", "Ack", "Error"})) return *e;
    if (auto e = one(kids, "alert", "scope", alert.scope, true, {"Public", "Restricted", "Private"})) return *e;
    if (auto e = one(kids, "alert", "note", alert.note, false)) return *e;
    std::string references;
    if (auto e = one(kids, "alert", "references", references, false)) return *e;
    if (auto e = references_of(references, "alert.references", alert.references)) return *e;
    if ((alert.msg_type == "Update" || alert.msg_type == "Cancel") && alert.references.empty())
        return AudienceError{"alert.references", "an " + alert.msg_type + " names the alert it changes (sender,identifier,sent)"};
    auto infos = named(kids, "info");
    for (std::size_t i = 0; i < infos.size(); ++i) {
        CapInfo info;
        if (auto e = info_of(infos[i], at("alert.info", i), info)) return *e;
        alert.infos.push_back(std::move(info));
    }
    return alert;
}

std::string area_json(const CapInfo& info, std::size_t info_index, std::vector<std::string>& parts) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.SetMaxDecimalPlaces(7);  // about a centimetre
    w.StartArray();
    for (std::size_t a = 0; a < info.areas.size(); ++a) {
        const std::string where = at(at("alert.info", info_index) + ".area", a);
        for (std::size_t p = 0; p < info.areas[a].polygons.size(); ++p) {
            w.StartObject();
            w.Key("type");
            w.String("Polygon");
            w.Key("coordinates");
            w.StartArray();
            w.StartArray();
            for (auto [lon, lat] : info.areas[a].polygons[p]) {
                w.StartArray();
                w.Double(lon);
                w.Double(lat);
                w.EndArray();
            }
            w.EndArray();
            w.EndArray();
            w.EndObject();
            parts.push_back(at(where + ".polygon", p));
        }
        for (std::size_t c = 0; c < info.areas[a].circles.size(); ++c) {
            const auto& circle = info.areas[a].circles[c];
            w.StartObject();
            w.Key("circle");
            w.StartObject();
            w.Key("lat");
            w.Double(circle.lat);
            w.Key("lon");
            w.Double(circle.lon);
            w.Key("radius_m");
            w.Double(std::max(1.0, circle.radius_m));  // "0" in CAP: a point; a metre here
            w.EndObject();
            w.EndObject();
            parts.push_back(at(where + ".circle", c));
        }
    }
    w.EndArray();
    return parts.empty() ? std::string() : std::string(b.GetString(), b.GetSize());
}

const CapInfo* info_in(const CapAlert& alert, std::string_view language) {
    for (auto& i : alert.infos)
        if (i.language == language || (i.language.size() > language.size() && i.language.starts_with(language) && i.language[language.size()] == '-'))
            return &i;
    return alert.infos.empty() ? nullptr : &alert.infos.front();
}

}  // namespace crieur::audience
