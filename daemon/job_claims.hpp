// JobClaims: several daemons on one Redis act as one. Each keeps its own receipts, so a job id
// queued twice could be sent by both; before a job's send, the daemon claims its id in Redis
// (one key per id, the daemon's instance id as value, for redis.claim_ttl_s). A fresh copy of a
// job that another daemon holds is a duplicate; the work of another daemon that stopped (an
// entry taken over by XAUTOCLAIM) and a job's own continuations (a retry, an escalation, a send
// time, a rate-limit slot, which any daemon may read back from the schedule) take the claim over.
#pragma once

#include <functional>
#include <string>

namespace crieur {
namespace redis {
class RedisConnection;
}

enum class ClaimVerdict {
    ours,       // claimed now, or already ours: go ahead
    taken_over, // another daemon held it and this is its continuation or its interrupted work: ours now
    elsewhere,  // another daemon holds it and this is a fresh copy: a duplicate, not sent
    failed,     // Redis did not answer: the entry stays pending and comes back
};

class JobClaims {
public:
    // `prefix`: the claims' keys are <prefix><job id>; `instance`: this daemon's receipts instance id.
    JobClaims(redis::RedisConnection& conn, std::string prefix, std::string instance, int ttl_s)
        : conn_(conn), prefix_(std::move(prefix)), instance_(std::move(instance)), ttl_ms_(ttl_s * 1000LL) {}

    // `take_over`: the entry is a continuation or was taken from another consumer. `wait_ms`:
    // how long the job will wait before it goes (its not_before): the claim holds that much longer.
    void claim(const std::string& job_id, bool take_over, long long wait_ms, std::function<void(ClaimVerdict)> done);

private:
    redis::RedisConnection& conn_;
    std::string prefix_, instance_;
    long long ttl_ms_;
};

}  // namespace crieur
