// The messages resource: GET /v1/messages/{id} (the message, its attempts and events, addresses
// masked), POST /v1/messages/{id}/cancel and POST /v1/campaigns/{id}/cancel (what has not gone
// out). Every route asks for the API key. Handlers run on the io_context; the receipt store
// answers from its reader and writer threads.
#pragma once

#include "daemon/http/routes.hpp"

namespace crieur {
class ReceiptStore;
namespace cluster {
class PeerDaemons;
}
}

namespace crieur::http {

// With `peers` (several daemons on one Redis), a message this daemon does not hold is asked of the
// others, and the list and the counts are merged over all of them (cluster/peers.hpp).
void add_message_routes(Routes& routes, ReceiptStore& store, cluster::PeerDaemons* peers = nullptr);

}  // namespace crieur::http
