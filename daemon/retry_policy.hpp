// RetryPolicy: when a send that may succeed later (a retry outcome, a provider down) is tried
// again. Exponential backoff with full jitter (a uniform draw in [0, min(cap, base·2^(n-1))],
// which spreads a burst of failures instead of bringing it back in step), never sooner than the
// provider's Retry-After; bounded by the number of attempts and by the message's deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "daemon/clock.hpp"

namespace crieur {

struct RetryConfig {
    int max_attempts = 6;
    int base_ms = 10'000;
    int max_ms = 900'000;
    bool operator==(const RetryConfig&) const = default;
};

struct RetryDecision {
    enum class Kind { retry, give_up, expire } kind = Kind::retry;
    TimePoint at{};      // when to try again (retry)
    std::string reason;  // for give_up and expire
};

class RetryPolicy {
public:
    explicit RetryPolicy(RetryConfig config, std::uint64_t seed = std::random_device{}()) : config_(config), rng_(seed) {}

    // After attempt number `attempt` (1 for the first) ended in a retryable outcome at `now`.
    RetryDecision after(int attempt, TimePoint now, std::int64_t retry_after_ms, std::optional<TimePoint> deadline) {
        return after(attempt, now, retry_after_ms, deadline, draw());
    }
    // The same with the jitter given: `jitter` in [0, 1) picks the wait in [0, ceiling]. Pure.
    RetryDecision after(int attempt, TimePoint now, std::int64_t retry_after_ms, std::optional<TimePoint> deadline,
                        double jitter) const;
    // A uniform draw in [0, 1) for the jitter.
    double draw() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
    // The jitter's upper bound for attempt n, in ms.
    std::int64_t ceiling_ms(int attempt) const;

private:
    RetryConfig config_;
    std::mt19937_64 rng_;
};

}  // namespace crieur
