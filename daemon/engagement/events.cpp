#include "daemon/engagement/events.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "daemon/job_codec.hpp"

namespace crieur::engagement {

namespace {

struct Kind {
    std::string_view type, event, channel;  // the word in the request, the event recorded, its default channel
};
// A tap on a push notification is its click; "open" and "click" without a channel are the latest
// attempt's, whatever its channel.
constexpr Kind kKinds[] = {{"session", "session", "app"}, {"tap", "click", "push"}, {"open", "open", ""},
                           {"click", "click", ""},        {"read", "read", ""}};
constexpr std::string_view kChannels[] = {"sms", "email", "whatsapp", "push"};

}  // namespace

std::variant<std::vector<Engagement>, EventsError> parse_events(std::string_view body, TimePoint now) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
    if (d.HasParseError()) return EventsError{"", "not JSON"};
    const rapidjson::Value* list = nullptr;
    if (d.IsObject() && d.HasMember("events")) {
        if (!d["events"].IsArray()) return EventsError{"events", "expected an array of events"};
        list = &d["events"];
    } else if (!d.IsObject()) {
        return EventsError{"", R"(expected {"events": [...]} or one event object)"};
    }
    std::vector<Engagement> out;
    auto one = [&](const rapidjson::Value& v, const std::string& at) -> std::optional<EventsError> {
        if (!v.IsObject()) return EventsError{at.empty() ? at : at.substr(0, at.size() - 1), "expected an event object"};
        auto str = [&](const char* k) -> std::optional<std::string> {
            if (!v.HasMember(k)) return std::string();
            if (!v[k].IsString()) return std::nullopt;
            return std::string(v[k].GetString(), v[k].GetStringLength());
        };
        for (auto& m : v.GetObject()) {
            const std::string_view k(m.name.GetString(), m.name.GetStringLength());
            if (k != "type" && k != "message" && k != "citizen" && k != "channel" && k != "at")
                return EventsError{at + std::string(k), "unknown field"};
        }
        auto type = str("type");
        const Kind* kind = nullptr;
        for (auto& k : kKinds)
            if (type && *type == k.type) kind = &k;
        if (!kind) return EventsError{at + "type", "expected session, tap, open, click or read"};
        Engagement e;
        e.event = std::string(kind->event);
        e.source = "app";
        auto when = str("at");
        if (!when) return EventsError{at + "at", "expected an RFC 3339 time with its offset"};
        if (when->empty()) {
            e.at_ms = to_unix_ms(now);
        } else {
            auto t = parse_rfc3339(*when);
            if (!t) return EventsError{at + "at", "expected an RFC 3339 time with its offset"};
            if (*t > now + kMaxAhead) return EventsError{at + "at", "in the future"};
            if (*t < now - kMaxAge) return EventsError{at + "at", "older than 30 days"};
            e.at_ms = to_unix_ms(*t);
        }
        auto citizen = str("citizen"), message = str("message"), channel = str("channel");
        if (!citizen || citizen->size() > 128) return EventsError{at + "citizen", "expected a citizen id"};
        if (!message || message->size() > 256) return EventsError{at + "message", "expected a message (job) id"};
        if (!channel) return EventsError{at + "channel", "expected sms, email, whatsapp or push"};
        if (e.event == "session") {
            if (citizen->empty()) return EventsError{at + "citizen", "required for a session"};
            if (!message->empty()) return EventsError{at + "message", "a session belongs to no message"};
            e.citizen = std::move(*citizen);
            e.channel = "app";
        } else {
            if (message->empty()) return EventsError{at + "message", "required for a " + std::string(kind->type)};
            e.job_id = std::move(*message);
            e.channel = channel->empty() ? std::string(kind->channel) : *channel;
            if (!e.channel.empty() && std::find(std::begin(kChannels), std::end(kChannels), e.channel) == std::end(kChannels))
                return EventsError{at + "channel", "expected sms, email, whatsapp or push"};
        }
        out.push_back(std::move(e));
        return std::nullopt;
    };
    if (!list) {
        if (auto e = one(d, "")) return *e;
        return out;
    }
    if (list->Size() == 0) return EventsError{"events", "empty"};
    if (list->Size() > kMaxEvents) return EventsError{"events", "more than 1000 events: send them in several requests"};
    int i = 0;
    for (auto& v : list->GetArray())
        if (auto e = one(v, "events[" + std::to_string(i++) + "].")) return *e;
    return out;
}

}  // namespace crieur::engagement
