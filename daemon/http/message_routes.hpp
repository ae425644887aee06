// The messages resource: GET /v1/messages/{id} (the message, its attempts and events, addresses
// masked), POST /v1/messages/{id}/cancel and POST /v1/campaigns/{id}/cancel (what has not gone
// out). Every route asks for the API key. Handlers run on the io_context; the receipt store
// answers from its reader and writer threads.
#pragma once

#include "daemon/http/routes.hpp"

namespace crieur {
class ReceiptStore;
}

namespace crieur::http {

void add_message_routes(Routes& routes, ReceiptStore& store);

}  // namespace crieur::http
