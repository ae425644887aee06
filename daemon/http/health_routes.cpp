#include "daemon/http/health_routes.hpp"

#include "channels/registry.hpp"
#include "daemon/http/openapi.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur::http {

void add_health_routes(Routes& routes, std::function<Readiness()> readiness, Metrics& metrics, ReceiptStore& store,
                       ChannelRegistry& channels) {
    routes.add(
        "GET", "/healthz",
        [](const Request&, std::string_view, Reply reply) { reply({200, "application/json", R"({"status":"ok"})", {}}); },
        Access::probe);
    routes.add(
        "GET", "/readyz",
        [readiness = std::move(readiness)](const Request&, std::string_view, Reply reply) {
            const Readiness r = readiness();
            auto b = [](bool v) { return v ? "true" : "false"; };
            std::string body = std::string("{\"ready\":") + b(r.ready()) + ",\"redis\":" + b(r.redis) +
                               ",\"receipts_writable\":" + b(r.receipts_writable) + ",\"draining\":" + b(r.draining) + "}";
            reply({r.ready() ? 200 : 503, "application/json", std::move(body), {}});
        },
        Access::open);
    // The API's description reads no data: open, on the internal listener.
    routes.add(
        "GET", "/v1/openapi.json",
        [](const Request&, std::string_view, Reply reply) { reply({200, "application/json", std::string(openapi_json()), {}}); },
        Access::open);
    routes.add("GET", "/metrics", [&metrics, &store, &channels](const Request&, std::string_view, Reply reply) {
        store.status_counts([&metrics, &store, &channels, reply = std::move(reply)](auto counts) {
            reply({200, "text/plain; version=0.0.4",
                   metrics.prometheus(store.rows_committed(), store.batches_committed(), store.queue_depth(), counts) +
                       channels.prometheus(),
                   {}});
        });
    });
}

}  // namespace crieur::http
