#include "daemon/job_claims.hpp"

#include <algorithm>

#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/script.hpp"

namespace crieur {

namespace {
// KEYS[1] the id's claim; ARGV[1] our instance, ARGV[2] the TTL (ms), ARGV[3] 1 to take over.
// 1: ours (new or already), 2: taken over, 0: another daemon's. The TTL starts again each time
// the holder claims: a job's continuations keep it for as long as it lives.
const redis::Script kClaim(R"lua(
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and ARGV[3] ~= '1' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if holder and holder ~= ARGV[1] then return 2 end
return 1
)lua");
}  // namespace

void JobClaims::claim(const std::string& job_id, bool take_over, long long wait_ms, std::function<void(ClaimVerdict)> done) {
    const std::string key = prefix_ + job_id;
    const std::string ttl = std::to_string(ttl_ms_ + std::max(0LL, wait_ms));
    kClaim.run(conn_, {key}, {instance_, ttl, take_over ? "1" : "0"}, [done = std::move(done)](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_INTEGER) return done(ClaimVerdict::failed);
        done(r->integer == 1 ? ClaimVerdict::ours : r->integer == 2 ? ClaimVerdict::taken_over : ClaimVerdict::elsewhere);
    });
}

}  // namespace crieur
