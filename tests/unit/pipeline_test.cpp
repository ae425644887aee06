#include <doctest/doctest.h>

#include "daemon/directory/directory.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/render/template_store.hpp"

using namespace crieur;

namespace {
const std::vector<std::string> kAll{"sms", "email", "push", "whatsapp"};

std::string channel_of(const std::variant<Route, std::string>& r) {
    REQUIRE(std::holds_alternative<Route>(r));
    return std::get<Route>(r).channel;
}
}  // namespace

TEST_CASE("the route is the forced channel's inline contact, else the first inline contact the template has") {
    Job job;
    job.template_name = "notice";
    job.to = {{"sms", "+33612345678"}, {"email", "a@b.fr"}};
    CHECK(channel_of(route_for(job, "sms", kAll)) == "sms");
    CHECK(channel_of(route_for(job, "sms", {"email", "push"})) == "email");
    job.channel = "email";
    auto r = route_for(job, "sms", kAll);
    CHECK(channel_of(r) == "email");
    CHECK(std::get<Route>(r).recipient == "a@b.fr");
}

TEST_CASE("a citizen job goes on the forced channel or the default one, addressed to the citizen") {
    Job job;
    job.template_name = "notice";
    job.citizen = "C-1234";
    CHECK(channel_of(route_for(job, "email", kAll)) == "email");
    CHECK(std::get<Route>(route_for(job, "email", kAll)).recipient == "citizen:C-1234");
    CHECK(channel_of(route_for(job, "email", {"push", "sms"})) == "push");  // the template's first
    job.channel = "push";
    CHECK(channel_of(route_for(job, "email", kAll)) == "push");
}

TEST_CASE("no route says why: a channel the template lacks, or no address on it") {
    Job job;
    job.template_name = "notice";
    job.channel = "whatsapp";
    job.citizen = "C-1";
    CHECK(std::get<std::string>(route_for(job, "sms", {"sms", "email"})) ==
          "template 'notice' has no channel 'whatsapp' (it has sms, email)");
    job.citizen.clear();
    job.channel = "email";
    job.to = {{"sms", "+33612345678"}};
    CHECK(std::get<std::string>(route_for(job, "sms", kAll)) == "'to' has no address for the forced channel 'email'");
    job.channel.reset();
    job.to = {{"whatsapp", "+33612345678"}, {"push", "sub-1"}};
    CHECK(std::get<std::string>(route_for(job, "sms", {"sms", "email"})) ==
          "none of the channels in 'to' (whatsapp, push) is a channel of template 'notice' (sms, email)");
}

TEST_CASE("the citizen's own language wins over the job's, which serves when the directory has none") {
    auto store = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    REQUIRE(store);
    Job job;
    job.id = "loc-1";
    job.template_name = "passport_expiry";
    job.citizen = "C-1";
    job.locale = "fr";
    job.data_json = R"({"name":"Ms Smith","document":"passport","expires_on":"14 March 2027","booking_url":"https://x.example/rdv"})";
    directory::Citizen citizen;
    citizen.id = "C-1";
    citizen.locale = "en";
    auto english = render_for(job, *store, "sms", "+33612345678", &citizen);
    REQUIRE(std::holds_alternative<Message>(english));
    CHECK(std::get<Message>(english).content.locale == "en");
    citizen.locale.clear();
    auto french = render_for(job, *store, "sms", "+33612345678", &citizen);
    REQUIRE(std::holds_alternative<Message>(french));
    CHECK(std::get<Message>(french).content.locale == "fr");
}

TEST_CASE("a campaign's data without a name: the citizen's own from the directory, and a text written around none") {
    auto store = render::TemplateStore::load(CRIEUR_SOURCE_DIR "/templates").store;
    REQUIRE(store);
    Job job;
    job.id = "canicule:C-1";
    job.template_name = "heatwave_check";
    job.citizen = "C-1";
    job.data_json = R"({"callback_number":"04 72 00 00 00"})";
    REQUIRE(std::holds_alternative<Message>(prepare(job, *store, "sms")));  // the campaign's check: no name needed
    directory::Citizen citizen;
    citizen.id = "C-1";
    citizen.given_name = "Lucienne";
    citizen.family_name = "Mercier";
    auto named = render_for(job, *store, "sms", "+33612345678", &citizen);
    REQUIRE(std::holds_alternative<Message>(named));
    CHECK(std::get<Message>(named).content.text.starts_with("Lucienne Mercier, la canicule est là."));
    auto whatsapp = render_for(job, *store, "whatsapp", "+33612345678", &citizen);
    REQUIRE(std::holds_alternative<Message>(whatsapp));
    CHECK(std::get<Message>(whatsapp).content.whatsapp_parameters.front() == "Lucienne Mercier");
    directory::Citizen unnamed;
    unnamed.id = "C-2";
    auto plain = render_for(job, *store, "sms", "+33612345678", &unnamed);
    REQUIRE(std::holds_alternative<Message>(plain));
    CHECK(std::get<Message>(plain).content.text.starts_with("La canicule est là."));
    job.data_json = R"({"name":"Madame Mercier","callback_number":"04 72 00 00 00"})";  // the data's own wins
    CHECK(std::get<Message>(render_for(job, *store, "sms", "+33612345678", &citizen)).content.text.starts_with("Madame Mercier,"));
}
