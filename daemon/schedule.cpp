#include "daemon/schedule.hpp"

#include "daemon/log.hpp"
#include "daemon/redis/redis_client.hpp"

namespace crieur {

namespace {
// KEYS[1] schedule, KEYS[2] stream, KEYS[3] urgent stream, KEYS[4] an earlier version's next
// steps, KEYS[5] the payloads; ARGV[1] now (ms), ARGV[2] limit. Returns how many moved.
// A payload is "<u|n> <resume|-> <job>": u goes to the urgent stream.
// The members with no payload are an earlier version's (the job and tags in the member itself,
// or next steps in KEYS[4]): read as they were written, until none is left after an upgrade.
constexpr std::string_view kPromote = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, whole in ipairs(due) do
  local payload = redis.call('HGET', KEYS[5], whole)
  if payload then
    local a = string.find(payload, ' ', 1, true)
    local b = string.find(payload, ' ', a + 1, true)
    local stream = KEYS[2]
    if string.sub(payload, 1, a - 1) == 'u' then stream = KEYS[3] end
    local resume, job = string.sub(payload, a + 1, b - 1), string.sub(payload, b + 1)
    if resume == '-' then
      redis.call('XADD', stream, '*', 'from', 'schedule', 'job', job)
    else
      redis.call('XADD', stream, '*', 'from', 'schedule', 'job', job, 'resume', resume)
    end
    redis.call('HDEL', KEYS[5], whole)
    -- a next step an earlier version wrote for the same job, replaced by this one: gone with it
    if string.sub(whole, 1, 5) == 'next|' then redis.call('HDEL', KEYS[4], string.sub(whole, 6)) end
    redis.call('ZREM', KEYS[1], whole)
  elseif string.sub(whole, 1, 5) == 'next|' then
    -- next|<job id>: the next channel, its payload "<u|n> <silence|failure> <channels tried> <job>"
    local id = string.sub(whole, 6)
    local p = redis.call('HGET', KEYS[4], id)
    if p then
      local a = string.find(p, ' ', 1, true)
      local b = string.find(p, ' ', a + 1, true)
      local c = string.find(p, ' ', b + 1, true)
      local stream = KEYS[2]
      if string.sub(p, 1, a - 1) == 'u' then stream = KEYS[3] end
      local job, tried = string.sub(p, c + 1), string.sub(p, b + 1, c - 1)
      if string.sub(p, a + 1, b - 1) == 'failure' then
        redis.call('XADD', stream, '*', 'from', 'schedule', 'job', job, 'escalate', tried, 'fallback', 'on_failure')
      else
        redis.call('XADD', stream, '*', 'from', 'schedule', 'job', job, 'escalate', tried)
      end
      redis.call('HDEL', KEYS[4], id)
    end
    redis.call('ZREM', KEYS[1], whole)
  else
  local member, stream = whole, KEYS[2]
  if string.sub(whole, 1, 2) == 'u|' then member, stream = string.sub(whole, 3), KEYS[3] end
  local space = string.find(member, ' ', 1, true)
  if not space then space = #member + 1 end  -- no job in it: nothing to bring back
  local tag = string.sub(member, 1, space - 1)
  if string.sub(tag, 1, 4) == 'esc|' then
    -- esc|<channels tried>|<job id>: an escalation on silence
    local bar = string.find(tag, '|', 5, true)
    redis.call('XADD', stream, '*', 'from', 'schedule', 'job', string.sub(member, space + 1), 'escalate', string.sub(tag, 5, bar - 1))
  elseif string.sub(tag, 1, 3) == 'st|' then
    -- st|<entry id>: held until the send time chosen for it
    redis.call('XADD', stream, '*', 'from', 'schedule', 'job', string.sub(member, space + 1), 'sendtime', 'chosen')
  elseif string.sub(tag, 1, 5) == 'slot|' then
    -- slot|<provider>|<entry id>: a rate-limit slot is reserved for it
    local bar = string.find(tag, '|', 6, true)
    redis.call('XADD', stream, '*', 'from', 'schedule', 'job', string.sub(member, space + 1), 'slot', string.sub(tag, 6, bar - 1))
  else
    redis.call('XADD', stream, '*', 'from', 'schedule', 'job', string.sub(member, space + 1))
  end
  redis.call('ZREM', KEYS[1], whole)
  end
end
return #due
)lua";

// KEYS[1] schedule, KEYS[2] payloads; ARGV[1] at, ARGV[2] member, ARGV[3] payload.
constexpr std::string_view kPutAside = R"lua(
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
)lua";

