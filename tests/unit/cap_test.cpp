// CAP 1.2 alerts (OASIS Common Alerting Protocol) read as an audience and content source: the
// structure and rules checked, each problem naming its element; latitude-first pairs and
// kilometre radii turned into GeoJSON order and metres; Alert, Update and Cancel mapped onto a
// campaign, its follow-up and its cancellation.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "daemon/audience/cap.hpp"
#include "daemon/campaigns/cap_campaign.hpp"

using namespace crieur;
using namespace crieur::audience;

namespace {
std::string read(const std::string& name) {
    std::ifstream in(std::string(CRIEUR_SOURCE_DIR "/docs/examples/campaigns/") + name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A small alert; `alert_extra` goes in <alert> before <info>, `info_extra` and `area` in <info>.
std::string alert(const std::string& area = "<polygon>45.73,4.82 45.73,4.87 45.75,4.87 45.73,4.82</polygon><circle>45.76,4.83 1.5</circle>",
                  const std::string& head = "<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>",
                  const std::string& info_extra = "") {
    return R"(<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>A-1</identifier>)"
           R"(<sender>s@example.fr</sender><sent>2026-12-03T14:00:00+01:00</sent>)" + head +
           "<info><category>Safety</category><event>Coupure</event><urgency>Immediate</urgency><severity>Moderate</severity>"
           "<certainty>Observed</certainty>" + info_extra + "<area><areaDesc>Centre</areaDesc>" + area + "</area></info></alert>";
}

AudienceError refusal(const std::string& xml) {
    auto r = parse_cap(xml);
    REQUIRE(std::holds_alternative<AudienceError>(r));
    return std::get<AudienceError>(r);
}
}  // namespace

TEST_CASE("a CAP alert's areas: latitude-first pairs become GeoJSON positions, a radius in km becomes metres") {
    auto r = parse_cap(alert());
    REQUIRE(std::holds_alternative<CapAlert>(r));
    const auto& a = std::get<CapAlert>(r);
    CHECK(a.identifier == "A-1");
    CHECK(a.infos.size() == 1);
    CHECK(a.infos[0].language == "en-US");  // CAP's default
    const auto& area = a.infos[0].areas.at(0);
    CHECK(area.polygons.at(0).front() == std::pair{4.82, 45.73});
    CHECK(area.circles.at(0).radius_m == doctest::Approx(1500));
    std::vector<std::string> parts;
    const auto json = area_json(a.infos[0], 0, parts);
    CHECK(parts == std::vector<std::string>{"alert.info[0].area[0].polygon[0]", "alert.info[0].area[0].circle[0]"});
    // The audience reads it back: the union of the polygon and the circle.
    auto audience = parse_audience(R"({"area":)" + json + "}");
    REQUIRE(std::holds_alternative<Audience>(audience));
    const auto& u = *std::get<Audience>(audience).include.area;
    CHECK(u.contains(45.735, 4.85));   // in the triangle
    CHECK(u.contains(45.765, 4.83));   // in the circle, 1.1 km north of its centre
    CHECK_FALSE(u.contains(45.78, 4.83));  // 2.2 km north: in neither
    CHECK_FALSE(u.contains(45.74, 4.825)); // west of the triangle's hypotenuse
}

TEST_CASE("a CAP alert that does not follow the standard is refused naming the element at fault") {
    CHECK(refusal("<alert>").part == "alert");  // not XML
    CHECK(refusal(R"(<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>)").reason.find("CAP 1.2") != std::string::npos);
    CHECK(refusal(R"(<!DOCTYPE alert [<!ENTITY x "y">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>)").reason.find("DTD") !=
          std::string::npos);
    CHECK(refusal(alert("", "<status>Actual</status><msgType>Alert</msgType>")).part == "alert.scope");
    CHECK(refusal(alert("", "<status>Real</status><msgType>Alert</msgType><scope>Public</scope>")).part == "alert.status");
    CHECK(refusal(alert("", "<status>Actual</status><msgType>Update</msgType><scope>Public</scope>")).part == "alert.references");
    CHECK(refusal(alert("", "<status>Actual</status><msgType>Alert</msgType><scope>Public</scope><colour>red</colour>")).part == "alert.colour");
    CHECK(refusal(alert("<polygon>45.73,4.82 45.73,4.87 45.75,4.87 45.74,4.82</polygon>")).part == "alert.info[0].area[0].polygon[0]");
    CHECK(refusal(alert("<polygon>45.73,4.82 45.73,4.87 45.73,4.82</polygon>")).reason.find("at least 4") != std::string::npos);
    CHECK(refusal(alert("<polygon>145.73,4.82 45.73,4.87 45.75,4.87 145.73,4.82</polygon>")).reason.find("latitude") != std::string::npos);
    CHECK(refusal(alert("<circle>45.76,4.83</circle>")).part == "alert.info[0].area[0].circle[0]");
    CHECK(refusal(alert("<circle>45.76,4.83 -1</circle>")).part == "alert.info[0].area[0].circle[0]");
    CHECK(refusal(alert("", "<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>", "<expires>tomorrow</expires>")).part ==
          "alert.info[0].expires");
    auto no_area_desc = alert();
    no_area_desc.replace(no_area_desc.find("<areaDesc>Centre</areaDesc>"), 27, "");
    CHECK(refusal(no_area_desc).part == "alert.info[0].area[0].areaDesc");
}

TEST_CASE("a CAP Alert is a campaign to its area with its info as data, an Update follows it up, an AllClear resolves it, a Cancel cancels it") {
    using namespace crieur::campaigns;
    auto created = request_from_cap(read("flood-alert.cap.xml"), {});
    REQUIRE(std::holds_alternative<CapRequest>(created));
    const auto& c = std::get<CapRequest>(created);
    CHECK(c.action == CapAction::create);
    CHECK(c.campaign == "cap-PREF69-CRUE-2026-12-03-001");
    rapidjson::Document body;
    body.Parse(c.body.c_str());
    REQUIRE(body.IsObject());
    CHECK(body["template"].GetString() == std::string("cap_alert"));
    CHECK(body["priority"].GetString() == std::string("urgent"));  // severity Severe
    CHECK(body["data"]["headline"].GetString() == std::string("Vigilance rouge crues : Rhône"));  // the fr-FR info, the town's language
    CHECK(body["data"]["expires"].GetString() == std::string("04/12/2030 12:00"));  // in the town's time zone
    CHECK(body["audience"]["area"][0]["coordinates"][0][0][0].GetDouble() == doctest::Approx(4.82));
    {
        CapOptions english;
        english.language = "en";
        auto en = request_from_cap(read("flood-alert.cap.xml"), english);
        rapidjson::Document d;
        d.Parse(std::get<CapRequest>(en).body.c_str());
        CHECK(d["data"]["headline"].GetString() == std::string("Red flood warning: Rhône"));
    }
    auto cleared = request_from_cap(read("flood-all-clear.cap.xml"), {});
    REQUIRE(std::holds_alternative<CapRequest>(cleared));
    CHECK(std::get<CapRequest>(cleared).action == CapAction::followup);
    CHECK(std::get<CapRequest>(cleared).campaign == "cap-PREF69-CRUE-2026-12-03-001");
    CHECK(std::get<CapRequest>(cleared).body.find("\"resolved\":true") != std::string::npos);
    std::string cancel = read("flood-all-clear.cap.xml");
    cancel.replace(cancel.find("<msgType>Update</msgType>"), 25, "<msgType>Cancel</msgType>");
    CHECK(std::get<CapRequest>(request_from_cap(cancel, {})).action == CapAction::cancel);
    // Only an Actual, Public alert reaches citizens; an Exercise may be dry-run.
    std::string exercise = read("flood-alert.cap.xml");
    exercise.replace(exercise.find("<status>Actual</status>"), 23, "<status>Exercise</status>");
    auto refused = request_from_cap(exercise, {});
    REQUIRE(std::holds_alternative<RequestError>(refused));
    CHECK(std::get<RequestError>(refused).field == "alert.status");
    CapOptions dry;
    dry.dry_run = true;
    CHECK(std::holds_alternative<CapRequest>(request_from_cap(exercise, dry)));
    // An area named by geocodes alone: nobody can be found by it here.
    auto geocoded = request_from_cap(alert("<geocode><valueName>INSEE</valueName><value>69387</value></geocode>"), {});
    REQUIRE(std::holds_alternative<RequestError>(geocoded));
    CHECK(std::get<RequestError>(geocoded).field == "alert.info[0].area");
    CHECK(campaign_id_of(std::string(100, 'x')).size() == 64);
    CHECK(campaign_id_of("urn:oid:2.49.0.1.250.0.FR.2026") == "cap-urn-oid-2.49.0.1.250.0.FR.2026");
    CHECK(cap_part("audience.area[1].coordinates[0]", {"alert.info[0].area[0].polygon[0]", "alert.info[0].area[1].circle[0]"}) ==
          "alert.info[0].area[1].circle[0]");
}
