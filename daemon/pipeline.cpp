#include "daemon/pipeline.hpp"

#include <rapidjson/document.h>

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
    case OutcomeKind::retry: return Status::queued;
    case OutcomeKind::unknown: return Status::unknown;
    case OutcomeKind::bad_address:
    case OutcomeKind::failed: return Status::failed;
    }
    return Status::failed;
}
}  // namespace

Route route_for(const Job& job, const std::string& default_channel) {
    if (!job.to.empty()) {
        if (job.channel)
            for (auto& c : job.to)
                if (c.channel == *job.channel) return {c.channel, c.address};
        return {job.to.front().channel, job.to.front().address};
    }
    return {job.channel.value_or(default_channel), "citizen:" + job.citizen};
}

std::string stand_in_text(const Job& job) {
    rapidjson::Document data;
    data.Parse(job.data_json.data(), job.data_json.size());
    if (!data.HasParseError() && data.IsObject()) {
        auto text = data.FindMember("text");
        if (text != data.MemberEnd() && text->value.IsString())
            return {text->value.GetString(), text->value.GetStringLength()};
    }
    return job.template_name + " " + job.data_json;
}

Pipeline::Pipeline(const Config& config, ReceiptStore& store, ChannelRegistry& channels, Schedule& schedule,
                   Metrics& metrics, const Clock& clock)
    : intake_(config.intake), store_(store), channels_(channels), schedule_(schedule), metrics_(metrics),
      clock_(clock) {}

void Pipeline::process(Job job, const StreamEntry& entry, std::function<void(Disposition)> done) {
    const auto now = clock_.now();
    auto settle = [this, &job, &entry, &done](Status status, std::string reason) {
        store_.record_unsent({entry.entry_id, job.id, job.service, job.template_name, status, std::move(reason)},
                             [done = std::move(done)](bool ok) { done(ok ? Disposition::ack : Disposition::keep); });
    };
    if (job.deadline && *job.deadline <= now) {
        settle(Status::expired, "deadline " + format_rfc3339(*job.deadline) + " passed before the send");
        return;
    }
    if (job.not_before && *job.not_before > now + kScheduleTolerance && job.priority != Priority::urgent) {
        const auto at = *job.not_before;
        schedule_.put_aside(entry.entry_id, entry.job_json, at,
                            [this, job = std::move(job), entry_id = entry.entry_id, at, done = std::move(done)](bool ok) mutable {
                                if (!ok) {
                                    done(Disposition::keep);
                                    return;
                                }
                                metrics_.jobs_scheduled++;
                                store_.record_unsent({entry_id, job.id, job.service, job.template_name,
                                                      Status::scheduled, "until " + format_rfc3339(at)},
                                                     [done = std::move(done)](bool committed) {
                                                         done(committed ? Disposition::ack : Disposition::keep);
                                                     });
                            });
        return;
    }
    send(std::move(job), entry.entry_id, std::move(done));
}

void Pipeline::send(Job job, std::string entry_id, std::function<void(Disposition)> done) {
    Route route = route_for(job, intake_.default_channel);
    Channel* driver = channels_.find(route.channel);
    if (!driver) {
        store_.record_unsent({entry_id, job.id, job.service, job.template_name, Status::failed,
                              "no driver carries the channel '" + route.channel + "'"},
                             [done = std::move(done)](bool ok) { done(ok ? Disposition::ack : Disposition::keep); });
        return;
    }
    Message message{job.id, route.channel, route.recipient, job.template_name, job.locale.value_or(""),
                    stand_in_text(job)};
    BeginRequest begin{std::move(job), std::move(entry_id), route.channel, std::string(driver->provider()),
                       std::move(route.recipient)};
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
        std::string masked = mask_address(message.recipient);
        driver->send(std::move(message), [this, r, started, job_id = std::move(job_id), masked = std::move(masked),
                                          done = std::move(done)](Outcome outcome) mutable {
            const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - started);
            switch (outcome.kind) {
            case OutcomeKind::accepted: metrics_.sends_accepted++; break;
            case OutcomeKind::retry: metrics_.sends_retry++; break;
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
