#include <doctest/doctest.h>

#include <filesystem>

#include "channels/circuit_breaker.hpp"
#include "channels/registry.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "support/fake_clock.hpp"
#include "support/provider_instances.hpp"

using namespace crieur;
using namespace std::chrono_literals;
using State = CircuitBreaker::State;

TEST_CASE("circuit breaker: a run of failures opens it, one probe after the open time, success closes it") {
    CircuitBreaker b({3, 1000, 4000});
    const CircuitBreaker::Time t0{};
    b.record(false, t0);
    b.record(false, t0);
    b.record(true, t0);  // a success in between: the run starts again
    b.record(false, t0);
    b.record(false, t0);
    CHECK(b.state(t0) == State::closed);
    b.record(false, t0);
    CHECK(b.state(t0) == State::open);
    CHECK_FALSE(b.available(t0 + 999ms));
    // Half-open: one probe, no second one while it is out.
    CHECK(b.state(t0 + 1000ms) == State::half_open);
    CHECK(b.available(t0 + 1000ms));
    b.take(t0 + 1000ms);
    CHECK_FALSE(b.available(t0 + 1001ms));
    // The probe fails: open again, for twice as long.
    b.record(false, t0 + 1100ms);
    CHECK(b.state(t0 + 3000ms) == State::open);
    CHECK(b.state(t0 + 3100ms) == State::half_open);
    b.take(t0 + 3100ms);
    b.record(false, t0 + 3200ms);
    CHECK(b.state(t0 + 7100ms) == State::open);   // 4 s: the cap
    CHECK(b.state(t0 + 7200ms) == State::half_open);
    b.take(t0 + 7200ms);
    b.record(true, t0 + 7300ms);
    CHECK(b.state(t0 + 7300ms) == State::closed);
    // Closed again with the base open time.
    for (int i = 0; i < 3; ++i) b.record(false, t0 + 8000ms);
    CHECK(b.state(t0 + 8999ms) == State::open);
    CHECK(b.state(t0 + 9000ms) == State::half_open);
}

