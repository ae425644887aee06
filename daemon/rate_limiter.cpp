#include "daemon/rate_limiter.hpp"

#include "daemon/redis/redis_client.hpp"

#include "channels/encoding.hpp"

#include <cmath>
#include <vector>

namespace crieur {

namespace {
// GCRA with reservations and priorities. For each meter k, three keys: KEYS[3k-2] the theoretical
// arrival time of all reservations (T), KEYS[3k-1] that of urgent and normal ones (N), KEYS[3k]
// the units borrowed from bulk slots and not yet given back (D). ARGV[1] the lane: u(rgent),
// n(ormal), b(ulk), r (a bulk job at the slot it reserved); then per meter its emission interval
// (µs per unit), burst tolerance (µs), cost (units) and 1 for a strict meter. Returns the wait in
// µs and 1 when the slot is reserved. On the provider's meters, urgent and normal slots that fall
// before the end of the reservations are borrowed from the bulk ones: every bulk job asks again
// at its slot ('r') and gives it up while a debt is owed. A strict meter (one recipient's) lends
// nothing: while it is busy, nothing is reserved and the answer is the wait for it (then 0), so
// that no provider slot is held by a message that cannot go.
constexpr std::string_view kReserve = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lane = ARGV[1]
local m = #KEYS / 3
local T, N, D, I, tol, c, strict = {}, {}, {}, {}, {}, {}, {}
for k = 1, m do
  T[k] = math.max(now, tonumber(redis.call('GET', KEYS[3*k-2]) or '0'))
  I[k], tol[k], c[k] = tonumber(ARGV[4*k-2]), tonumber(ARGV[4*k-1]), tonumber(ARGV[4*k])
  strict[k] = ARGV[4*k+1] == '1'
  if strict[k] then N[k], D[k] = now, 0 else
    N[k] = math.max(now, tonumber(redis.call('GET', KEYS[3*k-1]) or '0'))
    D[k] = tonumber(redis.call('GET', KEYS[3*k]) or '0')
  end
end
-- A recipient's meter that is busy: nothing is reserved, the message comes back at its slot.
if lane ~= 'r' then
  local rs = now
  for k = 1, m do if strict[k] then rs = math.max(rs, T[k] - tol[k]) end end
  if rs > now then return {math.floor(rs - now), 0} end
end
if lane == 'r' then
  local owed = false
  for k = 1, m do if D[k] > 0 then owed = true end end
  if not owed then return {0, 1} end
  for k = 1, m do if not strict[k] then D[k] = math.max(0, D[k] - c[k]) end end
  lane = 'b'
end
local s = now
local borrow = {}
if lane == 'b' then
  local ahead = false
  for k = 1, m do
    if not strict[k] then
      s = math.max(s, T[k] - tol[k])
      if T[k] - tol[k] > now then ahead = true end
    end
  end
  -- no reservation ahead: no bulk job is left to give a borrowed slot back
  if not ahead then for k = 1, m do D[k] = 0 end end
else
  if lane == 'n' then for k = 1, m do if not strict[k] then s = math.max(s, N[k] - tol[k]) end end end
  for k = 1, m do borrow[k] = not strict[k] and T[k] - tol[k] > s end
end
for k = 1, m do
  if borrow[k] then D[k] = D[k] + c[k] else T[k] = math.max(T[k], s) + I[k] * c[k] end
  local ttl = math.ceil((T[k] - now) / 1000) + 1000
  redis.call('SET', KEYS[3*k-2], string.format('%.0f', T[k]), 'PX', ttl)
  if not strict[k] then
    if lane ~= 'b' then
      N[k] = math.max(N[k], s) + I[k] * c[k]
      redis.call('SET', KEYS[3*k-1], string.format('%.0f', N[k]), 'PX', math.ceil((N[k] - now) / 1000) + 1000)
    end
    if D[k] > 0 then redis.call('SET', KEYS[3*k], string.format('%.0f', D[k]), 'PX', ttl) else redis.call('DEL', KEYS[3*k]) end
  end
end
return {math.floor(s - now), 1}
)lua";

std::string us(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", v);
    return b;
}
}  // namespace

RateLimiter::RateLimiter(redis::RedisConnection& conn, std::string key_prefix, std::map<std::string, RateLimit> limits)
    : conn_(conn), prefix_(std::move(key_prefix)), limits_(std::move(limits)) {
    std::erase_if(limits_, [](const auto& kv) {
        return kv.second.per_s <= 0 && kv.second.segments_per_s <= 0 && kv.second.recipient_every_s <= 0;
    });
}

void RateLimiter::reserve(const std::string& provider, const std::string& recipient, int segments, Priority priority,
                          bool returning, std::function<void(std::error_code, Slot)> done) {
    auto it = limits_.find(provider);
    if (it == limits_.end()) {
        done({}, {0, true});
        return;
    }
    const RateLimit& l = it->second;
    segments = std::max(1, segments);
    const char* lane = returning ? "r" : priority == Priority::urgent ? "u" : priority == Priority::normal ? "n" : "b";
    std::vector<std::string> args{"EVAL", std::string(kReserve), "0"};
    std::vector<std::string> keys, meters;
    auto meter = [&](const std::string& key, double interval, int burst, int cost, bool strict) {
        for (const char* suffix : {"", ":normal", ":debt"}) keys.push_back(key + suffix);
        meters.push_back(us(interval));
        meters.push_back(us(interval * std::max(0, burst - 1)));
        meters.push_back(std::to_string(cost));
        meters.push_back(strict ? "1" : "0");
    };
    // The messages meter keeps its key from before the segments one existed.
    if (l.per_s > 0) meter(prefix_ + provider, 1e6 / l.per_s, l.burst, l.segments ? segments : 1, false);
    if (l.segments_per_s > 0)
        meter(prefix_ + provider + ":segments", 1e6 / l.segments_per_s, l.segments_burst, segments, false);
    // One recipient's meter, under a digest of the address: no phone number in Redis's keys.
    if (l.recipient_every_s > 0 && !recipient.empty())
        meter(prefix_ + provider + ":to:" + hex_encode(sha256(recipient)).substr(0, 24), l.recipient_every_s * 1e6, 1, 1, true);
    args[2] = std::to_string(keys.size());
    args.insert(args.end(), keys.begin(), keys.end());
    args.push_back(lane);
    args.insert(args.end(), meters.begin(), meters.end());
    std::vector<std::string_view> views(args.begin(), args.end());
    conn_.command(views, [done = std::move(done)](const redisReply* r) {
        if (auto e = redis::error_of(r)) return done(e, {});  // the job waits, pending, as for any Redis trouble
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER)
            return done(errc::redis_error, {});  // not the script's answer
        done({}, {(r->element[0]->integer + 999) / 1000, r->element[1]->integer == 1});
    });
}

}  // namespace crieur
