#include "daemon/http/message_routes.hpp"

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

Handler cancel(ReceiptStore& store, bool campaign) {
    return [&store, campaign](const Request&, std::string_view tail, Reply reply) {
        auto id = id_of(tail, "/cancel");
        if (!id) return reply(json_error(404, "no such route"));
        CancelRequest r;
        (campaign ? r.campaign : r.job_id) = *id;
        r.reason = "cancelled by an operator";
        store.cancel(std::move(r), [reply = std::move(reply), id = *id, campaign](CancelResult c) {
            if (c.error) return reply(json_error(503, "the receipts database refused it; try again"));
            if (!campaign && c.status != Status::cancelled)
                return reply(json_error(409, "message " + id + " is " + std::string(to_string(c.status)) +
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
    };
}
}  // namespace

void add_message_routes(Routes& routes, ReceiptStore& store) {
    routes.add("GET", "/v1/messages/", [&store](const Request&, std::string_view tail, Reply reply) {
        auto id = id_of(tail);
        if (!id) return reply(json_error(400, "bad message id"));
        store.message_json(*id, [reply = std::move(reply), id = *id](std::optional<std::string> json) {
            if (!json) return reply(json_error(404, "no message with id " + id));
            reply({200, "application/json", std::move(*json), {}});
        });
    });
    routes.add("POST", "/v1/messages/", cancel(store, false));
    routes.add("POST", "/v1/campaigns/", cancel(store, true));
}

}  // namespace crieur::http
