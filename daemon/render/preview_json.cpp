#include "daemon/render/preview_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace crieur::render {

std::string preview_json(const Rendered& r) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto field = [&](const char* key, std::string_view value) {
        w.Key(key);
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    };
    auto cost = [&](const sms::Cost& c) {
        field("encoding", sms::to_string(c.encoding));
        w.Key("segments");
        w.Int(c.segments);
        w.Key("characters");
        w.Int64(static_cast<std::int64_t>(c.characters));
    };
    w.StartObject();
    field("template", r.template_name);
    field("channel", r.channel);
    field("locale", r.locale);
    if (r.channel == "email") {
        field("subject", r.subject);
        field("text", r.text);
        field("html", r.html);
    } else if (r.channel == "push") {
        field("title", r.subject);
        field("text", r.text);
        field("url", r.url);
        field("icon", r.icon);
        w.Key("payload_bytes");
        w.Uint64(r.push_payload_bytes);
    } else {
        field("text", r.text);
    }
    if (r.sms) {
        cost(*r.sms);
        field("policy", r.sms_policy);
        if (r.sms_as_written) {
            w.Key("as_written");
            w.StartObject();
            cost(*r.sms_as_written);
            w.EndObject();
        }
    }
    if (r.channel == "whatsapp") {
        field("whatsapp_template", r.whatsapp_name);
        field("whatsapp_language", r.whatsapp_language);
        w.Key("parameters");
        w.StartArray();
        for (auto& p : r.whatsapp_parameters) w.String(p.c_str(), static_cast<rapidjson::SizeType>(p.size()));
        w.EndArray();
    }
    w.EndObject();
    return std::string(b.GetString(), b.GetSize());
}

}  // namespace crieur::render
