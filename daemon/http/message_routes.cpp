#include "daemon/http/message_routes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "channels/http_client.hpp"
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

Handler cancel(ReceiptStore& store, bool campaign) {
    return [&store, campaign](const Request& req, std::string_view tail, Reply reply) {
        auto id = id_of(tail, "/cancel");
        if (!id) return reply(status_problem(404, "no such route"));
        if (campaign || req.caller.every_service()) return do_cancel(store, campaign, req.caller, std::move(*id), std::move(reply));
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
std::variant<receipts::MessageFilter, Response> list_filter(const Request& req) {
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

void add_message_routes(Routes& routes, ReceiptStore& store) {
    routes.add("GET", "/v1/messages", [&store](const Request& req, std::string_view, Reply reply) {
        auto filter = list_filter(req);
        if (auto* refused = std::get_if<Response>(&filter)) return reply(std::move(*refused));
        store.message_list(std::move(std::get<receipts::MessageFilter>(filter)),
                           [reply = std::move(reply)](std::optional<receipts::MessagePage> page) {
                               if (!page) return reply(status_problem(503, "the receipts could not be read; try again"));
                               reply({200, "application/json", std::move(page->json), {}});
                           });
    }, keys::Scope::read);
    routes.add("GET", "/v1/messages/", [&store](const Request& req, std::string_view tail, Reply reply) {
        auto id = id_of(tail);
        if (!id) return reply(problem(400, "bad_id", "bad message id"));
        store.message_json(*id, [caller = req.caller, reply = std::move(reply), id = *id](std::optional<std::string> json) {
            if (!json || !visible_to(caller, *json)) return reply(problem(404, "message_not_found", "no message with id " + id));
            reply({200, "application/json", std::move(*json), {}});
        });
    }, keys::Scope::read);
    routes.add("GET", "/v1/stats", [&store](const Request& req, std::string_view, Reply reply) {
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
        store.message_stats(std::get<std::string>(service), by, since, [reply = std::move(reply)](std::optional<std::string> json) {
            if (!json) return reply(status_problem(503, "the receipts could not be read; try again"));
            reply({200, "application/json", std::move(*json), {}});
        });
    }, keys::Scope::read);
    routes.add("POST", "/v1/messages/", cancel(store, false), keys::Scope::cancel);
    // Campaigns carry no service yet (issue 14 gives them one): the operators' alone until then.
    routes.add("POST", "/v1/campaigns/", cancel(store, true));
}

}  // namespace crieur::http
