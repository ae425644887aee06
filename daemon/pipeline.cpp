#include "daemon/pipeline.hpp"

#include <date/tz.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>

#include "channels/registry.hpp"
#include "daemon/delivery_decisions.hpp"
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
        // `name` left out of the data is the citizen's own (a campaign sends one data to many;
        // a WhatsApp template's parameters are read from the data).
        if (!data.HasMember("name") && !(citizen->given_name.empty() && citizen->family_name.empty())) {
            std::string name = citizen->given_name;
            if (!citizen->family_name.empty()) name += (name.empty() ? "" : " ") + citizen->family_name;
            data.AddMember("name", rapidjson::Value(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), allocator), allocator);
        }
    }
    // The citizen's own language first; the job's when the directory has none (docs/jobs.md).
    const std::string locale =
        citizen && !citizen->locale.empty() ? citizen->locale : job.locale ? *job.locale : std::string();
    auto rendered = templates.render(job.template_name, channel, locale, data);
    if (auto* e = std::get_if<render::RenderError>(&rendered))
        return JobError{errc::bad_template_data, e->variables.empty() ? "data" : "data." + e->variables.front(),
                        e->reason, job.id};
    return Message{job.id, address, std::move(std::get<render::Rendered>(rendered)), job.priority};
}

std::vector<std::string> allowed_channels(const Job& job, const std::vector<std::string>& template_channels) {
    if (job.channels.empty()) return template_channels;
    std::vector<std::string> allowed;
    for (auto& c : template_channels)
        if (std::find(job.channels.begin(), job.channels.end(), c) != job.channels.end()) allowed.push_back(c);
    return allowed;
}

std::variant<Message, JobError> prepare(const Job& job, const render::TemplateStore& templates,
                                        const std::string& default_channel) {
    if (!templates.has(job.template_name))
        return JobError{errc::unknown_template, "template", "unknown template '" + job.template_name + "'", job.id};
    const auto& offered = templates.channels(job.template_name);
    if (!job.channels.empty() && allowed_channels(job, offered).empty())
        return JobError{errc::no_template_channel, "channels",
                        "none of the channels allowed is one of template '" + job.template_name + "' (" +
                            join(offered, [](const std::string& c) { return c; }) + ")",
                        job.id};
    auto route = route_for(job, default_channel, job.channels.empty() ? offered : allowed_channels(job, offered));
    if (auto* why = std::get_if<std::string>(&route))
        return JobError{errc::no_template_channel, job.channel ? "channel" : "to", *why, job.id};
    auto& r = std::get<Route>(route);
    return render_for(job, templates, r.channel, r.recipient, nullptr);
}

struct Pipeline::Delivery {
    // Parsed once, by the intake; the receipt store's request shares it through the Delivery
    // (an aliasing pointer: no allocation of its own). Never changed once set: the writer thread
    // reads it during begin(), and hands the request back to the io_context with its answer, so
    // the Delivery is always released on the io_context's thread.
    Job job;
    std::string entry_id;
    std::string job_json;  // as it came in: put back as is when the job waits in the schedule
    Resume came_back;      // how it came back from the schedule (nothing for a new job)
    std::function<void(Disposition)> done;
    // On the heap, and freed once used: thousands of these are in flight at once.
    std::unique_ptr<Message> prepared;  // rendered by the check, reused when the first candidate matches
    std::unique_ptr<directory::Citizen> citizen;
    std::vector<RouteCandidate> candidates;
    std::size_t next = 0;
    std::string excluded;  // why channels were left out
    std::string tried;     // the candidates that failed, and how
    std::vector<std::string> channels_used;  // tried before (an escalation) and now, in order
    // What the decisions need of the job. An urgent job's retries and escalations come back on
    // the urgent stream.
    decide::Timing timing;
    bool urgent() const { return timing.priority == Priority::urgent; }
    bool escalation() const { return timing.escalation; }
    // Its escalation again, with the channels used so far (less `unused`, one it did not use after all).
    Resume still_escalation(bool on_failure_only, const std::string& unused = {}) const {
        std::vector<std::string> used = channels_used;
        if (!unused.empty()) std::erase(used, unused);
        return Resume::escalation(std::move(used), on_failure_only);
    }
};

