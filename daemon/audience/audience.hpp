// An audience: who a campaign is for, as a value (docs/audiences.md). Its parts are combined with
// AND; `exclude` takes out whoever matches its own parts. Parsed from JSON with every problem
// naming the part at fault ("area.coordinates[0]: the ring is not closed"), before anything is
// looked up or sent.
#pragma once

#include <boost/geometry/geometries/multi_polygon.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crieur::audience {

// GeoJSON positions: x = longitude, y = latitude, straight lines between them (RFC 7946 §3.1.1),
// so a point-in-polygon test in this plane is what the map drew. Counter-clockwise outer rings.
using Point = boost::geometry::model::d2::point_xy<double>;
using Polygon = boost::geometry::model::polygon<Point, false /* counter-clockwise */>;
using MultiPolygon = boost::geometry::model::multi_polygon<Polygon>;

struct Circle {
    double lat = 0, lon = 0, radius_m = 0;
};

struct Area {
    // A citizen is in the area when inside any of its polygons or circles: GeoJSON gives one
    // Polygon or MultiPolygon or one circle; a CAP alert the union of its areas' polygons and circles.
    MultiPolygon polygons;
    std::vector<Circle> circles;
    // The bounding box to ask the R*Tree for.
    double min_lat = 0, max_lat = 0, min_lon = 0, max_lon = 0;
    bool contains(double lat, double lon) const;
};

struct Street {
    std::string name;  // as given
    std::string key;   // directory::street_key(name)
    std::string postcode, insee;  // one of them, to tell the towns' streets apart
};

// The parts of an audience (and of its exclusion); each one given narrows it.
struct Criteria {
    std::optional<Area> area;
    std::optional<Street> street;
    std::vector<std::string> postcodes;  // any of them
    std::vector<std::string> districts;  // any of them
    std::vector<std::string> tags_all;   // every one of them
    std::vector<std::string> tags_any;   // at least one of them
    std::vector<std::string> citizens;   // explicit ids: any of them
    bool empty() const {
        return !area && !street && postcodes.empty() && districts.empty() && tags_all.empty() && tags_any.empty() &&
               citizens.empty();
    }
};

struct Audience {
    Criteria include;
    std::optional<Criteria> exclude;
};

struct AudienceError {
    std::string part;    // "area.coordinates[0][3]", "tags.all[1]", "exclude.postcode"
    std::string reason;
};

std::variant<Audience, AudienceError> parse_audience(std::string_view json);

// The area as GeoJSON geometry or {"circle": {...}}, from a parsed value (CAP alerts build one too).
std::variant<Area, AudienceError> area_from_polygons(MultiPolygon polygons, const std::string& part);
std::variant<Area, AudienceError> area_from_circle(Circle c, const std::string& part);
// The union of areas (a CAP alert's): their polygons, their circles, the box around them all.
Area union_of(std::vector<Area> areas);

}  // namespace crieur::audience
