// Caps: how many non-urgent messages a citizen may get per day and per week (by template
// category), and how many a service may send per day. Counted in Redis, so every daemon shares
// them, as sets of job ids (a retry or an escalation of the same message is not counted twice).
// Days and weeks (from Monday) are local, in the configured time zone. A message over a cap
// waits for the next day or week; urgent messages are never capped. Use from the io_context's thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <system_error>

#include "daemon/clock.hpp"
#include "daemon/redis/hiredis_asio.hpp"

namespace date {
class time_zone;
}

namespace crieur {

struct CapsConfig {
    std::map<std::string, int> citizen_per_day;   // by category: information, service, alert
    std::map<std::string, int> citizen_per_week;
    std::map<std::string, int> service_per_day;   // by service name
    bool any() const { return !citizen_per_day.empty() || !citizen_per_week.empty() || !service_per_day.empty(); }
    bool operator==(const CapsConfig&) const = default;
};

struct CapVerdict {
    bool allowed = true;
    TimePoint retry_at{};  // when over a cap: the start of the next day or week
    std::string reason;    // "citizen cap: 2 information messages a day"
    std::error_code error; // errc::redis_*: Redis could not answer (not allowed then)
};

class Caps {
public:
    Caps(redis::RedisConnection& conn, std::string prefix, CapsConfig config, const date::time_zone* zone);
    bool any() const { return config_.any(); }
    // Counts the message (job id) against its caps if they allow it.
    void admit(const std::string& job_id, const std::string& citizen, const std::string& category,
               const std::string& service, TimePoint now, std::function<void(CapVerdict)> done);

private:
    redis::RedisConnection& conn_;
    std::string prefix_;
    CapsConfig config_;
    const date::time_zone* zone_;
};

}  // namespace crieur
