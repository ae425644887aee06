// The campaigns' HTTP API (docs/campaigns.md, docs/api.md):
//   POST /v1/campaigns                  create (and launch, unless a draft; dry_run: the preview)   send
//   GET  /v1/campaigns                  the list, newest first                                        read
//   GET  /v1/campaigns/{id}             one, with its counts, reach and follow-ups                    read
//   GET  /v1/campaigns/{id}/counts      this daemon's counts of its keys (what the others ask)        read
//   POST /v1/campaigns/{id}/launch      a draft's launch                                              send
//   POST /v1/campaigns/{id}/followups   a follow-up to its snapshot (all, not_read, reached; resolved) send
//   POST /v1/campaigns/{id}/cancel      the thread cancelled                                          cancel
// A service's key sees and acts on its own service's campaigns only. With several daemons
// (`peers`), a campaign's counts add up every daemon's receipts.
#pragma once

#include "daemon/audience/preview.hpp"
#include "daemon/campaigns/campaign_runner.hpp"
#include "daemon/config.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/http/send_routes.hpp"

namespace crieur {
class ReceiptStore;
namespace cluster {
class PeerDaemons;
}
}  // namespace crieur

namespace crieur::campaigns {

void add_campaign_routes(http::Routes& routes, const Config& config, CampaignRunner& runner, ReceiptStore& receipts,
                         directory::DirectoryService& reader, http::CurrentTemplates templates, audience::Carried carried,
                         cluster::PeerDaemons* peers = nullptr);

}  // namespace crieur::campaigns
