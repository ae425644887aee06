#include "daemon/http/message_routes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "daemon/receipts/receipt_store.hpp"

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

void add_message_routes(Routes& routes, ReceiptStore& store) {
    routes.add("GET", "/v1/messages/", [&store](const Request& req, std::string_view tail, Reply reply) {
        auto id = id_of(tail);
        if (!id) return reply(problem(400, "bad_id", "bad message id"));
        store.message_json(*id, [caller = req.caller, reply = std::move(reply), id = *id](std::optional<std::string> json) {
            if (!json || !visible_to(caller, *json)) return reply(problem(404, "message_not_found", "no message with id " + id));
            reply({200, "application/json", std::move(*json), {}});
        });
    }, keys::Scope::read);
    routes.add("POST", "/v1/messages/", cancel(store, false), keys::Scope::cancel);
    // Campaigns carry no service yet (issue 14 gives them one): the operators' alone until then.
    routes.add("POST", "/v1/campaigns/", cancel(store, true));
}

}  // namespace crieur::http
