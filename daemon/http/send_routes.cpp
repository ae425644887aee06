#include "daemon/http/send_routes.hpp"

#include <hiredis/hiredis.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "channels/encoding.hpp"
#include "daemon/config.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/log.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/render/preview_json.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::http {

namespace {
// How long a job id is remembered for its answer: a service retrying a request it lost the
// answer of (a timeout, a restart) within a day gets the first answer, and no second message.
constexpr int kRememberIdsSeconds = 24 * 3600;

// Queues the job once per service and id. KEYS[1] the id's record, KEYS[2] the stream; ARGV[1] the
// body's SHA-256, ARGV[2] the TTL, ARGV[3] the job. Returns {1, entry id} when queued now, {0,
// entry id} when the same body was queued before, {2, ""} when another body has this id.
constexpr const char* kQueueOnce = R"lua(
local seen = redis.call('GET', KEYS[1])
if seen then
  local space = string.find(seen, ' ', 1, true)
  if string.sub(seen, 1, space - 1) == ARGV[1] then return {0, string.sub(seen, space + 1)} end
  return {2, ''}
end
local id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. id, 'EX', tonumber(ARGV[2]))
return {1, id}
)lua";

// The service a key fixes, put in the job (or checked against it); the body rewritten when it
// had none. nullopt and `refusal` set when the job names another service than the key's.
std::optional<std::string> with_service(const std::string& body, const keys::Caller& caller, Response& refusal) {
    if (caller.every_service()) return body;  // an operator names the service in the job
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject()) return body;  // the contract's own error follows
    auto it = d.FindMember("service");
    if (it != d.MemberEnd()) {
        if (it->value.IsString() && caller.service == it->value.GetString()) return body;
        refusal = problem(403, "wrong_service", "this key sends for the service '" + caller.service +
                                                    "' only; leave 'service' out or give that one", "service");
        return std::nullopt;
    }
    d.AddMember("service", rapidjson::Value(caller.service.c_str(), d.GetAllocator()), d.GetAllocator());
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

Response problem(int status, std::string_view code, std::string_view detail, std::string_view field) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto text = [&](const char* key, std::string_view v) {
        w.Key(key);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    text("type", "urn:crieur:problem:" + std::string(code));
    text("title", code);
    w.Key("status");
    w.Int(status);
    text("detail", detail);
    if (!field.empty()) text("field", field);
    w.EndObject();
    return {status, "application/problem+json", std::string(b.GetString(), b.GetSize()), {}};
}

void add_send_routes(Routes& routes, const Config& config, redis::RedisConnection& redis, CurrentTemplates templates) {
    routes.add("POST", "/v1/messages", [&config, &redis, templates = std::move(templates)](
                                            const Request& req, std::string_view, Reply reply) {
        const keys::Caller& caller = req.caller;
        if (caller.test)
            return reply(problem(403, "test_key_cannot_send",
                                 "test keys cannot send yet: routing their messages to the outbox is not built (issue 13)"));
        Response refusal;
        auto body = with_service(req.body, caller, refusal);
        if (!body) return reply(std::move(refusal));
        auto parsed = parse_job(*body, config.intake.max_job_bytes);
        if (auto* e = std::get_if<JobError>(&parsed)) return reply(from_job_error(*e));
        const Job& job = std::get<Job>(parsed);
        // Its template and data checked now, as the intake would: a job that would be refused is
        // answered here, not dead-lettered later.
        const auto store = templates();
        auto prepared = prepare(job, *store, config.intake.default_channel);
        if (auto* e = std::get_if<JobError>(&prepared)) return reply(from_job_error(*e));
        std::string preview;
        if (req.query.find("preview=1") != std::string::npos)
            preview = render::preview_json(std::get<Message>(prepared).content);
        const std::string stream = job.priority == Priority::urgent ? urgent_stream_of(config.redis) : config.redis.stream;
        const std::string key = config.redis.stream + ":api-ids:" + job.service + ":" + job.id;
        const std::string hash = hex_encode(sha256(*body));
        redis.command({"EVAL", kQueueOnce, "2", key, stream, hash, std::to_string(kRememberIdsSeconds), *body},
                      [reply, job, channels = store->channels(job.template_name), preview](const redisReply* r) {
                          if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                              spdlog::warn("api: job {} not queued: Redis {}", job.id,
                                           r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unreachable");
                              return reply(problem(503, "queue_unavailable", "the queue (Redis) is unreachable; try again"));
                          }
                          const long long verdict = r->element[0]->integer;
                          if (verdict == 2)
                              return reply(problem(409, "id_reused",
                                                   "job id '" + job.id + "' was sent before with another body", "id"));
                          const std::string entry(r->element[1]->str, r->element[1]->len);
                          Response ok{202, "application/json", accepted_json(job, entry, channels, preview), {}};
                          ok.headers.emplace_back("Location", "/v1/messages/" + job.id);
                          reply(std::move(ok));
                      });
    }, keys::Scope::send);
}

}  // namespace crieur::http
