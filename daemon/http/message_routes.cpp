#include "daemon/http/message_routes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "channels/http_client.hpp"
#include "daemon/cluster/merge.hpp"
#include "daemon/cluster/peers.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/receipts/receipt_store.hpp"

#include <charconv>

namespace crieur::http {

namespace {
// The id in "/v1/messages/<id>" (tail "<id>") or "…/<id>/cancel" (tail "<id>/cancel", suffix "/cancel").
std::optional<std::string> id_of(std::string_view tail, std::string_view suffix = {}) {
    if (!tail.ends_with(suffix)) return std::nullopt;
    std::string id;
    if (!percent_decode(tail.substr(0, tail.size() - suffix.size()), id) || id.empty() ||
        id.find('/') != std::string::npos)
        return std::nullopt;
    return id;
}

// Whether a message (its JSON view) is one the caller may see: a service key sees its own
// service's only; an operator's every one. Another's answers as if it did not exist.
bool visible_to(const keys::Caller& caller, const std::string& json) {
    if (caller.every_service()) return true;
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (!d.IsObject()) return false;
    auto it = d.FindMember("service");
    return it != d.MemberEnd() && it->value.IsString() && caller.service == it->value.GetString();
}

void do_cancel(ReceiptStore& store, bool campaign, const keys::Caller& caller, std::string id, Reply reply) {
    CancelRequest r;
    (campaign ? r.campaign : r.job_id) = id;
    r.reason = caller.key_id.empty() ? "cancelled by an operator" : "cancelled through the API (key " + caller.key_id + ")";
    store.cancel(std::move(r), [reply = std::move(reply), id, campaign](CancelResult c) {
        if (c.error) return reply(status_problem(503, "the receipts database refused it; try again"));
        if (!campaign && c.status != Status::cancelled)
            return reply(problem(409, "too_late", "message " + id + " is " + std::string(to_string(c.status)) +
                                             ": too late to cancel"));
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        w.StartObject();
        w.Key(campaign ? "campaign" : "id");
        w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
        w.Key("cancelled");
        w.Int64(c.cancelled);  // messages known and not yet sent; later jobs are cancelled as they come
        w.EndObject();
        reply({200, "application/json", b.GetString(), {}});
    });
}

Handler cancel(ReceiptStore& store) {
    return [&store](const Request& req, std::string_view tail, Reply reply) {
        auto id = id_of(tail, "/cancel");
        if (!id) return reply(status_problem(404, "no such route"));
        if (req.caller.every_service()) return do_cancel(store, false, req.caller, std::move(*id), std::move(reply));
        // A service cancels its own messages only: the message is looked up first (its service
        // never changes, so the check holds for the cancel that follows).
        store.message_json(*id, [&store, caller = req.caller, id = *id, reply = std::move(reply)](
                                    std::optional<std::string> json) mutable {
            if (json && !visible_to(caller, *json)) return reply(problem(404, "message_not_found", "no message with id " + id));
            do_cancel(store, false, caller, std::move(id), std::move(reply));
        });
    };
}
}  // namespace

Response bad_query(std::string_view name, std::string detail) {
    return problem(400, "bad_query", std::string(name) + ": " + detail, name);
}

// A `since` or `until` parameter: Unix ms (never 0, which means unbounded), or the problem.
std::variant<std::int64_t, Response> time_param(std::string_view name, const std::string& v) {
    auto t = parse_rfc3339(v);
    if (!t) return bad_query(name, "'" + v + "' is not an RFC 3339 time (2026-12-01T09:30:00Z)");
    return std::max<std::int64_t>(1, to_unix_ms(*t));
}

// The service a read covers: the key's own for a service key (naming another is an error, not an
// empty answer), the one named (or every one: empty) for an operator.
std::variant<std::string, Response> service_param(const Request& req, const std::string& named) {
    if (req.caller.every_service()) return named;
    if (!named.empty() && named != req.caller.service)
        return problem(403, "wrong_service", "service: this key reads the messages of " + req.caller.service + " only", "service");
    return req.caller.service;
}

// The list's filters from the query string; a problem naming the parameter when one is wrong.
// A merged list's cursor (several daemons: cluster/merge.hpp) goes to `positions`.
std::variant<receipts::MessageFilter, Response> list_filter(const Request& req, std::optional<cluster::Positions>* positions = nullptr) {
    receipts::MessageFilter f;
    auto bad = bad_query;
    for (auto& [k, v] : form_decode(req.query)) {
        if (k == "status") {
            if (!parse_status(v)) return bad(k, "'" + v + "' is not a status (docs/jobs.md)");
            f.status = v;
        } else if (k == "template") f.template_name = v;
        else if (k == "campaign") f.campaign = v;
        else if (k == "reference") f.reference = v;
        else if (k == "citizen") f.citizen = v;
        else if (k == "service") f.service = v;
        else if (k == "since" || k == "until") {
            auto t = time_param(k, v);
            if (auto* refused = std::get_if<Response>(&t)) return std::move(*refused);
            (k == "since" ? f.since_ms : f.until_ms) = std::get<std::int64_t>(t);
        } else if (k == "limit") {
            int n = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc{} || end != v.data() + v.size() || n < 1 || n > 500)
                return bad(k, "a number of messages from 1 to 500");
            f.limit = n;
        } else if (k == "cursor") {
            if (positions && v.starts_with('c')) {
                *positions = cluster::parse_cursor(v);
                if (!*positions)
                    return problem(400, "bad_cursor", "cursor: not one this API gave (use the page's next_cursor as it is)", k);
                continue;
            }
            // The cursor is what a page's next_cursor said: "m" and where it stopped.
            std::int64_t at = 0;
            auto [end, ec] = v.size() > 1 && v[0] == 'm' ? std::from_chars(v.data() + 1, v.data() + v.size(), at)
                                                          : std::from_chars_result{v.data(), std::errc::invalid_argument};
            if (ec != std::errc{} || end != v.data() + v.size() || at <= 0)
                return problem(400, "bad_cursor", "cursor: not one this API gave (use the page's next_cursor as it is)", k);
            f.before_id = at;
        } else {
            return bad(k, "unknown parameter (status, template, campaign, reference, citizen, service, since, until, cursor, limit)");
        }
    }
    auto service = service_param(req, f.service);
    if (auto* refused = std::get_if<Response>(&service)) return std::move(*refused);
    f.service = std::move(std::get<std::string>(service));
    return f;
}

