#include "daemon/http/hook_routes.hpp"

#include "channels/encoding.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"
#include "daemon/config.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur::http {

void add_hook_routes(Routes& routes, const Config& config, ReceiptStore& store, directory::DirectoryService& directory,
                     Metrics& metrics) {
    // Twilio signs what it posts with the auth token over the URL it called, which is the URL this
    // daemon gave it (status_callback) or the one set on the number (inbound_url). Counted either way.
    auto twilio_signed = [&config, &metrics](const Request& req, const std::string& url,
                                const std::vector<std::pair<std::string, std::string>>& form, const char* what) {
        if (twilio_signature_valid(config.twilio.auth_token, url, form, req.header("x-twilio-signature"))) {
            metrics.callbacks_received++;
            return true;
        }
        metrics.callbacks_rejected++;
        spdlog::warn("hooks: a Twilio {} with a bad signature was refused", what);
        return false;
    };
    routes.add("POST", "/hooks/twilio", [&config, &store, twilio_signed](const Request& req, std::string_view, Reply reply) {
        if (!config.twilio.enabled) return reply(json_error(404, "twilio is not enabled"));
        const auto form = form_decode(req.body);
        if (!twilio_signed(req, config.twilio.status_callback, form, "callback"))
            return reply(json_error(403, "bad signature"));
        std::string sid, status, error_code;
        for (auto& [k, v] : form) {
            if (k == "MessageSid") sid = v;
            else if (k == "MessageStatus") status = v;
            else if (k == "ErrorCode") error_code = v;
        }
        const std::string ours = twilio_status(status);
        if (sid.empty() || ours.empty()) return reply({204, "text/plain", "", {}});  // nothing to record
        ProviderEvent event{"twilio", sid, *parse_status(ours), error_code.empty() ? status : status + " " + error_code,
                            req.body, ours == "failed" && twilio_bad_address_code(error_code)};
        store.record_event(std::move(event), [reply = std::move(reply)](EventVerdict v) {
            // A failed write answers 500: Twilio tries the callback again.
            reply(v == EventVerdict::failed ? json_error(500, "could not record the event")
                                            : Response{204, "text/plain", "", {}});
        });
    }, Access::open);
    // Citizens' replies to our number (Twilio's incoming-message webhook, signed like the status
    // callbacks over the URL set on the number): STOP and its kin opt the number out of SMS, START
    // back in. The answer is an empty TwiML document: no automatic reply from us.
    routes.add("POST", "/hooks/twilio/inbound", [&config, &directory, twilio_signed](const Request& req, std::string_view, Reply reply) {
        if (!config.twilio.enabled || config.twilio.inbound_url.empty())
            return reply(json_error(404, "twilio inbound messages are not enabled"));
        const auto form = form_decode(req.body);
        if (!twilio_signed(req, config.twilio.inbound_url, form, "incoming message"))
            return reply(json_error(403, "bad signature"));
        std::string from, body, opt_out_type;
        for (auto& [k, v] : form) {
            if (k == "From") from = v;
            else if (k == "Body") body = v;
            else if (k == "OptOutType") opt_out_type = v;  // Twilio's Advanced Opt-Out, when enabled
        }
        SmsKeyword word = sms_keyword(body);
        if (opt_out_type == "STOP") word = SmsKeyword::opt_out;
        else if (opt_out_type == "START") word = SmsKeyword::opt_in;
        // Confirmed once written: a 500 makes Twilio post it again, so a STOP is never only in memory.
        auto answer = [reply = std::move(reply)](bool written) {
            if (!written) return reply(json_error(500, "could not record the reply; send it again"));
            reply({200, "text/xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>", {}});
        };
        if (!from.empty() && word == SmsKeyword::opt_out) directory.opt_out("sms", from, "sms STOP", std::move(answer));
        else if (!from.empty() && word == SmsKeyword::opt_in) directory.opt_in("sms", from, "sms START", "sms STOP", std::move(answer));
        else answer(true);
    }, Access::open);
    // OVHcloud's delivery reports: GET (or POST) /hooks/ovh/<token>?id=<outgoing id>&dlr=<code>. OVH
    // signs nothing; the unguessable token in the path is what keeps strangers out.
    auto ovh_hook = [&config, &store, &metrics](const Request& req, std::string_view token, Reply reply) {
        if (!config.ovh.enabled || config.ovh.callback_token.empty() || !same_bytes(token, config.ovh.callback_token)) {
            metrics.callbacks_rejected++;
            return reply(json_error(403, "unknown hook"));
        }
        metrics.callbacks_received++;
        // The parameters come in the query string, or in a form body.
        std::string id, dlr;
        auto params = form_decode(req.query);
        for (auto& p : form_decode(req.body)) params.push_back(std::move(p));
        for (auto& [k, v] : params) {
            if (k == "id") id = v;
            else if (k == "dlr") dlr = v;
        }
        const std::string ours = ovh_status(dlr);
        if (id.empty() || ours.empty()) return reply({200, "text/plain", "", {}});
        store.record_event({"ovh", id, *parse_status(ours), "dlr " + dlr, req.query + (req.body.empty() ? "" : "&" + req.body)},
                            [reply = std::move(reply)](EventVerdict v) {
                                reply(v == EventVerdict::failed ? json_error(500, "could not record the event")
                                                                : Response{200, "text/plain", "", {}});
                            });
    };
    routes.add("GET", "/hooks/ovh/", ovh_hook, Access::open);
    routes.add("POST", "/hooks/ovh/", ovh_hook, Access::open);
    // WhatsApp: the subscription handshake (GET), then signed status notifications (POST).
    routes.add("GET", "/hooks/whatsapp", [&config](const Request& req, std::string_view, Reply reply) {
        std::string mode, token, challenge;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "hub.mode") mode = v;
            else if (k == "hub.verify_token") token = v;
            else if (k == "hub.challenge") challenge = v;
        }
        const bool ok = config.whatsapp.enabled && mode == "subscribe" && !config.whatsapp.verify_token.empty() &&
                        token == config.whatsapp.verify_token;
        reply(ok ? Response{200, "text/plain", challenge, {}} : json_error(403, "verification refused"));
    }, Access::open);
    routes.add("POST", "/hooks/whatsapp", [&config, &store, &metrics](const Request& req, std::string_view, Reply reply) {
        if (!config.whatsapp.enabled) return reply(json_error(404, "whatsapp is not enabled"));
        if (!whatsapp_signature_valid(config.whatsapp.app_secret, req.body, req.header("x-hub-signature-256"))) {
            metrics.callbacks_rejected++;
            spdlog::warn("hooks: a WhatsApp notification with a bad signature was refused");
            return reply(json_error(403, "bad signature"));
        }
        metrics.callbacks_received++;
        auto statuses = parse_whatsapp_statuses(req.body);
        if (statuses.empty()) return reply({200, "text/plain", "", {}});
        // One answer once every status is recorded; a failed write answers 500 and Meta retries.
        auto left = std::make_shared<std::size_t>(statuses.size());
        auto failed = std::make_shared<bool>(false);
        auto shared_reply = std::make_shared<Reply>(std::move(reply));
        for (auto& s : statuses) {
            auto status = parse_status(s.status);
            if (!status) {
                if (--*left == 0) (*shared_reply)({200, "text/plain", "", {}});
                continue;
            }
            store.record_event({"whatsapp", s.id, *status, s.provider_status, req.body, s.bad_address},
                                [left, failed, shared_reply](EventVerdict v) {
                                    *failed = *failed || v == EventVerdict::failed;
                                    if (--*left == 0)
                                        (*shared_reply)(*failed ? json_error(500, "could not record the events")
                                                                : Response{200, "text/plain", "", {}});
                                });
        }
    }, Access::open);
}

}  // namespace crieur::http
