#include "daemon/audience/audience.hpp"

#include <rapidjson/document.h>

#include <boost/geometry/algorithms/correct.hpp>
#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/algorithms/envelope.hpp>
#include <boost/geometry/algorithms/equals.hpp>
#include <boost/geometry/algorithms/is_valid.hpp>
#include <boost/geometry/geometries/box.hpp>

#include <cmath>
#include <set>

#include "daemon/directory/citizen_codec.hpp"
#include "daemon/directory/street.hpp"

namespace crieur::audience {

namespace bg = boost::geometry;

namespace {
constexpr double kEarthRadiusM = 6'371'008.8;  // the mean radius (IUGG)
constexpr double kPi = 3.14159265358979323846;
constexpr std::size_t kMaxPositions = 100'000;   // a drawn area or a CAP polygon has far fewer
constexpr std::size_t kMaxCitizens = 100'000;    // explicit ids in one audience

double radians(double deg) { return deg * kPi / 180.0; }

double distance_m(double lat1, double lon1, double lat2, double lon2) {
    const double dlat = radians(lat2 - lat1), dlon = radians(lon2 - lon1);
    const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                     std::cos(radians(lat1)) * std::cos(radians(lat2)) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(a)));
}

using Value = rapidjson::Value;
using Result = std::optional<AudienceError>;

std::string at(const std::string& part, std::size_t i) { return part + "[" + std::to_string(i) + "]"; }

Result ring_of(const Value& v, const std::string& part, Polygon::ring_type& ring, std::size_t& positions) {
    if (!v.IsArray()) return AudienceError{part, "a ring is an array of [longitude, latitude] positions"};
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        const Value& p = v[i];
        if (!p.IsArray() || p.Size() < 2 || p.Size() > 3 || !p[0].IsNumber() || !p[1].IsNumber())
            return AudienceError{at(part, i), "a position is [longitude, latitude]"};
        const double lon = p[0].GetDouble(), lat = p[1].GetDouble();
        if (!std::isfinite(lon) || !std::isfinite(lat) || std::abs(lon) > 180)
            return AudienceError{at(part, i), "longitude " + std::to_string(lon) + " is out of range (-180 to 180)"};
        if (std::abs(lat) > 90)
            return AudienceError{at(part, i), "latitude " + std::to_string(lat) +
                                                  " is out of range (-90 to 90): GeoJSON positions are [longitude, latitude]"};
        if (++positions > kMaxPositions) return AudienceError{part, "more than 100,000 positions"};
        ring.push_back(Point(lon, lat));
    }
    if (ring.size() < 4) return AudienceError{part, "a ring has at least 4 positions (a triangle and its first again)"};
    if (!bg::equals(ring.front(), ring.back()))
        return AudienceError{part, "the ring is not closed: its last position must repeat its first"};
    return std::nullopt;
}

Result polygon_of(const Value& rings, const std::string& part, Polygon& poly, std::size_t& positions) {
    if (!rings.IsArray() || rings.Empty()) return AudienceError{part, "a polygon is an array of rings, its outer ring first"};
    for (rapidjson::SizeType r = 0; r < rings.Size(); ++r) {
        Polygon::ring_type ring;
        if (auto e = ring_of(rings[r], at(part, r), ring, positions)) return e;
        if (r == 0) poly.outer() = std::move(ring);
        else poly.inners().push_back(std::move(ring));
    }
    bg::correct(poly);  // either winding accepted (RFC 7946 asks for one, and tools differ)
    std::string why;
    if (!bg::is_valid(poly, why)) return AudienceError{part, "not a valid polygon: " + why};
    return std::nullopt;
}

