#include <doctest/doctest.h>

#include "daemon/pipeline.hpp"

using namespace crieur;

TEST_CASE("the route is the forced channel's inline contact, else the first inline contact") {
    Job job;
    job.to = {{"sms", "+33612345678"}, {"email", "a@b.fr"}};
    CHECK(route_for(job, "sms").channel == "sms");
    job.channel = "email";
    CHECK(route_for(job, "sms").channel == "email");
    CHECK(route_for(job, "sms").recipient == "a@b.fr");
}

TEST_CASE("a citizen job goes on the forced channel or the default one, addressed to the citizen") {
    Job job;
    job.citizen = "C-1234";
    CHECK(route_for(job, "email").channel == "email");
    CHECK(route_for(job, "email").recipient == "citizen:C-1234");
    job.channel = "push";
    CHECK(route_for(job, "email").channel == "push");
}

TEST_CASE("the stand-in text is data.text, else the template and its data") {
    Job job;
    job.template_name = "welcome";
    job.data_json = R"({"text":"Bienvenue à Lyon"})";
    CHECK(stand_in_text(job) == "Bienvenue à Lyon");
    job.data_json = R"({"name":"Martin"})";
    CHECK(stand_in_text(job) == R"(welcome {"name":"Martin"})");
}
