#include "daemon/intake.hpp"

#include <memory>

#include "daemon/log.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur {

Intake::Intake(const Config& config, const std::string& stream, std::string consumer, redis::RedisConnection& reads,
               redis::RedisConnection& commands, ReceiptStore& store, Metrics& metrics, const Clock& clock,
               Process process)
    : redis_(config.redis), limits_(config.intake), consumer_(std::move(consumer)),
      reads_(reads, stream, config.redis.group), commands_(commands, stream, config.redis.group),
      commands_conn_(commands), store_(store), metrics_(metrics), clock_(clock), process_(std::move(process)) {
    redis_.stream = stream;
    starts_key_ = stream + ":starts";
}

void Intake::sync_inflight() {
    const auto now = static_cast<std::int64_t>(in_flight_.size());
    metrics_.inflight += now - inflight_reported_;
    inflight_reported_ = now;
}

void Intake::update_limits(const Config& config) {
    limits_.max_inflight = config.intake.max_inflight;
    limits_.max_job_bytes = config.intake.max_job_bytes;
    redis_.batch = config.redis.batch;
    redis_.block_ms = config.redis.block_ms;
    redis_.claim_after_ms = config.redis.claim_after_ms;
    redis_.max_deliveries = config.redis.max_deliveries;
}

void Intake::resume() {
    if (stopped_) return;
    group_ready_ = false;
    reads_.ensure_group([this](redis::Status s) {
        if (!s.ok()) {
            // Disconnected: the connection's own log says so, and resume() runs again when it is back.
            if (s.code != errc::redis_disconnected)
                spdlog::error("intake: cannot create consumer group {} on {}: {}", redis_.group, redis_.stream, s.what());
            return;  // the claim tick calls resume() again
        }
        group_ready_ = true;
        prune_consumers();
        pending_cursor_ = "0";  // first our own pending entries, left by an earlier run of this consumer
        read_more();
    });
}

namespace {
// Removes the group's consumers that hold nothing and have been idle for long: those of daemons
// gone (a restarted daemon has a new name). Nothing pending, so nothing is lost; a live daemon
// removed by mistake is made again at its next read.
constexpr const char* kPrune = R"lua(
local gone = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['pending'] == 0 and f['idle'] > tonumber(ARGV[2]) and f['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    gone = gone + 1
  end
end
return gone
)lua";
}  // namespace

void Intake::prune_consumers() {
    if (redis_.prune_consumers_after_s <= 0 || pruned_) return;
    pruned_ = true;  // once per start
    const std::string idle_ms = std::to_string(static_cast<long long>(redis_.prune_consumers_after_s) * 1000);
    commands_conn_.command({"EVAL", kPrune, "1", redis_.stream, redis_.group, idle_ms, consumer_},
                           [this](const redisReply* r) {
                               if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
                                   spdlog::info("intake: removed {} consumers of {} on {} that held nothing and were idle "
                                                "for more than {} s", r->integer, redis_.group, redis_.stream,
                                                redis_.prune_consumers_after_s);
                               else if (r && r->type == REDIS_REPLY_ERROR)
                                   spdlog::warn("intake: could not prune idle consumers: {}", std::string(r->str, r->len));
                           });
}

void Intake::stop_reading() { stopped_ = true; }

void Intake::read_more() {
    if (stopped_ || reading_ || !group_ready_) return;
    const int room = limits_.max_inflight - static_cast<int>(in_flight_.size());
    if (room <= 0) return;  // finished() calls us again
    const int count = std::min(redis_.batch, room);
    reading_ = true;
    const bool own_pending = !pending_cursor_.empty();
    reads_.read(consumer_, count, own_pending ? 0 : redis_.block_ms, own_pending ? pending_cursor_.c_str() : ">",
                [this, own_pending](redis::Status s, std::vector<StreamEntry> entries) {
                    reading_ = false;
                    if (!s.ok()) {
                        group_ready_ = false;
                        if (s.code != errc::redis_disconnected)
                            spdlog::error("intake: XREADGROUP failed: {}; recreating the group", s.what());
                        return;  // resume() runs when the connection is back, or from the claim tick
                    }
                    if (own_pending) {
                        if (entries.empty()) pending_cursor_.clear();
                        else pending_cursor_ = entries.back().entry_id;
                        recover(std::move(entries));
                    } else {
                        for (auto& e : entries) handle(std::move(e));
                    }
                    read_more();
                });
}

