// URLs read by libcurl's URL parser, never by string prefixes ("http://127.0.0.1.evil.tld" is
// not loopback), and the check that keeps outgoing requests away from internal networks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crieur {

struct UrlParts {
    std::string scheme, host, port;  // host lower-cased, IPv6 in brackets; port only when named
};
std::optional<UrlParts> parts_of(const std::string& url);

// A URL as it may be shown (a listing, a log line): credentials (user:password@) and each query
// value replaced by "***", since a service's endpoint may carry its token there; the scheme,
// host, port, path and the query's names kept. A URL libcurl cannot read is shown as "***".
std::string redact_url(const std::string& url);

// Whether a URL's host is a name or address of this machine or of a private network:
// localhost, loopback, link-local (the cloud metadata address), RFC 1918, unique local IPv6,
// unspecified. Literal addresses only: a public name that resolves to a private address (DNS
// rebinding) is not caught here.
bool is_internal_host(std::string_view host);

// Whether `host` is in the list: "example.org" exactly, ".example.org" any name under it.
bool host_listed(std::string_view host, const std::vector<std::string>& list);

}  // namespace crieur
