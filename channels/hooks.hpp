// What a provider posts to this daemon (its status callbacks, its delivery reports, the messages
// citizens send back) comes to /hooks/<instance name>/... and is read by that instance's driver
// (Channel::hook), which checks the provider's proof and turns the request into values: status
// updates for the receipts, inbound messages for the directory. The route records them and only
// then gives the answer the driver asked for, so that a provider whose report could not be
// written sends it again. Pure values; the parsing is the driver's, the effects the daemon's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/types.hpp"

namespace crieur {

struct HookRequest {
    std::string_view method;  // "GET", "POST"
    std::string_view path;    // what follows /hooks/<name>: "", "/inbound", "/<token>"
    std::string_view query;
    std::string_view body;
    const std::vector<std::pair<std::string, std::string>>* headers = nullptr;  // names lower-cased

    std::string header(std::string_view name) const {
        if (headers)
            for (auto& [k, v] : *headers)
                if (k == name) return v;
        return {};
    }
};

// The words of a citizen's message that opt out of (STOP, ARRET, ...) or back into (START,
// UNSTOP) a channel: the usual carrier keywords and the French ARRET.
enum class SmsKeyword { none, opt_out, opt_in };
SmsKeyword sms_keyword(std::string_view text);

// A message a citizen sent us (an SMS or WhatsApp reply).
struct InboundMessage {
    std::string channel;      // "sms", "whatsapp"
    std::string from;         // their address (E.164)
    std::string text;         // for a button: its payload (what the template set), else its title
    std::string provider_id;  // the provider's id of the message, when it gives one
    // What the provider itself read in it (Twilio's Advanced Opt-Out); none: read the text.
    SmsKeyword provider_keyword = SmsKeyword::none;
    std::string in_reply_to;       // the provider's id of our message it answers (WhatsApp's context.id)
    std::int64_t received_ms = 0;  // when the provider says it came; 0: when it reached us
};

struct HookResult {
    enum class Verdict {
        taken,      // proof checked, contents read: record them, then answer
        refused,    // bad or missing proof (a signature, a token): 403, counted
        malformed,  // proof checked but the contents cannot be read: 400, counted
        not_found,  // no such hook on this provider: 404
    };
    Verdict verdict = Verdict::not_found;
    std::string why;  // for refused and malformed: said in the answer and the log
    std::vector<ProviderEvent> events;
    std::vector<InboundMessage> inbound;
    // The answer once everything is written.
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;

    static HookResult refuse(std::string why) { return {Verdict::refused, std::move(why)}; }
    static HookResult malformed(std::string why) { return {Verdict::malformed, std::move(why)}; }
    static HookResult taken(int status = 200, std::string content_type = "text/plain", std::string body = {}) {
        HookResult r;
        r.verdict = Verdict::taken;
        r.status = status;
        r.content_type = std::move(content_type);
        r.body = std::move(body);
        return r;
    }
};

}  // namespace crieur
