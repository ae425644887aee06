#include "daemon/http/hook_routes.hpp"

#include <algorithm>
#include <functional>
#include <memory>

#include "channels/registry.hpp"
#include "daemon/inbound/reply_desk.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur::http {

namespace {

// One answer once every write of a callback is done: the driver's, or 500 if any write failed.
class Pending {
public:
    Pending(std::size_t writes, Response answer, Reply reply)
        : left_(writes), answer_(std::move(answer)), reply_(std::move(reply)) {}
    void done(std::error_code e = {}) {
        failed_ = failed_ || e;
        if (--left_ > 0) return;
        reply_(failed_ ? status_problem(500, "could not record it; send it again") : answer_);
    }


private:
    std::size_t left_;
    bool failed_ = false;
    Response answer_;
    Reply reply_;
};

}  // namespace

void add_hook_routes(Routes& routes, const ChannelRegistry& channels, ReceiptStore& store,
                     Metrics& metrics, ReplyDesk& desk) {
    auto hook = [&channels, &store, &metrics, &desk](const Request& req, std::string_view tail, Reply reply) {
        const auto slash = tail.find('/');
        const std::string_view name = tail.substr(0, slash);
        const std::string_view rest = slash == std::string_view::npos ? std::string_view() : tail.substr(slash);
        const Channel* driver = channels.by_name(name);
        if (!driver) return reply(status_problem(404, "no such hook"));
        HookResult r = driver->hook(HookRequest{req.method, rest, req.query, req.body, &req.headers});
        switch (r.verdict) {
        case HookResult::Verdict::not_found: return reply(status_problem(404, "no such hook"));
        case HookResult::Verdict::refused:
            metrics.callbacks_rejected++;
            spdlog::warn("hooks: {}: refused {}", driver->provider(), r.why);
            return reply(status_problem(403, r.why));
        case HookResult::Verdict::malformed:
            metrics.callbacks_malformed++;
            spdlog::warn("hooks: {}: {} was refused", driver->provider(), r.why);
            return reply(status_problem(400, r.why));
        case HookResult::Verdict::taken: break;
        }
        metrics.callbacks_received++;
        Response answer{r.status, r.content_type, std::move(r.body), {}};
        const std::size_t writes = r.events.size() + 1 + (r.inbound.empty() ? 0 : 1);
        auto pending = std::make_shared<Pending>(writes, std::move(answer), std::move(reply));
        for (auto& event : r.events)
            store.record_event(std::move(event), [pending](EventVerdict v) {
                pending->done(v == EventVerdict::failed ? make_error_code(errc::store_failed) : std::error_code{});
            });
        // Citizens' messages: kept, STOP and START applied, the replies worked out (the desk).
        if (!r.inbound.empty()) desk.take(std::string(name), std::move(r.inbound), [pending](std::error_code e) { pending->done(e); });
        pending->done();
    };
    routes.add("GET", "/hooks/", hook, Access::external);
    routes.add("POST", "/hooks/", hook, Access::external);
}

}  // namespace crieur::http
