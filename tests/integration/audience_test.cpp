// Audiences (issue 14) over a generated town: 3,000 citizens with real-looking coordinates around
// Lyon, streets written several ways, tags and contacts. Who a drawn polygon holds is checked
// against an independent computation (Python's shapely, from Debian), and the dry run through
// crieurd's API against the same set; bad areas, tags and streets are refused naming the part.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <random>
#include <set>
#include <sstream>

#include "daemon/audience/resolve.hpp"
#include "daemon/directory/directory.hpp"
#include "support/daemon_fixture.hpp"
#include "support/town.hpp"
#include "support/openapi_check.hpp"

using namespace crieur;
using namespace crieur::test;

namespace {
constexpr int kCitizens = kTownCitizens;

std::set<std::string> resolved(const std::string& path, const std::string& audience_json) {
    auto parsed = audience::parse_audience(audience_json);
    if (auto* e = std::get_if<audience::AudienceError>(&parsed)) FAIL(e->part << ": " << e->reason);
    directory::Directory dir(path);
    std::set<std::string> ids;
    auto error = audience::resolve(dir.db(), std::get<audience::Audience>(parsed), [&](const audience::Member& m) {
        ids.insert(m.id);
        return true;
    });
    if (error) FAIL(error->part << ": " << error->reason);
    return ids;
}

HttpResult preview(const DaemonUnderTest& d, const std::string& audience_json, const std::string& extra = {},
                   OpenApiResponses* seen = nullptr) {
    auto r = d.api("POST", "/v1/audiences/preview", R"({"template":"street_event","audience":)" + audience_json + extra + "}");
    if (seen) seen->add("POST", "/v1/audiences/preview", r);
    return r;
}
}  // namespace