namespace {
// Makes entries idle again (XCLAIM ... JUSTID, which counts no delivery), only those still pending
// for this consumer: one a peer took meanwhile stays the peer's.
constexpr const char* kTouch = R"lua(
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle (ms), ARGV[4...] the entries to touch. One
-- XPENDING of this consumer's idle entries, then XCLAIM by chunks: not one call per entry.
local ours = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', 100000, ARGV[2])) do
  ours[p[1]] = true
end
local n, chunk = 0, {}
local function flush()
  if #chunk == 0 then return end
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(chunk))
  chunk = {}
end
for i = 4, #ARGV do
  if ours[ARGV[i]] then
    chunk[#chunk + 1] = ARGV[i]
    n = n + 1
    if #chunk == 500 then chunk[#chunk + 1] = 'JUSTID'; flush() end
  end
end
if #chunk > 0 then chunk[#chunk + 1] = 'JUSTID'; flush() end
return n
)lua";
}  // namespace

void Intake::touch_waiting() {
    const auto now = clock_.now();
    // Entries held for a third of claim_after_ms (waiting for the send gate, a slow provider, a
    // rate-limit slot) are made idle again, so that no peer mistakes a live job for a crash.
    // Looked for every sixth of it, whatever claim_interval_ms is.
    if (touching_ || !commands_conn_.connected() || now - last_touch_ < std::chrono::milliseconds(redis_.claim_after_ms / 6))
        return;
    last_touch_ = now;
    const auto old = now - std::chrono::milliseconds(redis_.claim_after_ms / 3);
    // Redis's idle time of those may lag ours by a few ms: ask for half the age.
    std::vector<std::string> args{"EVAL", kTouch, "1", redis_.stream, redis_.group, consumer_,
                                  std::to_string(redis_.claim_after_ms / 6)};
    for (auto& [id, since] : in_flight_)
        if (since <= old) {
            args.push_back(id);
            since = now;
        }
    if (args.size() == 7) return;
    std::vector<std::string_view> views(args.begin(), args.end());
    touching_ = true;
    auto held = std::make_shared<std::vector<std::string>>(std::move(args));  // the views point into it
    commands_conn_.command(views, [this, held](const redisReply* r) {
        touching_ = false;
        if (r && r->type == REDIS_REPLY_INTEGER) metrics_.entries_touched += static_cast<std::uint64_t>(r->integer);
        else spdlog::warn("intake: could not keep {} waiting entries from being claimed: {}", held->size() - 7,
                          r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : std::string("no answer"));
    });
}

void Intake::claim_stale() {
    if (stopped_) return;
    if (!group_ready_ && !reading_ && commands_conn_.connected()) resume();
    if (claiming_ || !commands_conn_.connected()) return;
    const int room = limits_.max_inflight - static_cast<int>(in_flight_.size());
    if (room <= 0) return;
    claiming_ = true;
    commands_.autoclaim(consumer_, redis_.claim_after_ms, claim_cursor_, std::min(redis_.batch, room),
                        [this](redis::ClaimResult r) {
                            claiming_ = false;
                            if (!r.status.ok()) {
                                if (r.status.code != errc::redis_disconnected)
                                    spdlog::warn("intake: XAUTOCLAIM failed: {}", r.status.what());
                                return;
                            }
                            claim_cursor_ = r.next_cursor.empty() ? "0-0" : r.next_cursor;
                            if (!r.deleted.empty())
                                spdlog::warn("intake: {} pending entries had been deleted from {}", r.deleted.size(),
                                             redis_.stream);
                            if (r.entries.empty()) return;
                            metrics_.jobs_claimed += r.entries.size();
                            spdlog::info("intake: took over {} entries idle for more than {} ms", r.entries.size(),
                                         redis_.claim_after_ms);
                            recover(std::move(r.entries));
                            // More may be waiting: go on at once rather than at the next tick.
                            if (claim_cursor_ != "0-0") claim_stale();
                        });
}

