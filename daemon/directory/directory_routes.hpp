// The directory's HTTP API on the daemon's server:
//   GET    /v1/citizens/{id}            the citizen as the directory holds them
//   PUT    /v1/citizens/{id}            create or replace (upsert by id; contact states are kept)
//   DELETE /v1/citizens/{id}            GDPR erasure: directory rows, personal data in receipts; later jobs refused
//   POST   /v1/citizens/{id}/consents   {"channel", "category", "granted", "source"} (or an array of them)
//   GET    /u/{token}                   a page with a button that unsubscribes (link scanners only GET)
//   POST   /u/{token}                   RFC 8058 one-click unsubscribe from information e-mails
// /v1/citizens asks for the bearer token when http.api_token is set. /u/ is public: its token is a
// MAC over the message id (smtp.unsubscribe_secret), which cannot be forged or enumerated.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "daemon/config.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur::directory {

// Why no provider will ever send to an address (ChannelRegistry::refusal); empty when one may.
using ContactRefusal = std::function<std::string(std::string_view channel, std::string_view address)>;

// A stored contact that no provider would ever use (a Web Push endpoint outside allowed_hosts)
// is refused with 422 when it is written, rather than kept and refused at each send.
// `erase_elsewhere`: what else holds the citizen's id (the campaigns' snapshots), told of an erasure.
using EraseElsewhere = std::function<void(const std::string& citizen, std::function<void(bool ok)> done)>;
void add_directory_routes(http::Routes& routes, const Config& config, DirectoryService& directory,
                          ReceiptStore& store, const Clock& clock, ContactRefusal refusal, EraseElsewhere erase_elsewhere = {});

}  // namespace crieur::directory
