// Pipeline: moves one valid job from intake to its outcome. In order: the template check (a job
// whose data does not fit is rejected before anything else), deadline and not_before, the
// citizen from the directory, the router's candidates, quiet hours, the send time, the caps, the
// provider's rate limit, the attempt recorded before the send, the send, the outcome committed;
// then the next candidate (bad address), a retry with backoff, or an escalation on silence. What
// must wait goes to the Redis schedule. It is the only caller of the channel drivers. Use from
// the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/delivery_decisions.hpp"
#include "daemon/intake.hpp"
#include "daemon/job_claims.hpp"
#include "daemon/job_codec.hpp"
#include "daemon/metrics.hpp"
#include "daemon/render/template_store.hpp"
#include "daemon/retry_policy.hpp"
#include "daemon/router.hpp"
#include "daemon/send_gate.hpp"
#include "daemon/status.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/resume.hpp"
#include "daemon/types.hpp"

namespace date {
class time_zone;
}

namespace crieur {

class Channel;
class ChannelRegistry;
class RateLimiter;
class Caps;
class ReceiptStore;
class Schedule;
namespace sendtime {
class Learner;
}
namespace directory {
class DirectoryService;
struct Citizen;
}  // namespace directory

class Pipeline {
public:
    Pipeline(boost::asio::io_context& io, const Config& config, std::shared_ptr<const render::TemplateStore> templates,
             ReceiptStore& store, directory::DirectoryService& directory, ChannelRegistry& channels,
             Schedule& schedule, RateLimiter& rate_limiter, Caps& caps, sendtime::Learner* send_time,
             Metrics& metrics, const Clock& clock);

    // See Intake::Process.
    std::optional<JobError> process(Job job, Resume resume, const StreamEntry& entry,
                                    std::function<void(Disposition)> done);

    // A provider reported that a message it had accepted failed (a late failure): the same channel
    // again later when the failure may pass (RetryPolicy), else the next channel now, when a next
    // step of the job waits in the schedule.
    void on_late_failure(const LateFailure& failure);

    // A reloaded config's routing, retry, quiet hours and escalation rules: used for the jobs read
    // from now on.
    void apply_policies(const Config& config);
    // A reloaded template set: used for the jobs read from now on.
    void set_templates(std::shared_ptr<const render::TemplateStore> templates) { templates_ = std::move(templates); }
    std::shared_ptr<const render::TemplateStore> templates() const { return templates_; }
    // Several daemons on one Redis (redis.claim_job_ids): each job's id is claimed before it is
    // worked on. Null: one daemon, no claims.
    void set_claims(JobClaims* claims) { claims_ = claims; }

private:
    // One message on its way down its candidates: the next is tried when one is a bad address or
    // fails for good.
    struct Delivery;
    // The job's admission (deadline, not_before, quiet hours, send time), then its citizen, its route.
    void admit(std::shared_ptr<Delivery> d);
    // A place in a provider's send gate (limit 0: the provider has no gate).
    struct Seat {
        Channel* driver;
        int limit;
    };
    // Carries out an admission that is not Go (the schedule, or the receipt): true then.
    bool held(const std::shared_ptr<Delivery>& d, decide::Admission admission);
    void route_and_send(std::shared_ptr<Delivery> d, const directory::Citizen* citizen);
    void try_candidate(std::shared_ptr<Delivery> d);
    // The provider's rate limit, then the send gate, then the attempt recorded, then the send.
    void pace(std::shared_ptr<Delivery> d, RouteCandidate candidate, Channel* driver, Message message,
              bool returning);
    void send_now(std::shared_ptr<Delivery> d, RouteCandidate candidate, Channel* driver, Message message);
    void begin_send(std::shared_ptr<Delivery> d, RouteCandidate candidate, Seat seat, Message message);
    void not_sent(std::shared_ptr<Delivery> d, const BeginResult& r, const std::string& job_id);
    void transmit(std::shared_ptr<Delivery> d, RouteCandidate candidate, Seat seat, BeginResult r, Message message);
    void leave(Seat seat);
    // The outcome committed: what after_outcome decided is done (next channel, retry, escalation, ack).
    void carry_out(std::shared_ptr<Delivery> d, decide::Next next, const std::string& channel);
    void settle(std::shared_ptr<Delivery> d, Status status, std::string reason);
    // Sets the job aside in the schedule, to come back at `at` as `resume` says.
    void put_aside(const std::shared_ptr<Delivery>& d, Resume resume, TimePoint at,
                   std::function<void(std::error_code)> done);

    JobClaims* claims_ = nullptr;
    IntakeConfig intake_;
    RouterPolicy policy_;
    decide::EscalationPolicy escalation_;
    RetryPolicy retry_;
    QuietHoursConfig quiet_;
    const date::time_zone* default_zone_ = nullptr;
    directory::DirectoryService& directory_;
    std::shared_ptr<const render::TemplateStore> templates_;
    ReceiptStore& store_;
    ChannelRegistry& channels_;
    Schedule& schedule_;
    Metrics& metrics_;
    const Clock& clock_;
    boost::asio::io_context& io_;
    RateLimiter& rate_;
    SendGate gate_;
    Caps& caps_;
    sendtime::Learner* send_time_;  // null: the send time is off
    int send_time_window_h_ = 24;
    std::int64_t throttle_horizon_ms_ = 5000;
    std::int64_t provider_wait_ms_ = 30'000;  // a message whose providers are all down waits this long
};

// The structural check of a job against its template's channels (used by prepare(), and so by
// `crieur enqueue`): for a citizen job, the route is only a channel to render on ("citizen:<id>");
// the router picks the real ones. Pure.
struct Route {
    std::string channel;
    std::string recipient;
};
// The forced channel (it must be one of the template's, and have an address in `to` when `to`
// is given); else the first inline contact on one of the template's channels; else, for a
// citizen, the default channel when the template has it, or the template's first. A string
// says why there is no route.
std::variant<Route, std::string> route_for(const Job& job, const std::string& default_channel,
                                           const std::vector<std::string>& template_channels);

// The template's channels that the job's `channels` allows, in the template's order (all of them
// when the job narrows none).
std::vector<std::string> allowed_channels(const Job& job, const std::vector<std::string>& template_channels);

// A job checked against its template and rendered: the message, ready for a channel; or why the
// job must be rejected (unknown template, no channel of the template, data that does not fit).
// Used by the pipeline and by `crieur enqueue`, so that both judge a job alike. Pure.
std::variant<Message, JobError> prepare(const Job& job, const render::TemplateStore& templates,
                                        const std::string& default_channel);

// The job rendered for one channel and address. `citizen`, when the job is addressed to one, gives
// the locale (the job's `locale` only when the citizen has none) and the `citizen` object templates may use
// ({{citizen.given_name}}, {{citizen.family_name}}), and `name` (given and family name) when the
// data has none. Pure.
std::variant<Message, JobError> render_for(const Job& job, const render::TemplateStore& templates,
                                           const std::string& channel, const std::string& address,
                                           const directory::Citizen* citizen);

}  // namespace crieur