// KEYS[1] schedule; ARGV[1] now, ARGV[2] job id. Brings the job's next step forward to now.
constexpr std::string_view kAdvance = R"lua(
local member = 'next|' .. ARGV[2]
local at = redis.call('ZSCORE', KEYS[1], member)
if at and tonumber(at) > tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[1], member)
  return 1
end
return 0
)lua";

// KEYS[1] schedule, KEYS[2] payloads; ARGV[1] member, ARGV[2] the payload read, ARGV[3] the
// payload to write, ARGV[4] at. Only if the payload is still the one read (not promoted or
// replaced meanwhile).
constexpr std::string_view kReplace = R"lua(
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
)lua";
}  // namespace

void Schedule::put_aside(Aside aside, std::function<void(std::error_code)> done) {
    // Escalations by job id ("next|", which advance() looks for), the others by entry id ("e|").
    const bool escalation = aside.resume.kind == Resume::Kind::escalation;
    const std::string member = (escalation ? "next|" + aside.job_id : "e|" + aside.entry_id);
    std::string resume = encode(aside.resume);
    std::string payload;
    payload.reserve(aside.job_json.size() + resume.size() + 4);
    payload.append(aside.urgent ? "u " : "n ").append(resume.empty() ? "-" : resume).append(" ").append(aside.job_json);
    conn_.command({"EVAL", kPutAside, "2", key_, payloads_key_, std::to_string(to_unix_ms(aside.at)), member, payload},
                  [done = std::move(done)](const redisReply* r) { done(redis::error_of(r)); });
}

void Schedule::advance(const std::string& job_id, TimePoint now, std::function<void(bool moved)> done) {
    conn_.command({"EVAL", kAdvance, "1", key_, std::to_string(to_unix_ms(now)), job_id},
                  [done = std::move(done)](const redisReply* r) {
                      done(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
                  });
}

void Schedule::retry_channel(const std::string& job_id, const std::string& channel, TimePoint at,
                             std::function<void(bool moved)> done) {
    const std::string member = "next|" + job_id;
    conn_.command({"HGET", payloads_key_, member}, [this, member, channel, at, done = std::move(done)](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_STRING) return done(false);
        // "<u|n> <resume> <job>": the resume is an escalation whose last channel is this one.
        const std::string_view payload(r->str, r->len);
        const auto a = payload.find(' '), b = a == std::string_view::npos ? a : payload.find(' ', a + 1);
        if (b == std::string_view::npos) return done(false);
        auto decoded = decode_resume(payload.substr(a + 1, b - a - 1));
        auto* resume = std::get_if<Resume>(&decoded);
        if (!resume || resume->kind != Resume::Kind::escalation || resume->channels_used.empty() ||
            resume->channels_used.back() != channel)
            return done(false);
        resume->channels_used.pop_back();  // this channel again, as if not yet used
        std::string again(payload.substr(0, a + 1));
        const std::string field = encode(*resume);
        again.append(field.empty() ? "-" : field).append(payload.substr(b));
        conn_.command({"EVAL", kReplace, "2", key_, payloads_key_, member, std::string(payload), again,
                       std::to_string(to_unix_ms(at))},
                      [done](const redisReply* swapped) {
                          done(swapped && swapped->type == REDIS_REPLY_INTEGER && swapped->integer == 1);
                      });
    });
}

void Schedule::promote_due(TimePoint now, int limit) {
    if (promoting_ || !conn_.connected()) return;
    promoting_ = true;
    conn_.command({"EVAL", kPromote, "5", key_, stream_, urgent_stream_, key_ + ":next", payloads_key_, std::to_string(to_unix_ms(now)), std::to_string(limit)},
                  [this](const redisReply* r) {
                      promoting_ = false;
                      if (!r) return;
                      if (r->type == REDIS_REPLY_ERROR) {
                          spdlog::error("schedule: promoting due jobs failed: {}", r->str);
                      } else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
                          promoted_ += static_cast<std::uint64_t>(r->integer);
                          spdlog::info("schedule: {} scheduled jobs are due and back in the stream", r->integer);
                      }
                  });
}

}  // namespace crieur
