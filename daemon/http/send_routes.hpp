// Sending over HTTP: POST /v1/messages (scope `send`). One job in the contract of docs/jobs.md,
// the key fixing its service, checked as the intake checks it (the contract, the template, its
// data) before anything is queued, then XADDed to the jobs stream (urgent ones to the urgent
// stream) exactly once per job id: the same id and body give the same answer, the
// same id with another body a 409 (the id, the body's SHA-256 and the stream entry kept in Redis
// for a day, shared by every daemon). Errors are RFC 9457 problem documents (docs/api.md).
#pragma once

#include <functional>
#include <memory>

#include "daemon/http/routes.hpp"

namespace crieur {
struct Config;
namespace redis {
class RedisConnection;
}
namespace render {
class TemplateStore;
}
}  // namespace crieur

namespace crieur::http {

using CurrentTemplates = std::function<std::shared_ptr<const render::TemplateStore>()>;

void add_send_routes(Routes& routes, const Config& config, redis::RedisConnection& redis, CurrentTemplates templates);


}  // namespace crieur::http
