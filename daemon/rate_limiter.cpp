#include "daemon/rate_limiter.hpp"

#include <cmath>

namespace crieur {

namespace {
// GCRA with reservations. KEYS[1] the meter; ARGV[1] emission interval (µs per unit), ARGV[2]
// burst tolerance (µs), ARGV[3] cost (units), ARGV[4] 1 for an urgent message. Reserves the next
// slot and returns the wait for it in µs (0: now). An urgent message does not queue behind the
// reservations: it goes now and pushes the meter on by its cost, so the later slots move back
// and the pace holds over time (a flood alert overtakes a campaign's backlog).
constexpr std::string_view kReserve = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, urgent = tonumber(ARGV[3]), ARGV[4] == '1'
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowed_at = tat - tolerance
local wait = allowed_at - now
if wait < 0 or urgent then wait = 0 end
local new_tat = tat + interval * cost
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return math.floor(wait)
)lua";
}  // namespace

RateLimiter::RateLimiter(redis::RedisConnection& conn, std::string key_prefix, std::map<std::string, RateLimit> limits)
    : conn_(conn), prefix_(std::move(key_prefix)), limits_(std::move(limits)) {
    std::erase_if(limits_, [](const auto& kv) { return kv.second.per_s <= 0; });
}

void RateLimiter::reserve(const std::string& provider, int cost, bool urgent, std::function<void(std::int64_t)> done) {
    auto it = limits_.find(provider);
    if (it == limits_.end()) {
        done(0);
        return;
    }
    const double interval_us = 1e6 / it->second.per_s;
    const double tolerance_us = interval_us * std::max(0, it->second.burst - 1);
    char interval[32], tolerance[32];
    std::snprintf(interval, sizeof interval, "%.0f", interval_us);
    std::snprintf(tolerance, sizeof tolerance, "%.0f", tolerance_us);
    const std::string key = prefix_ + provider, c = std::to_string(std::max(1, cost));
    conn_.command({"EVAL", kReserve, "1", key, interval, tolerance, c, urgent ? "1" : "0"},
                  [done = std::move(done)](const redisReply* r) {
                      if (!r || r->type != REDIS_REPLY_INTEGER) {
                          done(-1);  // Redis away or refused: the job waits, pending, as for any Redis trouble
                          return;
                      }
                      done((r->integer + 999) / 1000);
                  });
}

}  // namespace crieur
