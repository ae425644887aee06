// What readers do with their messages, for the send time, on the daemon's HTTP server:
//   POST /v1/events      sessions, taps, opens, clicks and reads reported by the app's back end
//                        (daemon/engagement/events.hpp); bearer token when http.api_token is set
//   GET  /t/o/{token}    an e-mail's tracking image: records an open, answers a 1×1 GIF
//   GET  /t/c/{token}?u= a tracked link in an e-mail: records a click, redirects to u
// /t/ is public: its tokens are MACs (channels/email/tracking.hpp), and a link redirects only to
// the URL its token was made for.
#pragma once

#include "daemon/config.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur::engagement {

void add_engagement_routes(http::Routes& routes, const Config& config, ReceiptStore& store,
                           directory::DirectoryService& directory, const Clock& clock);

}  // namespace crieur::engagement