Result strings_of(const Value& v, const std::string& part, std::vector<std::string>& out, bool one_allowed = true) {
    if (one_allowed && v.IsString()) {
        out.emplace_back(v.GetString(), v.GetStringLength());
        return std::nullopt;
    }
    if (!v.IsArray() || v.Empty()) return AudienceError{part, one_allowed ? "expected a string or a non-empty array of strings" : "expected a non-empty array of strings"};
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        if (!v[i].IsString() || v[i].GetStringLength() == 0) return AudienceError{at(part, i), "expected a non-empty string"};
        out.emplace_back(v[i].GetString(), v[i].GetStringLength());
    }
    return std::nullopt;
}

Result tags_of(const std::vector<std::string>& tags, const std::string& part) {
    for (std::size_t i = 0; i < tags.size(); ++i)
        if (auto why = directory::tag_problem(tags[i])) return AudienceError{at(part, i), "'" + tags[i] + "': " + *why};
    return std::nullopt;
}

Result area_of(const Value& v, const std::string& part, std::optional<Area>& out) {
    if (!v.IsObject()) return AudienceError{part, "expected a GeoJSON Polygon or MultiPolygon, or {\"circle\": {\"lat\", \"lon\", \"radius_m\"}}"};
    if (v.HasMember("circle")) {
        const Value& c = v["circle"];
        if (!c.IsObject() || !c.HasMember("lat") || !c.HasMember("lon") || !c.HasMember("radius_m") || !c["lat"].IsNumber() ||
            !c["lon"].IsNumber() || !c["radius_m"].IsNumber())
            return AudienceError{part + ".circle", "expected {\"lat\": number, \"lon\": number, \"radius_m\": number}"};
        auto area = area_from_circle({c["lat"].GetDouble(), c["lon"].GetDouble(), c["radius_m"].GetDouble()}, part + ".circle");
        if (auto* e = std::get_if<AudienceError>(&area)) return *e;
        out = std::move(std::get<Area>(area));
        return std::nullopt;
    }
    const Value* geometry = &v;
    std::string where = part;
    if (v.HasMember("type") && v["type"].IsString() && std::string_view(v["type"].GetString()) == "Feature") {
        if (!v.HasMember("geometry") || !v["geometry"].IsObject()) return AudienceError{part + ".geometry", "a Feature needs its geometry"};
        geometry = &v["geometry"];
        where = part + ".geometry";
    }
    if (!geometry->HasMember("type") || !(*geometry)["type"].IsString())
        return AudienceError{where + ".type", "expected \"Polygon\" or \"MultiPolygon\" (or a circle)"};
    const std::string_view type = (*geometry)["type"].GetString();
    if (!geometry->HasMember("coordinates")) return AudienceError{where + ".coordinates", "required"};
    const Value& coordinates = (*geometry)["coordinates"];
    MultiPolygon polygons;
    std::size_t positions = 0;
    if (type == "Polygon") {
        Polygon poly;
        if (auto e = polygon_of(coordinates, where + ".coordinates", poly, positions)) return e;
        polygons.push_back(std::move(poly));
    } else if (type == "MultiPolygon") {
        if (!coordinates.IsArray() || coordinates.Empty()) return AudienceError{where + ".coordinates", "an array of polygons"};
        for (rapidjson::SizeType i = 0; i < coordinates.Size(); ++i) {
            Polygon poly;
            if (auto e = polygon_of(coordinates[i], at(where + ".coordinates", i), poly, positions)) return e;
            polygons.push_back(std::move(poly));
        }
    } else {
        return AudienceError{where + ".type", "'" + std::string(type) + "' is not an area: expected Polygon or MultiPolygon (or a circle)"};
    }
    auto area = area_from_polygons(std::move(polygons), where);
    if (auto* e = std::get_if<AudienceError>(&area)) return *e;
    out = std::move(std::get<Area>(area));
    return std::nullopt;
}

