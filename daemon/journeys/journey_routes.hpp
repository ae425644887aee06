// The journeys' HTTP API (docs/journeys.md, docs/api.md):
//   POST /v1/journeys                  start one (idempotent by its id)                        send
//   GET  /v1/journeys?journey=&step=&state=&cursor=&limit=   the instances, paged             read
//   GET  /v1/journeys/{id}             one: its step, messages, events, next move, history     read
//   POST /v1/journeys/{id}/events      the service tells what happened (booked, ...)           send
//   POST /v1/journeys/{id}/actions     an agent steps in: send, reschedule, pause, resume, stop send
// A service's key sees and moves its own service's journeys only.
#pragma once

#include "daemon/config.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/http/send_routes.hpp"
#include "daemon/journeys/journey_runner.hpp"

namespace crieur::cluster {
class PeerDaemons;
}
namespace crieur::redis {
class RedisConnection;
}

namespace crieur::journeys {

// `peers`: several daemons on one Redis (null: this one alone); a journey is kept by the daemon
// that started it, and a request for it that reaches another goes on to that one.
void add_journey_routes(http::Routes& routes, const Config& config, JourneyRunner& runner,
                        http::CurrentTemplates templates, cluster::PeerDaemons* peers, redis::RedisConnection& redis);

}  // namespace crieur::journeys
