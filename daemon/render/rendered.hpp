// Rendered: a message's content for one channel and locale, as the template store renders it and
// a channel driver sends it. A plain value.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "channels/sms/gsm7.hpp"

namespace crieur::render {

struct Rendered {
    std::string template_name;
    std::string category;  // service, information, alert (the template's)
    std::string channel;
    std::string locale;
    std::string text;     // sms text, push body, e-mail text part, WhatsApp preview
    std::string subject;  // e-mail subject, push title
    std::string html;     // e-mail HTML part
    std::string url, icon;                 // push
    std::string whatsapp_name, whatsapp_language;
    std::vector<std::string> whatsapp_parameters;
    std::optional<sms::Cost> sms;          // sms: encoding and segments of `text`
    std::optional<sms::Cost> sms_as_written;  // sms with the economy policy: the cost before replacement
    // sms: what the policy did, for the preview ("fidelity", "economy: sent in GSM-7", "economy:
    // kept in UCS-2, 'Ł' has no GSM-7 equivalent").
    std::string sms_policy;
    std::size_t push_payload_bytes = 0;
};

}  // namespace crieur::render
