#include "daemon/http/send_routes.hpp"

#include <hiredis/hiredis.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>

#include "channels/encoding.hpp"
#include "daemon/config.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/log.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/script.hpp"
#include "daemon/render/preview_json.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::http {

namespace {
// How long a job id is remembered for its answer: a service retrying a request it lost the
// answer of (a timeout, a restart) within a day gets the first answer, and no second message.
constexpr int kRememberIdsSeconds = 24 * 3600;

// Queues the job once per id. KEYS[1] the id's record, KEYS[2] the stream; ARGV[1] the
// body's SHA-256, ARGV[2] the TTL, ARGV[3] the job. Returns {1, entry id} when queued now, {0,
// entry id} when the same body was queued before, {2, ""} when another body has this id.
const redis::Script kQueueOnce(R"lua(
local seen = redis.call('GET', KEYS[1])
if seen then
  local space = string.find(seen, ' ', 1, true)
  if string.sub(seen, 1, space - 1) == ARGV[1] then return {0, string.sub(seen, space + 1)} end
  return {2, ''}
end
local id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. id, 'EX', tonumber(ARGV[2]))
return {1, id}
)lua");

// What the key fixes, put in the job (or checked against it): its service, and for a test key
// `"test": true`; the body rewritten when it lacked them. nullopt and `refusal` set when the job
// names another service than the key's, or a test key's job says it is no test.
std::optional<std::string> with_service(const std::string& body, const keys::Caller& caller, Response& refusal) {
    if (caller.every_service() && !caller.test) return body;  // an operator names the service in the job
    // The common case, a live key's job without "service": the field is put in front as text,
    // without parsing the job twice (parse_job reads it next). The service name needs no escaping.
    const auto open = body.find_first_not_of(" \t\r\n");
    const auto next = open == std::string::npos ? open : body.find_first_not_of(" \t\r\n", open + 1);
    if (!caller.test && open != std::string::npos && body[open] == '{' && next != std::string::npos && body[next] != '}' &&
        body.find("\"service\"") == std::string::npos &&
        caller.service.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos)
        return "{\"service\":\"" + caller.service + "\"," + body.substr(open + 1);
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject()) return body;  // the contract's own error follows
    bool changed = false;
    if (caller.test) {
        auto t = d.FindMember("test");
        if (t != d.MemberEnd() && !(t->value.IsBool() && t->value.GetBool())) {
            refusal = problem(403, "test_key", "a test key sends test messages only ('test' must be true or left out)", "test");
            return std::nullopt;
        }
        if (t == d.MemberEnd()) {
            d.AddMember("test", true, d.GetAllocator());
            changed = true;
        }
    }
    if (!caller.every_service()) {
        auto it = d.FindMember("service");
        if (it == d.MemberEnd()) {
            d.AddMember("service", rapidjson::Value(caller.service.c_str(), d.GetAllocator()), d.GetAllocator());
            changed = true;
        } else if (!it->value.IsString() || caller.service != it->value.GetString()) {
            refusal = problem(403, "wrong_service", "this key sends for the service '" + caller.service +
                                                        "' only; leave 'service' out or give that one", "service");
            return std::nullopt;
        }
    }
    if (!changed) return body;
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d.Accept(w);
    return std::string(b.GetString(), b.GetSize());
}

Response from_job_error(const JobError& e) {
    return problem(422, code_name(e.code), e.reason, e.field);
}

std::string accepted_json(const Job& job, const std::string& entry, const std::vector<std::string>& channels,
                          const std::string& preview) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto field = [&](const char* key, const std::string& v) {
        w.Key(key);
        w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    field("id", job.id);
    field("service", job.service);
    field("template", job.template_name);
    field("status", "queued");
    field("stream_entry", entry);
    // The channels it may go out on, in the template's order: the router picks among them for the
    // citizen at send time (consent, contacts, fallback).
    w.Key("channels");
    w.StartArray();
    for (auto& c : channels) w.String(c.c_str(), static_cast<rapidjson::SizeType>(c.size()));
    w.EndArray();
    if (!preview.empty()) {
        w.Key("preview");
        w.RawValue(preview.data(), preview.size(), rapidjson::kObjectType);
    }
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}
}  // namespace


