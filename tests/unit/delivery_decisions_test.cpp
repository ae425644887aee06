// The delivery decisions, driven by a fake clock: no Redis, no timers, no random draw (the
// retry's jitter is given). One table of cases per decision.
#include <doctest/doctest.h>

#include <date/tz.h>

#include "daemon/delivery_decisions.hpp"
#include "support/fake_clock.hpp"

using namespace crieur;
using namespace crieur::decide;
using namespace crieur::test;
using namespace std::chrono_literals;

namespace {
const char* kind_of(const Admission& a) {
    if (std::holds_alternative<Go>(a)) return "go";
    if (std::holds_alternative<Defer>(a)) return "defer";
    if (std::holds_alternative<Expire>(a)) return "expire";
    return "drop";
}
const char* kind_of(const Next& n) {
    if (std::holds_alternative<TryNext>(n)) return "try_next";
    if (std::holds_alternative<Retry>(n)) return "retry";
    if (std::holds_alternative<Settle>(n)) return "settle";
    if (std::holds_alternative<Abandon>(n)) return "abandon";
    return "escalate_later";
}
Timing timing(Priority p = Priority::normal, std::optional<TimePoint> not_before = {},
              std::optional<TimePoint> deadline = {}, bool escalation = false) {
    return {p, not_before, deadline, escalation};
}
}  // namespace

TEST_CASE("admit_job: the deadline, then not_before, never a wait for urgent messages or escalations") {
    const FakeClock clock("Europe/Paris", "2026-12-01 10:00");
    const TimePoint now = clock.now();
    struct Case {
        const char* what;
        Timing job;
        const char* expected;
    };
    const Case cases[] = {
        {"nothing to wait for", timing(), "go"},
        {"not_before in an hour", timing(Priority::normal, now + 1h), "defer"},
        {"not_before within the tolerance", timing(Priority::normal, now + 500ms), "go"},
        {"urgent with a not_before", timing(Priority::urgent, now + 1h), "go"},
        {"deadline passed", timing(Priority::normal, {}, now - 1s), "expire"},
        {"deadline now", timing(Priority::normal, {}, now), "expire"},
        {"escalation, deadline passed", timing(Priority::normal, {}, now - 1s, true), "drop"},
        {"escalation with a not_before (it was sent already)", timing(Priority::normal, now + 1h, {}, true), "go"},
    };
    for (auto& c : cases) {
        CAPTURE(c.what);
        CHECK(std::string(kind_of(admit_job(c.job, now))) == c.expected);
    }
    auto wait = std::get<Defer>(admit_job(timing(Priority::bulk, now + 1h), now));
    CHECK(wait.at == now + 1h);
    CHECK(wait.cause == Defer::Cause::not_before);
    CHECK(wait.why == "until 2026-12-01T10:00:00.000Z");
}

TEST_CASE("admit_now: it is 21:59 in Europe/Paris, then 22:00, with quiet hours from 22:00 to 08:00") {
    FakeClock clock("Europe/Paris", "2026-12-01 21:59");
    const Moment moment{true, {22 * 60, 8 * 60}, date::locate_zone("Europe/Paris"), std::nullopt};
    CHECK(std::holds_alternative<Go>(admit_now(timing(), moment, clock.now())));
    clock.advance(1min);
    auto wait = admit_now(timing(), moment, clock.now());
    REQUIRE(std::holds_alternative<Defer>(wait));
    CHECK(std::get<Defer>(wait).at == local_time("Europe/Paris", "2026-12-02 08:00"));
    CHECK(std::get<Defer>(wait).cause == Defer::Cause::quiet_hours);
    CHECK(std::get<Defer>(wait).why == "until 2026-12-02T07:00:00.000Z (quiet hours 22:00–08:00 Europe/Paris)");
    // Urgent: never held. Quiet hours off: not held.
    CHECK(std::holds_alternative<Go>(admit_now(timing(Priority::urgent), moment, clock.now())));
    Moment off = moment;
    off.quiet_hours = false;
    CHECK(std::holds_alternative<Go>(admit_now(timing(), off, clock.now())));
    // A deadline before 08:00: the quiet hours leave no time, the message expires.
    auto late = admit_now(timing(Priority::normal, {}, local_time("Europe/Paris", "2026-12-02 07:00")), moment, clock.now());
    REQUIRE(std::holds_alternative<Expire>(late));
    CHECK(std::get<Expire>(late).reason == "only quiet hours 22:00–08:00 Europe/Paris remain before the deadline");
    // The same for an escalation: dropped, the message is sent already.
    CHECK(std::holds_alternative<Drop>(
        admit_now(timing(Priority::normal, {}, local_time("Europe/Paris", "2026-12-02 07:00"), true), moment, clock.now())));
    // Tokyo's night is Paris's afternoon.
    const Moment tokyo{true, {22 * 60, 8 * 60}, date::locate_zone("Asia/Tokyo"), std::nullopt};
    CHECK(std::holds_alternative<Go>(admit_now(timing(), tokyo, local_time("Asia/Tokyo", "2026-12-01 09:00"))));
    CHECK(std::holds_alternative<Defer>(admit_now(timing(), tokyo, local_time("Europe/Paris", "2026-12-01 15:00"))));
}

