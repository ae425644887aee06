#include "daemon/campaigns/campaign_routes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

#include "channels/http_client.hpp"
#include "daemon/campaigns/cap_campaign.hpp"
#include "daemon/cluster/peers.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/http/message_routes.hpp"
#include "daemon/log.hpp"
#include "daemon/render/template_store.hpp"

namespace crieur::campaigns {

namespace {
using http::problem;
using http::Reply;
using http::Request;
using http::Response;

Response refused(const RequestError& e) {
    const auto code = e.status == 403 ? "wrong_service" : e.field.starts_with("audience") ? "bad_audience" : "bad_campaign";
    return problem(e.status, code, (e.field.empty() ? "" : e.field + ": ") + e.reason, e.field);
}

Response answer_of(const CampaignRunner::Answer& a, int ok_status) {
    using O = CampaignRunner::Outcome;
    switch (a.outcome) {
        case O::done: {
            Response r{ok_status, "application/json", to_json(a.campaign), {}};
            r.headers.emplace_back("Location", "/v1/campaigns/" + a.campaign.key());
            return r;
        }
        case O::exists:
            return problem(409, "id_reused", "campaign id '" + a.campaign.key() + "' was used before: a campaign's id is never used twice", "id");
        case O::not_found: return problem(404, "campaign_not_found", a.detail);
        case O::bad_state: return problem(409, "bad_state", a.detail);
        case O::bad_audience:
            return problem(422, "bad_audience", (a.part.empty() ? "" : a.part + ": ") + a.detail, a.part == "audience." ? "audience" : a.part);
        case O::failed: break;
    }
    return http::status_problem(503, a.detail.empty() ? "the campaigns database refused it; try again" : a.detail);
}

// "<id>" or "<id>/<action>" after "/v1/campaigns/".
std::optional<std::pair<std::string, std::string>> split(std::string_view tail) {
    std::string decoded;
    const auto slash = tail.find('/');
    if (!http::percent_decode(tail.substr(0, slash), decoded) || !parse_key(decoded)) return std::nullopt;
    return std::pair{decoded, slash == std::string_view::npos ? std::string() : std::string(tail.substr(slash + 1))};
}

bool visible(const keys::Caller& caller, const Campaign& c) { return caller.every_service() || caller.service == c.service; }

std::string list_json(const std::vector<Campaign>& campaigns, std::int64_t next) {
    std::string json = "{\"campaigns\":[";
    for (std::size_t i = 0; i < campaigns.size(); ++i) json += (i ? "," : "") + to_json(campaigns[i]);
    json += "],\"next_cursor\":";
    json += next ? "\"k" + std::to_string(next) + "\"" : "null";
    return json + "}";
}
}  // namespace

namespace {
// What the handlers share.
struct Context {
    const Config& config;
    CampaignRunner& runner;
    ReceiptStore& receipts;
    directory::DirectoryService& reader;
    http::CurrentTemplates templates;
    audience::Carried carried;
    RouterPolicy policy;
    cluster::PeerDaemons* peers;  // several daemons: the others' counts are added
};

// GET /v1/campaigns/{id}/counts?keys=<id>,<id>~1: this daemon's counts of those campaign keys (a
// peer asks, or an operator). A service's key counts its own service's messages only.
void counts(const Context& x, const std::string& id, const Request& req, Reply reply) {
    std::vector<std::string> keys;
    for (auto& [k, v] : form_decode(req.query)) {
        if (k != "keys") return reply(http::bad_query(k, "unknown parameter (keys)"));
        std::size_t from = 0;
        while (from <= v.size()) {
            auto end = v.find(',', from);
            if (end == std::string::npos) end = v.size();
            const std::string one = v.substr(from, end - from);
            auto parsed = parse_key(one);
            if (!parsed || parsed->first != id) return reply(http::bad_query("keys", "'" + one + "' is not " + id + " or one of its follow-ups"));
            keys.push_back(one);
            from = end + 1;
        }
    }
    if (keys.empty()) keys.push_back(id);
    if (keys.size() > 1000) return reply(http::bad_query("keys", "at most 1,000"));
    x.receipts.campaign_reports(keys, req.caller.every_service() ? std::string() : req.caller.service,
                                [reply](std::optional<std::vector<std::string>> reports) {
                                    if (!reports) return reply(http::status_problem(503, "the receipts could not be read; try again"));
                                    std::string json = "{\"reports\":[";
                                    for (std::size_t i = 0; i < reports->size(); ++i) json += (i ? "," : "") + (*reports)[i];
                                    reply({200, "application/json", json + "]}", {}});
                                });
}

// A checked campaign request: its preview (a dry run), or stored and launched.
void create(const Context& x, CampaignRequest request, const keys::Caller& caller, Reply reply,
            std::vector<std::string> cap_parts = {}) {
    request.campaign.created_by = caller.key_id;
    // An audience refused in a CAP alert's area is named by its CAP element.
    auto named = [cap_parts](Response r) {
        if (cap_parts.empty()) return r;
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        if (!d.IsObject() || !d.HasMember("field") || !d["field"].IsString()) return r;
        const std::string field = d["field"].GetString(), cap = cap_part(field, cap_parts);
        if (cap == field) return r;
        std::string detail = d.HasMember("detail") && d["detail"].IsString() ? d["detail"].GetString() : "";
        if (detail.starts_with(field)) detail = cap + detail.substr(field.size());
        return problem(r.status, d["title"].GetString(), detail, cap);
    };
    if (request.dry_run) {
        // The preview, as POST /v1/audiences/preview gives it; nothing stored, no id taken.
        const auto store = x.templates();
        auto p = std::make_shared<audience::PreviewRequest>();
        p->audience = *request.audience;
        p->service = request.campaign.service;
        p->template_name = request.campaign.template_name;
        p->category = store->manifest(p->template_name)->category;
        for (auto& c : store->channels(p->template_name))
            if (request.campaign.channels.empty() ||
                std::find(request.campaign.channels.begin(), request.campaign.channels.end(), c) != request.campaign.channels.end())
                p->channels.push_back(c);
        auto campaign = std::make_shared<Campaign>(std::move(request.campaign));
        using Answer = std::variant<audience::Preview, audience::AudienceError>;
        x.reader.run<Answer>(
            [p, policy = x.policy, carried = x.carried](directory::Directory& dir) { return audience::preview(dir, *p, policy, carried); },
            [p, campaign, reply, named](std::optional<Answer> a) {
                if (!a) return reply(http::status_problem(503, "the directory could not be read; try again"));
                if (auto* e = std::get_if<audience::AudienceError>(&*a))
                    return reply(named(problem(422, "bad_audience", "audience." + e->part + ": " + e->reason, "audience." + e->part)));
                const auto& preview = std::get<audience::Preview>(*a);
                std::string json = "{\"dry_run\":true,\"campaign\":" + to_json(*campaign) + ",\"preview\":" + preview.to_json(*p);
                if (preview.citizens == 0) json += ",\"warning\":\"the audience holds no citizen: the campaign would reach nobody\"";
                else if (preview.reachable == 0) json += ",\"warning\":\"no citizen of the audience can be reached on these channels\"";
                reply({200, "application/json", json + "}", {}});
            },
            true);
        return;
    }
    if (caller.test) return reply(problem(403, "test_key", "a test key previews campaigns (dry_run) and launches none", "dry_run"));
    const int status = request.draft ? 201 : 202;
    x.runner.create(std::move(request), [reply, status, named](CampaignRunner::Answer a) { reply(named(answer_of(a, status))); });
}

// A follow-up of a stored campaign (its request body checked here, against the campaign).
void follow_up(const Context& x, const Campaign& campaign, const std::string& body, const keys::Caller& caller, Reply reply) {
    if (campaign.state == State::cancelled)
        return reply(problem(409, "bad_state", "campaign " + campaign.id + " is cancelled: it takes no follow-up"));
    auto parsed = parse_followup_request(body, *x.templates(), campaign);
    if (auto* e = std::get_if<RequestError>(&parsed)) return reply(refused(*e));
    auto request = std::get<CampaignRequest>(std::move(parsed));
    request.campaign.created_by = caller.key_id;
    const bool dry = request.dry_run;
    x.runner.followup(std::move(request), [reply, dry](CampaignRunner::Answer a) {
        if (dry && a.outcome == CampaignRunner::Outcome::done)
            return reply({200, "application/json", "{\"dry_run\":true,\"followup\":" + to_json(a.campaign) + "}", {}});
        reply(answer_of(a, 202));
    });
}

void cancel(const Context& x, const std::string& id, const keys::Caller& caller, Reply reply) {
    const std::string reason = caller.key_id.empty() ? "cancelled by an operator" : "cancelled through the API (key " + caller.key_id + ")";
    x.runner.cancel(id, reason, [reply, id](std::optional<std::int64_t> n) {
        if (!n) return reply(http::status_problem(503, "the cancellation could not be recorded; try again"));
        reply({200, "application/json", "{\"campaign\":\"" + id + "\",\"cancelled\":" + std::to_string(*n) + "}", {}});
    });
}

// Runs `then` with the stored campaign the caller may act on, or answers why not.
void with_campaign(const Context& x, const std::string& id, const keys::Caller& caller, Reply reply,
                   std::function<void(const Campaign&)> then) {
    x.runner.get(id, [caller, id, reply, then = std::move(then)](std::optional<std::optional<Campaign>> c) {
        if (!c) return reply(http::status_problem(503, "the campaigns could not be read; try again"));
        if (!*c || !visible(caller, **c)) return reply(problem(404, "campaign_not_found", "no campaign " + id));
        then(**c);
    });
}
}  // namespace

void add_campaign_routes(http::Routes& routes, const Config& config, CampaignRunner& runner, ReceiptStore& receipts,
                         directory::DirectoryService& reader, http::CurrentTemplates templates, audience::Carried carried,
                         cluster::PeerDaemons* peers) {
    auto x = std::make_shared<const Context>(Context{config, runner, receipts, reader, templates, std::move(carried), policy_of(config.router), peers});
    routes.add("POST", "/v1/campaigns", [x](const Request& req, std::string_view, Reply reply) {
        auto parsed = parse_campaign_request(req.body, *x->templates(), req.caller.service, req.caller.every_service());
        if (auto* e = std::get_if<RequestError>(&parsed)) return reply(refused(*e));
        create(*x, std::get<CampaignRequest>(std::move(parsed)), req.caller, std::move(reply));
    }, keys::Scope::send);

    // An OASIS CAP 1.2 alert: an Alert creates a campaign, an Update follows it up, a Cancel cancels it.
    routes.add("POST", "/v1/campaigns/cap", [x](const Request& req, std::string_view, Reply reply) {
        CapOptions options;
        options.time_zone = x->config.quiet_hours.time_zone;
        std::string service;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "template") options.template_name = v;
            else if (k == "language") options.language = v;
            else if (k == "dry_run") options.dry_run = v == "1" || v == "true";
            else if (k == "service") service = v;
            else return reply(http::bad_query(k, "unknown parameter (template, language, dry_run, service)"));
        }
        auto cap = request_from_cap(req.body, options);
        if (auto* e = std::get_if<RequestError>(&cap)) return reply(problem(422, "bad_cap", (e->field.empty() ? "" : e->field + ": ") + e->reason, e->field));
        auto& r = std::get<CapRequest>(cap);
        if (r.action == CapAction::create) {
            std::string body = r.body;
            if (!service.empty()) {
                rapidjson::Document d;
                d.Parse(body.c_str());
                d.AddMember("service", rapidjson::Value(service.c_str(), d.GetAllocator()), d.GetAllocator());
                rapidjson::StringBuffer b;
                rapidjson::Writer<rapidjson::StringBuffer> w(b);
                d.Accept(w);
                body = b.GetString();
            }
            auto parsed = parse_campaign_request(body, *x->templates(), req.caller.service, req.caller.every_service());
            if (auto* e = std::get_if<RequestError>(&parsed)) {
                auto refusal = *e;
                refusal.field = cap_part(refusal.field, r.parts);
                return reply(refused(refusal));
            }
            return create(*x, std::get<CampaignRequest>(std::move(parsed)), req.caller, std::move(reply), r.parts);
        }
        if (req.caller.test) return reply(problem(403, "test_key", "a test key changes no campaign"));
        if (r.action == CapAction::cancel && !req.caller.has(keys::Scope::cancel))
            return reply(problem(403, "scope_missing", "this key lacks the scope 'cancel' that a CAP Cancel asks"));
        with_campaign(*x, r.campaign, req.caller, reply, [x, r, dry = options.dry_run, caller = req.caller, reply](const Campaign& c) {
            if (r.action == CapAction::cancel && dry)
                return reply({200, "application/json", "{\"dry_run\":true,\"cancels\":\"" + c.id + "\"}", {}});
            if (r.action == CapAction::cancel) return cancel(*x, c.id, caller, reply);
            follow_up(*x, c, r.body, caller, reply);
        });
    }, keys::Scope::send);

    routes.add("GET", "/v1/campaigns", [x](const Request& req, std::string_view, Reply reply) {
        std::string service = req.caller.service;
        std::int64_t before = 0;
        int limit = 50;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "service") {
                if (!req.caller.every_service() && v != req.caller.service)
                    return reply(problem(403, "wrong_service", "service: this key reads the campaigns of " + req.caller.service + " only", "service"));
                service = v;
            } else if (k == "limit") {
                auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
                if (ec != std::errc{} || end != v.data() + v.size() || limit < 1 || limit > 200)
                    return reply(http::bad_query(k, "a number of campaigns from 1 to 200"));
            } else if (k == "cursor") {
                auto [end, ec] = v.size() > 1 && v[0] == 'k' ? std::from_chars(v.data() + 1, v.data() + v.size(), before)
                                                              : std::from_chars_result{v.data(), std::errc::invalid_argument};
                if (ec != std::errc{} || end != v.data() + v.size() || before <= 0)
                    return reply(problem(400, "bad_cursor", "cursor: not one this API gave (use the page's next_cursor as it is)", k));
            } else {
                return reply(http::bad_query(k, "unknown parameter (service, cursor, limit)"));
            }
        }
        x->runner.list(service, before, limit, [reply](std::optional<std::pair<std::vector<Campaign>, std::int64_t>> page) {
            if (!page) return reply(http::status_problem(503, "the campaigns could not be read; try again"));
            reply({200, "application/json", list_json(page->first, page->second), {}});
        });
    }, keys::Scope::read);

    routes.add("GET", "/v1/campaigns/", [x](const Request& req, std::string_view tail, Reply reply) {
        auto parts = split(tail);
        if (!parts || (!parts->second.empty() && parts->second != "counts")) return reply(http::status_problem(404, "no such route"));
        if (parts->second == "counts") return counts(*x, parts->first, req, std::move(reply));
        with_campaign(*x, parts->first, req.caller, reply, [x, req, key = parts->first, reply](const Campaign&) {
            x->runner.show(key, [x, req, key, reply](std::optional<CampaignRunner::Shown> shown, bool found) {
                if (!found) return reply(problem(404, "campaign_not_found", "no campaign " + key));
                if (!shown) return reply(http::status_problem(503, "the receipts could not be read; try again"));
                const bool ask = x->peers && !x->peers->peers().empty() && req.header(cluster::kForwardedHeader).empty();
                if (!ask) return reply({200, "application/json", thread_json(*shown), {}});
                // Several daemons: each holds the receipts of the messages it sent; their counts are added.
                std::string keys;
                for (auto& c : shown->thread) keys += (keys.empty() ? "" : ",") + c.key();
                auto s = std::make_shared<CampaignRunner::Shown>(std::move(*shown));
                x->peers->ask(req, [key, keys](const cluster::Peer&) { return "/v1/campaigns/" + key + "/counts?keys=" + keys; },
                              [s, reply](std::vector<cluster::PeerAnswer> answers) {
                                  std::vector<std::vector<std::string>> theirs(s->reports.size());
                                  std::string down;
                                  for (auto& a : answers) {
                                      rapidjson::Document d;
                                      d.Parse(a.response.body.c_str());
                                      if (a.response.status != 200 || !d.IsObject() || !d.HasMember("reports") || !d["reports"].IsArray() ||
                                          d["reports"].Size() != s->reports.size()) {
                                          down += (down.empty() ? "\"" : ",\"") + a.peer.name + "\"";
                                          continue;
                                      }
                                      for (rapidjson::SizeType i = 0; i < d["reports"].Size(); ++i) {
                                          rapidjson::StringBuffer b;
                                          rapidjson::Writer<rapidjson::StringBuffer> w(b);
                                          d["reports"][i].Accept(w);
                                          theirs[i].emplace_back(b.GetString(), b.GetSize());
                                      }
                                  }
                                  for (std::size_t i = 0; i < s->reports.size(); ++i) s->reports[i] = merged_report(s->reports[i], theirs[i]);
                                  std::string json = thread_json(*s);
                                  // A daemon that did not answer: the counts lack its messages, and say so.
                                  if (!down.empty()) json = json.substr(0, json.size() - 1) + ",\"unavailable\":[" + down + "]}";
                                  reply({200, "application/json", std::move(json), {}});
                              });
            });
        });
    }, keys::Scope::read);

    routes.add("POST", "/v1/campaigns/", [x](const Request& req, std::string_view tail, Reply reply) {
        auto parts = split(tail);
        if (!parts || parts->first.find('~') != std::string::npos ||
            (parts->second != "cancel" && parts->second != "followups" && parts->second != "launch"))
            return reply(http::status_problem(404, "no such route"));
        const std::string id = parts->first, action = parts->second;
        if (action == "cancel" && !req.caller.has(keys::Scope::cancel))
            return reply(problem(403, "scope_missing", "this key lacks the scope 'cancel' that cancelling asks"));
        if (req.caller.test) return reply(problem(403, "test_key", "a test key changes no campaign"));
        auto body = std::make_shared<std::string>(req.body);
        x->runner.get(id, [x, caller = req.caller, id, action, body, reply](std::optional<std::optional<Campaign>> c) {
            if (!c) return reply(http::status_problem(503, "the campaigns could not be read; try again"));
            if (!*c) {
                // A campaign crieur did not launch: the `campaign` of a service's own jobs, known
                // to the receipts only; it has no service to check, so the operators' alone.
                if (action == "cancel" && caller.every_service()) {
                    x->runner.cancelled(id);  // the other daemons' receipts too
                    return http::cancel_receipts_campaign(x->receipts, caller, id, reply);
                }
                return reply(problem(404, "campaign_not_found", "no campaign " + id));
            }
            const Campaign& campaign = **c;
            if (!visible(caller, campaign)) return reply(problem(404, "campaign_not_found", "no campaign " + id));
            if (action == "cancel") return cancel(*x, id, caller, reply);
            if (action == "launch") return x->runner.launch(id, [reply](CampaignRunner::Answer a) { reply(answer_of(a, 202)); });
            follow_up(*x, campaign, *body, caller, reply);
        });
    }, keys::Scope::send);
}

}  // namespace crieur::campaigns
