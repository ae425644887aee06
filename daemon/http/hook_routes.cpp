#include "daemon/http/hook_routes.hpp"

#include <algorithm>
#include <functional>
#include <memory>

#include "channels/registry.hpp"
#include "daemon/directory/directory_service.hpp"
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
        if (then_) then_();
    }
    void then(std::function<void()> f) { then_ = std::move(f); }

private:
    std::size_t left_;
    bool failed_ = false;
    Response answer_;
    Reply reply_;
    std::function<void()> then_;
};

}  // namespace

void add_hook_routes(Routes& routes, const ChannelRegistry& channels, ReceiptStore& store,
                     directory::DirectoryService& directory, Metrics& metrics, ReplyDesk* desk) {
    auto hook = [&channels, &store, &directory, &metrics, desk](const Request& req, std::string_view tail, Reply reply) {
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
        std::vector<SmsKeyword> words;
        std::size_t writes = r.events.size() + 1;
        for (auto& m : r.inbound) {
            words.push_back(m.provider_keyword != SmsKeyword::none ? m.provider_keyword : sms_keyword(m.text));
            writes += words.back() == SmsKeyword::none ? 1 : 2;
        }
        auto pending = std::make_shared<Pending>(writes, std::move(answer), std::move(reply));
        for (auto& event : r.events)
            store.record_event(std::move(event), [pending](EventVerdict v) {
                pending->done(v == EventVerdict::failed ? make_error_code(errc::store_failed) : std::error_code{});
            });
        // Confirmed once written: a STOP, a reply is never only in memory. A STOP or START is
        // settled as it is written; a reply is worked out afterwards by the reply desk.
        const bool replies = std::any_of(words.begin(), words.end(), [](SmsKeyword w) { return w == SmsKeyword::none; });
        for (std::size_t i = 0; i < r.inbound.size(); ++i) {
            auto& m = r.inbound[i];
            metrics.inbound_messages++;
            const SmsKeyword word = words[i];
            auto written = [pending](std::error_code e) { pending->done(e); };
            if (word == SmsKeyword::opt_out) directory.opt_out(m.channel, m.from, m.channel + " STOP", written);
            else if (word == SmsKeyword::opt_in) directory.opt_in(m.channel, m.from, m.channel + " START", m.channel + " STOP", written);
            receipts::InboundRecord record{std::string(name), std::move(m.provider_id), m.channel, std::move(m.from),
                                           std::move(m.text), std::move(m.in_reply_to), m.received_ms,
                                           word == SmsKeyword::opt_out  ? receipts::InboundOutcome::opted_out
                                           : word == SmsKeyword::opt_in ? receipts::InboundOutcome::opted_in
                                                                        : receipts::InboundOutcome::pending};
            store.record_inbound(std::move(record), written);
        }
        // The desk reads what is committed: told once everything is written.
        if (replies && desk) pending->then([desk] { desk->notify(); });
        pending->done();
    };
    routes.add("GET", "/hooks/", hook, Access::external);
    routes.add("POST", "/hooks/", hook, Access::external);
}

}  // namespace crieur::http
