// Metrics: the daemon's counters and gauges, rendered as Prometheus text for /metrics.
// Counters are atomics so that the receipt and channel threads may bump them too.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace crieur {

struct Metrics {
    using Counter = std::atomic<std::uint64_t>;
    Counter jobs_read{0};          // stream entries read (new, own pending and claimed)
    Counter jobs_claimed{0};       // entries taken over from another consumer by XAUTOCLAIM
    Counter jobs_acked{0};         // entries acknowledged after their outcome was committed
    Counter jobs_dead_lettered{0}; // entries moved to the dead-letter stream
    Counter resume_malformed{0};   // entries whose `resume` field could not be read (dead-lettered too)
    Counter jobs_duplicate{0};     // entries whose job id was already sent or in flight
    Counter jobs_claimed_elsewhere{0};  // copies of a job another daemon holds (redis.claim_job_ids): not sent here
    Counter jobs_scheduled{0};
    Counter jobs_cancelled{0};     // jobs that came after their cancellation (or their campaign's): not sent     // entries put aside until their not_before
    Counter sends_started{0};
    Counter sends_accepted{0};
    Counter sends_retry{0};
    Counter sends_provider_down{0};  // the provider or our account with it could not send
    Counter sends_failed{0};       // bad address, failed and unknown outcomes
    Counter resent_after_crash{0};
    Counter marked_unknown{0};
    Counter escalations_scheduled{0};  // sent with a channel left: a check for silence is scheduled
    Counter escalations_due{0};        // checks that came due
    Counter escalations_cancelled{0};  // …and found the message delivered: nothing more sent
    Counter late_failures{0};  // sent messages a provider reported failed afterwards; the next channel brought forward
    Counter late_retries{0};   // …of which the failure may pass: the same channel again later
    Counter escalations_sent{0};       // …and sent it on the next channel
    Counter retries_scheduled{0};     // retryable outcomes put in the schedule with a backoff
    Counter quiet_hours_deferred{0};  // messages put aside until the end of the citizen's quiet hours
    Counter throttle_waits{0};     // sends that waited for their slot under a provider's rate limit
    Counter throttle_deferred{0};  // jobs put in the schedule with a slot beyond the horizon
    Counter throttle_yielded{0};   // bulk slots given up to urgent or normal messages
    Counter capped{0};             // messages held by a citizen cap or a service quota until the next day or week
    Counter send_time_deferred{0};  // messages held until the send time chosen for them
    Counter fallbacks{0};             // a candidate was a bad address or failed for good: the next one was tried
    Counter no_reachable_channel{0};  // messages with no candidate left after routing
    Counter redis_reconnects{0};
    Counter callbacks_received{0};  // provider status callbacks with a good signature
    Counter callbacks_rejected{0};  // provider status callbacks refused (bad or missing signature)
    Counter callbacks_malformed{0};  // provider callbacks whose proof held but whose contents could not be read
    Counter inbound_messages{0};     // messages citizens sent us (SMS and WhatsApp replies)
    Counter inbound_to_journeys{0};  // replies a journey took (a keyword or free words)
    Counter inbound_forwarded{0};    // replies with no journey, given to the service of the message they answer
    Counter inbound_unknown_sender{0};  // replies from an address nobody has, answering nothing of ours
    Counter inbound_unmatched{0};    // replies of a known citizen who was sent nothing: kept, counted
    Counter entries_touched{0};      // waiting entries made idle again, so that no peer claims them
    // Status callbacks to the services (daemon/callbacks).
    Counter service_callbacks_delivered{0};  // taken by the service's endpoint (2xx)
    Counter service_callbacks_retried{0};    // failed attempts to be tried again (network, 5xx, 429, 408)
    Counter service_callbacks_refused{0};    // refused for good by the endpoint (another 4xx): dropped
    Counter service_callbacks_given_up{0};   // still failing 24 h after their status change: dropped
    std::atomic<std::int64_t> service_callbacks_waiting{0};  // loaded from the outbox, not yet taken
    // Retention (daemon/retention).
    Counter retention_personal_cleared{0};  // receipts whose personal fields were cleared
    Counter retention_deleted{0};           // receipts (and app sessions) removed whole
    Counter stream_entries_trimmed{0};      // acknowledged jobs trimmed from the job streams
    Counter dead_letters_trimmed{0};        // dead letters trimmed after retention.dead_letter_days
    // Campaigns (daemon/campaigns).
    Counter campaign_jobs_queued{0};               // jobs put on the streams by the fan-outs
    std::atomic<std::int64_t> campaign_fanouts{0};  // fan-outs going
    std::atomic<std::int64_t> inflight{0};
    std::atomic<std::int64_t> queue_lag{-1};        // entries not yet delivered to the group (XINFO GROUPS lag)
    std::atomic<std::int64_t> pending_entries{-1};  // entries delivered and not acknowledged (group-wide)
    std::atomic<bool> redis_up{false};

    // Rendered with the receipt store's figures and the per-status counts of the messages table.
    std::string prometheus(std::uint64_t receipts_rows, std::uint64_t receipt_batches, std::size_t receipt_queue,
                           const std::vector<std::pair<std::string, std::int64_t>>& status_counts) const;
};

}  // namespace crieur
