// The providers' callbacks: /hooks/<provider name>/..., open to the internet, each read by that
// provider instance's driver (Channel::hook), which checks the provider's own proof (a signature,
// an unguessable path token) and returns status updates and citizens' messages as values. This
// route records them, and answers what the driver asked only once they are written; otherwise it
// answers 500 and the provider sends them again. A STOP opts the address out of its channel,
// START back in; every message a citizen sends is kept (daemon/receipts/inbound.hpp) and the
// reply desk works out the rest (daemon/inbound/reply_desk.hpp). Refused and malformed callbacks are counted in /metrics. Handlers run on the
// io_context.
#pragma once

#include "daemon/http/routes.hpp"

namespace crieur {
class ChannelRegistry;
struct Metrics;
class ReceiptStore;
class ReplyDesk;
}  // namespace crieur

namespace crieur::http {

void add_hook_routes(Routes& routes, const ChannelRegistry& channels, ReceiptStore& store,
                     Metrics& metrics, ReplyDesk& desk);

}  // namespace crieur::http