namespace {
bool forwarded(const Request& req) { return !req.header(cluster::kForwardedHeader).empty(); }

// The peers a request goes on to: none when it came from one (answered from here only).
bool ask_peers(const cluster::PeerDaemons* peers, const Request& req) {
    return peers && !peers->peers().empty() && !forwarded(req);
}

// The query string with its cursor replaced by `cursor` (none when empty).
std::string with_cursor(const std::string& query, const std::string& cursor) {
    std::vector<std::pair<std::string, std::string>> fields;
    for (auto& [k, v] : form_decode(query))
        if (k != "cursor") fields.emplace_back(k, v);
    if (!cursor.empty()) fields.emplace_back("cursor", cursor);
    return form_encode(fields);
}

// The peers that gave no usable answer (down, timed out, or an error of theirs), by name.
std::vector<std::string> unavailable(const std::vector<cluster::PeerAnswer>& answers) {
    std::vector<std::string> out;
    for (auto& a : answers)
        if (a.response.status != 200) out.push_back(a.peer.name);
    return out;
}

// A list over every daemon: this one's page and each peer's, from where the cursor left each.
void merged_list(ReceiptStore& store, cluster::PeerDaemons& peers, const Request& req, receipts::MessageFilter filter,
                 cluster::Positions positions, Reply reply) {
    const std::string self = peers.self_name();
    const int limit = filter.limit;
    for (auto& p : peers.peers()) positions.try_emplace(p.name, "");
    positions.try_emplace(self, "");
    auto pages = std::make_shared<std::vector<cluster::DaemonPage>>();
    auto finish = [pages, positions, limit, reply](std::vector<std::string> down) {
        reply({200, "application/json", cluster::merge_pages(*pages, limit, positions, down), {}});
    };
    auto ask_others = [&peers, req, positions, pages, finish, self](std::optional<receipts::MessagePage> local, bool asked_here) {
        if (local) pages->push_back({self, std::move(local->json)});
        // Each peer from where its part stopped; those done are not asked.
        auto path_for = [&](const cluster::Peer& p) {
            auto it = positions.find(p.name);
            return it->second == "-" ? std::string() : "/v1/messages?" + with_cursor(req.query, it->second);
        };
        // This daemon's receipts failed to answer: it is named too, and keeps its place.
        const bool failed_here = asked_here && !local;
        peers.ask(req, path_for, [pages, finish, failed_here, self](std::vector<cluster::PeerAnswer> answers) {
            for (auto& a : answers)
                if (a.response.status == 200) pages->push_back({a.peer.name, std::move(a.response.body)});
            auto down = unavailable(answers);
            if (failed_here) down.insert(down.begin(), self);
            finish(std::move(down));
        });
    };
    const std::string mine = positions[self];
    if (mine == "-") return ask_others(std::nullopt, false);
    filter.before_id = mine.empty() ? 0 : std::stoll(mine.substr(1));  // digits that fit: parse_cursor checked
    filter.item_cursors = true;
    store.message_list(std::move(filter), [ask_others = std::move(ask_others)](std::optional<receipts::MessagePage> page) mutable {
        ask_others(std::move(page), true);
    });
}
}  // namespace

