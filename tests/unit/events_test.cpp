// POST /v1/events bodies: sessions, taps, opens, clicks and reads, and the field at fault.
#include <doctest/doctest.h>

#include "daemon/engagement/events.hpp"
#include "daemon/job_codec.hpp"

using namespace crieur;
using namespace crieur::engagement;

namespace {
const TimePoint kNow = *parse_rfc3339("2026-12-01T18:00:00Z");

std::string error_of(std::string_view body) {
    auto r = parse_events(body, kNow);
    if (auto* e = std::get_if<EventsError>(&r)) return e->field + ": " + e->reason;
    return "ok";
}
}  // namespace

TEST_CASE("events: a batch of sessions, taps and reads becomes engagements") {
    auto r = parse_events(R"({"events":[
        {"type":"session","citizen":"C-1","at":"2026-12-01T19:02:00+01:00"},
        {"type":"tap","message":"m-1"},
        {"type":"read","message":"m-2","channel":"whatsapp"},
        {"type":"open","message":"m-3"}]})", kNow);
    REQUIRE(std::holds_alternative<std::vector<Engagement>>(r));
    auto& v = std::get<std::vector<Engagement>>(r);
    REQUIRE(v.size() == 4);
    CHECK(v[0].event == "session");
    CHECK(v[0].citizen == "C-1");
    CHECK(v[0].at_ms == to_unix_ms(kNow) + 2 * 60'000);
    CHECK(v[1].event == "click");  // a tap is the push notification's click
    CHECK(v[1].channel == "push");
    CHECK(v[1].job_id == "m-1");
    CHECK(v[1].at_ms == to_unix_ms(kNow));
    CHECK(v[2].channel == "whatsapp");
    CHECK(v[3].channel.empty());  // the latest attempt's channel
    CHECK(v[3].source == "app");
    // One event alone is taken too.
    auto one = parse_events(R"({"type":"session","citizen":"C-2"})", kNow);
    CHECK(std::get<std::vector<Engagement>>(one).size() == 1);
}

TEST_CASE("events: each mistake is named by its field") {
    CHECK(error_of("nope") == ": not JSON");
    CHECK(error_of(R"({"events":{}})") == "events: expected an array of events");
    CHECK(error_of(R"({"events":[]})") == "events: empty");
    CHECK(error_of(R"({"events":[{"type":"session","citizen":"C-1"},{"type":"like","message":"m"}]})") ==
          "events[1].type: expected session, tap, open, click or read");
    CHECK(error_of(R"({"events":[3]})") == "events[0]: expected an event object");
    CHECK(error_of(R"({"type":"session"})") == "citizen: required for a session");
    CHECK(error_of(R"({"type":"session","citizen":"C","message":"m"})") == "message: a session belongs to no message");
    CHECK(error_of(R"({"type":"tap"})") == "message: required for a tap");
    CHECK(error_of(R"({"type":"read","message":"m","channel":"fax"})") == "channel: expected sms, email, whatsapp or push");
    CHECK(error_of(R"({"type":"read","message":"m","at":"yesterday"})") == "at: expected an RFC 3339 time with its offset");
    CHECK(error_of(R"({"type":"read","message":"m","at":"2026-12-01T19:00:00Z"})") == "at: in the future");
    CHECK(error_of(R"({"type":"read","message":"m","at":"2026-10-01T19:00:00Z"})") == "at: older than 30 days");
    CHECK(error_of(R"({"type":"read","message":"m","device":"x"})") == "device: unknown field");
    CHECK(error_of(R"({"type":"read","message":7})") == "message: expected a message (job) id");
}
