#include "daemon/http/dead_letter_routes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

#include "channels/http_client.hpp"
#include "daemon/config.hpp"
#include "daemon/redis/redis_client.hpp"
#include "daemon/redis/script.hpp"
#include "daemon/redis/sync_client.hpp"

namespace crieur::http {

namespace {

// Both or neither, and only while the entry is there: a job is never in two streams, nor lost
// between them, nor requeued twice by two agents clicking at once.
const redis::Script kRequeue(R"lua(
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
)lua");

struct DeadLetter {
    std::string entry, job, reason, code, field, daemon, at;
    std::string job_id, service, template_name, priority;
};

DeadLetter read_entry(const redisReply* e) {
    DeadLetter d;
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2) return d;
    d.entry = std::string(redis::text(e->element[0]));
    const redisReply* f = e->element[1];
    for (std::size_t i = 0; f && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        const auto k = redis::text(f->element[i]);
        std::string v(redis::text(f->element[i + 1]));
        if (k == "job") d.job = std::move(v);
        else if (k == "reason") d.reason = std::move(v);
        else if (k == "code") d.code = std::move(v);
        else if (k == "field") d.field = std::move(v);
        else if (k == "daemon") d.daemon = std::move(v);
        else if (k == "at") d.at = std::move(v);
    }
    // What the job says of itself, read leniently: it was dead-lettered for not being a valid job.
    rapidjson::Document job;
    job.Parse(d.job.data(), d.job.size());
    if (!job.HasParseError() && job.IsObject()) {
        auto text = [&](const char* name, std::string& out) {
            auto it = job.FindMember(name);
            if (it != job.MemberEnd() && it->value.IsString()) out = it->value.GetString();
        };
        text("id", d.job_id);
        text("service", d.service);
        text("template", d.template_name);
        text("priority", d.priority);
    }
    return d;
}

bool visible(const keys::Caller& caller, const DeadLetter& d) { return caller.every_service() || d.service == caller.service; }

bool entry_id_ok(std::string_view id) {
    // <ms>-<seq>, as Redis makes them.
    const auto dash = id.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size() || id.size() > 41) return false;
    for (std::size_t i = 0; i < id.size(); ++i)
        if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
    return true;
}

void write_entry(rapidjson::Writer<rapidjson::StringBuffer>& w, const DeadLetter& d) {
    auto text = [&](const char* key, const std::string& v) {
        w.Key(key);
        if (v.empty()) w.Null();
        else w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    text("entry", d.entry);
    text("at", d.at);
    text("job_id", d.job_id);
    text("service", d.service);
    text("template", d.template_name);
    text("priority", d.priority);
    text("code", d.code);
    text("field", d.field);
    text("reason", d.reason);
    text("daemon", d.daemon);
    w.EndObject();
}

}  // namespace

