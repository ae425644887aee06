// The dead letters over HTTP (what `crieur dead list|requeue` does, for the dashboard and the
// services): GET /v1/dead-letters (scope read), POST /v1/dead-letters/{entry}/requeue (send) and
// /discard (cancel). A service's key sees and acts on its own service's jobs only. An entry shows
// the job's id, service, template, the code, field and reason, never the job's data (the
// recipient, the template's values): that stays in Redis, trimmed after retention.dead_letter_days.
#pragma once

#include "daemon/http/routes.hpp"

namespace crieur {
struct RedisConfig;
namespace redis {
class RedisConnection;
}
}  // namespace crieur

namespace crieur::http {

void add_dead_letter_routes(Routes& routes, const RedisConfig& config, redis::RedisConnection& redis);

}  // namespace crieur::http
