// Router: the ordered list of (channel, address) a message may go out on, and why every other
// channel was left out. The order: the job's forced channel; else the addresses given inline in
// `to`, in their order; else the citizen's preferred channels; else the service's default order
// from the config. A channel stays only where the template has it, consent allows it (service and
// alert messages unless the citizen refused the channel; the categories in `consent_required`
// only with a consent granted), a usable contact exists (not invalid, not on the suppression
// list), and a provider carries it. Pure: the caller gives the directory's answer and the checks.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/directory/citizen.hpp"
#include "daemon/types.hpp"

namespace crieur {

struct RouterPolicy {
    std::vector<std::string> default_order{"sms", "email", "whatsapp", "push"};
    std::map<std::string, std::vector<std::string>> service_order;  // by job.service
    std::set<std::string> consent_required{"information"};          // categories needing a granted consent
};

struct RouteCandidate {
    std::string channel;
    std::string address;
};

// Why a channel was left out. `code` is stable (metrics, tests); `detail` is for people.
struct Exclusion {
    std::string channel;
    std::string code;  // not_in_template, refused, no_consent, no_contact, contact_invalid, suppressed,
                       // provider_down (its providers' circuit breakers are open), no_provider
    std::string detail;
};

struct RouteDecision {
    std::vector<RouteCandidate> candidates;  // best first; empty: no reachable channel
    std::vector<Exclusion> excluded;
    // "sms: no_consent (…); email: no_contact" — the reason recorded with no_reachable_channel.
    std::string exclusions_text() const;
};

struct RouteQuery {
    const Job& job;
    const std::vector<std::string>& template_channels;
    const std::string& category;                 // the template's: service, information, alert
    const directory::Citizen* citizen = nullptr;  // null for a job with inline recipients
    std::function<bool(const std::string& channel, const std::string& address)> suppressed;
    std::function<bool(const std::string& channel, const std::string& address)> carried;  // a provider takes it now
    // A provider is configured for it, though none takes it now (circuit breakers open).
    std::function<bool(const std::string& channel, const std::string& address)> configured;
};

RouteDecision route(const RouteQuery& q, const RouterPolicy& policy);

struct RouterConfig;
// The policy the config's [router] gives (the pipeline's, and an audience preview's).
RouterPolicy policy_of(const RouterConfig& config);

}  // namespace crieur
