#include <doctest/doctest.h>

#include "daemon/resume.hpp"

using namespace crieur;

namespace {
Resume decoded(std::string_view field) {
    auto r = decode_resume(field);
    REQUIRE_MESSAGE(std::holds_alternative<Resume>(r), std::get<std::string>(r));
    return std::get<Resume>(r);
}
std::string refusal(std::string_view field) {
    auto r = decode_resume(field);
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
}
}  // namespace

TEST_CASE("every kind of Resume comes back as it was written") {
    const Resume cases[] = {
        {},
        Resume::send_time(),
        Resume::slot("twilio-etat_civil"),
        Resume::escalation({"sms"}, false),
        Resume::escalation({"sms", "whatsapp", "push"}, false),
        Resume::escalation({"sms", "email"}, true),
        Resume::escalation({}, false),  // its first channel's escalation had to wait
        Resume::escalation({}, true),   // its only channel again, after a late failure that may pass
    };
    for (const auto& r : cases) {
        const std::string field = encode(r);
        CAPTURE(field);
        CHECK(field.find(' ') == std::string::npos);  // the schedule's payload is space-separated
        CHECK(decoded(field) == r);
    }
    CHECK(encode({}).empty());  // a job that only waited carries no field
    CHECK(encode(Resume::escalation({"sms", "email"}, true)) == "fallback:sms,email");
    CHECK(encode(Resume::slot("ovh")) == "slot:ovh");
}

TEST_CASE("a malformed resume field is refused with what is wrong with it") {
    CHECK(refusal("rewind") == "unknown kind 'rewind' (expected escalation:, fallback:, slot: or send_time)");
    CHECK(refusal("later:sms").starts_with("unknown kind 'later'"));
    CHECK(refusal("slot:") == "slot: '' is not a provider name");
    CHECK(refusal("slot:Twilio") == "slot: 'Twilio' is not a provider name");
    CHECK(refusal("escalation:sms,,email") == "escalation: '' is not a channel name");
    CHECK(refusal("escalation:sms,") == "escalation: the channel list ends with a comma");
    CHECK(refusal("fallback:sms email") == "fallback: 'sms email' is not a channel name");
    CHECK(refusal("send_time:x").starts_with("unknown kind 'send_time'"));
}
