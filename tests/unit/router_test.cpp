// The routing decision table: preferences × consent × contact state × template channels ×
// provider coverage, with the exclusion reasons.
#include <doctest/doctest.h>

#include <set>

#include "daemon/router.hpp"

using namespace crieur;
using directory::Citizen;
using directory::Consent;
using directory::Contact;
using directory::ContactState;

namespace {

struct Row {
    const char* name;
    std::vector<std::string> preferred;  // the citizen's order; empty: the service's or the default
    std::vector<Consent> consents;
    std::vector<Contact> contacts;
    std::vector<std::string> template_channels;
    std::set<std::string> uncarried;  // channels no provider carries
    std::string category;
    std::optional<std::string> forced;
    std::vector<std::string> expect;  // "channel:address" candidates, in order
    std::vector<std::string> expect_excluded;  // "channel:code"
};

const std::vector<std::string> kAll{"sms", "email", "whatsapp", "push"};
Contact valid(const char* ch, const char* a) { return {ch, a, ContactState::valid, {}, 0}; }
Contact unverified(const char* ch, const char* a) { return {ch, a, ContactState::unverified, {}, 0}; }
Contact invalid(const char* ch, const char* a) { return {ch, a, ContactState::invalid, "twilio 21211: invalid 'To'", 0}; }
Consent granted(const char* ch, const char* cat) { return {ch, cat, true, "portal", 0}; }
Consent refused(const char* ch, const char* cat) { return {ch, cat, false, "sms STOP", 0}; }

const std::vector<Contact> kPhoneAndMail{valid("sms", "+33612345678"), valid("email", "m@example.fr")};

}  // namespace

TEST_CASE("routing decision table") {
    const std::vector<Row> rows{
        {"preferred order, everything allowed", {"email", "sms"}, {}, kPhoneAndMail, kAll, {}, "service", {},
         {"email:m@example.fr", "sms:+33612345678"}, {}},  // only the channels the citizen chose
        {"no preference: the default order", {}, {}, kPhoneAndMail, kAll, {}, "service", {},
         {"sms:+33612345678", "email:m@example.fr"}, {"whatsapp:no_contact", "push:no_contact"}},
        {"the template lacks a channel", {"email", "sms"}, {}, kPhoneAndMail, {"sms"}, {}, "service", {},
         {"sms:+33612345678"}, {"email:not_in_template"}},
        {"service message: goes out unless refused", {"sms", "email"}, {refused("sms", "service")}, kPhoneAndMail, kAll,
         {}, "service", {}, {"email:m@example.fr"}, {"sms:refused"}},
        {"refusal of another category does not count", {"sms"}, {refused("sms", "information")}, kPhoneAndMail, kAll,
         {}, "alert", {}, {"sms:+33612345678"}, {}},
        {"information needs consent", {"sms", "email"}, {granted("email", "information")}, kPhoneAndMail, kAll, {},
         "information", {}, {"email:m@example.fr"}, {"sms:no_consent"}},
        {"information with no consent at all", {"sms", "email"}, {}, kPhoneAndMail, kAll, {}, "information", {}, {},
         {"sms:no_consent", "email:no_consent"}},
        {"invalid contact skipped, unverified kept", {"sms", "email"}, {},
         {invalid("sms", "+33600000000"), unverified("sms", "+33612345678"), valid("email", "m@example.fr")}, kAll, {},
         "service", {}, {"sms:+33612345678", "email:m@example.fr"}, {}},
        {"only an invalid contact", {"sms", "email"}, {}, {invalid("sms", "+33600000000"), valid("email", "m@example.fr")},
         kAll, {}, "service", {}, {"email:m@example.fr"}, {"sms:contact_invalid"}},
        {"several push subscriptions are several candidates", {"push"}, {},
         {valid("push", "tokenAAAAAAAAAAAAAAAAAAAA"), valid("push", "tokenBBBBBBBBBBBBBBBBBBBB")}, kAll, {}, "service",
         {}, {"push:tokenAAAAAAAAAAAAAAAAAAAA", "push:tokenBBBBBBBBBBBBBBBBBBBB"}, {}},
        {"no provider carries the channel", {"whatsapp", "sms"}, {},
         {valid("whatsapp", "+33612345678"), valid("sms", "+33612345678")}, kAll, {"whatsapp"}, "service", {},
         {"sms:+33612345678"}, {"whatsapp:no_provider"}},
        {"a forced channel is the only one", {"email", "sms"}, {}, kPhoneAndMail, kAll, {}, "service", "sms",
         {"sms:+33612345678"}, {}},
        {"a forced channel still needs consent", {"email", "sms"}, {refused("sms", "alert")}, kPhoneAndMail, kAll, {},
         "alert", "sms", {}, {"sms:refused"}},
    };
    for (const Row& row : rows) {
        const std::string name = row.name;
        CAPTURE(name);
        Citizen c;
        c.id = "C-1";
        c.channels = row.preferred;
        c.consents = row.consents;
        c.contacts = row.contacts;
        Job job;
        job.id = "j";
        job.service = "civil-registry";
        job.template_name = "notice";
        job.citizen = "C-1";
        job.channel = row.forced;
        RouteQuery q{job, row.template_channels, row.category, &c, nullptr,
                     [&](const std::string& ch, const std::string&) { return !row.uncarried.count(ch); }};
        auto d = route(q, RouterPolicy{});
        std::vector<std::string> got, excluded;
        for (auto& k : d.candidates) got.push_back(k.channel + ":" + k.address);
        for (auto& e : d.excluded) excluded.push_back(e.channel + ":" + e.code);
        CHECK(got == row.expect);
        std::string shown;
        for (auto& e : excluded) shown += e + " ";
        CAPTURE(shown);
        CHECK(excluded == row.expect_excluded);
    }
}