TEST_CASE("admit_now: the send time defers to the chosen instant, unless it is within five minutes") {
    const FakeClock clock("Europe/Paris", "2026-12-01 09:00");
    Moment moment{false, {}, date::locate_zone("Europe/Paris"), clock.now() + 3h};
    auto wait = admit_now(timing(), moment, clock.now());
    REQUIRE(std::holds_alternative<Defer>(wait));
    CHECK(std::get<Defer>(wait).cause == Defer::Cause::send_time);
    CHECK(std::get<Defer>(wait).at == clock.now() + 3h);
    moment.send_time = clock.now() + 4min;
    CHECK(std::holds_alternative<Go>(admit_now(timing(), moment, clock.now())));
}

TEST_CASE("wait_until: a wait past the deadline expires the message, or drops an escalation") {
    const FakeClock clock("Europe/Paris", "2026-12-01 09:00");
    const TimePoint now = clock.now();
    CHECK(std::string(kind_of(wait_until(timing(), now + 1h, "citizen cap"))) == "defer");
    CHECK(std::string(kind_of(wait_until(timing(Priority::normal, {}, now + 30min), now + 1h, "citizen cap"))) == "expire");
    CHECK(std::string(kind_of(wait_until(timing(Priority::normal, {}, now + 30min, true), now + 1h, "cap"))) == "drop");
    CHECK(std::get<Defer>(wait_until(timing(), now + 1h, "providers down: sms")).why ==
          "until 2026-12-01T09:00:00.000Z (providers down: sms)");
}

