// OASIS CAP 1.2 (the Common Alerting Protocol that civil-protection systems exchange), read as an
// audience and content source: its areas' polygons and circles become the audience's area (CAP
// writes "latitude,longitude", a circle's radius in kilometres), its <info> the message's data.
// Checked against the standard's structure and rules (required elements, enumerations, closed
// polygons of at least four pairs, coordinates in range), every problem naming the element at
// fault ("alert.info[0].area[1].polygon[0]"). Parsed with libxml2, with no DTD, no entity
// expansion and no network: an alert is outside input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/audience/audience.hpp"
#include <utility>
#include "daemon/clock.hpp"

namespace crieur::audience {

inline constexpr const char* kCapNamespace = "urn:oasis:names:tc:emergency:cap:1.2";

struct CapReference {
    std::string sender, identifier, sent;
};

struct CapArea {
    std::string description;  // areaDesc
    // Each polygon's positions as GeoJSON has them: (longitude, latitude), closed.
    std::vector<std::vector<std::pair<double, double>>> polygons;
    std::vector<Circle> circles;  // radius in metres
    std::size_t geocodes = 0;     // areas named by code only (not resolved: crieur has no gazetteer)
};

struct CapInfo {
    std::string language = "en-US";  // CAP's default
    std::vector<std::string> categories;
    std::string event, urgency, severity, certainty;
    std::vector<std::string> response_types;
    std::optional<TimePoint> effective, onset, expires;
    std::string sender_name, headline, description, instruction, web, contact;
    std::vector<CapArea> areas;
};

struct CapAlert {
    std::string identifier, sender, status, msg_type, scope, note;
    TimePoint sent{};
    std::vector<CapReference> references;
    std::vector<CapInfo> infos;
};

// The alert, or what is wrong in it (`part`: the element's path).
std::variant<CapAlert, AudienceError> parse_cap(std::string_view xml);

// The info's areas as an audience's `area` list (docs/audiences.md): each polygon and circle, in
// order; `parts` gets the CAP element of each ("alert.info[0].area[1].circle[0]"), to name it
// when the audience refuses one. Empty when no area has a polygon or a circle.
std::string area_json(const CapInfo& info, std::size_t info_index, std::vector<std::string>& parts);

// The info in `language` ("fr" takes "fr-FR"), else the first one.
const CapInfo* info_in(const CapAlert& alert, std::string_view language);

}  // namespace crieur::audience
