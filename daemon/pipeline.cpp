#include "daemon/pipeline.hpp"

#include <date/tz.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>

#include "channels/registry.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/log.hpp"
#include "daemon/quiet_hours.hpp"
#include "daemon/rate_limiter.hpp"
#include "daemon/sendtime/learner.hpp"

#include <boost/asio/steady_timer.hpp>
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/schedule.hpp"

namespace crieur {

namespace {
// A not_before this close is "now": putting a job aside for less is not worth two round trips.
constexpr auto kScheduleTolerance = std::chrono::seconds{1};

Status status_after(OutcomeKind k) {
    switch (k) {
    case OutcomeKind::accepted: return Status::sent;
    case OutcomeKind::retry:
    case OutcomeKind::provider_down: return Status::queued;  // another try, later (or elsewhere, with failover)
    case OutcomeKind::unknown: return Status::unknown;
    case OutcomeKind::bad_address:
    case OutcomeKind::failed: return Status::failed;
    }
    return Status::failed;
}

template <class Items, class Name>
std::string join(const Items& items, Name name) {
    std::string s;
    for (auto& i : items) s += (s.empty() ? "" : ", ") + name(i);
    return s;
}
}  // namespace

std::variant<Route, std::string> route_for(const Job& job, const std::string& default_channel,
                                           const std::vector<std::string>& template_channels) {
    auto offered = [&](const std::string& c) {
        return std::find(template_channels.begin(), template_channels.end(), c) != template_channels.end();
    };
    const std::string template_list = join(template_channels, [](const std::string& c) { return c; });
    if (job.channel) {
        if (!offered(*job.channel))
            return "template '" + job.template_name + "' has no channel '" + *job.channel + "' (it has " +
                   template_list + ")";
        if (job.to.empty()) return Route{*job.channel, "citizen:" + job.citizen};
        for (auto& c : job.to)
            if (c.channel == *job.channel) return Route{c.channel, c.address};
        return "'to' has no address for the forced channel '" + *job.channel + "'";
    }
    if (!job.to.empty()) {
        for (auto& c : job.to)
            if (offered(c.channel)) return Route{c.channel, c.address};
        return "none of the channels in 'to' (" + join(job.to, [](const InlineContact& c) { return c.channel; }) +
               ") is a channel of template '" + job.template_name + "' (" + template_list + ")";
    }
    if (template_channels.empty()) return "template '" + job.template_name + "' has no channel";
    return Route{offered(default_channel) ? default_channel : template_channels.front(), "citizen:" + job.citizen};
}

std::variant<Message, JobError> render_for(const Job& job, const render::TemplateStore& templates,
                                           const std::string& channel, const std::string& address,
                                           const directory::Citizen* citizen) {
    thread_local char pool[16 * 1024];  // the data's parse lives in this thread's buffer, not the heap
    rapidjson::MemoryPoolAllocator<> allocator(pool, sizeof pool);
    rapidjson::Document data(&allocator);
    data.Parse(job.data_json.data(), job.data_json.size());
    if (!data.IsObject()) data.SetObject();
    if (citizen && !data.HasMember("citizen")) {
        rapidjson::Value who(rapidjson::kObjectType);
        who.AddMember("given_name", rapidjson::Value(citizen->given_name.c_str(), allocator), allocator);
        who.AddMember("family_name", rapidjson::Value(citizen->family_name.c_str(), allocator), allocator);
        data.AddMember("citizen", who, allocator);
    }
    const std::string locale = job.locale ? *job.locale : citizen ? citizen->locale : std::string();
    auto rendered = templates.render(job.template_name, channel, locale, data);
    if (auto* e = std::get_if<render::RenderError>(&rendered))
        return JobError{errc::bad_template_data, e->variables.empty() ? "data" : "data." + e->variables.front(),
                        e->reason, job.id};
    return Message{job.id, address, std::move(std::get<render::Rendered>(rendered)), job.priority};
}

std::variant<Message, JobError> prepare(const Job& job, const render::TemplateStore& templates,
                                        const std::string& default_channel) {
    if (!templates.has(job.template_name))
        return JobError{errc::unknown_template, "template", "unknown template '" + job.template_name + "'", job.id};
    auto route = route_for(job, default_channel, templates.channels(job.template_name));
    if (auto* why = std::get_if<std::string>(&route))
        return JobError{errc::no_template_channel, job.channel ? "channel" : "to", *why, job.id};
    auto& r = std::get<Route>(route);
    return render_for(job, templates, r.channel, r.recipient, nullptr);
}

struct Pipeline::Delivery {
    Job job;
    std::string entry_id;
    std::function<void(Disposition)> done;
    // On the heap, and freed once used: thousands of these are in flight at once.
    std::unique_ptr<Message> prepared;  // rendered by the check, reused when the first candidate matches
    std::unique_ptr<directory::Citizen> citizen;
    std::vector<RouteCandidate> candidates;
    std::size_t next = 0;
    std::string excluded;  // why channels were left out
    std::string tried;     // the candidates that failed, and how
    std::string job_json;  // kept for a retry or an escalation: they put the job back in the schedule
    bool job_moved = false;  // `job` went to the receipt store: job_of() parses job_json again
    std::vector<std::string> channels_used;  // tried before (an escalation) and now, in order
    bool escalation = false;
    std::string slot_provider;  // a rate-limit slot reserved before it was put aside
    bool send_time_chosen = false;  // back at the send time chosen for it
    // Kept here: `job` may have gone to the receipt store. An urgent job's retries and
    // escalations come back on the urgent stream.
    Priority priority = Priority::normal;
    bool urgent() const { return priority == Priority::urgent; }
};

Pipeline::Pipeline(boost::asio::io_context& io, const Config& config,
                   std::shared_ptr<const render::TemplateStore> templates, ReceiptStore& store,
                   directory::DirectoryService& directory, ChannelRegistry& channels, Schedule& schedule,
                   RateLimiter& rate_limiter, Caps& caps, sendtime::Learner* send_time, Metrics& metrics,
                   const Clock& clock)
    : intake_(config.intake), retry_(config.retry), directory_(directory), templates_(std::move(templates)), store_(store),
      channels_(channels), schedule_(schedule), metrics_(metrics), clock_(clock), io_(io),
      rate_(rate_limiter), gate_(io), caps_(caps), send_time_(send_time) {
    send_time_window_h_ = config.send_time.window_h;
    throttle_horizon_ms_ = config.rate_limits.horizon_ms;
    provider_wait_ms_ = config.providers.breaker_open_ms;
    policy_.default_order = config.router.default_order;
    policy_.service_order = config.router.service_order;
    policy_.consent_required = {config.router.consent_required.begin(), config.router.consent_required.end()};
    quiet_ = config.quiet_hours;
    default_zone_ = date::locate_zone(quiet_.time_zone);  // checked with the config
    escalate_after_s_ = config.router.escalate_after_s;
    urgent_escalate_after_s_ = config.router.urgent_escalate_after_s;
}

std::optional<JobError> Pipeline::process(Job job, const StreamEntry& entry, std::function<void(Disposition)> done) {
    // What the job asks must fit its template before it waits or goes anywhere.
    auto prepared = prepare(job, *templates_, intake_.default_channel);
    if (auto* rejection = std::get_if<JobError>(&prepared)) return std::move(*rejection);

    const auto now = clock_.now();
    auto d = std::make_shared<Delivery>();
    d->entry_id = entry.entry_id;
    d->done = std::move(done);
    d->job_json = entry.job_json;
    d->slot_provider = entry.slot_provider;
    d->send_time_chosen = entry.send_time_chosen;
    d->priority = job.priority;
    if (!entry.escalate_after.empty()) {
        // Back after a silence: the message was sent on these channels and nothing was delivered.
        d->escalation = true;
        for (std::string_view rest = entry.escalate_after; !rest.empty();) {
            const auto comma = rest.find(',');
            d->channels_used.emplace_back(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
        if (job.deadline && *job.deadline <= now) {
            spdlog::info("pipeline: job {}: its deadline passed; no escalation", job.id);
            d->done(Disposition::ack);
            return std::nullopt;
        }
        metrics_.escalations_due++;
    } else if (job.deadline && *job.deadline <= now) {
        const auto deadline = *job.deadline;
        d->job = std::move(job);
        settle(std::move(d), Status::expired, "deadline " + format_rfc3339(deadline) + " passed before the send");
        return std::nullopt;
    }
    if (!d->escalation && job.not_before && *job.not_before > now + kScheduleTolerance &&
        job.priority != Priority::urgent) {
        const auto at = *job.not_before;
        schedule_.put_aside(entry.entry_id, entry.job_json, at, [this, d, job = std::move(job), at](bool ok) mutable {
            if (!ok) {
                d->done(Disposition::keep);
                return;
            }
            metrics_.jobs_scheduled++;
            d->job = std::move(job);
            settle(std::move(d), Status::scheduled, "until " + format_rfc3339(at));
        });
        return std::nullopt;
    }
    d->prepared = std::make_unique<Message>(std::move(std::get<Message>(prepared)));
    d->job = std::move(job);
    if (d->job.citizen.empty()) {
        route_and_send(std::move(d), nullptr);
        return std::nullopt;
    }
    const std::string citizen = d->job.citizen;
    directory_.lookup(citizen, [this, d = std::move(d)](directory::Lookup found) mutable {
        if (!found.error.empty()) {
            spdlog::warn("pipeline: job {}: {}; it stays pending", d->job.id, found.error);
            d->done(Disposition::keep);
            return;
        }
        if (found.erased) {
            settle(std::move(d), Status::rejected,
                   "the citizen's data was erased at their request (GDPR): jobs for this id are refused");
            return;
        }
        if (!found.citizen) {
            std::string reason = "citizen '" + d->job.citizen + "' is not in the directory";
            settle(std::move(d), Status::failed, std::move(reason));
            return;
        }
        d->citizen = std::make_unique<directory::Citizen>(std::move(*found.citizen));
        const directory::Citizen* who = &*d->citizen;
        route_and_send(std::move(d), who);
    });
    return std::nullopt;
}

void Pipeline::settle(std::shared_ptr<Delivery> d, Status status, std::string reason) {
    const Job& job = job_of(*d);
    store_.record_unsent({d->entry_id, job.id, job.service, job.template_name, status, std::move(reason), job.campaign},
                         [d](bool ok) { d->done(ok ? Disposition::ack : Disposition::keep); });
}

void Pipeline::route_and_send(std::shared_ptr<Delivery> d, const directory::Citizen* citizen) {
    const auto* manifest = templates_->manifest(d->job.template_name);
    static const std::string kService = "service";
    RouteQuery q{d->job,
                 templates_->channels(d->job.template_name),
                 manifest ? manifest->category : kService,
                 citizen,
                 [this](const std::string& channel, const std::string& address) {
                     return directory_.suppressed(channel, address);
                 },
                 [this](const std::string& channel, const std::string& address) {
                     return channels_.carried_now(channel, address);
                 },
                 [this](const std::string& channel, const std::string& address) {
                     return channels_.carried(channel, address);
                 }};
    RouteDecision decision = route(q, policy_);
    d->candidates = std::move(decision.candidates);
    d->excluded = decision.exclusions_text();
    if (d->escalation) {
        // The channels already tried are behind us.
        std::erase_if(d->candidates, [&](const RouteCandidate& c) {
            return std::find(d->channels_used.begin(), d->channels_used.end(), c.channel) != d->channels_used.end();
        });
        if (d->candidates.empty()) {
            spdlog::info("pipeline: job {}: silence after the send, and no other channel to try", d->job.id);
            d->done(Disposition::ack);
            return;
        }
    }
    if (d->candidates.empty()) {
        // Only down providers stood in the way: the message waits for them rather than failing.
        const bool waiting_for_providers =
            std::any_of(decision.excluded.begin(), decision.excluded.end(),
                        [](const Exclusion& e) { return e.code == "provider_down"; });
        if (waiting_for_providers) {
            defer(std::move(d), clock_.now() + std::chrono::milliseconds(provider_wait_ms_),
                  "providers down: " + decision.exclusions_text());
            return;
        }
        metrics_.no_reachable_channel++;
        settle(std::move(d), Status::failed, "no_reachable_channel: " + decision.exclusions_text());
        return;
    }
    // The citizen's time zone and quiet hours (their own, else the config's).
    const date::time_zone* zone = default_zone_;
    QuietWindow window{quiet_.start_minute, quiet_.end_minute};
    if (!quiet_.enabled) window = {0, 0};
    if (citizen) {
        if (!citizen->time_zone.empty()) {
            try {
                zone = date::locate_zone(citizen->time_zone);
            } catch (const std::exception&) {
                // checked when stored; a zone the tz database lost since: the default
            }
        }
        if (citizen->quiet_hours && quiet_.enabled)
            window = {citizen->quiet_hours->start_minute, citizen->quiet_hours->end_minute};
    }
    const auto now = clock_.now();
    // Quiet hours: never for urgent messages.
    if (quiet_.enabled && d->job.priority != Priority::urgent && is_quiet(now, zone, window)) {
        defer(std::move(d), first_allowed(now, zone, window),
              "quiet hours " + to_string(window) + " " + std::string(zone->name()));
        return;
    }
    // The send time: the instant of the window with the best chance of being read (docs/sendtime.md).
    if (send_time_ && d->job.priority != Priority::urgent && !d->escalation && !d->send_time_chosen) {
        if (auto model = send_time_->model()) {
            sendtime::Query ask;
            ask.id = d->job.id;
            ask.citizen = d->job.citizen;
            ask.channel = d->candidates.front().channel;
            ask.created_at = ask.not_before = now;
            ask.deadline = d->job.deadline.value_or(now + std::chrono::hours(send_time_window_h_));
            ask.quiet = window;
            ask.policy_utc_offset_minutes = static_cast<int>(
                std::chrono::duration_cast<std::chrono::minutes>(zone->get_info(now).offset).count());
            const sendtime::CitizenInfo info{ask.policy_utc_offset_minutes, ask.policy_utc_offset_minutes, false};
            const TimePoint chosen = model->choose(ask, &info);
            if (chosen > now + std::chrono::minutes(5)) {
                metrics_.send_time_deferred++;
                schedule_.put_aside_until_send_time(d->entry_id, d->job_json, chosen, [this, d, chosen](bool ok) {
                    if (!ok) {
                        d->done(Disposition::keep);
                        return;
                    }
                    settle(d, Status::scheduled,
                           "until " + format_rfc3339(chosen) + " (send time: the citizen's best chance of reading it)");
                });
                return;
            }
        }
    }
    // The caps: per citizen (non-urgent), per service. Escalations were counted with their first send.
    if (caps_.any() && d->job.priority != Priority::urgent && !d->escalation) {
        const auto* m = templates_->manifest(d->job.template_name);
        const std::string category = m ? m->category : "service";
        const std::string job_id = d->job.id, citizen_id = d->job.citizen, service = d->job.service;
        caps_.admit(job_id, citizen_id, category, service, clock_.now(), [this, d = std::move(d)](CapVerdict v) mutable {
            if (v.failed) {
                d->done(Disposition::keep);  // Redis away: the job stays pending
                return;
            }
            if (!v.allowed) {
                metrics_.capped++;
                defer(std::move(d), v.retry_at, v.reason);
                return;
            }
            try_candidate(std::move(d));
        });
        return;
    }
    try_candidate(std::move(d));
}

void Pipeline::defer(std::shared_ptr<Delivery> d, TimePoint at, const std::string& why) {
    metrics_.quiet_hours_deferred++;
    const Job& job = d->job;
    if (job.deadline && at > *job.deadline) {
        if (d->escalation) {
            d->done(Disposition::ack);  // the message is sent; the escalation would come too late
            return;
        }
        settle(std::move(d), Status::expired, "only " + why + " remain before the deadline");
        return;
    }
    if (d->escalation) {
        std::string used;
        for (auto& c : d->channels_used) used += (used.empty() ? "" : ",") + c;
        schedule_.escalate_at(
            job.id, used, d->job_json, at, [d](bool ok) { d->done(ok ? Disposition::ack : Disposition::keep); }, d->urgent());
        return;
    }
    schedule_.put_aside(
        d->entry_id, d->job_json, at,
        [this, d, at, why](bool ok) {
            if (!ok) {
                d->done(Disposition::keep);
                return;
            }
            settle(d, Status::scheduled, "until " + format_rfc3339(at) + " (" + why + ")");
        },
        d->urgent());
}

void Pipeline::try_candidate(std::shared_ptr<Delivery> d) {
    if (d->next >= d->candidates.size()) {
        settle(d, Status::failed,
               "no_reachable_channel: " + d->tried + (d->excluded.empty() ? "" : "; " + d->excluded));
        return;
    }
    const RouteCandidate candidate = d->candidates[d->next++];
    const bool last = d->next == d->candidates.size();
    std::optional<Message> message;
    if (d->prepared && d->prepared->content.channel == candidate.channel && d->prepared->recipient == candidate.address) {
        message = std::move(*d->prepared);
        d->prepared.reset();
    } else {
        auto rendered = render_for(d->job, *templates_, candidate.channel, candidate.address,
                                   d->citizen ? &*d->citizen : nullptr);
        if (auto* e = std::get_if<JobError>(&rendered)) {
            d->tried += (d->tried.empty() ? "" : "; ") + candidate.channel + ": cannot render (" + e->reason + ")";
            try_candidate(std::move(d));
            return;
        }
        message = std::move(std::get<Message>(rendered));
    }
    const std::string& channel = candidate.channel;
    Channel* driver = channels_.find(channel, candidate.address);
    if (!driver) {  // the router checked; the registry does not change under a job
        d->tried += (d->tried.empty() ? "" : "; ") + channel + ": no driver";
        try_candidate(std::move(d));
        return;
    }
    const std::string provider(driver->provider());
    // A slot reserved before the job was put aside is its own; a bulk one asks first whether a
    // higher priority borrowed a slot meanwhile, and gives its own back if so.
    const bool returning = d->slot_provider == provider;
    d->slot_provider.clear();
    if (!rate_.limited(provider) || (returning && d->priority != Priority::bulk)) {
        send_now(std::move(d), candidate, last, driver, std::move(*message));
        return;
    }
    pace(std::move(d), std::move(candidate), last, driver, std::move(*message), returning);
}

// The provider's pace, shared by every daemon: go now, wait for a near slot with a timer (the job
// still pending in the stream), or put the job in the schedule until a far one.
void Pipeline::pace(std::shared_ptr<Delivery> d, RouteCandidate candidate, bool last, Channel* driver,
                    Message message, bool returning) {
    const std::string provider(driver->provider());
    const int segments = message.content.sms ? std::max(1, message.content.sms->segments) : 1;
    const Priority priority = d->priority;
    const std::string recipient = message.recipient;  // copied: the message moves into the completion
    rate_.reserve(provider, recipient, segments, priority, returning, [this, d = std::move(d), candidate, last, driver,
                                   message = std::move(message), returning](std::int64_t wait_ms, bool reserved) mutable {
        if (wait_ms < 0) {  // Redis failed: the job stays pending and comes back
            d->done(Disposition::keep);
            return;
        }
        if (returning && wait_ms > 0) metrics_.throttle_yielded++;
        if (wait_ms > throttle_horizon_ms_) {
            // A far slot: in the schedule until then, with its reservation (no herd, no retry
            // burnt); or, held by its recipient's pace, until it may ask again.
            metrics_.throttle_deferred++;
            const auto at = clock_.now() + std::chrono::milliseconds(wait_ms);
            const std::string name(driver->provider());
            if (d->escalation) {  // stays an escalation; it reserves again when it comes back
                std::string used;
                for (auto& c : d->channels_used)
                    if (c != candidate.channel) used += (used.empty() ? "" : ",") + c;
                schedule_.escalate_at(
                    job_of(*d).id, used, d->job_json, at, [d](bool ok) { d->done(ok ? Disposition::ack : Disposition::keep); },
                    d->urgent());
                return;
            }
            auto settled = [this, d, at, name, reserved](bool ok) {
                if (!ok) {
                    d->done(Disposition::keep);
                    return;
                }
                settle(d, Status::scheduled,
                       reserved ? "rate limit of " + name + ": its slot is at " + format_rfc3339(at)
                                : "pace of " + name + " per recipient: the next message to them at " + format_rfc3339(at));
            };
            if (reserved) schedule_.put_aside_for_slot(d->entry_id, name, d->job_json, at, std::move(settled));
            else schedule_.put_aside(d->entry_id, d->job_json, at, std::move(settled), d->urgent());
            return;
        }
        if (wait_ms == 0) {
            send_now(std::move(d), candidate, last, driver, std::move(message));
            return;
        }
        metrics_.throttle_waits++;
        auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(wait_ms));
        timer->async_wait([this, timer, d = std::move(d), candidate, last, driver, reserved,
                           message = std::move(message)](const boost::system::error_code&) mutable {
            // Held by the recipient's pace: reserve now. A bulk job asks again at its slot: an
            // urgent or normal one may have borrowed it.
            if (!reserved) pace(std::move(d), std::move(candidate), last, driver, std::move(message), false);
            else if (d->priority == Priority::bulk) pace(std::move(d), std::move(candidate), last, driver, std::move(message), true);
            else send_now(std::move(d), candidate, last, driver, std::move(message));
        });
    });
}

void Pipeline::send_now(std::shared_ptr<Delivery> d, RouteCandidate candidate, bool last, Channel* driver,
                        Message message_value) {
    std::optional<Message> message(std::move(message_value));
    const std::string& channel = candidate.channel;
    const auto& c = message->content;
    if (std::find(d->channels_used.begin(), d->channels_used.end(), channel) == d->channels_used.end())
        d->channels_used.push_back(channel);
    // The job goes into the receipt; it is copied while another candidate may need it (later needs
    // parse it again from its JSON).
    BeginRequest begin{last ? std::move(d->job) : d->job, d->entry_id, channel, std::string(driver->provider()),
                       message->recipient, c.locale, c.sms ? sms::to_string(c.sms->encoding) : "",
                       c.sms ? c.sms->segments : 0, d->escalation};
    d->job_moved = last;
    // The attempt is committed before the send starts: after a crash we know what may have gone out.
    store_.begin(std::move(begin), [this, d, last, driver, candidate,
                                    message = std::move(*message)](BeginResult r) mutable {
        switch (r.verdict) {
        case BeginVerdict::store_failed: d->done(Disposition::keep); return;
        case BeginVerdict::duplicate:
            if (d->escalation) {
                // Delivered (or read) meanwhile: the silence is over, nothing more goes out.
                metrics_.escalations_cancelled++;
                spdlog::debug("pipeline: job {} is {}; no escalation", message.job_id, to_string(r.existing));
                d->done(Disposition::ack);
                return;
            }
            if (r.existing == Status::cancelled) metrics_.jobs_cancelled++;
            else metrics_.jobs_duplicate++;
            spdlog::debug("pipeline: job {} is already {}; not sent again", message.job_id, to_string(r.existing));
            d->done(Disposition::ack);
            return;
        case BeginVerdict::marked_unknown:
            metrics_.marked_unknown++;
            spdlog::warn("pipeline: job {} was interrupted mid-send by a stop; marked unknown", message.job_id);
            d->done(Disposition::ack);
            return;
        case BeginVerdict::send: break;
        }
        if (r.resent_after_crash) {
            metrics_.resent_after_crash++;
            spdlog::info("pipeline: job {} was interrupted mid-send by a stop; sending it again", message.job_id);
        }
        // At most providers.max_connections sends in flight per provider; the others wait by priority.
        const int limit = channels_.max_in_flight(driver);
        const Priority priority = d->priority;
        auto start = [this, d = std::move(d), r, last, candidate, driver, limit, message = std::move(message)]() mutable {
            metrics_.sends_started++;
            const auto started = std::chrono::steady_clock::now();
            std::string job_id = message.job_id;
            // Masking costs an allocation: only for a log line that will be written.
            std::string masked = spdlog::should_log(spdlog::level::debug) ? mask_address(message.recipient) : "";
            driver->send(std::move(message), [this, d = std::move(d), r, last, started, candidate, driver, limit, job_id = std::move(job_id),
                                              masked = std::move(masked)](Outcome outcome) mutable {
                if (limit > 0) gate_.leave(driver);
                const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started);
                channels_.report(driver, outcome.kind, latency);
                switch (outcome.kind) {
                case OutcomeKind::accepted: metrics_.sends_accepted++; break;
                case OutcomeKind::retry: metrics_.sends_retry++; break;
                case OutcomeKind::provider_down: metrics_.sends_provider_down++; break;
                default: metrics_.sends_failed++; break;
                }
                spdlog::debug("pipeline: job {} to {} via {}: {} {}", job_id, masked, outcome.provider,
                              to_string(outcome.kind), outcome.reason);
                // A provider said this address cannot be reached, or that its owner opted out: no
                // later message tries it again.
                if (outcome.kind == OutcomeKind::bad_address && outcome.opted_out)
                    directory_.opt_out(candidate.channel, candidate.address, candidate.channel + " STOP");
                else if (outcome.kind == OutcomeKind::bad_address)
                    directory_.invalidate(candidate.channel, candidate.address,
                                          outcome.provider + " " + outcome.code + ": " + outcome.reason);
                // A bad address or a failure for good moves on to the next candidate at once.
                const bool moves_on =
                    !last && (outcome.kind == OutcomeKind::bad_address || outcome.kind == OutcomeKind::failed);
                Status status = moves_on ? Status::queued : status_after(outcome.kind);
                const bool retry = !moves_on && status == Status::queued;
                // An escalation that fails, or must wait, leaves the message as the first channel left it: sent.
                if (d->escalation && (status == Status::failed || retry)) status = Status::sent;
                if (moves_on) {
                    metrics_.fallbacks++;
                    d->tried += (d->tried.empty() ? "" : "; ") + candidate.channel + ": " + to_string(outcome.kind) +
                                (outcome.code.empty() ? "" : " " + outcome.code);
                } else if (!d->tried.empty() && status == Status::failed) {
                    outcome.reason = "no_reachable_channel: " + d->tried + "; " + candidate.channel + ": " +
                                     to_string(outcome.kind) + " (" + outcome.reason + ")";
                }
                if (d->escalation && status == Status::sent && outcome.kind == OutcomeKind::accepted) metrics_.escalations_sent++;
                const bool accepted = outcome.kind == OutcomeKind::accepted;
                const std::int64_t retry_after = outcome.retry_after_ms;
                std::string why = outcome.provider + " " + to_string(outcome.kind) +
                                  (outcome.code.empty() ? "" : " " + outcome.code) +
                                  (outcome.reason.empty() ? "" : ": " + outcome.reason);
                FinishRequest finish{std::move(job_id), r.message_id, r.attempt_id, std::move(outcome), status,
                                     latency.count(), d->escalation};
                store_.finish(std::move(finish), [this, d = std::move(d), status, moves_on, accepted, retry, retry_after,
                                                  attempt = r.attempt_no, why = std::move(why),
                                                  channel = candidate.channel](bool ok) mutable {
                    if (!ok) {
                        d->done(Disposition::keep);
                        return;
                    }
                    if (moves_on) {
                        try_candidate(std::move(d));
                        return;
                    }
                    if (accepted) {
                        after_accepted(std::move(d), channel);
                        return;
                    }
                    if (retry) {
                        after_retry(std::move(d), channel, attempt, retry_after, why);
                        return;
                    }
                    d->done(status != Status::queued ? Disposition::ack : Disposition::keep);
                });
            });
        };
        if (limit <= 0 || gate_.try_enter(driver, limit)) start();
        else gate_.enter(driver, priority, std::move(start));
    });
}

const Job& Pipeline::job_of(Delivery& d) {
    if (d.job_moved) {
        auto parsed = parse_job(d.job_json, SIZE_MAX);  // it was valid when it came in
        if (auto* job = std::get_if<Job>(&parsed)) d.job = std::move(*job);
        d.job_moved = false;
    }
    return d.job;
}

void Pipeline::after_retry(std::shared_ptr<Delivery> d, const std::string& channel, int attempt,
                           std::int64_t retry_after_ms, const std::string& reason) {
    const Job& job = job_of(*d);
    const auto decision = retry_.after(attempt, clock_.now(), retry_after_ms, job.deadline);
    if (d->escalation) {
        // The escalation itself waits: back in the schedule as an escalation, this channel not yet used.
        if (decision.kind != RetryDecision::Kind::retry) {
            spdlog::info("pipeline: job {}: escalation on {} abandoned: {}", job.id, channel, decision.reason);
            d->done(Disposition::ack);
            return;
        }
        std::erase(d->channels_used, channel);
        std::string used;
        for (auto& c : d->channels_used) used += (used.empty() ? "" : ",") + c;
        schedule_.escalate_at(
            job.id, used, d->job_json, decision.at, [d](bool ok) { d->done(ok ? Disposition::ack : Disposition::keep); },
            d->urgent());
        return;
    }
    switch (decision.kind) {
    case RetryDecision::Kind::give_up: settle(d, Status::failed, decision.reason + "; the last: " + reason); return;
    case RetryDecision::Kind::expire: settle(d, Status::expired, decision.reason + "; the last try: " + reason); return;
    case RetryDecision::Kind::retry: break;
    }
    metrics_.retries_scheduled++;
    const auto at = decision.at;
    schedule_.put_aside(
        d->entry_id, d->job_json, at,
        [this, d, at, attempt, reason](bool ok) {
            if (!ok) {
                d->done(Disposition::keep);  // Redis refused: the entry stays pending and comes back by claim
                return;
            }
            settle(d, Status::scheduled,
                   "attempt " + std::to_string(attempt + 1) + " at " + format_rfc3339(at) + " after " + reason);
        },
        d->urgent());
}

void Pipeline::after_accepted(std::shared_ptr<Delivery> d, const std::string& channel) {
    const auto& table = job_of(*d).priority == Priority::urgent ? urgent_escalate_after_s_ : escalate_after_s_;
    const auto after = table.find(channel);
    if (d->next >= d->candidates.size() || after == table.end()) {
        d->done(Disposition::ack);
        return;
    }
    std::string used;
    for (auto& c : d->channels_used) used += (used.empty() ? "" : ",") + c;
    const auto at = clock_.now() + std::chrono::seconds(after->second);
    // Put aside before the ack: a crash between the two sends the job again, and the receipt says
    // it is sent (a duplicate), rather than losing the escalation.
    const std::string id = job_of(*d).id;
    schedule_.escalate_at(
        id, used, d->job_json, at,
        [this, d, id](bool ok) {
            if (ok) metrics_.escalations_scheduled++;
            else spdlog::error("pipeline: job {}: the escalation on silence could not be scheduled", id);
            d->done(Disposition::ack);
        },
        d->urgent());
}

}  // namespace crieur
