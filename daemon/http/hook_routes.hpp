// The providers' callbacks, open to the internet and checked by each provider's own proof (a
// signature, an unguessable path token): Twilio status callbacks and incoming messages, OVHcloud
// delivery reports, WhatsApp's subscription handshake and status notifications. A confirmation
// (2xx) is only given once what it reports is written; otherwise the provider sends it again.
// Handlers run on the io_context.
#pragma once

#include "daemon/http/routes.hpp"

namespace crieur {
struct Config;
class Metrics;
class ReceiptStore;
namespace directory {
class DirectoryService;
}
}  // namespace crieur

namespace crieur::http {

void add_hook_routes(Routes& routes, const Config& config, ReceiptStore& store, directory::DirectoryService& directory,
                     Metrics& metrics);

}  // namespace crieur::http