void Intake::recover(std::vector<StreamEntry> entries) {
    for (auto& entry : entries) {
        if (in_flight_.count(entry.entry_id)) continue;  // ours, still being worked on
        if (entry.deleted) {
            ack(entry.entry_id);
            forget(entry.entry_id);
            continue;
        }
        // Reserve the id now, so a second read of it while XPENDING is out does not hand it out twice.
        in_flight_.emplace(entry.entry_id, clock_.now());
        sync_inflight();
        auto shared = std::make_shared<StreamEntry>(std::move(entry));
        commands_.pending(consumer_, shared->entry_id, shared->entry_id, 1,
                          [this, shared](redis::Status s, std::vector<redis::PendingInfo> info) {
                              if (!s.ok() || info.empty()) {
                                  // Lost the connection, or another consumer took it meanwhile: not ours now.
                                  in_flight_.erase(shared->entry_id);
                                  sync_inflight();
                                  read_more();
                                  return;
                              }
                              count_start(shared);
                          });
    }
}

// One more interruption of this entry's work; past redis.max_deliveries it is a poison job.
void Intake::count_start(std::shared_ptr<StreamEntry> shared) {
    commands_conn_.command({"HINCRBY", starts_key_, shared->entry_id, "1"}, [this, shared](const redisReply* r) {
        in_flight_.erase(shared->entry_id);
        if (!r || r->type != REDIS_REPLY_INTEGER) {  // Redis went away: it comes back pending
            sync_inflight();
            read_more();
            return;
        }
        if (r->integer >= redis_.max_deliveries) {
            in_flight_.emplace(shared->entry_id, clock_.now());
            recovered_.insert(shared->entry_id);
            metrics_.jobs_read++;
            JobError e{errc::poison_job, "",
                       "poison job: its work was interrupted " + std::to_string(r->integer) +
                           " times (redis.max_deliveries = " + std::to_string(redis_.max_deliveries) + ")",
                       {}};
            if (shared->has_job) {
                // Keep the id for the receipt when the job can be read at all.
                auto parsed = parse_job(shared->job_json, SIZE_MAX);
                if (auto* job = std::get_if<Job>(&parsed)) e.id = job->id;
                else e.id = std::get<JobError>(parsed).id;
            }
            dead_letter(*shared, e, true);
            return;
        }
        recovered_.insert(shared->entry_id);
        shared->redelivered = true;
        handle(std::move(*shared));
    });
}

void Intake::handle(StreamEntry entry) {
    if (in_flight_.count(entry.entry_id)) return;
    if (entry.deleted) {
        ack(entry.entry_id);
        return;
    }
    in_flight_.emplace(entry.entry_id, clock_.now());
    metrics_.jobs_read++;
    sync_inflight();
    if (!entry.has_job) {
        dead_letter(entry, {errc::job_no_job_field, "job", "the stream entry has no 'job' field", {}});
        return;
    }
    auto parsed = parse_job(entry.job_json, limits_.max_job_bytes);
    if (auto* error = std::get_if<JobError>(&parsed)) {
        dead_letter(entry, *error);
        return;
    }
    auto resume = decode_resume(entry.resume);
    if (auto* why = std::get_if<std::string>(&resume)) {
        metrics_.resume_malformed++;
        dead_letter(entry, {errc::job_bad_resume, "resume", "the stream entry's 'resume' field is malformed: " + *why,
                            std::get<Job>(parsed).id, std::get<Job>(parsed).service});
        return;
    }
    if (auto rejection = process_(std::move(std::get<Job>(parsed)), std::move(std::get<Resume>(resume)), entry,
                                  [this, id = entry.entry_id](Disposition d) { finished(id, d); }))
        dead_letter(entry, *rejection);
}

