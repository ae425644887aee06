#include <doctest/doctest.h>

#include "daemon/job_codec.hpp"

using namespace crieur;

namespace {
constexpr std::size_t kMax = 64 * 1024;

JobError rejection(const std::string& json) {
    auto r = parse_job(json, kMax);
    REQUIRE_MESSAGE(std::holds_alternative<JobError>(r), "accepted: " << json);
    return std::get<JobError>(r);
}

std::string with(const std::string& fields) {
    return R"({"v":1,"id":"job-1","service":"etat-civil","template":"passport_expiry")" + fields + "}";
}
}  // namespace

TEST_CASE("a complete job is read field by field") {
    auto r = parse_job(with(R"(,"to":{"sms":"+33612345678","email":"a@b.fr"},"data":{"name":"Martin","n":3},
        "channel":"email","locale":"fr-FR","priority":"urgent","not_before":"2026-12-01T08:00:00+01:00",
        "deadline":"2026-12-02T08:00:00Z","campaign":"passports-2026","reference":"dossier 42")"),
                       kMax);
    REQUIRE(std::holds_alternative<Job>(r));
    const Job& j = std::get<Job>(r);
    CHECK(j.id == "job-1");
    CHECK(j.service == "etat-civil");
    CHECK(j.template_name == "passport_expiry");
    REQUIRE(j.to.size() == 2);
    CHECK(j.to[0].channel == "sms");
    CHECK(j.to[0].address == "+33612345678");
    CHECK(j.data_json == R"({"name":"Martin","n":3})");
    CHECK(j.channel == "email");
    CHECK(j.locale == "fr-FR");
    CHECK(j.priority == Priority::urgent);
    CHECK(format_rfc3339(*j.not_before) == "2026-12-01T07:00:00.000Z");
    CHECK(format_rfc3339(*j.deadline) == "2026-12-02T08:00:00.000Z");
    CHECK(j.campaign == "passports-2026");
    CHECK(j.reference == "dossier 42");
}

TEST_CASE("a job addressed to a citizen needs no inline contact and defaults to normal priority") {
    auto r = parse_job(with(R"(,"citizen":"C-1234")"), kMax);
    REQUIRE(std::holds_alternative<Job>(r));
    CHECK(std::get<Job>(r).citizen == "C-1234");
    CHECK(std::get<Job>(r).priority == Priority::normal);
    CHECK(std::get<Job>(r).data_json == "{}");
}

TEST_CASE("each rejection names the field at fault") {
    struct Case {
        std::string json;
        errc code;
        std::string field;
    };
    const Case cases[] = {
        {"not json", errc::job_not_json, ""},
        {"[1,2]", errc::job_not_json, ""},
        {with(R"(,"citizen":"C-1","test":"yes")"), errc::job_wrong_type, "test"},
        {R"({"id":"x","service":"s","template":"t","citizen":"c"})", errc::job_missing_field, "v"},
        {R"({"v":"1","id":"x","service":"s","template":"t","citizen":"c"})", errc::job_wrong_type, "v"},
        {R"({"v":2,"id":"x","service":"s","template":"t","citizen":"c"})", errc::job_bad_version, "v"},
        {R"({"v":1,"service":"s","template":"t","citizen":"c"})", errc::job_missing_field, "id"},
        {R"({"v":1,"id":"a b","service":"s","template":"t","citizen":"c"})", errc::job_bad_value, "id"},
        {R"({"v":1,"id":"","service":"s","template":"t","citizen":"c"})", errc::job_bad_value, "id"},
        {R"({"v":1,"id":7,"service":"s","template":"t","citizen":"c"})", errc::job_wrong_type, "id"},
        {R"({"v":1,"id":"x","template":"t","citizen":"c"})", errc::job_missing_field, "service"},
        {R"({"v":1,"id":"x","service":"s","citizen":"c"})", errc::job_missing_field, "template"},
        {with(R"(,"citizen":"c","colour":"red")"), errc::job_unknown_field, "colour"},
        {with(""), errc::job_missing_field, "citizen"},
        {with(R"(,"citizen":"c","to":{"sms":"+33612345678"})"), errc::job_bad_value, "to"},
        {with(R"(,"to":"+33612345678")"), errc::job_wrong_type, "to"},
        {with(R"(,"to":{})"), errc::job_bad_value, "to"},
        {with(R"(,"to":{"fax":"123"})"), errc::job_bad_value, "to.fax"},
        {with(R"(,"to":{"sms":""})"), errc::job_wrong_type, "to.sms"},
        {with(R"(,"citizen":"c","data":[1])"), errc::job_wrong_type, "data"},
        {with(R"(,"citizen":"c","channel":"pigeon")"), errc::job_bad_value, "channel"},
        {with(R"(,"citizen":"c","priority":"high")"), errc::job_bad_value, "priority"},
        {with(R"(,"citizen":"c","locale":"")"), errc::job_bad_value, "locale"},
        {with(R"(,"citizen":"c","not_before":"tomorrow")"), errc::job_bad_value, "not_before"},
        {with(R"(,"citizen":"c","deadline":"2026-02-30T10:00:00Z")"), errc::job_bad_value, "deadline"},
        {with(R"(,"citizen":"c","not_before":"2026-12-01T10:00:00Z","deadline":"2026-12-01T09:00:00Z")"),
         errc::job_bad_value, "deadline"},
        {with(R"(,"citizen":"c","campaign":5)"), errc::job_wrong_type, "campaign"},
        {with(R"(,"citizen":"c","channels":[])"), errc::job_wrong_type, "channels"},
        {with(R"(,"citizen":"c","channels":"sms")"), errc::job_wrong_type, "channels"},
        {with(R"(,"citizen":"c","channels":["sms","fax"])"), errc::job_bad_value, "channels"},
        {with(R"(,"citizen":"c","channels":["sms"],"channel":"email")"), errc::job_bad_value, "channel"},
        {R"({"v":1,"id":")" + std::string(257, 'x') + R"(","service":"s","template":"t","citizen":"c"})", errc::job_bad_value, "id"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.json);
        auto e = rejection(c.json);
        CHECK(e.code == c.code);
        CHECK(e.field == c.field);
        CHECK_FALSE(e.reason.empty());
        if (!c.field.empty()) CHECK(e.reason.find(c.field) != std::string::npos);
    }
}