Result criteria_of(const Value& v, const std::string& prefix, Criteria& c, bool may_exclude, std::optional<Criteria>* exclude) {
    static const std::set<std::string_view> kKeys{"area", "street", "postcode", "district", "tags", "citizens", "exclude"};
    for (auto& m : v.GetObject()) {
        const std::string_view key(m.name.GetString(), m.name.GetStringLength());
        if (!kKeys.count(key) || (key == "exclude" && !may_exclude))
            return AudienceError{prefix + std::string(key),
                                 key == "exclude" ? "an exclusion holds no exclusion of its own"
                                                  : "unknown part (area, street, postcode, district, tags, citizens, exclude)"};
    }
    if (v.HasMember("area") && v["area"].IsArray()) {
        // Several areas: whoever is in any of them (a CAP alert's polygons and circles).
        const Value& list = v["area"];
        if (list.Empty() || list.Size() > 100) return AudienceError{prefix + "area", "a list of 1 to 100 areas"};
        std::vector<Area> areas;
        for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
            std::optional<Area> one;
            if (auto e = area_of(list[i], at(prefix + "area", i), one)) return e;
            areas.push_back(std::move(*one));
        }
        c.area = union_of(std::move(areas));
    } else if (v.HasMember("area")) {
        if (auto e = area_of(v["area"], prefix + "area", c.area)) return e;
    }
    if (v.HasMember("street")) {
        const Value& s = v["street"];
        const std::string part = prefix + "street";
        if (!s.IsObject() || !s.HasMember("name") || !s["name"].IsString())
            return AudienceError{part, "expected {\"name\": \"avenue Jean Jaurès\", \"postcode\": \"69007\"} (or \"insee\")"};
        for (auto& m : s.GetObject())
            if (m.name != "name" && m.name != "postcode" && m.name != "insee")
                return AudienceError{part + "." + m.name.GetString(), "unknown field (name, postcode, insee)"};
        Street street{s["name"].GetString(), directory::street_key(s["name"].GetString()), {}, {}};
        if (street.key.empty()) return AudienceError{part + ".name", "no street name in it"};
        for (auto [key, out] : {std::pair{"postcode", &street.postcode}, {"insee", &street.insee}}) {
            if (!s.HasMember(key)) continue;
            if (!s[key].IsString()) return AudienceError{part + "." + key, "expected a string"};
            *out = s[key].GetString();
        }
        if (street.postcode.empty() && street.insee.empty())
            return AudienceError{part, "give its postcode or its town's INSEE code: many towns have a street of that name"};
        c.street = std::move(street);
    }
    if (v.HasMember("postcode"))
        if (auto e = strings_of(v["postcode"], prefix + "postcode", c.postcodes)) return e;
    if (v.HasMember("district"))
        if (auto e = strings_of(v["district"], prefix + "district", c.districts)) return e;
    if (v.HasMember("tags")) {
        const Value& t = v["tags"];
        const std::string part = prefix + "tags";
        if (t.IsArray()) {
            if (auto e = strings_of(t, part, c.tags_all, false)) return e;
            if (auto e = tags_of(c.tags_all, part)) return e;
        } else if (t.IsObject()) {
            for (auto& m : t.GetObject())
                if (m.name != "all" && m.name != "any") return AudienceError{part + "." + m.name.GetString(), "unknown field (all, any)"};
            if (t.HasMember("all")) {
                if (auto e = strings_of(t["all"], part + ".all", c.tags_all, false)) return e;
                if (auto e = tags_of(c.tags_all, part + ".all")) return e;
            }
            if (t.HasMember("any")) {
                if (auto e = strings_of(t["any"], part + ".any", c.tags_any, false)) return e;
                if (auto e = tags_of(c.tags_any, part + ".any")) return e;
            }
            if (c.tags_all.empty() && c.tags_any.empty()) return AudienceError{part, "give all, any or both"};
        } else {
            return AudienceError{part, "expected [\"tag\", ...] (all of them) or {\"all\": [...], \"any\": [...]}"};
        }
    }
    if (v.HasMember("citizens")) {
        if (auto e = strings_of(v["citizens"], prefix + "citizens", c.citizens, false)) return e;
        if (c.citizens.size() > kMaxCitizens) return AudienceError{prefix + "citizens", "more than 100,000 ids: select them by tag instead"};
    }
    if (may_exclude && v.HasMember("exclude")) {
        const Value& x = v["exclude"];
        if (!x.IsObject()) return AudienceError{"exclude", "expected the parts of whom to leave out"};
        Criteria out;
        if (auto e = criteria_of(x, "exclude.", out, false, nullptr)) return e;
        if (out.empty()) return AudienceError{"exclude", "names no part: leave it out"};
        *exclude = std::move(out);
    }
    return std::nullopt;
}
}  // namespace