void Intake::dead_letter(const StreamEntry& entry, const JobError& error, bool interrupted) {
    spdlog::warn("intake: entry {} ({}) goes to {}: {}", entry.entry_id, error.id.empty() ? "no id" : error.id,
                 redis_.dead_stream, error.reason);
    std::vector<std::pair<std::string, std::string>> fields{
        {"entry", entry.entry_id},
        {"job", entry.job_json},
        {"reason", error.reason},
        {"code", code_name(error.code)},
        {"field", error.field},
        {"daemon", consumer_},
        {"at", format_rfc3339(clock_.now())},
    };
    commands_.add(redis_.dead_stream, fields,
                  [this, id = entry.entry_id, job_id = error.id, service = error.service, reason = error.reason,
                   interrupted](redis::Status s) {
                      if (!s.ok()) {
                          spdlog::warn("intake: could not dead-letter {}: {}; it stays pending", id, s.what());
                          finished(id, Disposition::keep);
                          return;
                      }
                      metrics_.jobs_dead_lettered++;
                      store_.record_unsent({id, job_id, service, {}, Status::rejected, reason, {}, interrupted}, [this, id](std::error_code e) {
                          finished(id, e ? Disposition::keep : Disposition::ack);
                      });
                  });
}

void Intake::finished(const std::string& entry_id, Disposition d) {
    in_flight_.erase(entry_id);
    if (recovered_.erase(entry_id)) forget(entry_id);
    sync_inflight();
    if (d == Disposition::ack) ack(entry_id);
    read_more();
}

void Intake::ack(const std::string& entry_id) {
    acks_.push_back(entry_id);
    // While an XACK is out, acknowledgements gather and leave together when it returns.
    if (acks_outstanding_ == 0) flush_acks();
}

void Intake::forget(const std::string& entry_id) {
    forgets_.push_back(entry_id);
    flush_forgets();
}

void Intake::flush_forgets() {
    if (forgets_.empty() || forgets_outstanding_ || !commands_conn_.connected()) return;
    auto ids = std::make_shared<std::vector<std::string>>(std::move(forgets_));
    forgets_.clear();
    std::vector<std::string_view> args{"HDEL", starts_key_};
    for (auto& id : *ids) args.emplace_back(id);
    forgets_outstanding_ = true;
    commands_conn_.command(args, [this, ids](const redisReply* r) {
        forgets_outstanding_ = false;
        if (!r || r->type == REDIS_REPLY_ERROR) {
            // At reconnection (flush_acks). Meanwhile a crash would count one interruption more.
            forgets_.insert(forgets_.end(), ids->begin(), ids->end());
            return;
        }
        flush_forgets();
    });
}

void Intake::flush_acks() {
    flush_forgets();
    if (acks_.empty() || acks_outstanding_ > 0 || !commands_conn_.connected()) return;
    auto ids = std::make_shared<std::vector<std::string>>(std::move(acks_));
    acks_.clear();
    ++acks_outstanding_;
    commands_.ack(*ids, [this, ids](redis::Status s) {
        --acks_outstanding_;
        if (s.ok()) {
            metrics_.jobs_acked += ids->size();
        } else {
            // Try again once the connection is back; until then the entries stay pending, which is safe.
            acks_.insert(acks_.end(), ids->begin(), ids->end());
            if (s.code != errc::redis_disconnected) spdlog::error("intake: XACK failed: {}", s.what());
            return;
        }
        flush_acks();
    });
}

void Intake::refresh_lag() {
    if (!commands_conn_.connected()) return;
    const std::string group = redis_.group;
    commands_conn_.command({"XINFO", "GROUPS", redis_.stream}, [this, group](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_ARRAY) return;
        for (std::size_t g = 0; g < r->elements; ++g) {
            const redisReply* m = r->element[g];
            if (m->type != REDIS_REPLY_ARRAY) continue;
            bool ours = false;
            long long pending = -1, lag = -1;
            for (std::size_t i = 0; i + 1 < m->elements; i += 2) {
                std::string_view key(m->element[i]->str, m->element[i]->len);
                const redisReply* v = m->element[i + 1];
                if (key == "name" && v->type == REDIS_REPLY_STRING) ours = std::string_view(v->str, v->len) == group;
                else if (key == "pending" && v->type == REDIS_REPLY_INTEGER) pending = v->integer;
                else if (key == "lag" && v->type == REDIS_REPLY_INTEGER) lag = v->integer;
            }
            if (ours) {
                metrics_.pending_entries = pending;
                metrics_.queue_lag = lag;
            }
        }
    });
}

}  // namespace crieur