TEST_CASE("a provider whose breaker is open gets no traffic, the other one takes it all, none left: no stand-in") {
    boost::asio::io_context io;
    Config c;
    c.outbox.dir = (std::filesystem::temp_directory_path() / ("crieur-breaker-" + std::to_string(::getpid()))).string();
    c.providers = {test::instance<TwilioConfig>("twilio", "twilio"), test::instance<OvhConfig>("ovh", "ovh")};
    c.provider_defaults.breaker_failures = 2;
    c.provider_defaults.breaker_open_ms = 60'000;
    test::FakeClock clock;
    ChannelRegistry registry(io, c, clock);
    Channel* twilio = nullptr;
    for (int i = 0; i < 100 && !twilio; ++i)
        if (auto* d = registry.find("sms"); d->provider() == "twilio") twilio = d;
    REQUIRE(twilio);
    registry.report(twilio, OutcomeKind::provider_down);
    registry.report(twilio, OutcomeKind::retry);
    for (int i = 0; i < 200; ++i) CHECK(registry.find("sms")->provider() == "ovh");
    CHECK(registry.prometheus().find("crieur_provider_up{provider=\"twilio\"} 0") != std::string::npos);
    Channel* ovh = registry.find("sms");
    registry.report(ovh, OutcomeKind::unknown);
    registry.report(ovh, OutcomeKind::unknown);
    CHECK_FALSE(registry.carried_now("sms", "+33612345678"));
    CHECK(registry.carried("sms", "+33612345678"));
    CHECK(registry.find("sms") == nullptr);  // not the outbox: it would swallow the SMS
    CHECK(registry.find("email")->provider() == "outbox");
    // A minute later by the registry's clock (no sleep): half-open, one probe goes to each.
    clock.advance(std::chrono::milliseconds(59'999));
    CHECK(registry.find("sms") == nullptr);
    clock.advance(std::chrono::milliseconds(1));
    Channel* probe = registry.find("sms");
    REQUIRE(probe);
    const std::string up = "crieur_provider_up{provider=\"" + std::string(probe->provider()) + "\"} ";
    CHECK(registry.prometheus().find(up + "0") != std::string::npos);  // not closed by the probe alone
    registry.report(probe, OutcomeKind::accepted);  // its answer closes that provider's breaker
    CHECK(registry.prometheus().find(up + "1") != std::string::npos);
    registry.stop_all();
    std::filesystem::remove_all(c.outbox.dir);
}

TEST_CASE("weights shift away from a failing provider before its breaker opens, and back as it recovers") {
    boost::asio::io_context io;
    Config c;
    c.outbox.dir = (std::filesystem::temp_directory_path() / ("crieur-health-" + std::to_string(::getpid()))).string();
    c.providers = {test::instance<TwilioConfig>("twilio", "twilio"), test::instance<OvhConfig>("ovh", "ovh")};  // weights 1 and 1
    test::FakeClock clock;
    ChannelRegistry registry(io, c, clock);  // the breaker opens after 5 failures: not reached here
    Channel* twilio = nullptr;
    for (int i = 0; i < 100 && !twilio; ++i)
        if (auto* d = registry.find("sms"); d->provider() == "twilio") twilio = d;
    REQUIRE(twilio);
    auto twilio_share = [&] {
        int n = 0;
        for (int i = 0; i < 4000; ++i) n += registry.find("sms") == twilio;
        return n;
    };
    CHECK(twilio_share() > 1800);  // 2,000 expected
    registry.report(twilio, OutcomeKind::retry);
    registry.report(twilio, OutcomeKind::retry);  // health 0.25: a fifth of the traffic
    const int after_failures = twilio_share();
    CHECK(after_failures > 600);
    CHECK(after_failures < 1000);
    CHECK(registry.prometheus().find("crieur_provider_weight{provider=\"twilio\"} 0.25") != std::string::npos);
    for (int i = 0; i < 8; ++i) registry.report(twilio, OutcomeKind::accepted);  // back to full health
    CHECK(twilio_share() > 1800);
    registry.stop_all();
    std::filesystem::remove_all(c.outbox.dir);
}

TEST_CASE("weights shift away from a slow provider, in proportion, and back as its answers speed up") {
    boost::asio::io_context io;
    Config c;
    c.outbox.dir = (std::filesystem::temp_directory_path() / ("crieur-slow-" + std::to_string(::getpid()))).string();
    c.providers = {test::instance<TwilioConfig>("twilio", "twilio"), test::instance<OvhConfig>("ovh", "ovh")};  // weights 1 and 1
    c.provider_defaults.slow_ms = 2000;
    test::FakeClock clock;
    ChannelRegistry registry(io, c, clock);
    Channel* twilio = nullptr;
    Channel* ovh = nullptr;
    for (int i = 0; i < 200 && !(twilio && ovh); ++i) {
        auto* d = registry.find("sms");
        (d->provider() == "twilio" ? twilio : ovh) = d;
    }
    REQUIRE(twilio);
    REQUIRE(ovh);
    auto twilio_share = [&] {
        int n = 0;
        for (int i = 0; i < 4000; ++i) n += registry.find("sms") == twilio;
        return n;
    };
    using std::chrono::milliseconds;
    registry.report(ovh, OutcomeKind::accepted, milliseconds(300));
    registry.report(twilio, OutcomeKind::accepted, milliseconds(1500));  // under slow_ms: not slow
    CHECK(twilio_share() > 1800);
    registry.report(twilio, OutcomeKind::accepted, milliseconds(6000));
    registry.report(twilio, OutcomeKind::accepted, milliseconds(6000));
    registry.report(twilio, OutcomeKind::accepted, milliseconds(6000));  // average 3.7 s: 0.54 of its share
    const int slow = twilio_share();
    CHECK(slow > 1100);  // 4000 × 0.54 / 1.54 = 1,403 expected
    CHECK(slow < 1550);
    CHECK(registry.prometheus().find("crieur_provider_weight{provider=\"twilio\"} 0.54") != std::string::npos);
    CHECK(registry.prometheus().find("crieur_provider_answer_seconds{provider=\"twilio\"} 3.69") != std::string::npos);
    // A send that got no answer is a failure (health), not a time: the average does not move.
    registry.report(twilio, OutcomeKind::unknown, milliseconds(30'000));
    CHECK(registry.prometheus().find("crieur_provider_answer_seconds{provider=\"twilio\"} 3.69") != std::string::npos);
    for (int i = 0; i < 20; ++i) registry.report(twilio, OutcomeKind::accepted, milliseconds(200));
    CHECK(twilio_share() > 1800);  // fast again, and healthy again
    registry.stop_all();
    std::filesystem::remove_all(c.outbox.dir);
}
