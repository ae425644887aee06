// Schedule: jobs whose not_before lies ahead wait in a Redis sorted set (score = not_before in
// Unix ms), shared by every daemon and kept across restarts; a periodic duty moves the due ones
// back onto the jobs stream, atomically (one Lua script), where they go through intake again;
// urgent ones (a retry, an escalation) onto the urgent stream, so that they do not queue behind a
// backlog there.
// Use from the io_context's thread only.
#pragma once

#include <functional>
#include <string>

#include "daemon/clock.hpp"
#include "daemon/redis/hiredis_asio.hpp"

namespace crieur {

class Schedule {
public:
    Schedule(redis::RedisConnection& conn, std::string key, std::string stream, std::string urgent_stream)
        : conn_(conn), key_(std::move(key)), stream_(std::move(stream)), urgent_stream_(std::move(urgent_stream)) {}

    // Puts a job aside until `at`. The member starts with the stream entry id, so that the same
    // entry put aside twice (after a crash) is stored once.
    void put_aside(const std::string& entry_id, const std::string& job_json, TimePoint at,
                   std::function<void(bool ok)> done, bool urgent = false);
    // Puts a sent message's next step aside until `at`: then it comes back to the stream marked
    // as an escalation (field `escalate` = the channels tried) and goes on to its next channel:
    // on silence, unless a delivery receipt came meanwhile; on failure (field `fallback`), only if
    // the provider reported that the message failed after all. Stored once per job (as
    // "next|<job id>", its payload in a hash beside), so that advance() finds it.
    enum class NextStep { on_silence, on_failure };
    void escalate_at(const std::string& job_id, const std::string& tried_channels, const std::string& job_json,
                     TimePoint at, std::function<void(bool ok)> done, bool urgent = false,
                     NextStep step = NextStep::on_silence);
    // A provider reported that a sent message failed: its next step, if one waits, comes now.
    void advance(const std::string& job_id, TimePoint now, std::function<void(bool moved)> done);
    // Puts a job aside until the rate-limit slot reserved for it with `provider`: it comes back
    // with field `slot` = provider, and goes out without reserving again.
    void put_aside_for_slot(const std::string& entry_id, const std::string& provider, const std::string& job_json,
                            TimePoint at, std::function<void(bool ok)> done);
    // Puts a job aside until the send time chosen for it: it comes back with field `sendtime`.
    void put_aside_until_send_time(const std::string& entry_id, const std::string& job_json, TimePoint at,
                                   std::function<void(bool ok)> done);
    // Periodic duty: moves up to `limit` due jobs back to the stream.
    void promote_due(TimePoint now, int limit = 1000);
    std::uint64_t promoted() const { return promoted_; }

private:
    redis::RedisConnection& conn_;
    std::string key_;
    std::string stream_, urgent_stream_;
    bool promoting_ = false;
    std::uint64_t promoted_ = 0;
};

}  // namespace crieur
