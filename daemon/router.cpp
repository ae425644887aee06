#include "daemon/router.hpp"

#include "daemon/config.hpp"

#include <algorithm>

namespace crieur {

std::string RouteDecision::exclusions_text() const {
    std::string s;
    for (auto& e : excluded) s += (s.empty() ? "" : "; ") + e.channel + ": " + e.code + " (" + e.detail + ")";
    return s;
}

RouterPolicy policy_of(const RouterConfig& c) {
    RouterPolicy p;
    p.default_order = c.default_order;
    p.service_order = c.service_order;
    p.consent_required = {c.consent_required.begin(), c.consent_required.end()};
    return p;
}

RouteDecision route(const RouteQuery& q, const RouterPolicy& policy) {
    RouteDecision d;
    const Job& job = q.job;
    auto in_template = [&](const std::string& c) {
        return std::find(q.template_channels.begin(), q.template_channels.end(), c) != q.template_channels.end();
    };
    auto exclude = [&](const std::string& channel, const char* code, std::string detail) {
        d.excluded.push_back({channel, code, std::move(detail)});
    };

    // The channels to consider, in order, each once.
    std::vector<std::string> order;
    auto add = [&](const std::string& c) {
        if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
    };
    if (job.channel) add(*job.channel);
    else if (!job.to.empty())
        for (auto& c : job.to) add(c.channel);
    else if (q.citizen && !q.citizen->channels.empty())
        for (auto& c : q.citizen->channels) add(c);
    else if (auto it = policy.service_order.find(job.service); it != policy.service_order.end())
        for (auto& c : it->second) add(c);
    else
        for (auto& c : policy.default_order) add(c);

    const bool needs_consent = policy.consent_required.count(q.category) > 0;
    for (const std::string& channel : order) {
        if (!in_template(channel)) {
            exclude(channel, "not_in_template", "template '" + job.template_name + "' has no " + channel + " version");
            continue;
        }
        if (q.citizen) {
            const directory::Consent* consent = nullptr;
            for (auto& k : q.citizen->consents)
                if (k.channel == channel && k.category == q.category) consent = &k;
            if (consent && !consent->granted) {
                exclude(channel, "refused",
                        "the citizen refused " + q.category + " messages on " + channel +
                            (consent->source.empty() ? "" : " (" + consent->source + ")"));
                continue;
            }
            if (needs_consent && !consent) {
                exclude(channel, "no_consent", q.category + " messages need the citizen's consent on " + channel);
                continue;
            }
        }
        // The addresses on this channel: inline ones, or the citizen's contacts.
        std::vector<std::string> addresses;
        std::string invalid_reason;
        if (!job.to.empty()) {
            for (auto& c : job.to)
                if (c.channel == channel) addresses.push_back(c.address);
        } else if (q.citizen) {
            for (auto& k : q.citizen->contacts) {
                if (k.channel != channel) continue;
                if (k.state == directory::ContactState::invalid) {
                    if (invalid_reason.empty()) invalid_reason = k.reason.empty() ? "marked invalid" : k.reason;
                    continue;
                }
                addresses.push_back(k.address);
            }
        }
        if (addresses.empty()) {
            if (!invalid_reason.empty()) exclude(channel, "contact_invalid", invalid_reason);
            else exclude(channel, "no_contact", "no " + channel + " address");
            continue;
        }
        bool any_suppressed = false, any_uncarried = false, any_down = false, kept = false;
        for (auto& a : addresses) {
            if (q.suppressed && q.suppressed(channel, a)) {
                any_suppressed = true;
                continue;
            }
            if (q.carried && !q.carried(channel, a)) {
                if (q.configured && q.configured(channel, a)) any_down = true;
                else any_uncarried = true;
                continue;
            }
            d.candidates.push_back({channel, a});
            kept = true;
        }
        if (kept) continue;
        if (any_down) exclude(channel, "provider_down", "the providers of " + channel + " are down (circuit breaker open)");
        else if (any_suppressed && !any_uncarried) exclude(channel, "suppressed", "the address asked for no more messages");
        else exclude(channel, "no_provider", "no provider carries " + channel + " to this address");
    }
    return d;
}

}  // namespace crieur