namespace {
// A job checked and ready to queue, or the problem that refuses it.
struct Checked {
    Job job;
    std::string body;  // as queued: with the key's service
    std::string stream;
    std::vector<std::string> channels;
    std::string preview;
};

std::variant<Checked, Response> check(const std::string& text, const keys::Caller& caller, const Config& config,
                                      const render::TemplateStore& store, bool want_preview) {
    Response refusal;
    auto body = with_service(text, caller, refusal);
    if (!body) return refusal;
    auto parsed = parse_job(*body, config.intake.max_job_bytes);
    if (auto* e = std::get_if<JobError>(&parsed)) return from_job_error(*e);
    Checked c{std::move(std::get<Job>(parsed)), std::move(*body), {}, {}, {}};
    // A journey's messages are queued by crieur's journeys: a service's job naming one would move
    // that journey with its receipts.
    if (!c.job.journey.empty())
        return problem(422, "job_bad_value", "field 'journey' is set by crieur's journeys, not in a job sent (POST /v1/journeys starts one)", "journey");
    // Its template and data checked now, as the intake would: a job that would be refused is
    // answered here, not dead-lettered later.
    auto prepared = prepare(c.job, store, config.intake.default_channel);
    if (auto* e = std::get_if<JobError>(&prepared)) return from_job_error(*e);
    if (want_preview) c.preview = render::preview_json(std::get<Message>(prepared).content);
    c.stream = c.job.priority == Priority::urgent ? urgent_stream_of(config.redis) : config.redis.stream;
    c.channels = store.channels(c.job.template_name);
    return c;
}

// What queueing said: queued now or before (the entry), the id taken by another body, or Redis away.
enum class Queued { now, before, id_reused, unavailable };

void queue_once(redis::RedisConnection& redis, const Config& config, const Checked& c,
                std::function<void(Queued, std::string entry)> done) {
    // By id alone, not by service: the receipts know a job id once, whoever sent it, so another
    // service's job with a used id would never go out; it is told (409) rather than dropped.
    const std::string key = config.redis.stream + ":api-ids:" + c.job.id;
    const std::string hash = hex_encode(sha256(c.body)), ttl = std::to_string(kRememberIdsSeconds);
    kQueueOnce.run(redis, {key, c.stream}, {hash, ttl, c.body}, [done = std::move(done), id = c.job.id](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            spdlog::warn("api: job {} not queued: Redis {}", id,
                         r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unreachable");
            return done(Queued::unavailable, {});
        }
        const long long verdict = r->element[0]->integer;
        if (verdict == 2) return done(Queued::id_reused, {});
        done(verdict == 1 ? Queued::now : Queued::before, std::string(r->element[1]->str, r->element[1]->len));
    });
}

Response unqueued(Queued q, const std::string& id) {
    if (q == Queued::id_reused)
        return problem(409, "id_reused", "job id '" + id + "' was sent before with another body (ids are unique across services)", "id");
    return problem(503, "queue_unavailable", "the queue (Redis) is unreachable; try again");
}

constexpr std::size_t kBatchMaxJobs = 10'000;
constexpr std::uint64_t kBatchMaxBytes = 16 * 1024 * 1024;

// One batch in flight: each line's answer, filled as Redis answers, sent when the last comes.
struct Batch {
    std::vector<std::string> answers;
    std::size_t waiting = 0;
    Reply reply;
    void answered() {
        if (--waiting > 0) return;
        std::string body;
        for (auto& a : answers) body.append(a).append("\n");
        reply({200, "application/x-ndjson", std::move(body), {}});
    }
};

std::string line_answer(std::size_t line, const std::string& id, int status, const std::string& entry,
                        const std::string& problem_json) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartObject();
    w.Key("line");
    w.Uint64(line);
    if (!id.empty()) {
        w.Key("id");
        w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
    }
    w.Key("status");
    w.Int(status);
    if (!entry.empty()) {
        w.Key("stream_entry");
        w.String(entry.c_str(), static_cast<rapidjson::SizeType>(entry.size()));
    }
    if (!problem_json.empty()) {
        w.Key("problem");
        w.RawValue(problem_json.data(), problem_json.size(), rapidjson::kObjectType);
    }
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

// The id a refused line had, when it can be read: the service matches its answer to its job.
std::string id_in(const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (!d.IsObject()) return {};
    auto it = d.FindMember("id");
    return it != d.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString()) : std::string();
}
}  // namespace

