// Intake: the consumer of the jobs stream. Reads entries in batches for this daemon's consumer
// in the group, hands valid jobs to the pipeline, moves invalid and poison jobs to the dead-letter
// stream (with a `rejected` receipt), takes over entries a dead consumer left pending
// (XAUTOCLAIM), and acknowledges an entry only once the pipeline says its outcome is committed.
// A poison job is one whose work was interrupted too often (the daemon died on it): each time an
// entry is taken back (its own pending after a restart, or claimed), a count in the hash
// "<stream>:starts" goes up, and it is deleted as soon as the work ends, whatever the end (sent,
// or left pending because Redis or the directory was away). So an outage never makes a poison
// job; Redis's own delivery count, which every claim and re-read raises, is not used.
// A daemon has two: one for the jobs stream, one for the urgent stream, each with its own blocking
// read connection, so that an urgent job is read at once however long the jobs stream is.
// Use from the io_context's thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/metrics.hpp"
#include "daemon/redis/redis_client.hpp"
#include "daemon/resume.hpp"
#include "daemon/types.hpp"

namespace crieur {

class ReceiptStore;

// What the pipeline says of a job once it is done with it.
enum class Disposition {
    ack,   // its outcome is committed: acknowledge the entry
    keep,  // leave it pending: it will be delivered again (after claim_after, or at restart)
};

class Intake {
public:
    // Takes a valid job. Either returns why it must be rejected (then `done` is never called and
    // intake dead-letters it), or returns nothing and calls `done` once, later.
    // `resume`: how it came back from the schedule (decoded from the entry's `resume` field).
    using Process = std::function<std::optional<JobError>(Job job, Resume resume, const StreamEntry& entry,
                                                          std::function<void(Disposition)> done)>;

    // `stream`: the stream this intake consumes (config.redis.stream or urgent_stream).
    Intake(const Config& config, const std::string& stream, std::string consumer, redis::RedisConnection& reads,
           redis::RedisConnection& commands, ReceiptStore& store, Metrics& metrics, const Clock& clock, Process process);

    // The read connection is up (first time or again): create the group if needed, go through
    // this consumer's own pending entries, then read new ones.
    void resume();
    // Periodic duty: take over entries idle for longer than claim_after.
    void claim_stale();
    // Periodic duty (each tick: it keeps its own pace): make this daemon's entries that wait (the
    // send gate, a slow provider) idle again, so that no peer claims a live job as a crash's.
    void touch_waiting();
    // Periodic duty: refresh the lag and pending gauges (XINFO GROUPS).
    void refresh_lag();
    // The commands connection is up again: send the acknowledgements that failed meanwhile.
    void flush_acks();

    // Stop reading; what is in flight finishes (see idle()).
    void stop_reading();
    // Nothing in flight and every acknowledgement sent.
    bool idle() const { return in_flight_.empty() && acks_.empty() && acks_outstanding_ == 0; }
    std::size_t in_flight() const { return in_flight_.size(); }
    const std::string& consumer() const { return consumer_; }

    void update_limits(const Config& config);

private:
    void read_more();
    void prune_consumers();
    void on_read(redis::Status status, std::vector<StreamEntry> entries);
    // Entries that were delivered before (own pending, claimed): dead-letter those delivered too often.
    void recover(std::vector<StreamEntry> entries);
    void handle(StreamEntry entry);
    // `interrupted`: a poison job, whose message may have been caught mid-send.
    void dead_letter(const StreamEntry& entry, const JobError& error, bool interrupted = false);
    void count_start(std::shared_ptr<StreamEntry> entry);
    void finished(const std::string& entry_id, Disposition d);
    void ack(const std::string& entry_id);
    // The work on a taken-back entry ended: its interruption count goes (now or at reconnection).
    void forget(const std::string& entry_id);
    void flush_forgets();
    void sync_inflight();  // the in-flight gauge is shared by both intakes: each adds its change

    RedisConfig redis_;
    IntakeConfig limits_;
    std::string consumer_;
    redis::StreamClient reads_;
    redis::StreamClient commands_;
    redis::RedisConnection& commands_conn_;
    ReceiptStore& store_;
    Metrics& metrics_;
    const Clock& clock_;
    Process process_;

    bool stopped_ = false;
    bool reading_ = false;        // an XREADGROUP is outstanding
    bool group_ready_ = false;
    std::string pending_cursor_;  // while going through our own pending entries; empty once done
    bool claiming_ = false;
    std::string claim_cursor_ = "0-0";
    // Entry ids handed out and not yet finished, with when they were last made idle (read, or
    // touched by touch_waiting).
    std::unordered_map<std::string, TimePoint> in_flight_;
    bool touching_ = false;
    bool pruned_ = false;
    TimePoint last_touch_{};
    std::vector<std::string> acks_;              // entry ids to acknowledge
    std::string starts_key_;                     // "<stream>:starts": interruptions by entry id
    std::unordered_set<std::string> recovered_;  // entries taken back, in flight: their count goes at the end
    std::vector<std::string> forgets_;           // counts to delete once Redis answers
    bool forgets_outstanding_ = false;
    int acks_outstanding_ = 0;
    bool ack_flush_posted_ = false;
    std::int64_t inflight_reported_ = 0;
};

}  // namespace crieur