TEST_CASE("a job may narrow its channels (a campaign's), each once, and its id may hold a campaign and a citizen") {
    const std::string id = std::string(64, 'k') + ":" + std::string(128, 'c');
    auto r = parse_job(R"({"v":1,"id":")" + id + R"(","service":"s","template":"t","citizen":"c","channels":["push","sms","push"]})", 65536);
    REQUIRE(std::holds_alternative<Job>(r));
    CHECK(std::get<Job>(r).id == id);
    CHECK(std::get<Job>(r).channels == std::vector<std::string>{"push", "sms"});
}

TEST_CASE("a rejected job keeps its id for the receipt when the id itself is fine") {
    CHECK(rejection(with(R"(,"citizen":"c","colour":"red")")).id == "job-1");
    CHECK(rejection(R"({"v":1,"id":"a b","service":"s"})").id.empty());
}

TEST_CASE("a job over the size limit is refused before it is parsed") {
    const std::string big = with(R"(,"citizen":"c","data":{"text":")" + std::string(1000, 'x') + "\"}");
    auto r = parse_job(big, 512);
    REQUIRE(std::holds_alternative<JobError>(r));
    CHECK(std::get<JobError>(r).code == errc::job_too_large);
    CHECK(std::get<JobError>(r).reason.find("512") != std::string::npos);
    CHECK(std::holds_alternative<Job>(parse_job(big, 2048)));
}

TEST_CASE("RFC 3339 timestamps: offsets, fractions and impossible dates") {
    CHECK(format_rfc3339(*parse_rfc3339("2026-11-23T10:20:31Z")) == "2026-11-23T10:20:31.000Z");
    CHECK(format_rfc3339(*parse_rfc3339("2026-11-23T10:20:31.5Z")) == "2026-11-23T10:20:31.500Z");
    CHECK(format_rfc3339(*parse_rfc3339("2026-11-23T10:20:31.123456z")) == "2026-11-23T10:20:31.123Z");
    CHECK(format_rfc3339(*parse_rfc3339("2026-11-23t00:30:00-02:30")) == "2026-11-23T03:00:00.000Z");
    CHECK(format_rfc3339(*parse_rfc3339("2024-02-29T12:00:00+00:00")) == "2024-02-29T12:00:00.000Z");
    CHECK_FALSE(parse_rfc3339("2025-02-29T12:00:00Z"));  // not a leap year
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:20:31"));   // no offset
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:20Z"));     // no seconds
    CHECK_FALSE(parse_rfc3339("2026-11-23T24:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:20:31.Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:20:31+0100"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:20:31Z trailing"));
}

TEST_CASE("a hostile nesting is refused without exhausting the stack") {
    const std::string deep = std::string(30000, '[') + std::string(30000, ']');
    auto r = parse_job(deep, 1 << 20);
    REQUIRE(std::holds_alternative<JobError>(r));
    CHECK(std::get<JobError>(r).code == errc::job_not_json);  // an array, not an object
    std::string nested = "{}";
    for (int i = 0; i < 20; ++i) nested = R"({"a":)" + nested + "}";
    auto d = parse_job(with(R"(,"citizen":"c","data":)" + nested), 1 << 20);
    REQUIRE(std::holds_alternative<JobError>(d));
    CHECK(std::get<JobError>(d).field == "data");
    CHECK(std::get<JobError>(d).reason == "field 'data' nests deeper than 8 levels");
    CHECK(std::holds_alternative<Job>(parse_job(with(R"(,"citizen":"c","data":{"items":[{"x":{"y":1}}]})"), 1 << 20)));
}

TEST_CASE("a test job says so, and a job is no test unless it says it is") {
    auto t = parse_job(with(R"(,"citizen":"C-1","test":true)"), kMax);
    REQUIRE(std::holds_alternative<Job>(t));
    CHECK(std::get<Job>(t).test);
    auto live = parse_job(with(R"(,"citizen":"C-1")"), kMax);
    REQUIRE(std::holds_alternative<Job>(live));
    CHECK_FALSE(std::get<Job>(live).test);
}