void add_send_routes(Routes& routes, const Config& config, redis::RedisConnection& redis, CurrentTemplates templates) {
    routes.add("POST", "/v1/messages", [&config, &redis, templates](const Request& req, std::string_view, Reply reply) {
        auto checked = check(req.body, req.caller, config, *templates(), req.query.find("preview=1") != std::string::npos);
        if (auto* refused = std::get_if<Response>(&checked)) return reply(std::move(*refused));
        auto c = std::make_shared<Checked>(std::move(std::get<Checked>(checked)));
        queue_once(redis, config, *c, [c, reply](Queued q, std::string entry) {
            if (q == Queued::id_reused || q == Queued::unavailable) return reply(unqueued(q, c->job.id));
            Response ok{202, "application/json", accepted_json(c->job, entry, c->channels, c->preview), {}};
            ok.headers.emplace_back("Location", "/v1/messages/" + c->job.id);
            reply(std::move(ok));
        });
    }, keys::Scope::send);

    // Up to kBatchMaxJobs jobs as JSON lines; each line answered in order, the good ones queued
    // whatever the others do (nothing is half-written: a line is queued whole or not at all).
    routes.set_body_limit("/v1/messages/batch", kBatchMaxBytes);
    routes.add("POST", "/v1/messages/batch", [&config, &redis, templates](const Request& req, std::string_view, Reply reply) {
        std::vector<std::pair<std::size_t, std::string>> lines;
        std::size_t n = 0, from = 0;
        const std::string& body = req.body;
        while (from <= body.size()) {
            auto end = body.find('\n', from);
            if (end == std::string::npos) end = body.size();
            ++n;
            std::string line = body.substr(from, end - from);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") != std::string::npos) lines.emplace_back(n, std::move(line));
            from = end + 1;
        }
        if (lines.empty()) return reply(problem(422, "batch_empty", "the body holds no job (one JSON job per line)"));
        if (lines.size() > kBatchMaxJobs)
            return reply(problem(413, "batch_too_large", "a batch holds at most " + std::to_string(kBatchMaxJobs) + " jobs; this one has " +
                                                             std::to_string(lines.size())));
        auto batch = std::make_shared<Batch>();
        batch->answers.resize(lines.size());
        batch->waiting = lines.size() + 1;  // +1: released once every line is on its way
        batch->reply = std::move(reply);
        const auto store = templates();
        for (std::size_t i = 0; i < lines.size(); ++i) {
            auto& [number, text] = lines[i];
            auto checked = check(text, req.caller, config, *store, false);
            if (auto* refused = std::get_if<Response>(&checked)) {
                batch->answers[i] = line_answer(number, id_in(text), refused->status, {}, refused->body);
                batch->answered();
                continue;
            }
            auto c = std::make_shared<Checked>(std::move(std::get<Checked>(checked)));
            queue_once(redis, config, *c, [batch, i, number = number, c](Queued q, std::string entry) {
                if (q == Queued::id_reused || q == Queued::unavailable)
                    batch->answers[i] = line_answer(number, c->job.id, q == Queued::id_reused ? 409 : 503, {}, unqueued(q, c->job.id).body);
                else
                    batch->answers[i] = line_answer(number, c->job.id, 202, entry, {});
                batch->answered();
            });
        }
        batch->answered();
    }, keys::Scope::send);
}

}  // namespace crieur::http
