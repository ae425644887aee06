// Campaign values: their ids and keys, the requests that create them (each problem naming its
// field), and the jobs they put on the stream (the contract of docs/jobs.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/render/template_store.hpp"

using namespace crieur;
using namespace crieur::campaigns;

namespace {
const std::shared_ptr<const render::TemplateStore>& shipped() {
    static const auto store = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    return store;
}
const char* kData = R"({"street":"rue Garibaldi","event":"Coupure","starts":"14 h","ends":"16 h","advice":"Rien.","info_url":"https://m.fr/t"})";

std::string request(const std::string& extra) {
    return R"({"template":"street_event","audience":{"postcode":"69003"},"data":)" + std::string(kData) + extra + "}";
}
RequestError refusal(const std::string& body, bool operator_key = false) {
    auto r = parse_campaign_request(body, *shipped(), "voirie", operator_key);
    REQUIRE(std::holds_alternative<RequestError>(r));
    return std::get<RequestError>(r);
}
}  // namespace

TEST_CASE("a campaign's key is its id, a follow-up's <id>~<n>, and its jobs' ids <key>:<citizen>") {
    CHECK(valid_id("coupure-rue_Garibaldi.2026"));
    CHECK_FALSE(valid_id(""));
    CHECK_FALSE(valid_id("a b"));
    CHECK_FALSE(valid_id("a~1"));
    CHECK_FALSE(valid_id("a:b"));
    CHECK_FALSE(valid_id(std::string(65, 'a')));
    CHECK(parse_key("coupure-7") == std::pair<std::string, int>{"coupure-7", 0});
    CHECK(parse_key("coupure-7~12") == std::pair<std::string, int>{"coupure-7", 12});
    CHECK_FALSE(parse_key("coupure-7~"));
    CHECK_FALSE(parse_key("coupure-7~01"));
    CHECK_FALSE(parse_key("coupure-7~x"));
    Campaign c;
    c.id = "coupure-7";
    CHECK(c.job_id("T-1") == "coupure-7:T-1");
    c.followup = 2;
    CHECK(c.key() == "coupure-7~2");
    CHECK(c.job_id("T-1") == "coupure-7~2:T-1");
}

TEST_CASE("a campaign's job is a valid job of the contract, with its channels, times and campaign") {
    auto parsed = parse_campaign_request(
        request(R"(,"id":"coupure-7","priority":"urgent","channels":["sms","push"],"not_before":"2026-12-03T14:00:00+01:00","deadline":"2026-12-03T18:00:00+01:00","reference":"INC-42")"),
        *shipped(), "voirie", false);
    REQUIRE(std::holds_alternative<CampaignRequest>(parsed));
    auto& c = std::get<CampaignRequest>(parsed).campaign;
    c.followup = 1;
    const auto json = job_json(c, common_job_fields(c), "T-0042");
    auto job = parse_job(json, 65536);
    REQUIRE_MESSAGE(std::holds_alternative<Job>(job), json);
    auto& j = std::get<Job>(job);
    CHECK(j.id == "coupure-7~1:T-0042");
    CHECK(j.citizen == "T-0042");
    CHECK(j.service == "voirie");
    CHECK(j.campaign == "coupure-7~1");
    CHECK(j.priority == Priority::urgent);
    CHECK(j.channels == std::vector<std::string>{"sms", "push"});
    CHECK(j.reference == "INC-42");
    CHECK(format_rfc3339(*j.not_before) == "2026-12-03T13:00:00.000Z");
    CHECK(j.data_json.find("rue Garibaldi") != std::string::npos);
}