void add_dead_letter_routes(Routes& routes, const RedisConfig& config, redis::RedisConnection& redis) {
    routes.add("GET", "/v1/dead-letters", [&config, &redis](const Request& req, std::string_view, Reply reply) {
        int limit = 50;
        std::string before;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "limit") {
                auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
                if (ec != std::errc{} || end != v.data() + v.size() || limit < 1 || limit > 500)
                    return reply(problem(400, "bad_query", "limit: a number of entries from 1 to 500", k));
            } else if (k == "cursor") {
                if (!entry_id_ok(v)) return reply(problem(400, "bad_cursor", "cursor: not one this API gave", k));
                before = v;
            } else {
                return reply(problem(400, "bad_query", "unknown parameter (limit, cursor)", k));
            }
        }
        // A service sees its own among the others': more are read than shown (10 pages at most a request).
        const int scan = req.caller.every_service() ? limit + 1 : (limit + 1) * 10;
        const std::string from = before.empty() ? std::string("+") : "(" + before;
        const std::string count = std::to_string(scan);
        redis.command({"XREVRANGE", config.dead_stream, from, "-", "COUNT", count},
                      [&config, &redis, caller = req.caller, limit, scan, reply](const redisReply* r) {
            if (!r || r->type != REDIS_REPLY_ARRAY)
                return reply(status_problem(503, "the dead letters could not be read from Redis; try again"));
            rapidjson::StringBuffer b;
            rapidjson::Writer<rapidjson::StringBuffer> w(b);
            w.StartObject();
            w.Key("dead_letters");
            w.StartArray();
            int shown = 0;
            std::string last_seen, next;
            for (std::size_t i = 0; i < r->elements; ++i) {
                DeadLetter d = read_entry(r->element[i]);
                if (shown == limit) {
                    next = last_seen;  // there is more after the last shown
                    break;
                }
                last_seen = d.entry;
                if (!visible(caller, d)) continue;
                write_entry(w, d);
                ++shown;
            }
            // A scan that read all it asked for may have left more: the next page starts where it stopped.
            if (next.empty() && static_cast<int>(r->elements) == scan) next = last_seen;
            w.EndArray();
            w.Key("next_cursor");
            if (next.empty()) w.Null();
            else w.String(next.c_str());
            // Unclosed: the total goes in before the brace.
            std::string page(b.GetString(), b.GetSize());
            redis.command({"XLEN", config.dead_stream}, [caller, reply, page = std::move(page)](const redisReply* len) {
                std::string out = page;
                // The total is the stream's, every service's: only an operator's key is told it.
                if (caller.every_service() && len && len->type == REDIS_REPLY_INTEGER)
                    out += ",\"total\":" + std::to_string(len->integer);
                out += "}";
                reply({200, "application/json", std::move(out), {}});
            });
        });
    }, keys::Scope::read);

    routes.add("POST", "/v1/dead-letters/", [&config, &redis](const Request& req, std::string_view tail, Reply reply) {
        const auto slash = tail.find('/');
        const std::string entry(tail.substr(0, slash));
        const std::string action(slash == std::string_view::npos ? std::string_view() : tail.substr(slash + 1));
        if (!entry_id_ok(entry)) return reply(problem(400, "bad_entry", "not a dead-letter entry id (<ms>-<seq>)"));
        if (action != "requeue" && action != "discard")
            return reply(problem(404, "no_such_route", "POST /v1/dead-letters/{entry}/requeue or /discard"));
        const keys::Scope needed = action == "requeue" ? keys::Scope::send : keys::Scope::cancel;
        if (!req.caller.has(needed))
            return reply(problem(403, "scope_missing", "this key lacks the scope '" + std::string(keys::to_string(needed)) +
                                                            "' that " + action + " needs"));
        if (req.caller.test) return reply(problem(403, "test_key", "a test key changes no dead letter"));
        redis.command({"XRANGE", config.dead_stream, entry, entry},
                      [&config, &redis, caller = req.caller, entry, action, reply](const redisReply* r) {
            if (!r || r->type != REDIS_REPLY_ARRAY) return reply(status_problem(503, "Redis did not answer; try again"));
            if (r->elements == 0) return reply(problem(404, "dead_letter_not_found", "no dead letter " + entry + " (requeued or discarded already?)"));
            DeadLetter d = read_entry(r->element[0]);
            if (!visible(caller, d)) return reply(problem(404, "dead_letter_not_found", "no dead letter " + entry));
            auto answer = [reply, d, action](const redisReply* done) {
                if (!done || done->type == REDIS_REPLY_ERROR) return reply(status_problem(503, "Redis did not answer; try again"));
                if (done->type == REDIS_REPLY_INTEGER && done->integer == 0)
                    return reply(problem(404, "dead_letter_not_found", "no dead letter " + d.entry + " (requeued or discarded already?)"));
                rapidjson::StringBuffer b;
                rapidjson::Writer<rapidjson::StringBuffer> w(b);
                w.StartObject();
                w.Key("entry");
                w.String(d.entry.c_str());
                w.Key("job_id");
                if (d.job_id.empty()) w.Null();
                else w.String(d.job_id.c_str());
                w.Key("done");
                w.String(action == "requeue" ? "requeued" : "discarded");
                w.EndObject();
                reply({200, "application/json", std::string(b.GetString(), b.GetSize()), {}});
            };
            if (action == "discard") return redis.command({"XDEL", config.dead_stream, entry}, answer);
            if (d.job.empty()) return reply(problem(409, "nothing_to_requeue", "entry " + entry + " holds no job to requeue"));
            // Back on the stream it belongs to: an urgent job on the urgent stream.
            const std::string stream = d.priority == "urgent" ? urgent_stream_of(config) : config.stream;
            kRequeue.run(redis, {config.dead_stream, stream}, {entry, d.job}, answer);
        });
    }, keys::Scope::read);
}

}  // namespace crieur::http
