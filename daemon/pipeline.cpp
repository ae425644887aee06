#include "daemon/pipeline.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>

#include "channels/registry.hpp"
#include "daemon/log.hpp"
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

Pipeline::Pipeline(const Config& config, std::shared_ptr<const render::TemplateStore> templates, ReceiptStore& store,
                   ChannelRegistry& channels, Schedule& schedule, Metrics& metrics, const Clock& clock)
    : intake_(config.intake), templates_(std::move(templates)), store_(store), channels_(channels),
      schedule_(schedule), metrics_(metrics), clock_(clock) {}

std::variant<Message, JobError> prepare(const Job& job, const render::TemplateStore& templates,
                                        const std::string& default_channel) {
    if (!templates.has(job.template_name))
        return JobError{errc::unknown_template, "template", "unknown template '" + job.template_name + "'", job.id};
    auto route = route_for(job, default_channel, templates.channels(job.template_name));
    if (auto* why = std::get_if<std::string>(&route))
        return JobError{errc::no_template_channel, job.channel ? "channel" : "to", *why, job.id};
    thread_local char pool[16 * 1024];  // the data's parse lives in this thread's buffer, not the heap
    rapidjson::MemoryPoolAllocator<> allocator(pool, sizeof pool);
    rapidjson::Document data(&allocator);
    data.Parse(job.data_json.data(), job.data_json.size());
    auto rendered = templates.render(job.template_name, std::get<Route>(route).channel, job.locale.value_or(""), data);
    if (auto* e = std::get_if<render::RenderError>(&rendered))
        return JobError{errc::bad_template_data, e->variables.empty() ? "data" : "data." + e->variables.front(),
                        e->reason, job.id};
    return Message{job.id, std::move(std::get<Route>(route).recipient), std::move(std::get<render::Rendered>(rendered)),
                   job.priority};
}

std::optional<JobError> Pipeline::process(Job job, const StreamEntry& entry, std::function<void(Disposition)> done) {
    // What the job asks must fit its template before it waits or goes anywhere.
    auto prepared = prepare(job, *templates_, intake_.default_channel);
    if (auto* rejection = std::get_if<JobError>(&prepared)) return std::move(*rejection);

    const auto now = clock_.now();
    auto settle = [this, &job, &entry, &done](Status status, std::string reason) {
        store_.record_unsent({entry.entry_id, job.id, job.service, job.template_name, status, std::move(reason)},
                             [done = std::move(done)](bool ok) { done(ok ? Disposition::ack : Disposition::keep); });
    };
    if (job.deadline && *job.deadline <= now) {
        settle(Status::expired, "deadline " + format_rfc3339(*job.deadline) + " passed before the send");
        return std::nullopt;
    }
    if (job.not_before && *job.not_before > now + kScheduleTolerance && job.priority != Priority::urgent) {
        const auto at = *job.not_before;
        schedule_.put_aside(
            entry.entry_id, entry.job_json, at,
            [this, job = std::move(job), entry_id = entry.entry_id, at, done = std::move(done)](bool ok) mutable {
                if (!ok) {
                    done(Disposition::keep);
                    return;
                }
                metrics_.jobs_scheduled++;
                store_.record_unsent({entry_id, job.id, job.service, job.template_name, Status::scheduled,
                                      "until " + format_rfc3339(at)},
                                     [done = std::move(done)](bool committed) {
                                         done(committed ? Disposition::ack : Disposition::keep);
                                     });
            });
        return std::nullopt;
    }
    send(std::move(job), entry.entry_id, std::move(std::get<Message>(prepared)), std::move(done));
    return std::nullopt;
}

void Pipeline::send(Job job, std::string entry_id, Message message, std::function<void(Disposition)> done) {
    const std::string channel = message.content.channel;
    Channel* driver = channels_.find(channel, message.recipient);
    if (!driver) {
        store_.record_unsent({entry_id, job.id, job.service, job.template_name, Status::failed,
                              "no driver carries the channel '" + channel + "'"},
                             [done = std::move(done)](bool ok) { done(ok ? Disposition::ack : Disposition::keep); });
        return;
    }
    const auto& c = message.content;
    BeginRequest begin{std::move(job), std::move(entry_id), channel, std::string(driver->provider()),
                       message.recipient, c.locale, c.sms ? sms::to_string(c.sms->encoding) : "",
                       c.sms ? c.sms->segments : 0};
    // The attempt is committed before the send starts: after a crash we know what may have gone out.
    store_.begin(std::move(begin), [this, driver, message = std::move(message),
                                    done = std::move(done)](BeginResult r) mutable {
        switch (r.verdict) {
        case BeginVerdict::store_failed: done(Disposition::keep); return;
        case BeginVerdict::duplicate:
            metrics_.jobs_duplicate++;
            spdlog::debug("pipeline: job {} is already {}; not sent again", message.job_id, to_string(r.existing));
            done(Disposition::ack);
            return;
        case BeginVerdict::marked_unknown:
            metrics_.marked_unknown++;
            spdlog::warn("pipeline: job {} was interrupted mid-send by a stop; marked unknown", message.job_id);
            done(Disposition::ack);
            return;
        case BeginVerdict::send: break;
        }
        if (r.resent_after_crash) {
            metrics_.resent_after_crash++;
            spdlog::info("pipeline: job {} was interrupted mid-send by a stop; sending it again", message.job_id);
        }
        metrics_.sends_started++;
        const auto started = std::chrono::steady_clock::now();
        std::string job_id = message.job_id;
        // Masking costs an allocation: only for a log line that will be written.
        std::string masked = spdlog::should_log(spdlog::level::debug) ? mask_address(message.recipient) : "";
        driver->send(std::move(message), [this, r, started, job_id = std::move(job_id), masked = std::move(masked),
                                          done = std::move(done)](Outcome outcome) mutable {
            const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - started);
            switch (outcome.kind) {
            case OutcomeKind::accepted: metrics_.sends_accepted++; break;
            case OutcomeKind::retry: metrics_.sends_retry++; break;
            case OutcomeKind::provider_down: metrics_.sends_provider_down++; break;
            default: metrics_.sends_failed++; break;
            }
            spdlog::debug("pipeline: job {} to {} via {}: {} {}", job_id, masked, outcome.provider,
                          to_string(outcome.kind), outcome.reason);
            const Status status = status_after(outcome.kind);
            FinishRequest finish{std::move(job_id), r.message_id, r.attempt_id, std::move(outcome), status,
                                 latency.count()};
            store_.finish(std::move(finish), [status, done = std::move(done)](bool ok) {
                // A retry leaves the entry pending: it comes back after redis.claim_after_ms.
                // (Backoff through the schedule comes with the retry policy.)
                done(ok && status != Status::queued ? Disposition::ack : Disposition::keep);
            });
        });
    });
}

}  // namespace crieur