TEST_CASE("a campaign request is refused naming the field at fault") {
    CHECK(refusal(R"({"audience":{"postcode":"69003"}})").field == "template");
    CHECK(refusal(R"({"template":"nope","audience":{"postcode":"69003"}})").field == "template");
    CHECK(refusal(R"({"template":"street_event","data":)" + std::string(kData) + "}").field == "audience");
    CHECK(refusal(R"({"template":"street_event","audience":{"postcode":"69003"},"data":{"street":"x"}})").field == "data.advice");
    CHECK(refusal(request(R"(,"category":"information")")).field == "category");
    CHECK(refusal(request(R"(,"channels":["fax"])")).field == "channels");
    CHECK(refusal(request(R"(,"channels":[])")).field == "channels");
    CHECK(refusal(request(R"(,"priority":"high")")).field == "priority");
    CHECK(refusal(request(R"(,"not_before":"tomorrow")")).field == "not_before");
    CHECK(refusal(request(R"(,"not_before":"2026-12-03T14:00:00Z","deadline":"2026-12-03T13:00:00Z")")).field == "deadline");
    CHECK(refusal(request(R"(,"id":"x~1")")).field == "id");
    CHECK(refusal(request(R"(,"dry_run":"yes")")).field == "dry_run");
    CHECK(refusal(request(R"(,"colour":"red")")).field == "colour");
    CHECK(refusal(R"({"template":"street_event","audience":{"area":{"type":"Polygon","coordinates":[]}},"data":)" + std::string(kData) + "}")
              .field.starts_with("audience.area"));
    const auto other = refusal(request(R"(,"service":"eau")"));
    CHECK(other.field == "service");
    CHECK(other.status == 403);
    CHECK(std::holds_alternative<CampaignRequest>(parse_campaign_request(request(R"(,"service":"eau")"), *shipped(), "", true)));
    auto unnamed = parse_campaign_request(request(""), *shipped(), "", true);  // the operators' token must name one
    REQUIRE(std::holds_alternative<RequestError>(unnamed));
    CHECK(std::get<RequestError>(unnamed).field == "service");
}

TEST_CASE("an id is made when the service gives none: its service, the day, and random hex") {
    auto a = parse_campaign_request(request(""), *shipped(), "voirie", false);
    auto b = parse_campaign_request(request(""), *shipped(), "voirie", false);
    REQUIRE(std::holds_alternative<CampaignRequest>(a));
    REQUIRE(std::holds_alternative<CampaignRequest>(b));
    const auto& id = std::get<CampaignRequest>(a).campaign.id;
    CHECK(id.starts_with("voirie-20"));
    CHECK(valid_id(id));
    CHECK(id != std::get<CampaignRequest>(b).campaign.id);
}

TEST_CASE("a follow-up takes its campaign's service, priority and channels unless it says otherwise") {
    Campaign parent;
    parent.id = "coupure-7";
    parent.service = "voirie";
    parent.priority = Priority::urgent;
    parent.channels = {"sms"};
    auto f = parse_followup_request(R"({"template":"street_event_resolved","resolved":true,"target":"not_read","data":{"street":"x","event":"y","resolved_at":"z"}})",
                                    *shipped(), parent);
    REQUIRE(std::holds_alternative<CampaignRequest>(f));
    auto& c = std::get<CampaignRequest>(f).campaign;
    CHECK(c.id == "coupure-7");
    CHECK(c.service == "voirie");
    CHECK(c.priority == Priority::urgent);
    CHECK(c.channels == std::vector<std::string>{"sms"});
    CHECK(c.resolved);
    CHECK(c.target == Target::not_read);
    auto bad = parse_followup_request(R"({"template":"street_event_resolved","target":"some","data":{"street":"x","event":"y","resolved_at":"z"}})", *shipped(), parent);
    REQUIRE(std::holds_alternative<RequestError>(bad));
    CHECK(std::get<RequestError>(bad).field == "target");
    auto audience = parse_followup_request(R"({"template":"street_event_resolved","audience":{}})", *shipped(), parent);
    REQUIRE(std::holds_alternative<RequestError>(audience));
    CHECK(std::get<RequestError>(audience).field == "audience");  // a follow-up goes to the campaign's snapshot
}

TEST_CASE("every shipped example request is a valid campaign or follow-up with the shipped templates") {
    int campaigns = 0, followups = 0;
    Campaign parent;
    parent.id = "example";
    parent.service = "mairie";
    for (auto& f : std::filesystem::directory_iterator(CRIEUR_SOURCE_DIR "/docs/examples/campaigns")) {
        std::ifstream in(f.path());
        std::stringstream text;
        text << in.rdbuf();
        CAPTURE(f.path().filename().string());
        if (f.path().extension() != ".json") continue;  // the CAP alerts: tests/unit/cap_test.cpp
        const bool followup = f.path().filename().string().ends_with(".followup.json");
        auto r = followup ? parse_followup_request(text.str(), *shipped(), parent)
                          : parse_campaign_request(text.str(), *shipped(), "mairie", false);
        if (auto* e = std::get_if<RequestError>(&r)) FAIL(e->field << ": " << e->reason);
        ++(followup ? followups : campaigns);
    }
    CHECK(campaigns >= 4);
    CHECK(followups >= 3);
}
