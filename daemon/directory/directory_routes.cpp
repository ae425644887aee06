#include "daemon/directory/directory_routes.hpp"

#include <rapidjson/document.h>

#include "channels/email/smtp.hpp"
#include "channels/encoding.hpp"
#include "daemon/directory/citizen_codec.hpp"
#include "daemon/log.hpp"

namespace crieur::directory {

namespace {

using http::status_problem;
using http::Reply;
using http::Request;
using http::Response;

// "{id}" or "{id}/consents" → (id, rest)
std::optional<std::pair<std::string, std::string>> split_tail(std::string_view tail) {
    const auto slash = tail.find('/');
    std::string id;
    if (!http::percent_decode(tail.substr(0, slash), id) || id.empty()) return std::nullopt;
    return std::pair{id, slash == std::string_view::npos ? std::string() : std::string(tail.substr(slash + 1))};
}

std::variant<std::vector<Consent>, FieldError> consents_from(std::string_view body) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
    if (d.HasParseError() || !(d.IsObject() || d.IsArray())) return FieldError{"", "expected a JSON object or array"};
    std::vector<Consent> out;
    auto one = [&](const rapidjson::Value& v, const std::string& at) -> std::optional<FieldError> {
        if (!v.IsObject()) return FieldError{at, "expected {\"channel\", \"category\", \"granted\", \"source\"}"};
        auto str = [&](const char* k) { return v.HasMember(k) && v[k].IsString() ? std::string(v[k].GetString()) : ""; };
        Consent k{str("channel"), str("category"), false, str("source"), 0};
        if (!std::any_of(std::begin(kChannels), std::end(kChannels), [&](const char* c) { return k.channel == c; }))
            return FieldError{at + "channel", "expected sms, email, whatsapp or push"};
        if (!std::any_of(std::begin(kCategories), std::end(kCategories), [&](const char* c) { return k.category == c; }))
            return FieldError{at + "category", "expected service, information or alert"};
        if (!v.HasMember("granted") || !v["granted"].IsBool()) return FieldError{at + "granted", "expected true or false"};
        k.granted = v["granted"].GetBool();
        if (k.source.empty()) k.source = "api";
        out.push_back(std::move(k));
        return std::nullopt;
    };
    if (d.IsObject()) {
        if (auto e = one(d, "")) return *e;
    } else {
        int i = 0;
        for (auto& v : d.GetArray())
            if (auto e = one(v, "[" + std::to_string(i++) + "].")) return *e;
    }
    return out;
}

}  // namespace