Pipeline::Pipeline(boost::asio::io_context& io, const Config& config,
                   std::shared_ptr<const render::TemplateStore> templates, ReceiptStore& store,
                   directory::DirectoryService& directory, ChannelRegistry& channels, Schedule& schedule,
                   RateLimiter& rate_limiter, Caps& caps, sendtime::Learner* send_time, Metrics& metrics,
                   const Clock& clock)
    : intake_(config.intake), retry_(config.retry), directory_(directory), templates_(std::move(templates)), store_(store),
      channels_(channels), schedule_(schedule), metrics_(metrics), clock_(clock), io_(io),
      rate_(rate_limiter), gate_(io), caps_(caps), send_time_(send_time) {
    apply_policies(config);
}

void Pipeline::apply_policies(const Config& config) {
    intake_ = config.intake;
    retry_ = RetryPolicy(config.retry);
    send_time_window_h_ = config.send_time.window_h;
    throttle_horizon_ms_ = config.rate_limits.horizon_ms;
    provider_wait_ms_ = config.provider_defaults.breaker_open_ms;
    policy_ = policy_of(config.router);
    quiet_ = config.quiet_hours;
    default_zone_ = date::locate_zone(quiet_.time_zone);  // checked with the config
    escalation_ = {config.router.escalate_after_s, config.router.urgent_escalate_after_s,
                   config.router.fallback_on_failure_s, config.router.retry_late_failure_s};
}

void Pipeline::on_late_failure(const LateFailure& f) {
    metrics_.late_failures++;
    // As after a send's answer: a failure that may pass is a retry, one for good tries the next
    // channel. The job's own deadline is checked when it comes back.
    const decide::OutcomeFacts facts{f.temporary ? OutcomeKind::retry : OutcomeKind::failed,
                                     f.provider, {}, f.provider_status, 0, f.attempt, f.channel, true, {}};
    const auto now = clock_.now();
    decide::Next next = decide::after_outcome(facts, decide::Timing{}, now, retry_, escalation_, retry_.draw());
    if (auto* retry = std::get_if<decide::Retry>(&next)) {
        schedule_.retry_channel(f.job_id, f.channel, retry->at, [this, job_id = f.job_id, why = retry->why](bool moved) {
            if (!moved) return;
            metrics_.late_retries++;
            spdlog::info("pipeline: job {} failed after it was sent, for now: {}", job_id, why);
        });
        return;
    }
    schedule_.advance(f.job_id, now, [job_id = f.job_id](bool moved) {
        if (moved) spdlog::info("pipeline: job {} failed after it was sent; its next channel goes now", job_id);
    });
}

std::optional<JobError> Pipeline::process(Job job, Resume resume, const StreamEntry& entry,
                                          std::function<void(Disposition)> done) {
    // What the job asks must fit its template before it waits or goes anywhere.
    auto prepared = prepare(job, *templates_, intake_.default_channel);
    if (auto* rejection = std::get_if<JobError>(&prepared)) {
        rejection->service = job.service;
        return std::move(*rejection);
    }

    auto d = std::make_shared<Delivery>();
    d->entry_id = entry.entry_id;
    d->done = std::move(done);
    d->job_json = entry.job_json;
    const bool escalation = resume.kind == Resume::Kind::escalation;
    d->timing = {job.priority, job.not_before, job.deadline, escalation};
    // Back after a silence (or a late failure): the message went out on these channels.
    if (escalation) d->channels_used = resume.channels_used;
    d->came_back = std::move(resume);
    d->prepared = std::make_unique<Message>(std::move(std::get<Message>(prepared)));
    d->job = std::move(job);
    if (!claims_) {
        admit(std::move(d));
        return std::nullopt;
    }
    // Several daemons on one Redis: the id is claimed before anything is done with it.
    const bool take_over = entry.redelivered || entry.from_schedule || !entry.resume.empty();
    const std::string id = d->job.id;
    // A warning scheduled months ahead stays claimed until it has gone, not only for the TTL.
    const long long wait_ms = d->job.not_before ? (*d->job.not_before - clock_.now()).count() : 0;
    claims_->claim(id, take_over, wait_ms, [this, d = std::move(d)](ClaimVerdict v) mutable {
        switch (v) {
        case ClaimVerdict::failed:
            spdlog::warn("pipeline: job {}: its id could not be claimed in Redis; it stays pending", d->job.id);
            return d->done(Disposition::keep);
        case ClaimVerdict::elsewhere:
            metrics_.jobs_claimed_elsewhere++;
            spdlog::debug("pipeline: job {} is another daemon's (claimed in Redis); not sent here", d->job.id);
            return d->done(Disposition::ack);
        case ClaimVerdict::taken_over:
            spdlog::info("pipeline: job {} goes on here, taken over from the daemon that held it", d->job.id);
            break;
        case ClaimVerdict::ours: break;
        }
        admit(std::move(d));
    });
    return std::nullopt;
}