TEST_CASE("a channel whose providers are all down is excluded as provider_down, not as unconfigured") {
    Citizen c;
    c.contacts = kPhoneAndMail;
    Job job;
    job.template_name = "notice";
    RouteQuery q{job, kAll, "service", &c, nullptr,
                 [](const std::string& ch, const std::string&) { return ch != "sms"; },
                 [](const std::string&, const std::string&) { return true; }};
    auto d = route(q, RouterPolicy{});
    REQUIRE(d.candidates.size() == 1);
    CHECK(d.candidates[0].channel == "email");
    REQUIRE(d.excluded.size() == 3);
    CHECK(d.excluded[0].channel == "sms");
    CHECK(d.excluded[0].code == "provider_down");
}

TEST_CASE("the service's default order from the config, and the exclusions in words") {
    Citizen c;
    c.contacts = kPhoneAndMail;
    Job job;
    job.service = "roads";
    job.template_name = "works";
    RouterPolicy policy;
    policy.service_order["roads"] = {"email"};
    RouteQuery q{job, kAll, "service", &c, nullptr, nullptr};
    auto d = route(q, policy);
    REQUIRE(d.candidates.size() == 1);
    CHECK(d.candidates[0].channel == "email");
    policy.consent_required.insert("service");
    d = route(q, policy);
    CHECK(d.candidates.empty());
    CHECK(d.exclusions_text() == "email: no_consent (service messages need the citizen's consent on email)");
}

TEST_CASE("inline recipients bypass the directory, not the suppression list") {
    Job job;
    job.template_name = "notice";
    job.to = {{"sms", "+33612345678"}, {"email", "m@example.fr"}};
    auto suppressed = [](const std::string& ch, const std::string& a) { return ch == "sms" && a == "+33612345678"; };
    RouteQuery q{job, kAll, "information", nullptr, suppressed, nullptr};
    auto d = route(q, RouterPolicy{});  // no consent needed for inline: the service holds it
    REQUIRE(d.candidates.size() == 1);
    CHECK(d.candidates[0].channel == "email");
    REQUIRE(d.excluded.size() == 1);
    CHECK(d.excluded[0].code == "suppressed");
}
