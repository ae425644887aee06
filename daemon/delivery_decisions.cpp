#include "daemon/delivery_decisions.hpp"

#include <date/tz.h>

namespace crieur::decide {

Admission admit_job(const Timing& job, TimePoint now) {
    if (job.escalation) {
        if (job.deadline && *job.deadline <= now) return Drop{"its deadline passed; no escalation"};
        return Go{};
    }
    if (job.deadline && *job.deadline <= now)
        return Expire{"deadline " + format_rfc3339(*job.deadline) + " passed before the send"};
    // An urgent message does not wait for a not_before: it goes now.
    if (job.not_before && *job.not_before > now + kScheduleTolerance && job.priority != Priority::urgent)
        return Defer{*job.not_before, "until " + format_rfc3339(*job.not_before), Defer::Cause::not_before};
    return Go{};
}

Admission wait_until(const Timing& job, TimePoint at, std::string why, Defer::Cause cause) {
    if (job.deadline && at > *job.deadline) {
        // An escalation that would come too late is dropped: the message is sent already.
        if (job.escalation) return Drop{"only " + why + " remain before the deadline; no escalation"};
        return Expire{"only " + why + " remain before the deadline"};
    }
    return Defer{at, "until " + format_rfc3339(at) + " (" + why + ")", cause};
}

Admission admit_now(const Timing& job, const Moment& moment, TimePoint now) {
    if (moment.quiet_hours && job.priority != Priority::urgent && moment.zone && is_quiet(now, moment.zone, moment.window))
        return wait_until(job, first_allowed(now, moment.zone, moment.window),
                          "quiet hours " + to_string(moment.window) + " " + std::string(moment.zone->name()),
                          Defer::Cause::quiet_hours);
    // The model chose within the window, so before the deadline.
    if (moment.send_time && *moment.send_time > now + kSendTimeTolerance)
        return Defer{*moment.send_time,
                     "until " + format_rfc3339(*moment.send_time) + " (send time: the citizen's best chance of reading it)",
                     Defer::Cause::send_time};
    return Go{};
}

std::string describe(const OutcomeFacts& o) {
    return o.provider + " " + to_string(o.kind) + (o.code.empty() ? "" : " " + o.code) +
           (o.reason.empty() ? "" : ": " + o.reason);
}

Status status_while(const Next& next) {
    if (auto* s = std::get_if<Settle>(&next)) return s->status;
    if (std::holds_alternative<Abandon>(next) || std::holds_alternative<EscalateLater>(next)) return Status::sent;
    return Status::queued;
}

namespace {
// The channel's failure as the reason names it: "sms: bad_address 21211".
std::string failure_of(const OutcomeFacts& o) {
    return o.channel + ": " + to_string(o.kind) + (o.code.empty() ? "" : " " + o.code);
}
}  // namespace

Next after_outcome(const OutcomeFacts& o, const Timing& job, TimePoint now, const RetryPolicy& retry,
                   const EscalationPolicy& escalation, double jitter) {
    const bool for_good = o.kind == OutcomeKind::bad_address || o.kind == OutcomeKind::failed;
    // This channel cannot carry the message: the next one at once, whatever the channel said
    // before (a failure reported after acceptance moves on too).
    if (for_good && o.next_candidate) return TryNext{failure_of(o)};
    if (job.escalation) {
        // An escalation that fails leaves the message as its first channel left it (sent); one
        // that must wait comes back later as an escalation, this channel not yet used.
        if (o.kind == OutcomeKind::retry || o.kind == OutcomeKind::provider_down) {
            auto later = retry.after(o.attempt, now, o.retry_after_ms, job.deadline, jitter);
            if (later.kind != RetryDecision::Kind::retry) return Abandon{"escalation on " + o.channel + " abandoned: " + later.reason};
            return EscalateLater{later.at};
        }
        if (for_good) return Abandon{"escalation on " + o.channel + " failed: " + describe(o)};
    }
    switch (o.kind) {
    case OutcomeKind::accepted: {
        Settle settled{Status::sent, {}, std::nullopt};
        const auto& table = job.priority == Priority::urgent ? escalation.urgent_after_s : escalation.after_s;
        if (!o.next_candidate) {
            // The last channel: watched only for a late failure that may pass, when asked.
            if (const auto watch = escalation.retry_late_s.find(o.channel); watch != escalation.retry_late_s.end()) {
                settled.escalate_at = now + std::chrono::seconds(watch->second);
                settled.on_failure_only = true;
            }
            return settled;
        }
        if (const auto after = table.find(o.channel); after != table.end()) {
            settled.escalate_at = now + std::chrono::seconds(after->second);
        } else if (const auto window = escalation.on_failure_s.find(o.channel); window != escalation.on_failure_s.end()) {
            settled.escalate_at = now + std::chrono::seconds(window->second);
            settled.on_failure_only = true;
        }
        return settled;
    }
    case OutcomeKind::retry:
    case OutcomeKind::provider_down: {
        auto later = retry.after(o.attempt, now, o.retry_after_ms, job.deadline, jitter);
        switch (later.kind) {
        case RetryDecision::Kind::give_up: return Settle{Status::failed, later.reason + "; the last: " + describe(o), std::nullopt};
        case RetryDecision::Kind::expire:
            return Settle{Status::expired, later.reason + "; the last try: " + describe(o), std::nullopt};
        case RetryDecision::Kind::retry: break;
        }
        return Retry{later.at, "attempt " + std::to_string(o.attempt + 1) + " at " + format_rfc3339(later.at) + " after " +
                                   describe(o)};
    }
    case OutcomeKind::unknown: return Settle{Status::unknown, o.reason, std::nullopt};
    case OutcomeKind::bad_address:
    case OutcomeKind::failed: break;
    }
    // The last candidate failed for good.
    if (o.tried.empty()) return Settle{Status::failed, o.reason, std::nullopt};
    return Settle{Status::failed,
                  "no_reachable_channel: " + o.tried + "; " + o.channel + ": " + to_string(o.kind) + " (" + o.reason + ")",
                  std::nullopt};
}

}  // namespace crieur::decide