void add_message_routes(Routes& routes, ReceiptStore& store, cluster::PeerDaemons* peers) {
    routes.add("GET", "/v1/messages", [&store, peers](const Request& req, std::string_view, Reply reply) {
        std::optional<cluster::Positions> positions;
        bool single_cursor = false;
        for (auto& [k, v] : form_decode(req.query)) single_cursor = single_cursor || (k == "cursor" && v.starts_with('m'));
        auto filter = list_filter(req, &positions);
        if (auto* refused = std::get_if<Response>(&filter)) return reply(std::move(*refused));
        auto& f = std::get<receipts::MessageFilter>(filter);
        // Several daemons: a merged list, unless the cursor is one daemon's own (a page begun
        // before the peers came, or a peer's request, which carries it).
        if (ask_peers(peers, req) && !single_cursor)
            return merged_list(store, *peers, req, std::move(f), positions.value_or(cluster::Positions{}), std::move(reply));
        if (positions) return reply(problem(400, "bad_cursor", "cursor: a list over several daemons, and this one has no peer now", "cursor"));
        f.item_cursors = forwarded(req);
        store.message_list(std::move(f), [reply = std::move(reply)](std::optional<receipts::MessagePage> page) {
            if (!page) return reply(status_problem(503, "the receipts could not be read; try again"));
            reply({200, "application/json", std::move(page->json), {}});
        });
    }, keys::Scope::read);
    routes.add("GET", "/v1/messages/", [&store, peers](const Request& req, std::string_view tail, Reply reply) {
        auto id = id_of(tail);
        if (!id) return reply(problem(400, "bad_id", "bad message id"));
        store.message_json(*id, [peers, req, raw = std::string(tail), reply = std::move(reply), id = *id](std::optional<std::string> json) {
            if (json && visible_to(req.caller, *json)) return reply({200, "application/json", std::move(*json), {}});
            if (json || !ask_peers(peers, req)) return reply(problem(404, "message_not_found", "no message with id " + id));
            // Not here: the daemon that handled it has it (its receipts, not this one's).
            const std::string path = "/v1/messages/" + raw;
            peers->ask(req, [path](const cluster::Peer&) { return path; }, [reply, id](std::vector<cluster::PeerAnswer> answers) {
                for (auto& a : answers)
                    if (a.response.status == 200) return reply({200, "application/json", std::move(a.response.body), {}});
                auto down = unavailable(answers);
                std::erase_if(down, [&](const std::string& name) {
                    for (auto& a : answers)
                        if (a.peer.name == name && a.response.status == 404) return true;
                    return false;
                });
                if (!down.empty()) {
                    auto r = problem(503, "peer_unavailable", "no message with id " + id + " here, and daemon " + down.front() +
                                                                  " that may hold it did not answer; try again");
                    r.headers.emplace_back("Retry-After", "5");
                    return reply(std::move(r));
                }
                reply(problem(404, "message_not_found", "no message with id " + id));
            });
        });
    }, keys::Scope::read);
    routes.add("GET", "/v1/stats", [&store, peers](const Request& req, std::string_view, Reply reply) {
        std::string by = "status", named;
        std::int64_t since = 0;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "by") {
                if (v != "status" && v != "channel" && v != "template" && v != "service")
                    return reply(bad_query(k, "status, channel, template or service"));
                by = v;
            } else if (k == "since") {
                auto t = time_param(k, v);
                if (auto* refused = std::get_if<Response>(&t)) return reply(std::move(*refused));
                since = std::get<std::int64_t>(t);
            } else if (k == "service") {
                named = v;
            } else {
                return reply(bad_query(k, "unknown parameter (by, since, service)"));
            }
        }
        auto service = service_param(req, named);
        if (auto* refused = std::get_if<Response>(&service)) return reply(std::move(*refused));
        store.message_stats(std::get<std::string>(service), by, since, [peers, req, reply = std::move(reply)](std::optional<std::string> json) {
            if (!json) return reply(status_problem(503, "the receipts could not be read; try again"));
            if (!ask_peers(peers, req)) return reply({200, "application/json", std::move(*json), {}});
            // Several daemons: each one's counts, summed.
            const std::string path = "/v1/stats" + (req.query.empty() ? std::string() : "?" + req.query);
            peers->ask(req, [path](const cluster::Peer&) { return path; },
                       [reply, mine = std::move(*json)](std::vector<cluster::PeerAnswer> answers) {
                           std::vector<std::string> all{mine};
                           for (auto& a : answers)
                               if (a.response.status == 200) all.push_back(std::move(a.response.body));
                           reply({200, "application/json", cluster::merge_stats(all, unavailable(answers)), {}});
                       });
        });
    }, keys::Scope::read);
    routes.add("POST", "/v1/messages/", cancel(store), keys::Scope::cancel);
}

void cancel_receipts_campaign(ReceiptStore& store, const keys::Caller& caller, std::string id, Reply reply) {
    do_cancel(store, true, caller, std::move(id), std::move(reply));
}

}  // namespace crieur::http