bool Area::contains(double lat, double lon) const {
    for (auto& c : circles)
        if (distance_m(c.lat, c.lon, lat, lon) <= c.radius_m) return true;
    // Each polygon on its own: a union's polygons may overlap, which a MultiPolygon may not.
    const Point p(lon, lat);
    for (auto& polygon : polygons)
        if (bg::covered_by(p, polygon)) return true;  // a citizen on the drawn line is inside
    return false;
}

Area union_of(std::vector<Area> areas) {
    Area u;
    for (std::size_t i = 0; i < areas.size(); ++i) {
        auto& a = areas[i];
        for (auto& p : a.polygons) u.polygons.push_back(std::move(p));
        u.circles.insert(u.circles.end(), a.circles.begin(), a.circles.end());
        u.min_lat = i ? std::min(u.min_lat, a.min_lat) : a.min_lat;
        u.max_lat = i ? std::max(u.max_lat, a.max_lat) : a.max_lat;
        u.min_lon = i ? std::min(u.min_lon, a.min_lon) : a.min_lon;
        u.max_lon = i ? std::max(u.max_lon, a.max_lon) : a.max_lon;
    }
    return u;
}

std::variant<Area, AudienceError> area_from_polygons(MultiPolygon polygons, const std::string& part) {
    if (polygons.empty()) return AudienceError{part, "no polygon"};
    Area a;
    bg::model::box<Point> box;
    bg::envelope(polygons, box);
    a.min_lon = box.min_corner().x();
    a.min_lat = box.min_corner().y();
    a.max_lon = box.max_corner().x();
    a.max_lat = box.max_corner().y();
    a.polygons = std::move(polygons);
    return a;
}

std::variant<Area, AudienceError> area_from_circle(Circle c, const std::string& part) {
    if (!std::isfinite(c.lat) || std::abs(c.lat) > 90) return AudienceError{part + ".lat", "not a latitude"};
    if (!std::isfinite(c.lon) || std::abs(c.lon) > 180) return AudienceError{part + ".lon", "not a longitude"};
    if (!std::isfinite(c.radius_m) || c.radius_m <= 0 || c.radius_m > 200'000)
        return AudienceError{part + ".radius_m", "a radius from 1 m to 200 km"};
    Area a;
    a.circles.push_back(c);
    // The box around it, a little wider than the circle (the R*Tree keeps 32-bit coordinates).
    const double dlat = c.radius_m / (kEarthRadiusM * kPi / 180.0) * 1.01 + 1e-5;
    const double coslat = std::max(0.01, std::cos(radians(c.lat)));
    const double dlon = dlat / coslat;
    a.min_lat = std::max(-90.0, c.lat - dlat);
    a.max_lat = std::min(90.0, c.lat + dlat);
    a.min_lon = std::max(-180.0, c.lon - dlon);
    a.max_lon = std::min(180.0, c.lon + dlon);
    return a;
}

std::variant<Audience, AudienceError> parse_audience(std::string_view json) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) return AudienceError{"", "an audience is a JSON object (docs/audiences.md)"};
    Audience a;
    if (auto e = criteria_of(d, "", a.include, true, &a.exclude)) return *e;
    if (a.include.empty()) return AudienceError{"", "names nobody: give an area, a street, a postcode, a district, tags or citizens"};
    return a;
}

}  // namespace crieur::audience