TEST_CASE("after_outcome: a table of outcomes, candidates left, escalations and retries") {
    const FakeClock clock("Europe/Paris", "2026-12-01 09:00");
    const TimePoint now = clock.now();
    const RetryPolicy retry({3, 10'000, 900'000}, 1);
    const EscalationPolicy escalation{{{"sms", 1800}}, {{"sms", 300}}};
    auto facts = [](OutcomeKind k, bool next, int attempt = 1) {
        OutcomeFacts o;
        o.kind = k;
        o.provider = "twilio";
        o.code = k == OutcomeKind::bad_address ? "21211" : "";
        o.reason = "why";
        o.attempt = attempt;
        o.channel = "sms";
        o.next_candidate = next;
        return o;
    };
    struct Case {
        const char* what;
        OutcomeFacts outcome;
        Timing job;
        const char* expected;
        Status status;  // the receipt's status while the next step runs
    };
    const Case cases[] = {
        {"accepted", facts(OutcomeKind::accepted, false), timing(), "settle", Status::sent},
        {"accepted, a channel left", facts(OutcomeKind::accepted, true), timing(), "settle", Status::sent},
        {"bad address, a channel left", facts(OutcomeKind::bad_address, true), timing(), "try_next", Status::queued},
        {"failed, a channel left", facts(OutcomeKind::failed, true), timing(), "try_next", Status::queued},
        {"bad address, the last", facts(OutcomeKind::bad_address, false), timing(), "settle", Status::failed},
        {"retry", facts(OutcomeKind::retry, true), timing(), "retry", Status::queued},
        {"provider down", facts(OutcomeKind::provider_down, false), timing(), "retry", Status::queued},
        {"retry, attempts spent", facts(OutcomeKind::retry, false, 3), timing(), "settle", Status::failed},
        {"retry past the deadline", facts(OutcomeKind::retry, false), timing(Priority::normal, {}, now + 1s), "settle",
         Status::expired},
        {"unknown (maybe sent)", facts(OutcomeKind::unknown, true), timing(), "settle", Status::unknown},
        {"escalation accepted", facts(OutcomeKind::accepted, false), timing(Priority::normal, {}, {}, true), "settle",
         Status::sent},
        {"escalation failed, the last", facts(OutcomeKind::failed, false), timing(Priority::normal, {}, {}, true),
         "abandon", Status::sent},
        {"escalation must wait", facts(OutcomeKind::retry, false), timing(Priority::normal, {}, {}, true),
         "escalate_later", Status::sent},
        {"escalation must wait, attempts spent", facts(OutcomeKind::retry, false, 3),
         timing(Priority::normal, {}, {}, true), "abandon", Status::sent},
        {"escalation, bad address, a channel left", facts(OutcomeKind::bad_address, true),
         timing(Priority::normal, {}, {}, true), "try_next", Status::queued},
    };
    for (auto& c : cases) {
        CAPTURE(c.what);
        const Next next = after_outcome(c.outcome, c.job, now, retry, escalation, 0.5);
        CHECK(std::string(kind_of(next)) == c.expected);
        CHECK(status_while(next) == c.status);
    }
    // An accepted SMS with a channel left escalates after sms's silence (urgent: its own table).
    CHECK(std::get<Settle>(after_outcome(facts(OutcomeKind::accepted, true), timing(), now, retry, escalation, 0))
              .escalate_at == now + 1800s);
    CHECK(std::get<Settle>(after_outcome(facts(OutcomeKind::accepted, true), timing(Priority::urgent), now, retry,
                                         escalation, 0))
              .escalate_at == now + 300s);
    CHECK_FALSE(std::get<Settle>(after_outcome(facts(OutcomeKind::accepted, false), timing(), now, retry, escalation, 0))
                    .escalate_at);
    // The last channel is watched for a late failure that may pass only when asked (retry_late_s).
    EscalationPolicy watching = escalation;
    watching.retry_late_s = {{"sms", 3600}};
    const auto watched = std::get<Settle>(after_outcome(facts(OutcomeKind::accepted, false), timing(), now, retry, watching, 0));
    CHECK(watched.escalate_at == now + 3600s);
    CHECK(watched.on_failure_only);
    // The retry's wait is the jitter's share of the ceiling (10 s for the first), never before Retry-After.
    CHECK(std::get<Retry>(after_outcome(facts(OutcomeKind::retry, false), timing(), now, retry, escalation, 0.5)).at ==
          now + 5000ms);
    auto told = facts(OutcomeKind::retry, false);
    told.retry_after_ms = 8000;
    CHECK(std::get<Retry>(after_outcome(told, timing(), now, retry, escalation, 0.1)).at == now + 8000ms);
    CHECK(std::get<Retry>(after_outcome(told, timing(), now, retry, escalation, 0.1)).why ==
          "attempt 2 at 2026-12-01T08:00:08.000Z after twilio retry: why");
    // The last candidate's failure names the earlier ones.
    auto last = facts(OutcomeKind::failed, false);
    last.tried = "email: bad_address 550";
    CHECK(std::get<Settle>(after_outcome(last, timing(), now, retry, escalation, 0)).reason ==
          "no_reachable_channel: email: bad_address 550; sms: failed (why)");
    CHECK(std::get<TryNext>(after_outcome(facts(OutcomeKind::bad_address, true), timing(), now, retry, escalation, 0)).why ==
          "sms: bad_address 21211");
    CHECK(std::get<Settle>(after_outcome(facts(OutcomeKind::retry, false, 3), timing(), now, retry, escalation, 0)).reason ==
          "gave up after 3 attempts; the last: twilio retry: why");
}
