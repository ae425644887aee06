#include "daemon/retention/retention.hpp"

#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/redis/hiredis_asio.hpp"

namespace crieur {

const char* const kTrimAcknowledged = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return {tonumber(ms), tonumber(seq)}
end
local function before(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local keep = nil  -- the first entry some group still needs
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  local pending = redis.call('XPENDING', KEYS[1], f['name'])
  local first
  if pending[1] > 0 then
    first = parse(pending[2])
  else
    first = parse(f['last-delivered-id'])
    first[2] = first[2] + 1
  end
  if keep == nil or before(first, keep) then keep = first end
end
if keep == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', keep[1], keep[2]))
)lua";

namespace {
constexpr auto kTrimPeriod = std::chrono::seconds(5);
constexpr auto kMoreSoon = std::chrono::milliseconds(200);  // the writer breathes between two full steps
constexpr auto kFirstSweep = std::chrono::seconds(10);     // at most, after start-up, which has its own work first
constexpr std::int64_t kDayMs = 86'400'000;
}  // namespace

RetentionStep retention_step(const RetentionConfig& config, TimePoint now) {
    const auto ms = to_unix_ms(now);
    RetentionStep step;
    step.personal_before_ms = config.personal_days > 0 ? ms - config.personal_days * kDayMs : 0;
    step.delete_before_ms = config.days > 0 ? ms - config.days * kDayMs : 0;
    step.audit_before_ms = config.audit_days > 0 ? ms - config.audit_days * kDayMs : 0;
    step.limit = config.batch;
    return step;
}

Retention::Retention(ReceiptStore& store, redis::RedisConnection& commands, Metrics& metrics, const Clock& clock)
    : store_(store), commands_(commands), metrics_(metrics), clock_(clock), next_sweep_(clock.steady() + kFirstSweep) {}

void Retention::configure(const RetentionConfig& config, std::vector<std::string> job_streams, std::string dead_stream) {
    // The first sweep: kFirstSweep after start-up, or one interval if that is shorter.
    if (config_.interval_s != config.interval_s)
        next_sweep_ = std::min(next_sweep_, clock_.steady() + std::chrono::seconds(config.interval_s));
    config_ = config;
    job_streams_ = std::move(job_streams);
    dead_stream_ = std::move(dead_stream);
}

void Retention::tick() {
    const auto now = clock_.steady();
    if (!sweeping_ && now >= next_sweep_) sweep_receipts();
    if (trims_out_ == 0 && now >= next_trim_) trim_streams();
}

void Retention::sweep_receipts() {
    const auto step = retention_step(config_, clock_.now());
    next_sweep_ = clock_.steady() + std::chrono::seconds(config_.interval_s);
    if (step.personal_before_ms == 0 && step.delete_before_ms == 0 && step.audit_before_ms == 0) return;
    sweeping_ = true;
    store_.retain(step, [this](RetentionResult r) {
        sweeping_ = false;
        if (r.error) {
            spdlog::warn("retention: a step could not be committed; tried again in {} s", config_.interval_s);
            return;
        }
        metrics_.retention_personal_cleared += static_cast<std::uint64_t>(r.cleared);
        metrics_.retention_deleted += static_cast<std::uint64_t>(r.deleted + r.sessions);
        if (r.cleared + r.deleted + r.sessions > 0)
            spdlog::debug("retention: {} messages' personal fields cleared, {} messages and {} app sessions removed",
                          r.cleared, r.deleted, r.sessions);
        if (r.more) next_sweep_ = clock_.steady() + kMoreSoon;
    });
}

void Retention::trim_streams() {
    next_trim_ = clock_.steady() + kTrimPeriod;
    if (!commands_.connected()) return;
    auto count = [this](const char* what, const std::string& stream, Metrics::Counter& counter) {
        return [this, what, stream, &counter](const redisReply* r) {
            --trims_out_;
            if (r && r->type == REDIS_REPLY_INTEGER) counter += static_cast<std::uint64_t>(r->integer);
            else if (r && r->type == REDIS_REPLY_ERROR)
                spdlog::warn("retention: could not trim {} from {}: {}", what, stream, std::string(r->str, r->len));
        };
    };
    if (config_.trim_streams)
        for (const auto& stream : job_streams_) {
            ++trims_out_;
            commands_.command({"EVAL", kTrimAcknowledged, "1", stream}, count("acknowledged jobs", stream, metrics_.stream_entries_trimmed));
        }
    if (config_.dead_letter_days > 0 && !dead_stream_.empty()) {
        // An entry id begins with the Redis server's clock at XADD: MINID by time.
        const auto before = to_unix_ms(clock_.now()) - config_.dead_letter_days * kDayMs;
        ++trims_out_;
        commands_.command({"XTRIM", dead_stream_, "MINID", std::to_string(before)},
                          count("old dead letters", dead_stream_, metrics_.dead_letters_trimmed));
    }
}

}  // namespace crieur
