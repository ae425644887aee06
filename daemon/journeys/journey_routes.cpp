#include "daemon/journeys/journey_routes.hpp"

#include <hiredis/hiredis.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

#include "channels/encoding.hpp"
#include "channels/http_client.hpp"
#include "daemon/campaigns/campaign.hpp"
#include "daemon/cluster/peers.hpp"
#include "daemon/http/message_routes.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/script.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::journeys {

namespace {
using http::problem;
using http::Reply;
using http::Request;
using http::Response;

constexpr std::size_t kMaxDataBytes = 16 * 1024;  // every message of the journey carries it

Response bad(std::string field, std::string detail) { return problem(422, "bad_journey", field + ": " + detail, field); }

Response answer_of(const JourneyRunner::Answer& a, int ok_status, const std::string& id) {
    using O = JourneyRunner::Outcome;
    switch (a.outcome) {
    case O::done:
    case O::ignored: {
        // An event or an action that moved nothing is still an answer: the journey as it is, and why.
        std::string body = a.json;
        if (!a.detail.empty() && body.size() > 1 && body.back() == '}') {
            rapidjson::StringBuffer b;
            rapidjson::Writer<rapidjson::StringBuffer> w(b);
            w.String(a.detail.c_str());
            body.pop_back();
            body += ",\"note\":" + std::string(b.GetString(), b.GetSize()) + "}";
        }
        Response r{ok_status, "application/json", std::move(body), {}};
        if (ok_status == 201) r.headers.emplace_back("Location", "/v1/journeys/" + id);
        return r;
    }
    case O::same: return {200, "application/json", a.json, {}};
    case O::conflict: return problem(409, "id_reused", a.detail, "id");
    case O::not_found: return problem(404, "journey_not_found", a.detail);
    case O::bad_request: return bad(a.field, a.detail);
    case O::failed: break;
    }
    return http::status_problem(503, a.detail.empty() ? "the journeys' database refused it; try again" : a.detail);
}

std::optional<rapidjson::Document> parse_body(const std::string& body, Response& refusal) {
    rapidjson::Document d;
    d.Parse(body.c_str(), body.size());
    if (d.HasParseError() || !d.IsObject()) {
        refusal = problem(400, "bad_json", "the body is not a JSON object");
        return std::nullopt;
    }
    return d;
}

std::string text_of(const rapidjson::Value& v) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    v.Accept(w);
    return {b.GetString(), b.GetSize()};
}

// Reads an optional string member; false (and `refusal`) when it is not a string.
bool string_of(const rapidjson::Value& d, const char* key, std::string& out, Response& refusal, std::size_t max = 256) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd()) return true;
    if (!it->value.IsString() || it->value.GetStringLength() > max) {
        refusal = bad(key, "expected a string of at most " + std::to_string(max) + " bytes");
        return false;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

bool data_of(const rapidjson::Value& d, std::string& out, Response& refusal) {
    auto it = d.FindMember("data");
    if (it == d.MemberEnd()) {
        out = "{}";
        return true;
    }
    if (!it->value.IsObject()) {
        refusal = bad("data", "expected an object");
        return false;
    }
    out = text_of(it->value);
    if (out.size() > kMaxDataBytes) {
        refusal = bad("data", "at most 16 KiB (every message of the journey carries it)");
        return false;
    }
    return true;
}

bool unknown_members(const rapidjson::Value& d, std::initializer_list<std::string_view> known, Response& refusal) {
    for (auto& m : d.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            refusal = bad(std::string(name), "unknown field (" + list + ")");
            return true;
        }
    }
    return false;
}

// "<id>" or "<id>/<what>" after "/v1/journeys/".
std::optional<std::pair<std::string, std::string>> split(std::string_view tail) {
    std::string decoded;
    const auto slash = tail.find('/');
    if (!http::percent_decode(tail.substr(0, slash), decoded) || !campaigns::valid_id(decoded)) return std::nullopt;
    return std::pair{decoded, slash == std::string_view::npos ? std::string() : std::string(tail.substr(slash + 1))};
}

std::string scope_of(const keys::Caller& c) { return c.every_service() ? std::string() : c.service; }

struct Context {
    const Config& config;
    JourneyRunner& runner;
    http::CurrentTemplates templates;
    cluster::PeerDaemons* peers;  // several daemons on one Redis; null: this one alone
    redis::RedisConnection& redis;
};

