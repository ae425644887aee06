// The dry run of an audience: how many citizens it holds, on which channel each would be reached
// with the template's channels and the category's consent rules (the router's own decision, as at
// send time), how many cannot be reached and why (the router's exclusion codes), and a few rows
// with their addresses masked. Reads only: on a thread of its own with its own connection, so that
// a preview of a million citizens never holds up the directory's lookups for sending.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/audience/audience.hpp"
#include "daemon/router.hpp"

namespace crieur::directory {
class Directory;
}
namespace crieur::render {
class TemplateStore;
}

namespace crieur::audience {

struct PreviewRequest {
    Audience audience;
    std::string service;                        // whose campaign (the router's service order)
    std::string template_name;
    std::vector<std::string> channels;          // the template's, narrowed to those the campaign allows
    std::vector<std::string> not_in_template;   // allowed by the campaign, but the template has no version
    std::string category = "service";           // the template's
    int sample = 10;                            // rows shown (0 to 100)
};

struct Preview {
    std::int64_t citizens = 0, reachable = 0, unreachable = 0;
    std::map<std::string, std::int64_t> first_channel;  // where each reachable citizen would go first
    std::map<std::string, std::int64_t> reachable_on;   // how many could be reached on each channel
    std::map<std::string, std::int64_t> unreachable_by; // exclusion code (on any channel) → citizens
    std::vector<std::string> sample;                    // JSON rows, masked
    std::string to_json(const PreviewRequest& r) const;
};

// {"audience": {...}, "template": "power_cut", "channels": ["sms", "push"] (allowed; default: the
// template's), "sample": 10}, checked against the templates; `service` is the caller's.
std::variant<PreviewRequest, AudienceError> preview_request(std::string_view json, const render::TemplateStore& templates,
                                                            const std::string& service);

using Carried = std::function<bool(const std::string& channel, const std::string& address)>;

// `carried`: whether a provider is configured for the channel and address (thread-safe).
std::variant<Preview, AudienceError> preview(directory::Directory& dir, const PreviewRequest& request,
                                             const RouterPolicy& policy, const Carried& carried);

}  // namespace crieur::audience
