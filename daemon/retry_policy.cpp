#include "daemon/retry_policy.hpp"

#include <algorithm>

namespace crieur {

std::int64_t RetryPolicy::ceiling_ms(int attempt) const {
    const int doublings = std::clamp(attempt - 1, 0, 40);
    const double ceiling = static_cast<double>(config_.base_ms) * static_cast<double>(1ULL << std::min(doublings, 40));
    return static_cast<std::int64_t>(std::min(ceiling, static_cast<double>(config_.max_ms)));
}

RetryDecision RetryPolicy::after(int attempt, TimePoint now, std::int64_t retry_after_ms, std::optional<TimePoint> deadline,
                                 double jitter) const {
    if (attempt >= config_.max_attempts)
        return {RetryDecision::Kind::give_up, {}, "gave up after " + std::to_string(attempt) + " attempts"};
    const auto ceiling = ceiling_ms(attempt);
    const auto drawn = std::min(ceiling, static_cast<std::int64_t>(std::clamp(jitter, 0.0, 1.0) * static_cast<double>(ceiling + 1)));
    const std::int64_t wait = std::max(drawn, retry_after_ms);
    const TimePoint at = now + std::chrono::milliseconds(wait);
    if (deadline && at > *deadline)
        return {RetryDecision::Kind::expire, {}, "the next try (" + format_rfc3339(at) + ") would be past the deadline"};
    return {RetryDecision::Kind::retry, at, {}};
}

}  // namespace crieur