void add_directory_routes(http::Routes& routes, const Config& config, DirectoryService& directory, ReceiptStore& store,
                          const Clock& clock, ContactRefusal refusal, EraseElsewhere erase_elsewhere) {
    auto check = std::make_shared<const ContactCheck>(config.directory.default_region);

    routes.add("GET", "/v1/citizens/", [&directory](const Request&, std::string_view tail, Reply reply) {
        auto parts = split_tail(tail);
        if (!parts || !parts->second.empty()) return reply(http::problem(400, "bad_id", "bad citizen id"));
        directory.lookup(parts->first, [reply = std::move(reply), id = parts->first](Lookup l) {
            if (l.error) return reply(status_problem(503, l.error.message()));
            if (l.erased) return reply(http::problem(410, "citizen_erased", "citizen " + id + " was erased at their request"));
            if (!l.citizen) return reply(http::problem(404, "citizen_not_found", "no citizen " + id));
            reply({200, "application/json", citizen_to_json(*l.citizen), {}});
        });
    }, keys::Scope::citizens_read);

    routes.add("PUT", "/v1/citizens/", [&config, &directory, &clock, check, refusal = std::move(refusal)](
                                           const Request& req, std::string_view tail, Reply reply) {
        auto parts = split_tail(tail);
        if (!parts || !parts->second.empty()) return reply(http::problem(400, "bad_id", "bad citizen id"));
        auto parsed = citizen_from_json(req.body, *check, parts->first);
        if (auto* e = std::get_if<FieldError>(&parsed))
            return reply(http::problem(422, "citizen_invalid", (e->field.empty() ? "" : e->field + ": ") + e->reason, e->field));
        if (refusal)
            for (const auto& contact : std::get<Citizen>(parsed).contacts)
                if (auto why = refusal(contact.channel, contact.address); !why.empty())
                    return reply(http::problem(422, "contact_refused", "contacts." + contact.channel + ": " + why, "contacts." + contact.channel));
        // Upserted on the worker; an erased id is refused there, in the same order as the erasure.
        struct Result {
            bool erased = false, created = false;
        };
        directory.run<Result>(
            [c = std::move(std::get<Citizen>(parsed)), now = to_unix_ms(clock.now())](Directory& d) {
                Result r;
                if (d.erased(c.id)) {
                    r.erased = true;
                    return r;
                }
                r.created = d.in_transaction([&] { return d.upsert(c, now); });
                return r;
            },
            [reply = std::move(reply), id = parts->first](std::optional<Result> r) {
                if (!r) return reply(status_problem(503, "the directory could not be written"));
                if (r->erased) return reply(http::problem(410, "citizen_erased", "citizen " + id + " was erased at their request; not re-created"));
                reply({r->created ? 201 : 200, "application/json",
                       std::string(R"({"id":")") + id + R"(","created":)" + (r->created ? "true" : "false") + "}", {}});
            });
    }, keys::Scope::citizens_write);

    routes.add("POST", "/v1/citizens/", [&directory, &clock](const Request& req, std::string_view tail,
                                                                     Reply reply) {
        auto parts = split_tail(tail);
        if (!parts || parts->second != "consents") return reply(status_problem(404, "no such route"));
        auto consents = consents_from(req.body);
        if (auto* e = std::get_if<FieldError>(&consents))
            return reply(http::problem(422, "citizen_invalid", (e->field.empty() ? "" : e->field + ": ") + e->reason, e->field));
        directory.run<bool>(
            [id = parts->first, list = std::move(std::get<std::vector<Consent>>(consents)),
             now = to_unix_ms(clock.now())](Directory& d) mutable {
                // All or none: an unknown citizen (the first consent finds none) changes nothing.
                return d.in_transaction([&] {
                    for (auto& k : list) {
                        k.at = now;
                        if (!d.set_consent(id, k)) return false;
                    }
                    return true;
                });
            },
            [reply = std::move(reply), id = parts->first](std::optional<bool> ok) {
                if (!ok) return reply(status_problem(503, "the directory could not be written"));
                if (!*ok) return reply(http::problem(404, "citizen_not_found", "no citizen " + id));
                reply({204, "text/plain", "", {}});
            });
    }, keys::Scope::citizens_write);

    routes.add("DELETE", "/v1/citizens/", [&directory, &store, &clock, erase_elsewhere](const Request&,
                                                                               std::string_view tail, Reply reply) {
        auto parts = split_tail(tail);
        if (!parts || !parts->second.empty()) return reply(http::problem(400, "bad_id", "bad citizen id"));
        const std::string id = parts->first;
        directory.run<bool>(
            [id, now = to_unix_ms(clock.now())](Directory& d) {
                const bool found = d.in_transaction([&] { return d.erase(id, now); });
                d.checkpoint();  // the WAL's copies of the erased pages go too
                return found;
            },
            [&store, id, erase_elsewhere, reply = std::move(reply)](std::optional<bool> found) mutable {
                if (!found) return reply(status_problem(503, "the directory could not be written; nothing was erased"));
                store.erase_citizen({id}, [found = *found, id, erase_elsewhere, reply = std::move(reply)](std::error_code e) {
                    if (e) return reply(status_problem(503, "the directory entry is erased; the receipts could not be anonymised yet: ask again"));
                    auto erased = [found, reply](bool ok) {
                        if (!ok) return reply(status_problem(503, "the directory and receipts are erased; the campaigns' snapshots not yet: ask again"));
                        spdlog::info("directory: a citizen was erased at their request (GDPR)");
                        reply({200, "application/json",
                               std::string(R"({"erased":true,"was_in_directory":)") + (found ? "true" : "false") + "}", {}});
                    };
                    if (erase_elsewhere) return erase_elsewhere(id, erased);
                    erased(true);
                });
            });
    }, keys::Scope::citizens_write);

    // One-click unsubscribe (RFC 8058): the mail client POSTs "List-Unsubscribe=One-Click". The
    // citizen refuses information e-mails; an inline address goes on the suppression list.
    routes.add("POST", "/u/", [&config, &directory, &store, &clock](const Request&, std::string_view token, Reply reply) {
        auto message_id = unsubscribe_message_id(config.links.secret, token);
        if (!message_id) return reply(status_problem(404, "unknown or damaged unsubscribe link"));
        store.message_contact(*message_id, "email", [&directory, &clock, reply = std::move(reply)](
                                                        std::optional<MessageContact> contact) mutable {
            if (!contact) return reply(status_problem(404, "this message is not known here"));
            if (contact->citizen.empty()) {
                return directory.suppress("email", contact->recipient, "unsubscribe link",
                                          [reply = std::move(reply)](std::error_code e) {
                                              if (e) return reply(status_problem(503, "could not record it; please try again"));
                                              reply({200, "text/plain; charset=utf-8", "Unsubscribed.\n", {}});
                                          });
            }
            directory.run<bool>(
                [citizen = contact->citizen, now = to_unix_ms(clock.now())](Directory& d) {
                    return d.set_consent(citizen, {"email", "information", false, "unsubscribe link", now});
                },
                [reply = std::move(reply)](std::optional<bool> ok) {
                    if (!ok) return reply(status_problem(503, "could not record it; please try again"));
                    reply({200, "text/plain; charset=utf-8", "Unsubscribed.\n", {}});
                });
        });
    }, http::Access::external);
    // A GET (a link scanner, or a citizen clicking the link in a client without one-click) changes
    // nothing: it shows a button that POSTs.
    routes.add("GET", "/u/", [&config](const Request&, std::string_view token, Reply reply) {
        if (!unsubscribe_message_id(config.links.secret, token))
            return reply(status_problem(404, "unknown or damaged unsubscribe link"));
        std::string page =
            "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>Désinscription</title>"
            "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
            "<p>Ne plus recevoir les messages d'information par e-mail / Stop information e-mails</p>"
            "<button type=\"submit\">Confirmer / Confirm</button></form></html>";
        reply({200, "text/html; charset=utf-8", std::move(page), {}});
    }, http::Access::external);
}

}  // namespace crieur::directory