// Several daemons: each journey is kept by the daemon that started it (its journeys.db, its
// timers). Who that is, is written in Redis when it starts; a request for it that reaches
// another daemon goes on to that one.
std::string owner_key(const Config& config, const std::string& id) { return config.redis.stream + ":journey-owner:" + id; }

// The owner: this daemon when the key is new, else the one it names.
const redis::Script kClaimJourney(R"lua(
local owner = redis.call('GET', KEYS[1])
if owner then return owner end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
)lua");

bool forwarded(const Request& req) { return !req.header(cluster::kForwardedHeader).empty(); }

// The request sent on to the daemon that keeps the journey, its answer given back as it is.
void forward_to(const Context& x, const Request& req, const std::string& owner, const std::string& id, Reply reply) {
    const std::string path = req.path + (req.query.empty() ? "" : "?" + req.query);
    x.peers->forward(req, owner, std::string(req.method), path, req.body, [reply, owner, id](std::optional<HttpResponse> r) {
        if (!r || r->status == 0) {
            auto p = http::status_problem(503, "the journey " + id + " is kept by daemon " + owner + ", which does not answer; try again");
            p.headers.emplace_back("Retry-After", "5");
            return reply(std::move(p));
        }
        auto type = r->headers.find("content-type");
        Response out{r->status, type == r->headers.end() ? "application/json" : type->second, std::move(r->body), {}};
        if (auto l = r->headers.find("location"); l != r->headers.end()) out.headers.emplace_back("Location", l->second);
        reply(std::move(out));
    });
}

// A show, an event or an action this daemon has no journey for: the owner's answer, if another
// daemon keeps it; else this one's 404.
Reply or_owner(std::shared_ptr<const Context> x, const Request& req, const std::string& id, Reply reply) {
    if (!x->peers || forwarded(req)) return reply;
    return [x, req, id, reply](Response local) {
        if (local.status != 404) return reply(std::move(local));
        x->redis.command({"GET", owner_key(x->config, id)}, [x, req, id, reply, local](const redisReply* r) mutable {
            if (!r || r->type != REDIS_REPLY_STRING || std::string(r->str, r->len) == x->peers->self_name())
                return reply(std::move(local));
            forward_to(*x, req, std::string(r->str, r->len), id, reply);
        });
    };
}

void start(const Context& x, const Request& req, Reply reply) {  // x outlives every request (the routes own it)
    Response refusal;
    auto d = parse_body(req.body, refusal);
    if (!d) return reply(refusal);
    if (unknown_members(*d, {"journey", "id", "citizen", "data", "reference", "service"}, refusal)) return reply(refusal);
    StartRequest s;
    auto& in = s.instance;
    if (!string_of(*d, "journey", in.journey, refusal, 64) || !string_of(*d, "id", in.id, refusal, 64) ||
        !string_of(*d, "citizen", in.citizen, refusal, 128) || !string_of(*d, "reference", in.reference, refusal) ||
        !string_of(*d, "service", in.service, refusal, 64) || !data_of(*d, in.data_json, refusal))
        return reply(refusal);
    auto library = x.runner.library();
    if (in.journey.empty()) return reply(bad("journey", "required: the journey's name"));
    if (!library || !library->find(in.journey)) {
        std::string known;
        if (library)
            for (auto& [name, j] : library->all()) known += (known.empty() ? "" : ", ") + name;
        return reply(bad("journey", "no journey '" + in.journey + "' (" + (known.empty() ? "none defined" : known) + ")"));
    }
    if (!campaigns::valid_id(in.id))
        return reply(bad("id", "required: 1 to 64 letters, digits, '-', '_' or '.' (the service's, to start it once)"));
    if (in.citizen.empty()) return reply(bad("citizen", "required: the citizen's id in the directory"));
    if (req.caller.every_service()) {
        if (in.service.empty()) return reply(bad("service", "an operator names the service the journey is for"));
    } else if (!in.service.empty() && in.service != req.caller.service) {
        return reply(problem(403, "wrong_service", "service: this key starts journeys of " + req.caller.service + " only", "service"));
    } else {
        in.service = req.caller.service;
    }
    s.request_hash = hex_encode(sha256(in.journey + '\n' + in.service + '\n' + in.citizen + '\n' + in.reference + '\n' + in.data_json));
    s.by = req.caller.name;
    const std::string id = in.id;
    auto begin = [&x, id, reply](StartRequest request) {
        x.runner.begin(std::move(request), [reply, id](JourneyRunner::Answer a) { reply(answer_of(a, 201, id)); });
    };
    if (!x.peers || forwarded(req)) return begin(std::move(s));
    // Several daemons: the first to start an id keeps it; the others send the start on to it,
    // so that an id is one journey whichever daemon the request reached.
    kClaimJourney.run(x.redis, {owner_key(x.config, id)}, {x.peers->self_name()},
                      [&x, req, id, reply, begin, request = std::move(s)](const redisReply* r) mutable {
                          if (!r || r->type != REDIS_REPLY_STRING)
                              return reply(http::status_problem(503, "Redis is unreachable: the journey's keeper cannot be known; try again"));
                          const std::string owner(r->str, r->len);
                          if (owner == x.peers->self_name()) return begin(std::move(request));
                          forward_to(x, req, owner, id, reply);
                      });
}

