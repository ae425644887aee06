// RateLimiter: provider rate limits shared by every daemon through Redis. Each provider account
// has a GCRA meter (one key, its "theoretical arrival time", moved by a Lua script with Redis's
// own clock, so that daemons on several machines share one limit and one time). A send reserves
// its slot: at once within the burst, else further ahead, one interval after the last one
// reserved. The pipeline waits for a near slot with a timer (the job still pending in the
// stream), and puts a far one in the schedule with its slot: reservations spread a backlog
// evenly, with no herd and no retry burnt. Use from the io_context's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "daemon/redis/hiredis_asio.hpp"

namespace crieur {

struct RateLimit {
    double per_s = 0;  // messages (or segments) per second; 0: no limit
    int burst = 1;     // sent back to back before the pace applies
};

class RateLimiter {
public:
    RateLimiter(redis::RedisConnection& conn, std::string key_prefix, std::map<std::string, RateLimit> limits);

    bool limited(const std::string& provider) const { return limits_.count(provider) > 0; }
    // Reserves `cost` units for `provider`. `done(wait_ms)`: 0 go now, > 0 go after that long
    // (the slot is yours), < 0 Redis failed (nothing reserved).
    // An urgent message goes at once and moves the later slots back.
    void reserve(const std::string& provider, int cost, bool urgent, std::function<void(std::int64_t wait_ms)> done);

private:
    redis::RedisConnection& conn_;
    std::string prefix_;
    std::map<std::string, RateLimit> limits_;
};

}  // namespace crieur
