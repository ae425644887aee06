// The probes and the metrics: GET /healthz (the process answers), GET /readyz (it can take jobs:
// Redis up, receipts writable, not draining), both open to probes and holding nothing personal;
// GET /metrics (Prometheus text), which asks for the API key like every other read. Handlers run
// on the io_context.
#pragma once

#include <functional>

#include "daemon/http/routes.hpp"

namespace crieur {
class ChannelRegistry;
class Metrics;
class ReceiptStore;
}  // namespace crieur

namespace crieur::http {

struct Readiness {
    bool redis = false;
    bool receipts_writable = false;
    bool draining = false;
    bool ready() const { return redis && receipts_writable && !draining; }
};

void add_health_routes(Routes& routes, std::function<Readiness()> readiness, Metrics& metrics, ReceiptStore& store,
                       ChannelRegistry& channels);

}  // namespace crieur::http
