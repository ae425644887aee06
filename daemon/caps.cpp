#include "daemon/caps.hpp"

#include "daemon/redis/redis_client.hpp"

#include <date/tz.h>

#include <vector>

namespace crieur {

namespace {
// KEYS: the sets; ARGV[1] the job id, then one limit and one TTL (s) per key. Returns 0 when
// admitted (the id added to every set), else the 1-based index of the first set that is full.
constexpr std::string_view kAdmit = R"lua(
local n = #KEYS
for i, k in ipairs(KEYS) do
  if redis.call('SISMEMBER', k, ARGV[1]) == 0 and redis.call('SCARD', k) >= tonumber(ARGV[1 + i]) then return i end
end
for i, k in ipairs(KEYS) do
  redis.call('SADD', k, ARGV[1])
  redis.call('EXPIRE', k, ARGV[1 + n + i])
end
return 0
)lua";

struct Counted {
    std::string key;
    int limit;
    TimePoint resets_at;
    std::string reason;
};
}  // namespace

Caps::Caps(redis::RedisConnection& conn, std::string prefix, CapsConfig config, const date::time_zone* zone)
    : conn_(conn), prefix_(std::move(prefix)), config_(std::move(config)), zone_(zone) {}

void Caps::admit(const std::string& job_id, const std::string& citizen, const std::string& category,
                 const std::string& service, TimePoint now, std::function<void(CapVerdict)> done) {
    // The local day and the local week (from Monday), and when each ends.
    const auto local = zone_->to_local(now);
    const auto day = date::floor<date::days>(local);
    const auto weekday = date::weekday(day);
    const auto monday = day - (weekday - date::Monday);
    auto to_utc = [&](date::local_days d) {
        return TimePoint{date::floor<std::chrono::milliseconds>(zone_->to_sys(d, date::choose::earliest))};
    };
    const TimePoint next_day = to_utc(day + date::days(1)), next_week = to_utc(monday + date::days(7));
    const std::string day_tag = std::to_string(day.time_since_epoch().count()),
                      week_tag = std::to_string(monday.time_since_epoch().count());
    std::vector<Counted> counted;
    if (!citizen.empty()) {
        if (auto it = config_.citizen_per_day.find(category); it != config_.citizen_per_day.end())
            counted.push_back({prefix_ + "citizen:" + citizen + ":" + category + ":d" + day_tag, it->second, next_day,
                               "citizen cap: " + std::to_string(it->second) + " " + category + " messages a day"});
        if (auto it = config_.citizen_per_week.find(category); it != config_.citizen_per_week.end())
            counted.push_back({prefix_ + "citizen:" + citizen + ":" + category + ":w" + week_tag, it->second, next_week,
                               "citizen cap: " + std::to_string(it->second) + " " + category + " messages a week"});
    }
    if (auto it = config_.service_per_day.find(service); it != config_.service_per_day.end())
        counted.push_back({prefix_ + "service:" + service + ":d" + day_tag, it->second, next_day,
                           "service quota: " + std::to_string(it->second) + " messages a day for " + service});
    if (counted.empty()) {
        done({});
        return;
    }
    std::vector<std::string> args{"EVAL", std::string(kAdmit), std::to_string(counted.size())};
    for (auto& c : counted) args.push_back(c.key);
    args.push_back(job_id);
    for (auto& c : counted) args.push_back(std::to_string(c.limit));
    for (auto& c : counted)  // kept a day past the period, then Redis forgets them
        args.push_back(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(c.resets_at - now).count() + 86'400));
    std::vector<std::string_view> views(args.begin(), args.end());
    conn_.command(std::span<const std::string_view>(views.data(), views.size()),
                  [counted = std::move(counted), done = std::move(done)](const redisReply* r) {
                      CapVerdict v;
                      v.error = redis::error_of(r);
                      if (!v.error && r->type != REDIS_REPLY_INTEGER) v.error = errc::redis_error;  // not the script's answer
                      if (v.error) {
                          v.allowed = false;
                          done(v);
                          return;
                      }
                      if (r->integer > 0 && static_cast<std::size_t>(r->integer) <= counted.size()) {
                          const auto& c = counted[static_cast<std::size_t>(r->integer - 1)];
                          v.allowed = false;
                          v.retry_at = c.resets_at;
                          v.reason = c.reason;
                      }
                      done(v);
                  });
}

}  // namespace crieur