void event(const Context& x, const std::string& id, const Request& req, Reply reply) {
    Response refusal;
    auto d = parse_body(req.body, refusal);
    if (!d) return reply(refusal);
    if (unknown_members(*d, {"event", "data"}, refusal)) return reply(refusal);
    std::string name, data;
    if (!string_of(*d, "event", name, refusal, 64) || !data_of(*d, data, refusal)) return reply(refusal);
    if (name.empty()) return reply(bad("event", "required: what happened, as the journey declares it (booked, ...)"));
    if (name.find('.') != std::string::npos || name == "reply")
        return reply(bad("event", "'" + name + "' is crieur's own: a service tells its journey's [events] only"));
    x.runner.event(id, scope_of(req.caller), name, data, [reply, id](JourneyRunner::Answer a) { reply(answer_of(a, 200, id)); });
}

void action(const Context& x, const std::string& id, const Request& req, Reply reply) {
    Response refusal;
    auto d = parse_body(req.body, refusal);
    if (!d) return reply(refusal);
    if (unknown_members(*d, {"action", "template", "channels", "data", "at"}, refusal)) return reply(refusal);
    std::string kind, at;
    Action a;
    if (!string_of(*d, "action", kind, refusal, 32) || !string_of(*d, "template", a.template_name, refusal, 64) ||
        !string_of(*d, "at", at, refusal, 64) || !data_of(*d, a.data_json, refusal))
        return reply(refusal);
    auto k = parse_action_kind(kind);
    if (!k) return reply(bad("action", "expected send, reschedule, pause, resume or stop"));
    a.kind = *k;
    if (auto c = d->FindMember("channels"); c != d->MemberEnd()) {
        if (!c->value.IsArray()) return reply(bad("channels", "expected a list of channels"));
        for (auto& v : c->value.GetArray()) {
            if (!v.IsString() || !is_known_channel(v.GetString())) return reply(bad("channels", "expected sms, email, whatsapp or push"));
            a.channels.emplace_back(v.GetString());
        }
    }
    if (a.kind == Action::Kind::send) {
        auto templates = x.templates();
        const auto* m = templates ? templates->manifest(a.template_name) : nullptr;
        if (!m) return reply(bad("template", a.template_name.empty() ? "required to send" : "no template '" + a.template_name + "'"));
        for (auto& c : a.channels)
            if (std::find(m->channels.begin(), m->channels.end(), c) == m->channels.end())
                return reply(bad("channels", "the template " + a.template_name + " has no " + c + " version"));
    } else if (!a.template_name.empty() || !a.channels.empty()) {
        return reply(bad(a.template_name.empty() ? "channels" : "template", "only a send takes a template"));
    }
    if (a.kind == Action::Kind::reschedule) {
        auto t = parse_rfc3339(at);
        if (!t) return reply(bad("at", "required: when the current wait ends, RFC 3339"));
        a.at_ms = to_unix_ms(*t);
    } else if (!at.empty()) {
        return reply(bad("at", "only a reschedule takes a time"));
    }
    a.by = req.caller.name;
    x.runner.act(id, scope_of(req.caller), std::move(a), [reply, id](JourneyRunner::Answer ans) { reply(answer_of(ans, 200, id)); });
}

