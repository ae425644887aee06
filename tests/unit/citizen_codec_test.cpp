#include <doctest/doctest.h>

#include "daemon/directory/citizen_codec.hpp"

using namespace crieur::directory;

namespace {
const ContactCheck kCheck("FR");

Citizen parsed(std::string_view json, const std::string& path_id = {}) {
    auto r = citizen_from_json(json, kCheck, path_id);
    if (auto* e = std::get_if<FieldError>(&r)) FAIL(e->field << ": " << e->reason);
    return std::get<Citizen>(r);
}
FieldError refused(std::string_view json, const std::string& path_id = {}) {
    auto r = citizen_from_json(json, kCheck, path_id);
    REQUIRE(std::holds_alternative<FieldError>(r));
    return std::get<FieldError>(r);
}
}  // namespace

TEST_CASE("a citizen from JSON: contacts made canonical, consents, quiet hours, location") {
    auto c = parsed(R"({"id":"C-1234","given_name":"Marie","family_name":"Martin","locale":"fr","time_zone":"Europe/Paris",
        "quiet_hours":{"start":"21:30","end":"07:45"},"channels":["whatsapp","sms","email"],
        "address":{"line":"1 place de la Comédie","postcode":"69001","city":"Lyon"},"location":{"lat":45.767,"lon":4.836},
        "contacts":{"sms":"06 12 34 56 78","whatsapp":["+33 6 12 34 56 78"],"email":"Marie@Example.FR"},
        "consents":[{"channel":"email","category":"information","granted":true,"source":"portal"}]})");
    CHECK(c.id == "C-1234");
    REQUIRE(c.quiet_hours);
    CHECK(c.quiet_hours->start_minute == 21 * 60 + 30);
    CHECK(c.quiet_hours->end_minute == 7 * 60 + 45);
    CHECK(c.channels == std::vector<std::string>{"whatsapp", "sms", "email"});
    REQUIRE(c.contacts.size() == 3);
    CHECK(c.contacts[0].address == "+33612345678");
    CHECK(c.contacts[2].address == "Marie@example.fr");
    CHECK(c.contacts[0].state == ContactState::unverified);
    REQUIRE(c.consents.size() == 1);
    CHECK(c.consents[0].granted);
    CHECK(*c.lat == doctest::Approx(45.767));
    // Round trip through the API's JSON keeps what matters.
    auto again = parsed(R"({"id":"C-1234","contacts":{"sms":"+33612345678"}})");
    CHECK(again.contacts.size() == 1);
    CHECK(citizen_to_json(c).find(R"("quiet_hours":{"start":"21:30","end":"07:45"})") != std::string::npos);
}

TEST_CASE("a bad citizen is refused naming the field") {
    CHECK(refused(R"({"given_name":"x"})").field == "id");
    CHECK(refused(R"({"id":"C 1"})").field == "id");
    CHECK(refused(R"({"id":"C-1","colour":"red"})").field == "colour");
    CHECK(refused(R"({"id":"C-1","time_zone":"Europe/Lyon"})").field == "time_zone");
    CHECK(refused(R"({"id":"C-1","channels":["sms","fax"]})").field == "channels");
    CHECK(refused(R"({"id":"C-1","channels":["sms","sms"]})").field == "channels");
    CHECK(refused(R"({"id":"C-1","contacts":{"sms":"06 12"}})").field == "contacts.sms");
    CHECK(refused(R"({"id":"C-1","contacts":{"email":["a@b.fr","nope"]}})").field == "contacts.email[1]");
    CHECK(refused(R"({"id":"C-1","quiet_hours":{"start":"25:00","end":"08:00"}})").field == "quiet_hours.start");
    CHECK(refused(R"({"id":"C-1","consents":[{"channel":"sms","category":"spam","granted":true}]})").field ==
          "consents[0].category");
    CHECK(refused(R"({"id":"C-1","location":{"lat":95,"lon":3}})").field == "lat");
    CHECK(refused(R"({"id":"C-2"})", "C-1").field == "id");  // the body's id against the URL's
    CHECK(parsed(R"({"given_name":"x"})", "C-1").id == "C-1");
}

