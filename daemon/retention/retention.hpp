// Retention: personal data does not stay (GDPR's storage limitation; docs/privacy.md says where
// it lives and for how long). Driven by the daemon's tick on the io_context, it asks the receipts'
// writer for bounded steps (RetentionStep: never a long hold of the writer), and trims the Redis
// streams: acknowledged jobs from the job streams within seconds, dead letters after their days.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur {

class ReceiptStore;
struct Metrics;
namespace redis {
class RedisConnection;
}

// The Lua script that trims a job stream of what every consumer group is done with: the entries
// before the oldest one still pending in any group, and before the first one a group has not
// read yet. A stream without a group is left alone (jobs queued before a daemon ever read them).
extern const char* const kTrimAcknowledged;

// The cutoffs of a step taken at `now`: 0 where the config keeps data for ever.
RetentionStep retention_step(const RetentionConfig& config, TimePoint now);

class Retention {
public:
    Retention(ReceiptStore& store, redis::RedisConnection& commands, Metrics& metrics, const Clock& clock);

    // The config at start and after each reload; the job streams to trim and the dead letters'.
    void configure(const RetentionConfig& config, std::vector<std::string> job_streams, std::string dead_stream);
    // From the daemon's tick: starts what is due, one thing of each kind at a time.
    void tick();

private:
    void sweep_receipts();
    void trim_streams();

    ReceiptStore& store_;
    redis::RedisConnection& commands_;
    Metrics& metrics_;
    const Clock& clock_;
    RetentionConfig config_;
    std::vector<std::string> job_streams_;
    std::string dead_stream_;
    SteadyPoint next_sweep_{}, next_trim_{};
    bool sweeping_ = false;
    int trims_out_ = 0;
};

}  // namespace crieur
