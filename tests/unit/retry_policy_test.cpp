#include <doctest/doctest.h>

#include <algorithm>

#include "daemon/retry_policy.hpp"

using namespace crieur;
using namespace std::chrono_literals;

TEST_CASE("backoff: full jitter under a doubling ceiling, capped, Retry-After is a floor") {
    RetryPolicy p({10, 1000, 20'000}, 42);
    CHECK(p.ceiling_ms(1) == 1000);
    CHECK(p.ceiling_ms(2) == 2000);
    CHECK(p.ceiling_ms(5) == 16'000);
    CHECK(p.ceiling_ms(6) == 20'000);  // capped
    CHECK(p.ceiling_ms(60) == 20'000);
    const TimePoint now = from_unix_ms(1'800'000'000'000);
    std::int64_t lo = 1 << 30, hi = 0, sum = 0;
    for (int i = 0; i < 2000; ++i) {
        auto d = p.after(3, now, 0, std::nullopt);
        REQUIRE(d.kind == RetryDecision::Kind::retry);
        const auto wait = to_unix_ms(d.at) - to_unix_ms(now);
        lo = std::min(lo, wait);
        hi = std::max(hi, wait);
        sum += wait;
    }
    CHECK(lo >= 0);
    CHECK(hi <= 4000);
    CHECK(lo < 400);    // spread over the whole range: not a fixed delay
    CHECK(hi > 3600);
    CHECK(sum / 2000 == doctest::Approx(2000).epsilon(0.1));  // uniform: the mean is half the ceiling
    for (int i = 0; i < 100; ++i)
        CHECK(to_unix_ms(p.after(1, now, 5000, std::nullopt).at) - to_unix_ms(now) >= 5000);  // the provider said so
}

TEST_CASE("retries end: after max_attempts, or when the next try would pass the deadline") {
    RetryPolicy p({3, 1000, 1000}, 1);
    const TimePoint now = from_unix_ms(1'800'000'000'000);
    CHECK(p.after(2, now, 0, std::nullopt).kind == RetryDecision::Kind::retry);
    auto last = p.after(3, now, 0, std::nullopt);
    CHECK(last.kind == RetryDecision::Kind::give_up);
    CHECK(last.reason == "gave up after 3 attempts");
    CHECK(p.after(1, now, 60'000, now + 30s).kind == RetryDecision::Kind::expire);
    CHECK(p.after(1, now, 0, now + 30s).kind == RetryDecision::Kind::retry);
}
