// The messages resource: GET /v1/messages/{id} (the message, its attempts and events, addresses
// masked), POST /v1/messages/{id}/cancel (what has not gone out). Every route asks for the API key. Handlers run on the io_context; the receipt store
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

// A 400 problem naming a query parameter.
Response bad_query(std::string_view name, std::string detail);

// Cancels every message of a campaign that crieur did not launch (the `campaign` field of a
// service's own jobs), in the receipts: those known and not sent, and those to come.
void cancel_receipts_campaign(ReceiptStore& store, const keys::Caller& caller, std::string id, Reply reply);

}  // namespace crieur::http