TEST_CASE("audiences over a generated town: a drawn polygon holds exactly whom shapely finds inside, the dry run counts them") {
    TempDir dir;
    const Town town = make_town();
    write_town(town, dir / "directory.db");

    const auto mine = resolved(dir / "directory.db", std::string(R"({"area":)") + kPolygon + "}");
    const auto theirs = inside_by_shapely(town, dir.path().string(), kPolygon);
    CHECK(mine.size() > 200);
    CHECK(mine.size() < static_cast<std::size_t>(kCitizens) / 2);
    CHECK(mine == theirs);

    // The parts combined: a street however it is written, tags, an exclusion.
    int jaures_69007 = 0, heat_not_69001 = 0, parents_in_area = 0;
    for (auto& c : town.citizens) {
        const bool heat = std::find(c.tags.begin(), c.tags.end(), "registre_canicule") != c.tags.end();
        const bool parent = std::find(c.tags.begin(), c.tags.end(), "parent") != c.tags.end();
        jaures_69007 += (c.street == kStreets[0][0] || c.street == kStreets[0][1]) && c.postcode == "69007";
        heat_not_69001 += heat && c.postcode != "69001";
        parents_in_area += parent && theirs.count(c.id) && c.district != "Gerland";
    }
    CHECK(resolved(dir / "directory.db", R"({"street":{"name":"avenue jean jaures","postcode":"69007"}})").size() ==
          static_cast<std::size_t>(jaures_69007));
    CHECK(jaures_69007 > 0);
    CHECK(resolved(dir / "directory.db", R"({"tags":["registre_canicule"],"exclude":{"postcode":"69001"}})").size() ==
          static_cast<std::size_t>(heat_not_69001));
    CHECK(resolved(dir / "directory.db", std::string(R"({"area":)") + kPolygon +
                                             R"(,"tags":{"any":["parent"]},"exclude":{"district":"Gerland"}})")
              .size() == static_cast<std::size_t>(parents_in_area));
    // An exclusion by area: everyone with the tag, but those inside the polygon.
    int heat_outside = 0;
    for (auto& c : town.citizens)
        heat_outside += std::find(c.tags.begin(), c.tags.end(), "registre_canicule") != c.tags.end() && !theirs.count(c.id);
    CHECK(resolved(dir / "directory.db", std::string(R"({"tags":["registre_canicule"],"exclude":{"area":)") + kPolygon + "}}")
              .size() == static_cast<std::size_t>(heat_outside));

    // The dry run through the API: the same count, each one reachable or told why not, masked rows.
    RedisServer redis(dir / "redis");
    DaemonUnderTest d(dir, redis);
    d.start();
    OpenApiResponses seen(dir);
    auto r = preview(d, std::string(R"({"area":)") + kPolygon + "}", R"(,"channels":["sms","email"],"sample":5)", &seen);
    REQUIRE(r.status == 200);
    rapidjson::Document p;
    p.Parse(r.body.c_str());
    REQUIRE(p.IsObject());
    CHECK(p["citizens"].GetInt64() == static_cast<std::int64_t>(theirs.size()));
    CHECK(p["reachable"].GetInt64() + p["unreachable"].GetInt64() == p["citizens"].GetInt64());
    CHECK(p["reachable"].GetInt64() > 0);
    CHECK(p["unreachable_by"]["no_contact"].GetInt64() > 0);  // some have neither a number nor an address
    CHECK(p["sample"].Size() == 5);
    CHECK(r.body.find("+3361") == std::string::npos);  // no number shown whole
    CHECK(r.body.find("Prénom") == std::string::npos);

    // Bad input, named before anything is looked up or sent.
    auto refused = [&](const std::string& audience, const std::string& part) {
        auto answer = preview(d, audience, {}, &seen);
        CHECK(answer.status == 422);
        CHECK_MESSAGE(answer.body.find("\"field\":\"" + part + "\"") != std::string::npos, answer.body);
        return answer.body;
    };
    refused(R"({"area":{"type":"Polygon","coordinates":[[[4.82,45.73],[4.87,45.73],[4.87,45.75],[4.84,45.75]]]}})",
            "audience.area.coordinates[0]");
    refused(R"({"area":{"type":"Polygon","coordinates":[[[4.82,45.73],[4.87,45.78],[4.87,45.73],[4.82,45.78],[4.82,45.73]]]}})",
            "audience.area.coordinates");  // a bow tie: it crosses itself (the polygon is at fault)
    CHECK(refused(R"({"area":{"type":"Polygon","coordinates":[[[45.73,4.82],[45.73,4.87],[45.78,4.87],[45.78,4.82],[45.73,4.82]]]}})",
                  "audience.area")
              .find("swapped") != std::string::npos);
    refused(R"({"area":{"type":"Polygon","coordinates":[[[4.82,145.73],[4.87,45.73],[4.87,45.75],[4.82,145.73]]]}})",
            "audience.area.coordinates[0][0]");
    refused(R"({"tags":["registre_canicule","no_such_tag"]})", "audience.tags.all[1]");
    refused(R"({"street":{"name":"Rue des Inconnus","postcode":"69007"}})", "audience.street");
    refused(R"({"street":{"name":"Rue Saint-Jean"}})", "audience.street");
    refused(R"({"colour":"red"})", "audience.colour");
    auto nobody = preview(d, R"({"postcode":"75001"})", {}, &seen);
    CHECK(nobody.status == 200);
    CHECK(nobody.body.find("\"citizens\":0") != std::string::npos);
    CHECK(nobody.body.find("holds nobody") != std::string::npos);
    seen.check();  // every answer above against docs/openapi.json
    // The same dry run from the command line, on the same files.
    std::ofstream(dir / "preview.json") << R"({"template":"street_event","channels":["sms","email"],"audience":{"area":)" << kPolygon << "}}";
    std::string out;
    CHECK(run_cli(d, dir, {"audience", "preview", dir / "preview.json"}, out) == 0);
    CHECK(out.find("\"citizens\":" + std::to_string(theirs.size()) + ",") != std::string::npos);
    std::ofstream(dir / "bad.json") << R"({"template":"street_event","audience":{"tags":["nope"]}})";
    CHECK(run_cli(d, dir, {"audience", "preview", dir / "bad.json"}, out) == 1);
    CHECK(d.stop() == 0);
}