void list(const Context& x, const Request& req, Reply reply) {
    InstanceFilter f;
    f.service = scope_of(req.caller);
    for (auto& [k, v] : form_decode(req.query)) {
        if (k == "journey") f.journey = v;
        else if (k == "step") f.step = v;
        else if (k == "state") {
            f.state = parse_instance_state(v);
            if (!f.state) return reply(http::bad_query(k, "active, paused or ended"));
        } else if (k == "service") {
            if (!req.caller.every_service() && v != req.caller.service)
                return reply(problem(403, "wrong_service", "service: this key reads the journeys of " + req.caller.service + " only", "service"));
            f.service = v;
        } else if (k == "limit") {
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), f.limit);
            if (ec != std::errc{} || end != v.data() + v.size() || f.limit < 1 || f.limit > 500)
                return reply(http::bad_query(k, "a number of instances from 1 to 500"));
        } else if (k == "cursor") {
            auto [end, ec] = v.size() > 1 && v[0] == 'j' ? std::from_chars(v.data() + 1, v.data() + v.size(), f.after)
                                                          : std::from_chars_result{v.data(), std::errc::invalid_argument};
            if (ec != std::errc{} || end != v.data() + v.size() || f.after <= 0)
                return reply(problem(400, "bad_cursor", "cursor: not one this API gave (use the page's next_cursor as it is)", k));
        } else {
            return reply(http::bad_query(k, "unknown parameter (journey, step, state, service, cursor, limit)"));
        }
    }
    x.runner.list(f, [reply](std::optional<std::pair<std::vector<Instance>, std::int64_t>> page) {
        if (!page) return reply(http::status_problem(503, "the journeys could not be read; try again"));
        std::string json = "{\"journeys\":[";
        for (std::size_t i = 0; i < page->first.size(); ++i) json += (i ? "," : "") + instance_json(page->first[i], nullptr);
        json += "],\"next_cursor\":";
        json += page->second ? "\"j" + std::to_string(page->second) + "\"" : "null";
        reply({200, "application/json", json + "}", {}});
    });
}
}  // namespace

void add_journey_routes(http::Routes& routes, const Config& config, JourneyRunner& runner, http::CurrentTemplates templates,
                        cluster::PeerDaemons* peers, redis::RedisConnection& redis) {
    auto x = std::make_shared<const Context>(Context{config, runner, std::move(templates), peers, redis});
    routes.add("POST", "/v1/journeys", [x](const Request& req, std::string_view, Reply reply) { start(*x, req, std::move(reply)); },
               keys::Scope::send);
    routes.add("GET", "/v1/journeys", [x](const Request& req, std::string_view, Reply reply) { list(*x, req, std::move(reply)); },
               keys::Scope::read);
    // Where the instances are: counts by journey, step and state (this daemon's, with several).
    routes.add("GET", "/v1/journey-steps", [x](const Request& req, std::string_view, Reply reply) {
        x->runner.step_counts(scope_of(req.caller), [reply](std::optional<std::vector<JourneyStore::StepCount>> counts) {
            if (!counts) return reply(http::status_problem(503, "the journeys could not be read; try again"));
            rapidjson::StringBuffer b;
            rapidjson::Writer<rapidjson::StringBuffer> w(b);
            w.StartObject();
            w.Key("steps");
            w.StartArray();
            for (auto& c : *counts) {
                w.StartObject();
                w.Key("journey");
                w.String(c.journey.c_str());
                w.Key("step");
                w.String(c.step.c_str());
                w.Key("state");
                w.String(c.state.c_str());
                w.Key("instances");
                w.Int64(c.instances);
                w.EndObject();
            }
            w.EndArray();
            w.EndObject();
            reply({200, "application/json", std::string(b.GetString(), b.GetSize()), {}});
        });
    }, keys::Scope::read);
    routes.add("GET", "/v1/journeys/", [x](const Request& req, std::string_view tail, Reply reply) {
        auto parts = split(tail);
        if (!parts || !parts->second.empty()) return reply(http::status_problem(404, "no such route"));
        const std::string id = parts->first;
        auto answer = or_owner(x, req, id, std::move(reply));
        x->runner.show(id, scope_of(req.caller), [answer, id](JourneyRunner::Answer a) { answer(answer_of(a, 200, id)); });
    }, keys::Scope::read);
    routes.add("POST", "/v1/journeys/", [x](const Request& req, std::string_view tail, Reply reply) {
        auto parts = split(tail);
        if (!parts) return reply(http::status_problem(404, "no such route"));
        if (parts->second == "events") return event(*x, parts->first, req, or_owner(x, req, parts->first, std::move(reply)));
        if (parts->second == "actions") return action(*x, parts->first, req, or_owner(x, req, parts->first, std::move(reply)));
        reply(http::status_problem(404, "no such route"));
    }, keys::Scope::send);
}

}  // namespace crieur::journeys