void Pipeline::admit(std::shared_ptr<Delivery> d) {
    if (held(d, decide::admit_job(d->timing, clock_.now()))) return;
    if (d->escalation()) metrics_.escalations_due++;
    if (d->job.citizen.empty()) {
        route_and_send(std::move(d), nullptr);
        return;
    }
    const std::string citizen = d->job.citizen;
    directory_.lookup(citizen, [this, d = std::move(d)](directory::Lookup found) mutable {
        if (found.error) {
            spdlog::warn("pipeline: job {}: {}; it stays pending", d->job.id, found.error.message());
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
    }, false);  // routing needs no tags
}

bool Pipeline::held(const std::shared_ptr<Delivery>& d, decide::Admission admission) {
    if (std::holds_alternative<decide::Go>(admission)) return false;
    if (auto* drop = std::get_if<decide::Drop>(&admission)) {
        spdlog::info("pipeline: job {}: {}", d->job.id, drop->reason);
        d->done(Disposition::ack);
        return true;
    }
    if (auto* expire = std::get_if<decide::Expire>(&admission)) {
        settle(d, Status::expired, std::move(expire->reason));
        return true;
    }
    auto& wait = std::get<decide::Defer>(admission);
    switch (wait.cause) {
    case decide::Defer::Cause::not_before: metrics_.jobs_scheduled++; break;
    case decide::Defer::Cause::quiet_hours: metrics_.quiet_hours_deferred++; break;
    case decide::Defer::Cause::send_time: metrics_.send_time_deferred++; break;
    case decide::Defer::Cause::other: break;
    }
    if (d->escalation()) {  // stays an escalation, the channels used so far behind it
        put_aside(d, d->still_escalation(d->came_back.on_failure_only), wait.at,
                  [d](std::error_code e) { d->done(e ? Disposition::keep : Disposition::ack); });
        return true;
    }
    put_aside(d, wait.cause == decide::Defer::Cause::send_time ? Resume::send_time() : Resume{}, wait.at,
              [this, d, why = std::move(wait.why)](std::error_code e) mutable {
                  if (e) return d->done(Disposition::keep);  // Redis refused: the entry stays pending and comes back by claim
                  settle(d, Status::scheduled, std::move(why));
              });
    return true;
}

void Pipeline::put_aside(const std::shared_ptr<Delivery>& d, Resume resume, TimePoint at,
                         std::function<void(std::error_code)> done) {
    // The delivery ends here (its completion acknowledges or keeps the entry): its JSON moves.
    schedule_.put_aside({d->entry_id, d->job.id, std::move(d->job_json), std::move(resume), at, d->urgent()},
                        std::move(done));
}

void Pipeline::settle(std::shared_ptr<Delivery> d, Status status, std::string reason) {
    const Job& job = d->job;
    UnsentRequest unsent{d->entry_id, job.id, job.service, job.template_name, status, std::move(reason), job.campaign};
    unsent.citizen = job.citizen;
    unsent.journey = job.journey;
    store_.record_unsent(std::move(unsent), [d](std::error_code e) { d->done(e ? Disposition::keep : Disposition::ack); });
}

void Pipeline::route_and_send(std::shared_ptr<Delivery> d, const directory::Citizen* citizen) {
    const auto* manifest = templates_->manifest(d->job.template_name);
    static const std::string kService = "service";
    // A campaign's job may narrow the template's channels (only then is a list made).
    const auto& offered = templates_->channels(d->job.template_name);
    const std::vector<std::string> narrowed = d->job.channels.empty() ? std::vector<std::string>{} : allowed_channels(d->job, offered);
    RouteQuery q{d->job,
                 d->job.channels.empty() ? offered : narrowed,
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
    if (d->escalation()) {
        // The channels already tried are behind us.
        std::erase_if(d->candidates, [&](const RouteCandidate& c) {
            return std::find(d->channels_used.begin(), d->channels_used.end(), c.channel) != d->channels_used.end();
        });
        if (d->candidates.empty()) {
            spdlog::info("pipeline: job {}: no other channel to try", d->job.id);
            d->done(Disposition::ack);
            return;
        }
    }
    const auto now = clock_.now();
    if (d->candidates.empty()) {
        // Only down providers stood in the way: the message waits for them rather than failing.
        const bool waiting_for_providers =
            std::any_of(decision.excluded.begin(), decision.excluded.end(),
                        [](const Exclusion& e) { return e.code == "provider_down"; });
        if (waiting_for_providers) {
            held(d, decide::wait_until(d->timing, now + std::chrono::milliseconds(provider_wait_ms_),
                                       "providers down: " + decision.exclusions_text()));
            return;
        }
        metrics_.no_reachable_channel++;
        settle(std::move(d), Status::failed, "no_reachable_channel: " + decision.exclusions_text());
        return;
    }
    // The citizen's time zone and quiet hours (their own, else the config's).
    decide::Moment moment{quiet_.enabled, {quiet_.start_minute, quiet_.end_minute}, default_zone_, std::nullopt};
    if (citizen) {
        if (!citizen->time_zone.empty()) {
            try {
                moment.zone = date::locate_zone(citizen->time_zone);
            } catch (const std::exception&) {
                // checked when stored; a zone the tz database lost since: the default
            }
        }
        if (citizen->quiet_hours) moment.window = {citizen->quiet_hours->start_minute, citizen->quiet_hours->end_minute};
    }
    // The send time: the instant of the window with the best chance of being read (docs/sendtime.md).
    if (send_time_ && !d->urgent() && !d->escalation() && d->came_back.kind != Resume::Kind::send_time) {
        if (auto model = send_time_->model()) {
            sendtime::Query ask;
            ask.id = d->job.id;
            ask.citizen = d->job.citizen;
            ask.channel = d->candidates.front().channel;
            ask.created_at = ask.not_before = now;
            ask.deadline = d->job.deadline.value_or(now + std::chrono::hours(send_time_window_h_));
            ask.quiet = quiet_.enabled ? moment.window : QuietWindow{0, 0};
            ask.policy_utc_offset_minutes = static_cast<int>(
                std::chrono::duration_cast<std::chrono::minutes>(moment.zone->get_info(now).offset).count());
            const sendtime::CitizenInfo info{ask.policy_utc_offset_minutes, ask.policy_utc_offset_minutes, false};
            moment.send_time = model->choose(ask, &info);
        }
    }
    if (held(d, decide::admit_now(d->timing, moment, now))) return;
    // The caps: per citizen (non-urgent), per service. Escalations were counted with their first send.
    if (caps_.any() && !d->urgent() && !d->escalation() && !d->job.test) {  // a test reaches nobody: no cap spent
        const auto* m = templates_->manifest(d->job.template_name);
        const std::string category = m ? m->category : "service";
        const std::string job_id = d->job.id, citizen_id = d->job.citizen, service = d->job.service;
        caps_.admit(job_id, citizen_id, category, service, now, [this, d = std::move(d)](CapVerdict v) mutable {
            if (v.error) {
                d->done(Disposition::keep);  // Redis away: the job stays pending
                return;
            }
            if (!v.allowed) {
                metrics_.capped++;
                held(d, decide::wait_until(d->timing, v.retry_at, v.reason));
                return;
            }
            try_candidate(std::move(d));
        });
        return;
    }
    try_candidate(std::move(d));
}

void Pipeline::try_candidate(std::shared_ptr<Delivery> d) {
    if (d->next >= d->candidates.size()) {
        settle(d, Status::failed,
               "no_reachable_channel: " + d->tried + (d->excluded.empty() ? "" : "; " + d->excluded));
        return;
    }
    const RouteCandidate candidate = d->candidates[d->next++];
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
    // A test job (a test key's) goes through everything but the provider: the outbox writes it.
    Channel* driver = d->job.test ? channels_.by_name("outbox") : channels_.find(channel, candidate.address);
    if (!driver) {  // the router checked; the registry does not change under a job
        d->tried += (d->tried.empty() ? "" : "; ") + channel + ": no driver";
        try_candidate(std::move(d));
        return;
    }
    const std::string provider(driver->provider());
    // A slot reserved before the job was put aside is its own; a bulk one asks first whether a
    // higher priority borrowed a slot meanwhile, and gives its own back if so.
    const bool returning = d->came_back.kind == Resume::Kind::slot && d->came_back.slot_provider == provider;
    if (d->came_back.kind == Resume::Kind::slot) d->came_back = {};
    if (!rate_.limited(provider) || (returning && d->timing.priority != Priority::bulk)) {
        send_now(std::move(d), candidate, driver, std::move(*message));
        return;
    }
    pace(std::move(d), std::move(candidate), driver, std::move(*message), returning);
}

// The provider's pace, shared by every daemon: go now, wait for a near slot with a timer (the job
// still pending in the stream), or put the job in the schedule until a far one.
void Pipeline::pace(std::shared_ptr<Delivery> d, RouteCandidate candidate, Channel* driver,
                    Message message, bool returning) {
    const std::string provider(driver->provider());
    const int segments = message.content.sms ? std::max(1, message.content.sms->segments) : 1;
    const Priority priority = d->timing.priority;
    const std::string recipient = message.recipient;  // copied: the message moves into the completion
    rate_.reserve(provider, recipient, segments, priority, returning, [this, d = std::move(d), candidate, driver,
                                   message = std::move(message), returning](std::error_code e, RateLimiter::Slot slot) mutable {
        if (e) return d->done(Disposition::keep);  // Redis failed: the job stays pending and comes back
        const std::int64_t wait_ms = slot.wait_ms;
        const bool reserved = slot.reserved;
        if (returning && wait_ms > 0) metrics_.throttle_yielded++;
        if (wait_ms > throttle_horizon_ms_) {
            // A far slot: in the schedule until then, with its reservation (no herd, no retry
            // burnt); or, held by its recipient's pace, until it may ask again.
            metrics_.throttle_deferred++;
            const auto at = clock_.now() + std::chrono::milliseconds(wait_ms);
            const std::string name(driver->provider());
            if (d->escalation()) {  // stays an escalation; it reserves again when it comes back
                put_aside(d, d->still_escalation(d->came_back.on_failure_only), at,
                          [d](std::error_code refused) { d->done(refused ? Disposition::keep : Disposition::ack); });
                return;
            }
            put_aside(d, reserved ? Resume::slot(name) : Resume{}, at, [this, d, at, name, reserved](std::error_code refused) {
                if (refused) return d->done(Disposition::keep);
                settle(d, Status::scheduled,
                       reserved ? "rate limit of " + name + ": its slot is at " + format_rfc3339(at)
                                : "pace of " + name + " per recipient: the next message to them at " + format_rfc3339(at));
            });
            return;
        }
        if (wait_ms == 0) {
            send_now(std::move(d), candidate, driver, std::move(message));
            return;
        }
        metrics_.throttle_waits++;
        auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(wait_ms));
        timer->async_wait([this, timer, d = std::move(d), candidate, driver, reserved,
                           message = std::move(message)](const boost::system::error_code&) mutable {
            // Held by the recipient's pace: reserve now. A bulk job asks again at its slot: an
            // urgent or normal one may have borrowed it.
            if (!reserved) pace(std::move(d), std::move(candidate), driver, std::move(message), false);
            else if (d->timing.priority == Priority::bulk) pace(std::move(d), std::move(candidate), driver, std::move(message), true);
            else send_now(std::move(d), candidate, driver, std::move(message));
        });
    });
}

// At most providers.max_connections sends in flight per provider; the others wait here, by
// priority. The attempt is recorded once a send has its place, right before the request: after a
// crash, an attempt in doubt is one that was really on the wire.
void Pipeline::send_now(std::shared_ptr<Delivery> d, RouteCandidate candidate, Channel* driver,
                        Message message) {
    const int limit = channels_.max_in_flight(driver);
    const Priority priority = d->timing.priority;
    auto start = [this, d = std::move(d), candidate = std::move(candidate), driver, limit,
                  message = std::move(message)]() mutable {
        begin_send(std::move(d), std::move(candidate), {driver, limit}, std::move(message));
    };
    if (limit <= 0 || gate_.try_enter(driver, limit)) start();
    else gate_.enter(driver, priority, std::move(start));
}

void Pipeline::begin_send(std::shared_ptr<Delivery> d, RouteCandidate candidate, Seat seat, Message message) {
    const std::string& channel = candidate.channel;
    if (std::find(d->channels_used.begin(), d->channels_used.end(), channel) == d->channels_used.end())
        d->channels_used.push_back(channel);
    const auto& c = message.content;
    BeginRequest begin{std::shared_ptr<const Job>(d, &d->job), d->entry_id, channel, std::string(seat.driver->provider()),
                       message.recipient, c.locale, c.sms ? sms::to_string(c.sms->encoding) : "",
                       c.sms ? c.sms->segments : 0, d->escalation(), d->came_back.on_failure_only};
    store_.begin(std::move(begin), [this, d = std::move(d), seat, candidate = std::move(candidate),
                                    message = std::move(message)](BeginResult r) mutable {
        if (r.verdict != BeginVerdict::send) {
            leave(seat);
            not_sent(std::move(d), r, message.job_id);
            return;
        }
        if (r.resent_after_crash) {
            metrics_.resent_after_crash++;
            spdlog::info("pipeline: job {} was interrupted mid-send by a stop; sending it again", message.job_id);
        }
        transmit(std::move(d), std::move(candidate), seat, r, std::move(message));
    });
}

void Pipeline::not_sent(std::shared_ptr<Delivery> d, const BeginResult& r, const std::string& job_id) {
    switch (r.verdict) {
    case BeginVerdict::store_failed: d->done(Disposition::keep); return;
    case BeginVerdict::duplicate:
        if (d->escalation()) {
            // Delivered (or read) meanwhile: the silence is over, nothing more goes out.
            metrics_.escalations_cancelled++;
            spdlog::debug("pipeline: job {} is {}; no escalation", job_id, to_string(r.existing));
        } else if (r.existing == Status::cancelled) {
            metrics_.jobs_cancelled++;
        } else {
            metrics_.jobs_duplicate++;
            spdlog::debug("pipeline: job {} is already {}; not sent again", job_id, to_string(r.existing));
        }
        d->done(Disposition::ack);
        return;
    case BeginVerdict::marked_unknown:
        metrics_.marked_unknown++;
        spdlog::warn("pipeline: job {} was interrupted mid-send by a stop; marked unknown", job_id);
        d->done(Disposition::ack);
        return;
    case BeginVerdict::send: return;
    }
}

void Pipeline::leave(Seat seat) {
    if (seat.limit > 0) gate_.leave(seat.driver);
}

void Pipeline::transmit(std::shared_ptr<Delivery> d, RouteCandidate candidate, Seat seat, BeginResult r, Message message) {
    metrics_.sends_started++;
    const auto started = clock_.steady();
    std::string job_id = message.job_id;
    // Masking costs an allocation: only for a log line that will be written.
    std::string masked = spdlog::should_log(spdlog::level::debug) ? mask_address(message.recipient) : "";
    seat.driver->send(std::move(message), [this, d = std::move(d), r, started, candidate = std::move(candidate), seat,
                                           job_id = std::move(job_id), masked = std::move(masked)](Outcome outcome) mutable {
        leave(seat);
        outcome.provider.assign(seat.driver->provider());  // the instance, whatever its driver wrote
        const auto latency =
            std::chrono::duration_cast<std::chrono::microseconds>(clock_.steady() - started);
        channels_.report(seat.driver, outcome.kind, latency, candidate.address);
        switch (outcome.kind) {
        case OutcomeKind::accepted: metrics_.sends_accepted++; break;
        case OutcomeKind::retry: metrics_.sends_retry++; break;
        case OutcomeKind::provider_down: metrics_.sends_provider_down++; break;
        default: metrics_.sends_failed++; break;
        }
        spdlog::debug("pipeline: job {} to {} via {}: {} {}", job_id, masked, outcome.provider, to_string(outcome.kind),
                      outcome.reason);
        // A provider said this address cannot be reached, or that its owner opted out: no later
        // message tries it again.
        if (outcome.kind == OutcomeKind::bad_address && outcome.opted_out)
            directory_.opt_out(candidate.channel, candidate.address, candidate.channel + " STOP");
        else if (outcome.kind == OutcomeKind::bad_address)
            directory_.invalidate(candidate.channel, candidate.address,
                                  outcome.provider + " " + outcome.code + ": " + outcome.reason);

        const decide::OutcomeFacts facts{outcome.kind,      outcome.provider,  outcome.code,
                                         outcome.reason,    outcome.retry_after_ms, r.attempt_no,
                                         candidate.channel, d->next < d->candidates.size(), d->tried};
        // One instant for the attempt's end and what follows it: a retry's Retry-After counts from
        // the recorded end, not from the commit's moment, a few ms later.
        const auto answered = clock_.now();
        decide::Next next = decide::after_outcome(facts, d->timing, answered, retry_, escalation_, retry_.draw());
        if (auto* on = std::get_if<decide::TryNext>(&next)) {
            metrics_.fallbacks++;
            d->tried += (d->tried.empty() ? "" : "; ") + on->why;
        }
        if (d->escalation() && outcome.kind == OutcomeKind::accepted) metrics_.escalations_sent++;
        FinishRequest finish{std::move(job_id), r.message_id, r.attempt_id, std::move(outcome), decide::status_while(next),
                             latency.count(), d->escalation()};
        finish.finished_ms = to_unix_ms(answered);
        if (auto* settled = std::get_if<decide::Settle>(&next)) finish.status_reason = settled->reason;
        store_.finish(std::move(finish), [this, d = std::move(d), next = std::move(next),
                                          channel = candidate.channel](std::error_code e) mutable {
            // The store writes an outcome again for a minute before it gives up; after that the
            // entry stays pending, as after a crash.
            if (e) return d->done(Disposition::keep);
            carry_out(std::move(d), std::move(next), channel);
        });
    });
}

// What after_outcome decided, once the attempt's outcome is committed.
void Pipeline::carry_out(std::shared_ptr<Delivery> d, decide::Next next, const std::string& channel) {
    if (std::holds_alternative<decide::TryNext>(next)) return try_candidate(std::move(d));
    if (auto* abandon = std::get_if<decide::Abandon>(&next)) {
        spdlog::info("pipeline: job {}: {}", d->job.id, abandon->reason);
        return d->done(Disposition::ack);
    }
    if (auto* later = std::get_if<decide::EscalateLater>(&next)) {
        std::erase(d->channels_used, channel);  // not used after all
        put_aside(d, d->still_escalation(d->came_back.on_failure_only), later->at,
                  [d](std::error_code e) { d->done(e ? Disposition::keep : Disposition::ack); });
        return;
    }
    if (auto* retry = std::get_if<decide::Retry>(&next)) {
        metrics_.retries_scheduled++;
        // An escalation's retry comes back as the escalation it is, to this channel again.
        Resume again = d->escalation() ? d->still_escalation(d->came_back.on_failure_only, channel) : Resume{};
        put_aside(d, std::move(again), retry->at, [this, d, why = std::move(retry->why)](std::error_code e) mutable {
            if (e) return d->done(Disposition::keep);  // Redis refused: the entry comes back by claim
            settle(d, Status::scheduled, std::move(why));
        });
        return;
    }
    auto& settled = std::get<decide::Settle>(next);
    if (!settled.escalate_at) return d->done(Disposition::ack);
    // Put aside before the ack: a crash between the two sends the job again, and the receipt says
    // it is sent (a duplicate), rather than losing the escalation.
    const std::string id = d->job.id;
    put_aside(d, d->still_escalation(settled.on_failure_only), *settled.escalate_at, [this, d, id](std::error_code e) {
        if (!e) metrics_.escalations_scheduled++;
        else spdlog::error("pipeline: job {}: the next channel could not be scheduled: {}", id, e.message());
        d->done(Disposition::ack);
    });
}

}  // namespace crieur
