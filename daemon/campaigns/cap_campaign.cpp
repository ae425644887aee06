#include "daemon/campaigns/cap_campaign.hpp"

#include <date/tz.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "channels/encoding.hpp"
#include "daemon/audience/cap.hpp"

namespace crieur::campaigns {

namespace {
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

// A CAP time as citizens read it: day and hour in the town's time zone ("04/12/2026 12:00").
std::string shown(TimePoint t, const std::string& zone) {
    try {
        return date::format("%d/%m/%Y %H:%M", date::make_zoned(date::locate_zone(zone), std::chrono::floor<std::chrono::minutes>(t)));
    } catch (const std::exception&) {
        return format_rfc3339(t);
    }
}

bool urgent(const audience::CapInfo& info) {
    return info.urgency == "Immediate" || info.severity == "Extreme" || info.severity == "Severe";
}
}  // namespace

std::string campaign_id_of(std::string_view identifier) {
    std::string id = "cap-";
    for (char c : identifier) id += valid_id(std::string_view(&c, 1)) ? c : '-';
    if (id.size() <= 64) return id;
    // Long identifiers (URNs): their start, and a hash that keeps two apart.
    return id.substr(0, 47) + "-" + hex_encode(sha256(identifier)).substr(0, 16);
}

std::string cap_part(const std::string& part, const std::vector<std::string>& parts) {
    static constexpr std::string_view kArea = "audience.area[";
    if (!part.starts_with(kArea)) return part;
    const auto close = part.find(']', kArea.size());
    if (close == std::string::npos) return part;
    const auto i = std::stoul(part.substr(kArea.size(), close - kArea.size()));
    return i < parts.size() ? parts[i] : part;
}

std::variant<CapRequest, RequestError> request_from_cap(std::string_view xml, const CapOptions& options) {
    auto parsed = audience::parse_cap(xml);
    if (auto* e = std::get_if<audience::AudienceError>(&parsed)) return RequestError{e->part, e->reason};
    const auto& alert = std::get<audience::CapAlert>(parsed);
    // What reaches citizens: an alert that is real and public. The others may be tried (dry run).
    if (alert.status != "Actual" && !options.dry_run)
        return RequestError{"alert.status", "only an Actual alert reaches citizens; this one is " + alert.status + " (try it with dry_run)"};
    if (alert.scope != "Public" && !options.dry_run)
        return RequestError{"alert.scope", "only a Public alert goes to the town's citizens; this one is " + alert.scope};
    if (alert.msg_type == "Ack" || alert.msg_type == "Error")
        return RequestError{"alert.msgType", alert.msg_type + " concerns the systems that exchange alerts, not citizens"};
    CapRequest r;
    if (alert.msg_type == "Cancel") {
        r.action = CapAction::cancel;
        r.campaign = campaign_id_of(alert.references.back().identifier);
        return r;
    }
    const auto* info = audience::info_in(alert, options.language);
    if (!info) return RequestError{"alert.info", "the alert holds no <info>: nothing to tell"};
    const auto info_index = static_cast<std::size_t>(info - alert.infos.data());
    const std::string where = "alert.info[" + std::to_string(info_index) + "]";

    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    put(w, "template", options.template_name);
    if (options.dry_run) {
        w.Key("dry_run");
        w.Bool(true);
    }
    if (info->expires) put(w, "deadline", format_rfc3339(*info->expires));
    put(w, "reference", alert.identifier.substr(0, 256));
    w.Key("data");
    w.StartObject();
    put(w, "event", info->event);
    put(w, "headline", info->headline.empty() ? info->event : info->headline);
    for (auto [key, value] : {std::pair{"description", &info->description}, {"instruction", &info->instruction},
                              {"sender_name", &info->sender_name}, {"web", &info->web}})
        if (!value->empty()) put(w, key, *value);
    if (info->expires) put(w, "expires", shown(*info->expires, options.time_zone));
    w.EndObject();
    if (alert.msg_type == "Update") {
        r.action = CapAction::followup;
        r.campaign = campaign_id_of(alert.references.back().identifier);
        const bool all_clear = std::find(info->response_types.begin(), info->response_types.end(), "AllClear") != info->response_types.end();
        w.Key("resolved");
        w.Bool(all_clear);
        if (!all_clear) put(w, "priority", urgent(*info) ? "urgent" : "normal");
        // A follow-up goes to the campaign's snapshot: an Update's areas are the first one's.
    } else {
        r.action = CapAction::create;
        r.campaign = campaign_id_of(alert.identifier);
        put(w, "id", r.campaign);
        put(w, "priority", urgent(*info) ? "urgent" : "normal");
        const std::string area = audience::area_json(*info, info_index, r.parts);
        if (area.empty())
            return RequestError{where + ".area", "no area with a polygon or a circle: crieur sends to whom an area holds (geocodes alone are not resolved)"};
        w.Key("audience");
        w.StartObject();
        w.Key("area");
        w.RawValue(area.data(), area.size(), rapidjson::kArrayType);
        w.EndObject();
    }
    w.EndObject();
    r.body.assign(b.GetString(), b.GetSize());
    return r;
}

}  // namespace crieur::campaigns
