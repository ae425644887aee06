// A CAP 1.2 alert as a campaign (docs/campaigns.md): an Alert creates one, whose audience is the
// union of its areas' polygons and circles and whose data is its <info> in the town's language;
// an Update follows the campaign of the alert it references up (a resolution when its response
// is AllClear); a Cancel cancels it. Only an Actual, Public alert reaches citizens (the others
// may be dry-run). The campaign's id is made of the alert's identifier, so that the same alert
// sent twice is refused as an id used before.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/campaigns/campaign.hpp"

namespace crieur::campaigns {

struct CapOptions {
    std::string template_name = "cap_alert";
    std::string language = "fr";  // which <info> (fr takes fr-FR); the first when none is in it
    bool dry_run = false;
    std::string time_zone = "Europe/Paris";  // how the alert's end is written for citizens
};

enum class CapAction { create, followup, cancel };

struct CapRequest {
    CapAction action = CapAction::create;
    std::string campaign;  // the campaign it creates, follows up or cancels
    std::string body;      // the JSON body of POST /v1/campaigns or of its follow-up
    std::vector<std::string> parts;  // the CAP element of each of the audience's areas, in order
};

std::variant<CapRequest, RequestError> request_from_cap(std::string_view xml, const CapOptions& options);

// The campaign id of a CAP identifier: "cap-" and the identifier, characters outside an id's
// replaced, shortened with a hash past 64.
std::string campaign_id_of(std::string_view identifier);

// An audience error's part in the JSON request ("audience.area[2].coordinates[0]") named as the
// CAP element it came from ("alert.info[0].area[1].polygon[0]").
std::string cap_part(const std::string& part, const std::vector<std::string>& parts);

}  // namespace crieur::campaigns
