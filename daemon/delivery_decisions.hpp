// Delivery decisions: what happens to one message at each turn, as pure functions of values and
// a time. The pipeline gathers the facts (the job's timing, the citizen's zone and quiet hours,
// the send time the model chose, a cap's verdict, a send's outcome, what is left to try), asks,
// and carries out the action it gets back. Nothing here does I/O, reads a clock or draws a random
// number (the retry's jitter comes in as a value), so a table of cases tests every rule.
// Usable from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>

#include "daemon/clock.hpp"
#include "daemon/quiet_hours.hpp"
#include "daemon/retry_policy.hpp"
#include "daemon/status.hpp"
#include "daemon/types.hpp"

namespace date {
class time_zone;
}

namespace crieur::decide {

// ---- Admission: may the message go now? ----

// The job's own timing, and whether this turn is an escalation (the message went out on an
// earlier channel and nothing was delivered in time: the next channel is tried).
struct Timing {
    Priority priority = Priority::normal;
    std::optional<TimePoint> not_before;
    std::optional<TimePoint> deadline;
    bool escalation = false;
};

struct Go {};
// Not now: back in the schedule until `at`, the receipt `scheduled` with `why`.
struct Defer {
    TimePoint at;
    std::string why;  // the receipt's reason: "until 2026-12-02T07:00:00.000Z (quiet hours 21:00–08:00 Europe/Paris)"
    enum class Cause { not_before, quiet_hours, send_time, other } cause = Cause::other;
};
// Its deadline passed, or only waits past it remain: the receipt `expired`.
struct Expire {
    std::string reason;
};
// Nothing more to do and nothing to record: an escalation whose time is over (the message keeps
// the status its first channel gave it).
struct Drop {
    std::string reason;
};
using Admission = std::variant<Go, Defer, Expire, Drop>;

// A not_before this close is "now": putting a job aside for less is not worth two round trips.
inline constexpr auto kScheduleTolerance = std::chrono::seconds{1};

// On intake, before the citizen is looked up: the deadline, then not_before (never for urgent
// messages nor escalations).
Admission admit_job(const Timing& job, TimePoint now);

// A wait that the message must take (quiet hours, a cap, providers down, a far rate slot): a
// Defer until `at`, unless the deadline comes first.
Admission wait_until(const Timing& job, TimePoint at, std::string why, Defer::Cause cause = Defer::Cause::other);

// What the citizen's clock says, once the candidates are known.
struct Moment {
    bool quiet_hours = true;  // [quiet_hours] enabled
    QuietWindow window;       // the citizen's, else the config's
    const date::time_zone* zone = nullptr;
    // The instant the send-time model chose in the window, when it was asked (not for urgent
    // messages, escalations, or a message back at its chosen instant).
    std::optional<TimePoint> send_time;
};
// A choice closer than this is "now".
inline constexpr auto kSendTimeTolerance = std::chrono::minutes{5};

// Quiet hours (never for urgent messages), then the send time.
Admission admit_now(const Timing& job, const Moment& moment, TimePoint now);

// ---- After an outcome: what next? ----

struct OutcomeFacts {
    OutcomeKind kind = OutcomeKind::failed;
    std::string provider, code, reason;
    std::int64_t retry_after_ms = 0;
    int attempt = 1;           // this attempt's number for the message (1 for the first)
    std::string channel;       // the channel it was sent on
    bool next_candidate = false;  // another channel is left to try
    std::string tried;  // how the earlier candidates of this turn failed ("sms: bad_address 21211"), for the reason
};

struct EscalationPolicy {
    // Seconds of silence (no delivery receipt) after a send on a channel before the next one is
    // tried; a channel absent from the table is not escalated from.
    std::map<std::string, int> after_s, urgent_after_s;
    // For the channels with no escalation on silence: how long a late failure (a provider's
    // report after it accepted) still sends the message on the next channel.
    std::map<std::string, int> on_failure_s;
    // For a send on the last channel: how long a late failure that may pass still sends it again.
    std::map<std::string, int> retry_late_s;
};

// The next channel at once: this one cannot carry the message (a bad address, a failure for
// good), or it reported a failure after accepting it.
struct TryNext {
    std::string why;  // "sms: bad_address 21211", for the reason if none is left
};
// The same channel later; the receipt `scheduled`.
struct Retry {
    TimePoint at;
    std::string why;
};
// The message's status is settled; `escalate_at`: the next channel is tried then if no delivery
// receipt came, or (`on_failure_only`) if a late failure was reported by then (only after an
// accepted send with a channel left, or with retry_late_s for this channel).
struct Settle {
    Status status = Status::failed;
    std::string reason;
    std::optional<TimePoint> escalate_at;
    bool on_failure_only = false;
};
// An escalation that cannot go on: the message stays as its first channel left it (sent).
struct Abandon {
    std::string reason;
};
// An escalation that must wait: back in the schedule as an escalation at `at`, this channel not used.
struct EscalateLater {
    TimePoint at;
};
using Next = std::variant<TryNext, Retry, Settle, Abandon, EscalateLater>;

// The status the attempt's outcome leaves on the receipt while the next step runs (TryNext and
// Retry: queued; Settle: its status; an escalation's end: sent).
Status status_while(const Next& next);

// `jitter` in [0, 1): the retry's uniform draw (RetryPolicy::wait_ms).
Next after_outcome(const OutcomeFacts& outcome, const Timing& job, TimePoint now, const RetryPolicy& retry,
                   const EscalationPolicy& escalation, double jitter);

// "twilio retry 20429: Too many requests"
std::string describe(const OutcomeFacts& outcome);

}  // namespace crieur::decide
