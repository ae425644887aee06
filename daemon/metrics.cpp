#include "daemon/metrics.hpp"

namespace crieur {

namespace {
void line(std::string& out, const char* name, const char* type, const char* help, std::int64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}
}  // namespace

std::string Metrics::prometheus(std::uint64_t receipts_rows, std::uint64_t receipt_batches, std::size_t receipt_queue,
                                const std::vector<std::pair<std::string, std::int64_t>>& status_counts) const {
    std::string out;
    auto c = [&](const char* n, const char* help, const Counter& v) {
        line(out, n, "counter", help, static_cast<std::int64_t>(v.load()));
    };
    c("crieur_jobs_read_total", "Stream entries read (new, own pending and claimed).", jobs_read);
    c("crieur_jobs_claimed_total", "Stream entries taken over from another consumer.", jobs_claimed);
    c("crieur_jobs_acked_total", "Stream entries acknowledged after their outcome was committed.", jobs_acked);
    c("crieur_jobs_dead_lettered_total", "Stream entries moved to the dead-letter stream.", jobs_dead_lettered);
    c("crieur_resume_malformed_total", "Stream entries whose resume field was malformed (dead-lettered).", resume_malformed);
    c("crieur_escalations_scheduled_total", "Sends with a channel left, checked later for silence.", escalations_scheduled);
    c("crieur_escalations_due_total", "Checks for silence that came due.", escalations_due);
    c("crieur_escalations_cancelled_total", "Checks for silence that found the message delivered.", escalations_cancelled);
    c("crieur_late_failures_total", "Sent messages a provider reported failed afterwards.", late_failures);
    c("crieur_late_retries_total", "Late failures that may pass (a switched-off handset): sent again later on the same channel.", late_retries);
    c("crieur_escalations_sent_total", "Messages sent on their next channel after a silence.", escalations_sent);
    c("crieur_retries_scheduled_total", "Retryable sends put back in the schedule after a backoff.", retries_scheduled);
    c("crieur_quiet_hours_deferred_total", "Messages put aside until the citizen's quiet hours end.", quiet_hours_deferred);
    c("crieur_throttle_waits_total", "Sends that waited for their slot under a provider's rate limit.", throttle_waits);
    c("crieur_throttle_deferred_total", "Jobs put in the schedule until their rate-limit slot, beyond the horizon.", throttle_deferred);
    c("crieur_throttle_yielded_total", "Bulk jobs back at their slot that gave it up to an urgent or normal message and queued again.", throttle_yielded);
    c("crieur_capped_total", "Messages held by a citizen cap or a service quota until the next period.", capped);
    c("crieur_send_time_deferred_total", "Messages held until the send time chosen for them.", send_time_deferred);
    c("crieur_fallbacks_total", "Sends that moved on to the next candidate channel or address.", fallbacks);
    c("crieur_no_reachable_channel_total", "Messages for which routing left no candidate.", no_reachable_channel);
    c("crieur_jobs_cancelled_total", "Jobs read after they (or their campaign) were cancelled: not sent.", jobs_cancelled);
    c("crieur_jobs_duplicate_total", "Stream entries whose job id was already sent or in flight.", jobs_duplicate);
    c("crieur_jobs_scheduled_total", "Stream entries put aside until their not_before.", jobs_scheduled);
    c("crieur_sends_started_total", "Send attempts started.", sends_started);
    c("crieur_sends_accepted_total", "Send attempts accepted by a provider.", sends_accepted);
    c("crieur_sends_retry_total", "Send attempts to be retried later.", sends_retry);
    c("crieur_sends_provider_down_total", "Send attempts refused for the provider's or our account's state.",
      sends_provider_down);
    c("crieur_sends_failed_total", "Send attempts that failed (bad address, failure, unknown).", sends_failed);
    c("crieur_resent_after_crash_total", "Messages sent again after a crash interrupted their send.",
      resent_after_crash);
    c("crieur_marked_unknown_total", "Messages marked unknown after a crash interrupted their send.", marked_unknown);
    c("crieur_redis_reconnects_total", "Times the Redis connection was lost and reconnected.", redis_reconnects);
    c("crieur_callbacks_received_total", "Provider status callbacks accepted (signature checked).", callbacks_received);
    c("crieur_callbacks_rejected_total", "Provider status callbacks refused for a bad or missing signature.",
      callbacks_rejected);
    c("crieur_callbacks_malformed_total", "Provider callbacks with a good signature whose contents could not be read.",
      callbacks_malformed);
    c("crieur_entries_touched_total", "Entries this daemon still works on, made idle again so that no peer claims them.",
      entries_touched);
    c("crieur_inbound_messages_total", "Messages citizens sent (SMS and WhatsApp replies), STOP and START included.",
      inbound_messages);
    c("crieur_inbound_to_journeys_total", "Replies a journey took (a keyword its step asked for, or free words).",
      inbound_to_journeys);
    c("crieur_inbound_forwarded_total", "Replies with no journey, forwarded to the service of the message they answer.",
      inbound_forwarded);
    c("crieur_inbound_unknown_sender_total", "Replies from an address no citizen has, answering no message of ours.",
      inbound_unknown_sender);
    c("crieur_inbound_unmatched_total", "Replies of a known citizen with nothing of ours to answer.", inbound_unmatched);
    c("crieur_service_callbacks_delivered_total", "Status callbacks taken by a service's endpoint.",
      service_callbacks_delivered);
    c("crieur_service_callbacks_retried_total", "Status callback attempts that failed and will be tried again.",
      service_callbacks_retried);
    c("crieur_service_callbacks_refused_total", "Status callbacks refused for good by the endpoint (a 4xx): dropped.",
      service_callbacks_refused);
    c("crieur_service_callbacks_given_up_total", "Status callbacks still failing after callbacks.max_age_s: dropped.",
      service_callbacks_given_up);
    line(out, "crieur_service_callbacks_waiting", "gauge", "Status callbacks loaded from the outbox and not yet taken.",
         service_callbacks_waiting.load());
    c("crieur_jobs_claimed_elsewhere_total", "Copies of a job another daemon holds (redis.claim_job_ids): not sent here.", jobs_claimed_elsewhere);
    c("crieur_retention_personal_cleared_total", "Receipts whose personal fields were cleared (retention.personal_days).",
      retention_personal_cleared);
    c("crieur_retention_deleted_total", "Receipts and app sessions removed whole (retention.days).", retention_deleted);
    c("crieur_stream_entries_trimmed_total", "Acknowledged jobs trimmed from the job streams.", stream_entries_trimmed);
    c("crieur_dead_letters_trimmed_total", "Dead letters trimmed after retention.dead_letter_days.", dead_letters_trimmed);
    c("crieur_campaign_jobs_queued_total", "Jobs put on the streams by campaigns' fan-outs.", campaign_jobs_queued);
    line(out, "crieur_receipt_rows_total", "counter", "Rows written to the receipts database.",
         static_cast<std::int64_t>(receipts_rows));
    line(out, "crieur_receipt_batches_total", "counter", "Transactions committed to the receipts database.",
         static_cast<std::int64_t>(receipt_batches));
    line(out, "crieur_receipt_queue", "gauge", "Receipt writes waiting for the writer thread.",
         static_cast<std::int64_t>(receipt_queue));
    line(out, "crieur_inflight", "gauge", "Jobs read and not yet acknowledged by this daemon.", inflight.load());
    line(out, "crieur_queue_lag", "gauge", "Stream entries not yet delivered to the consumer group (-1: unknown).",
         queue_lag.load());
    line(out, "crieur_pending_entries", "gauge",
         "Entries delivered to the group and not yet acknowledged, all consumers (-1: unknown).",
         pending_entries.load());
    line(out, "crieur_campaign_fanouts", "gauge", "Campaigns whose jobs are going onto the stream.", campaign_fanouts.load());
    line(out, "crieur_redis_up", "gauge", "1 when the Redis connections are up.", redis_up.load() ? 1 : 0);
    out += "# HELP crieur_messages Messages in the receipts database by status.\n# TYPE crieur_messages gauge\n";
    for (auto& [status, n] : status_counts)
        out += "crieur_messages{status=\"" + status + "\"} " + std::to_string(n) + "\n";
    return out;
}

}  // namespace crieur