TEST_CASE("CSV: header checked, quoted fields, lists separated by semicolons, errors name the column") {
    std::vector<std::string> fields;
    REQUIRE(split_csv(R"(C-1,"Martin, Marie","say ""hi""",,x)", fields));
    CHECK(fields == std::vector<std::string>{"C-1", "Martin, Marie", "say \"hi\"", "", "x"});
    CHECK_FALSE(split_csv(R"(C-1,"open)", fields));

    CHECK(std::get<FieldError>(CsvCitizenReader::from_header({"id", "phone"})).field == "phone");
    CHECK(std::get<FieldError>(CsvCitizenReader::from_header({"sms", "email"})).field == "id");
    auto reader = std::get<CsvCitizenReader>(
        CsvCitizenReader::from_header({"\xEF\xBB\xBFid", "given_name", "sms", "email", "channels", "consent_information",
                                       "quiet_start", "quiet_end"}));
    auto c = std::get<Citizen>(reader.read({"C-9", "Léa", "06 12 34 56 78", "lea@example.fr", "email;sms", "email",
                                            "22:00", "07:00"}, kCheck));
    CHECK(c.contacts.size() == 2);
    CHECK(c.channels == std::vector<std::string>{"email", "sms"});
    REQUIRE(c.consents.size() == 1);
    CHECK(c.consents[0].category == "information");
    CHECK(c.quiet_hours->start_minute == 22 * 60);
    auto bad = std::get<FieldError>(reader.read({"C-9", "Léa", "06 12", "", "", "", "", ""}, kCheck));
    CHECK(bad.field == "sms");
    CHECK(std::get<FieldError>(reader.read({"C-9", "Léa", "", "lea@", "", "", "", ""}, kCheck)).field == "email");
    CHECK(std::get<FieldError>(reader.read({"C-9", "Léa", "", "", "", "", "22:00", ""}, kCheck)).field == "quiet_end");
    CHECK(std::get<FieldError>(reader.read({"C-9"}, kCheck)).reason == "1 fields where the header has 8");
}

TEST_CASE("a citizen nested a million levels deep is refused, not a crash") {
    const std::string deep = R"({"id":"C-1","address":)" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
    CHECK(refused(deep).field == "address");
    const std::string deep_push = R"({"id":"C-1","contacts":{"push":[)" + std::string(100'000, '[') + std::string(100'000, ']') + "]}}";
    CHECK(refused(deep_push).field == "contacts.push[0]");
    const std::string deep_sub = R"({"id":"C-1","contacts":{"push":{"endpoint":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}}}";
    CHECK(refused(deep_sub).field == "contacts.push");
}

TEST_CASE("the address in parts and the tags: read from JSON and CSV, written back, bad ones named") {
    auto c = parsed(R"({"id":"C-5","address":{"line":"12 av. Jean-Jaurès","number":"12","street":"av. Jean-Jaurès",
        "postcode":"69007","city":"Lyon","insee":"69387","district":"Gerland"},"tags":["registre_canicule","parent","parent"]})");
    CHECK(c.street_number == "12");
    CHECK(c.street == "av. Jean-Jaurès");
    CHECK(c.insee == "69387");
    CHECK(c.district == "Gerland");
    CHECK(c.tags == std::vector<std::string>{"registre_canicule", "parent"});
    const auto json = citizen_to_json(c);
    CHECK(json.find(R"("insee":"69387","district":"Gerland")") != std::string::npos);
    CHECK(json.find(R"("tags":["registre_canicule","parent"])") != std::string::npos);
    CHECK(parsed(R"({"id":"C-6","address":{"insee":"2A004"}})").insee == "2A004");
    CHECK(refused(R"({"id":"C-6","address":{"insee":"6938"}})").field == "address.insee");
    CHECK(refused(R"({"id":"C-6","address":{"quartier":"x"}})").field == "address.quartier");
    CHECK(refused(R"({"id":"C-6","tags":["Registre Canicule"]})").field == "tags");
    CHECK(refused(R"({"id":"C-6","tags":"parent"})").field == "tags");

    auto reader = std::get<CsvCitizenReader>(CsvCitizenReader::from_header({"id", "street_number", "street", "postcode", "insee", "district", "tags"}));
    auto row = std::get<Citizen>(reader.read({"C-7", "3", "Rue de la Paix", "75002", "75056", "Bourse", "parent; eligible_rsa"}, kCheck));
    CHECK(row.street == "Rue de la Paix");
    CHECK(row.district == "Bourse");
    CHECK(row.tags == std::vector<std::string>{"parent", "eligible_rsa"});
    CHECK(std::get<FieldError>(reader.read({"C-7", "", "", "", "", "", "Parent"}, kCheck)).field == "tags");
}
