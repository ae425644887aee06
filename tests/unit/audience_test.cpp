// Audiences as values (daemon/audience/audience.hpp): parsed, checked, and their areas' tests.
#include <doctest/doctest.h>

#include "daemon/audience/audience.hpp"

using namespace crieur::audience;

namespace {
Audience parsed(const std::string& json) {
    auto r = parse_audience(json);
    if (auto* e = std::get_if<AudienceError>(&r)) FAIL(e->part << ": " << e->reason);
    return std::get<Audience>(r);
}
AudienceError refused(const std::string& json) {
    auto r = parse_audience(json);
    REQUIRE(std::holds_alternative<AudienceError>(r));
    return std::get<AudienceError>(r);
}
}  // namespace

TEST_CASE("an area: a circle by its radius in metres, a polygon in either winding, a Feature, a MultiPolygon with a hole") {
    auto circle = parsed(R"({"area":{"circle":{"lat":45.7640,"lon":4.8357,"radius_m":500}}})");
    REQUIRE(circle.include.area);
    CHECK(circle.include.area->contains(45.7640, 4.8357));
    CHECK(circle.include.area->contains(45.7640 + 0.0044, 4.8357));      // ~489 m north
    CHECK_FALSE(circle.include.area->contains(45.7640 + 0.0046, 4.8357)); // ~511 m north
    CHECK(circle.include.area->min_lat < 45.7640 - 0.0045);              // its box holds it whole
    const std::string clockwise = R"({"type":"Polygon","coordinates":[[[0,0],[0,1],[1,1],[1,0],[0,0]]]})";
    auto square = parsed(R"({"area":)" + clockwise + "}");
    CHECK(square.include.area->contains(0.5, 0.5));
    CHECK(square.include.area->contains(0.0, 0.5));  // on the line: inside
    CHECK_FALSE(square.include.area->contains(1.5, 0.5));
    auto feature = parsed(R"({"area":{"type":"Feature","properties":{},"geometry":)" + clockwise + "}}");
    CHECK(feature.include.area->contains(0.5, 0.5));
    auto holed = parsed(R"({"area":{"type":"MultiPolygon","coordinates":[
        [[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,3],[3,3],[3,1],[1,1]]],
        [[[10,10],[11,10],[11,11],[10,11],[10,10]]]]}})");
    CHECK(holed.include.area->contains(0.5, 0.5));
    CHECK_FALSE(holed.include.area->contains(2, 2));  // in the hole
    CHECK(holed.include.area->contains(10.5, 10.5));
    CHECK(holed.include.area->max_lon == 11);
}

TEST_CASE("an audience's parts and their errors, each naming the part") {
    auto a = parsed(R"({"street":{"name":"av. Jean-Jaurès","postcode":"69007"},"postcode":["69007","69008"],"district":"Gerland",
        "tags":{"all":["parent"],"any":["eligible_rsa","eligible_apl"]},"citizens":["C-1"],"exclude":{"tags":["registre_canicule"]}})");
    CHECK(a.include.street->key == "avenue jean jaures");
    CHECK(a.include.postcodes.size() == 2);
    CHECK(a.include.districts == std::vector<std::string>{"Gerland"});
    CHECK(a.include.tags_any.size() == 2);
    REQUIRE(a.exclude);
    CHECK(a.exclude->tags_all == std::vector<std::string>{"registre_canicule"});
    CHECK(refused("{}").part == "");
    CHECK(refused("[1]").part == "");
    CHECK(refused(R"({"tags":["Parent"]})").part == "tags[0]");
    CHECK(refused(R"({"tags":{"some":["x"]}})").part == "tags.some");
    CHECK(refused(R"({"street":{"name":"rue Centrale"}})").part == "street");
    CHECK(refused(R"({"street":{"name":"--","postcode":"69007"}})").part == "street.name");
    CHECK(refused(R"({"postcode":"69007","exclude":{"exclude":{"postcode":"1"}}})").part == "exclude.exclude");
    CHECK(refused(R"({"postcode":"69007","exclude":{}})").part == "exclude");
    CHECK(refused(R"({"area":{"circle":{"lat":45,"lon":4,"radius_m":0}}})").part == "area.circle.radius_m");
    CHECK(refused(R"({"area":{"type":"Point","coordinates":[4,45]}})").part == "area.type");
    CHECK(refused(R"({"area":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0.5]]]}})").part == "area.coordinates[0]");
    CHECK(refused(R"({"area":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}})").part == "area.coordinates[0]");
    CHECK(refused(R"({"area":{"type":"Polygon","coordinates":[[[0,0],["x",0],[1,1],[0,0]]]}})").part == "area.coordinates[0][1]");
    CHECK(refused(R"({"area":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[2,2],[2,0],[0,2],[0,0]]]]}})").part ==
          "area.coordinates[1]");
    CHECK(refused(R"({"area":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]],"x":1},"size":3})").part == "size");
}
