// The services' callback endpoints: where each service wants its messages' status changes POSTed,
// and the secrets they are signed with. Kept in a JSON-lines file of their own (0600: the secrets
// are there in clear, since signing needs them), written by `crieur services callback`, read with
// the config and again on SIGHUP.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crieur::callbacks {

struct Endpoint {
    std::string service;
    std::string url;
    // "whsec_..." secrets, the newest first. Every one signs (webhook-signature holds one
    // signature each), so that a service switches to a new secret at its own pace (`rotate`),
    // then drops the old one (`retire`).
    std::vector<std::string> secrets;
    std::int64_t created_ms = 0;
    bool operator==(const Endpoint&) const = default;
};

std::string to_json_line(const Endpoint& e);
std::variant<Endpoint, std::string> from_json_line(std::string_view line);

struct EndpointFile {
    std::vector<Endpoint> endpoints;
    std::string error;  // "path:line: what is wrong"; empty when read (a missing file: no endpoints)
};
EndpointFile read_endpoint_file(const std::string& path);
void write_endpoint_file(const std::string& path, const std::vector<Endpoint>& endpoints);

// What is wrong with a callback URL, or an empty string. https only; never a host of this machine
// or of a private network (a service must not make crieur call the intranet), unless the host is
// in `allow_hosts` ("hooks.intranet.example", ".intranet.example", "127.0.0.1"), which also
// allows http there.
std::string url_problem(const std::string& url, const std::vector<std::string>& allow_hosts);

}  // namespace crieur::callbacks
