#include "daemon/redis/redis_client.hpp"

#include <string_view>

namespace crieur::redis {

namespace {
std::string_view str(const redisReply* r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
               ? std::string_view(r->str, r->len)
               : std::string_view{};
}
}  // namespace

std::error_code error_of(const redisReply* reply) {
    if (!reply) return errc::redis_disconnected;
    if (reply->type == REDIS_REPLY_ERROR) return errc::redis_error;
    return {};
}

Status to_status(const redisReply* reply) {
    auto code = error_of(reply);
    return {code, code == errc::redis_error ? std::string(str(reply)) : std::string()};
}

std::vector<StreamEntry> parse_entries(const redisReply* array) {
    std::vector<StreamEntry> out;
    if (!array || array->type != REDIS_REPLY_ARRAY) return out;
    out.reserve(array->elements);
    for (std::size_t i = 0; i < array->elements; ++i) {
        const redisReply* e = array->element[i];
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
        StreamEntry entry;
        entry.entry_id = str(e->element[0]);
        const redisReply* fields = e->element[1];
        // A pending entry that was deleted from the stream comes back with nil fields.
        if (fields && fields->type == REDIS_REPLY_ARRAY) {
            std::string_view legacy_escalate;
            bool legacy_escalation = false, legacy_fallback = false;
            for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
                const auto name = str(fields->element[f]);
                if (name == "job") {
                    entry.job_json = str(fields->element[f + 1]);
                    entry.has_job = true;
                } else if (name == "from") {
                    entry.from_schedule = str(fields->element[f + 1]) == "schedule";
                } else if (name == "resume") {
                    entry.resume = str(fields->element[f + 1]);
                } else if (name == "escalate") {
                    // The fields an earlier version's schedule wrote (escalate, fallback, slot,
                    // sendtime), read as the one `resume` field: entries queued before an upgrade.
                    legacy_escalate = str(fields->element[f + 1]);
                    legacy_escalation = true;
                } else if (name == "fallback") {
                    legacy_fallback = true;
                } else if (name == "slot") {
                    entry.resume = "slot:" + std::string(str(fields->element[f + 1]));
                } else if (name == "sendtime") {
                    entry.resume = "send_time";
                }
            }
            if (legacy_escalation)
                entry.resume = (legacy_fallback ? "fallback:" : "escalation:") +
                               (legacy_escalate == "-" ? std::string() : std::string(legacy_escalate));
        } else {
            entry.deleted = true;
        }
        out.push_back(std::move(entry));
    }
    return out;
}

std::vector<StreamEntry> parse_xreadgroup(const redisReply* reply) {
    // [[stream, [[id, [f, v, ...]], ...]]] or nil on timeout
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return {};
    const redisReply* s = reply->element[0];
    if (!s || s->type != REDIS_REPLY_ARRAY || s->elements < 2) return {};
    return parse_entries(s->element[1]);
}

void StreamClient::ensure_group(std::function<void(Status)> done) {
    conn_.command({"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"}, [done](const redisReply* r) {
        auto s = to_status(r);
        if (s.code == errc::redis_error && s.detail.starts_with("BUSYGROUP")) s = {};  // the group exists
        done(s);
    });
}

void StreamClient::read(const std::string& consumer, int count, int block_ms, const char* from,
                        std::function<void(Status, std::vector<StreamEntry>)> done) {
    const std::string n = std::to_string(count), block = std::to_string(block_ms);
    auto cb = [done = std::move(done)](const redisReply* r) {
        auto s = to_status(r);
        done(s, s.ok() ? parse_xreadgroup(r) : std::vector<StreamEntry>{});
    };
    if (block_ms > 0)
        conn_.command({"XREADGROUP", "GROUP", group_, consumer, "COUNT", n, "BLOCK", block, "STREAMS", stream_, from},
                      std::move(cb));
    else
        conn_.command({"XREADGROUP", "GROUP", group_, consumer, "COUNT", n, "STREAMS", stream_, from}, std::move(cb));
}

void StreamClient::autoclaim(const std::string& consumer, long long min_idle_ms, const std::string& cursor, int count,
                             std::function<void(ClaimResult)> done) {
    conn_.command({"XAUTOCLAIM", stream_, group_, consumer, std::to_string(min_idle_ms), cursor, "COUNT",
                   std::to_string(count)},
                  [done = std::move(done)](const redisReply* r) {
                      ClaimResult out;
                      out.status = to_status(r);
                      if (out.status.ok() && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
                          out.next_cursor = str(r->element[0]);
                          out.entries = parse_entries(r->element[1]);
                          if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
                              for (std::size_t i = 0; i < r->element[2]->elements; ++i)
                                  out.deleted.emplace_back(str(r->element[2]->element[i]));
                      }
                      done(std::move(out));
                  });
}

void StreamClient::pending(const std::string& consumer, const std::string& first, const std::string& last, int count,
                           std::function<void(Status, std::vector<PendingInfo>)> done) {
    conn_.command({"XPENDING", stream_, group_, first, last, std::to_string(count), consumer},
                  [done = std::move(done)](const redisReply* r) {
                      auto s = to_status(r);
                      std::vector<PendingInfo> out;
                      if (s.ok() && r->type == REDIS_REPLY_ARRAY)
                          for (std::size_t i = 0; i < r->elements; ++i) {
                              const redisReply* e = r->element[i];
                              if (e->type != REDIS_REPLY_ARRAY || e->elements < 4) continue;
                              out.push_back({std::string(str(e->element[0])), std::string(str(e->element[1])),
                                             e->element[2]->integer, e->element[3]->integer});
                          }
                      done(s, std::move(out));
                  });
}

void StreamClient::ack(const std::vector<std::string>& ids, std::function<void(Status)> done) {
    std::vector<std::string_view> args;
    args.reserve(ids.size() + 3);
    args.insert(args.end(), {"XACK", stream_, group_});
    for (auto& id : ids) args.emplace_back(id);
    conn_.command(args, [done = std::move(done)](const redisReply* r) { done(to_status(r)); });
}

void StreamClient::add(const std::string& stream, const std::vector<std::pair<std::string, std::string>>& fields,
                       std::function<void(Status)> done) {
    std::vector<std::string_view> args{"XADD", stream, "*"};
    for (auto& [k, v] : fields) {
        args.emplace_back(k);
        args.emplace_back(v);
    }
    conn_.command(args, [done = std::move(done)](const redisReply* r) { done(to_status(r)); });
}

long long parse_group_lag(const redisReply* r, std::string_view group) {
    long long lag = -1;
    if (!r || r->type != REDIS_REPLY_ARRAY) return lag;
    for (std::size_t g = 0; g < r->elements; ++g) {
        const redisReply* m = r->element[g];
        if (m->type != REDIS_REPLY_ARRAY) continue;
        bool ours = false;
        long long l = -1;
        for (std::size_t i = 0; i + 1 < m->elements; i += 2) {
            const std::string_view key(m->element[i]->str, m->element[i]->len);
            const redisReply* v = m->element[i + 1];
            if (key == "name" && v->type == REDIS_REPLY_STRING) ours = std::string_view(v->str, v->len) == group;
            else if (key == "lag" && v->type == REDIS_REPLY_INTEGER) l = v->integer;
        }
        if (ours) lag = l;
    }
    return lag;
}

void group_lag(RedisConnection& conn, const std::string& stream, const std::string& group,
               std::function<void(long long lag)> done) {
    conn.command({"XINFO", "GROUPS", stream}, [group, done = std::move(done)](const redisReply* r) {
        done(parse_group_lag(r, group));
    });
}

}  // namespace crieur::redis
