// Schedule: jobs whose not_before lies ahead wait in a Redis sorted set (score = not_before in
// Unix ms), shared by every daemon and kept across restarts; a periodic duty moves the due ones
// back onto the jobs stream, atomically (one Lua script), where they go through intake again;
// urgent ones (a retry, an escalation) onto the urgent stream, so that they do not queue behind a
// backlog there.
// Use from the io_context's thread only.
#pragma once

#include <functional>
#include <string>
#include <system_error>

#include "daemon/clock.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/resume.hpp"

namespace crieur {

// A job to set aside: what put_aside stores.
struct Aside {
    std::string entry_id;  // the stream entry the job came in
    std::string job_id;
    std::string job_json;  // as it came in
    Resume resume;         // how it comes back
    TimePoint at;
    bool urgent = false;   // back on the urgent stream
};

class Schedule {
public:
    Schedule(redis::RedisConnection& conn, std::string key, std::string stream, std::string urgent_stream)
        : conn_(conn), key_(std::move(key)), payloads_key_(key_ + ":aside"), stream_(std::move(stream)),
          urgent_stream_(std::move(urgent_stream)) {}

    // Puts a job aside until `aside.at`; it comes back to the stream (the urgent one when
    // `urgent`) with its `resume` field. One member per stream entry (the same entry put aside
    // twice, after a crash, is stored once), and one per job for an escalation: a later step
    // replaces an earlier one, and advance() finds it. `done` gets an error code when Redis did
    // not take it: the entry then stays pending.
    void put_aside(Aside aside, std::function<void(std::error_code)> done);
    // A provider reported that a sent message failed: its next step, if one waits, comes now.
    void advance(const std::string& job_id, TimePoint now, std::function<void(bool moved)> done);
    // A provider reported that a message sent on `channel` failed for now: the job's waiting next
    // step, when it is the one after `channel`, becomes that channel again at `at`. `done(false)`:
    // no such step waits (nothing is kept of a message sent on its last channel and not watched).
    void retry_channel(const std::string& job_id, const std::string& channel, TimePoint at,
                       std::function<void(bool moved)> done);
    // Periodic duty: moves up to `limit` due jobs back to the stream.
    void promote_due(TimePoint now, int limit = 1000);
    std::uint64_t promoted() const { return promoted_; }

private:
    redis::RedisConnection& conn_;
    std::string key_;
    std::string payloads_key_;  // member → "<u|n> <resume|-> <job>"
    std::string stream_, urgent_stream_;
    bool promoting_ = false;
    std::uint64_t promoted_ = 0;
};

}  // namespace crieur
