// The conformance table every provider driver must pass (tests/integration/provider_conformance_test.cpp),
// as Apprise runs one table of cases over all its channels. A provider's own test file declares
// its profile, how to configure an instance against a stub of its API and what its callbacks
// look like, with CRIEUR_CONFORMANCE_PROFILE; the table then checks the same promises of every
// driver: outcome classes, timeouts, oversized and garbled answers, callbacks with a bad proof.
// A provider type that cannot run against an HTTP stub says why, with an exemption.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "daemon/http/routes.hpp"
#include "daemon/types.hpp"
#include "support/process.hpp"

namespace crieur::test {

// A request to /hooks/<name>..., owned.
struct HookCall {
    std::string method = "POST", path, query, body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
};

struct ConformanceProfile {
    std::string type;
    // The instance's keys after `type` and `name` (and without timeout_ms), for an API at `base`;
    // files it needs go in `dir`.
    std::function<std::string(const std::string& base, const TempDir& dir)> keys;
    // A message it carries; `base` is where the API is (Web Push's endpoint is in the address).
    std::function<Message(const std::string& base)> message;
    std::string send_path;  // where on the stub a send arrives (a route prefix)
    int success_status = 200;
    std::string success_body;
    std::vector<std::pair<std::string, std::string>> success_headers;
    bool success_reads_body = true;  // false: the status alone says accepted (Web Push)
    OutcomeKind auth_refused = OutcomeKind::provider_down;  // what a 401 means to it
    std::function<void(http::Routes& stub, const std::string& base)> extra_routes;  // FCM's token exchange
    // Callbacks for the instance named `name`: proven and readable (it reports a status), badly
    // proven, proven but unreadable. Left empty by a provider with no callbacks.
    std::function<HookCall(const std::string& name)> good_callback, bad_proof_callback, malformed_callback;
};

inline std::vector<ConformanceProfile>& conformance_profiles() {
    static std::vector<ConformanceProfile> profiles;
    return profiles;
}
// Provider type → why it is not in the table (and where it is tested instead).
inline std::map<std::string, std::string>& conformance_exemptions() {
    static std::map<std::string, std::string> exempt;
    return exempt;
}

struct ConformanceRegistration {
    explicit ConformanceRegistration(ConformanceProfile p) { conformance_profiles().push_back(std::move(p)); }
    ConformanceRegistration(std::string type, std::string why) { conformance_exemptions()[std::move(type)] = std::move(why); }
};

#define CRIEUR_CONFORMANCE_CAT2(a, b) a##b
#define CRIEUR_CONFORMANCE_CAT(a, b) CRIEUR_CONFORMANCE_CAT2(a, b)
// CRIEUR_CONFORMANCE_PROFILE(profile_function): registers the profile that function returns.
#define CRIEUR_CONFORMANCE_PROFILE(make) \
    static const ::crieur::test::ConformanceRegistration CRIEUR_CONFORMANCE_CAT(crieur_conformance_, __LINE__){make()}
// CRIEUR_CONFORMANCE_EXEMPT("smtp", "why, and where it is tested").
#define CRIEUR_CONFORMANCE_EXEMPT(type, why) \
    static const ::crieur::test::ConformanceRegistration CRIEUR_CONFORMANCE_CAT(crieur_conformance_, __LINE__){type, why}

}  // namespace crieur::test
