#include "daemon/http/hook_routes.hpp"

#include <memory>

#include "channels/registry.hpp"
#include "daemon/directory/directory_service.hpp"
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
        if (--left_ == 0) reply_(failed_ ? status_problem(500, "could not record it; send it again") : answer_);
    }

private:
    std::size_t left_;
    bool failed_ = false;
    Response answer_;
    Reply reply_;
};

}  // namespace

void add_hook_routes(Routes& routes, const ChannelRegistry& channels, ReceiptStore& store,
                     directory::DirectoryService& directory, Metrics& metrics) {
    auto hook = [&channels, &store, &directory, &metrics](const Request& req, std::string_view tail, Reply reply) {
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
        auto pending = std::make_shared<Pending>(r.events.size() + r.inbound.size() + 1, std::move(answer), std::move(reply));
        for (auto& event : r.events)
            store.record_event(std::move(event), [pending](EventVerdict v) {
                pending->done(v == EventVerdict::failed ? make_error_code(errc::store_failed) : std::error_code{});
            });
        // Confirmed once written: a STOP is never only in memory.
        for (auto& m : r.inbound) {
            metrics.inbound_messages++;
            const SmsKeyword word = m.provider_keyword != SmsKeyword::none ? m.provider_keyword : sms_keyword(m.text);
            auto written = [pending](std::error_code e) { pending->done(e); };
            if (word == SmsKeyword::opt_out) directory.opt_out(m.channel, m.from, m.channel + " STOP", written);
            else if (word == SmsKeyword::opt_in) directory.opt_in(m.channel, m.from, m.channel + " START", m.channel + " STOP", written);
            else pending->done();  // a reply: not kept yet
        }
        pending->done();
    };
    routes.add("GET", "/hooks/", hook, Access::external);
    routes.add("POST", "/hooks/", hook, Access::external);
}

}  // namespace crieur::http
