// The plain value types the pipeline passes from stage to stage: Job, Message, Outcome.
// Values only: no behaviour beyond small helpers, safe to copy or move between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/clock.hpp"
#include "daemon/status.hpp"
#include "daemon/render/rendered.hpp"

namespace crieur {

enum class Priority { urgent, normal, bulk };

// One inline recipient: the channel and the address on it (phone number, e-mail address, ...).
struct InlineContact {
    std::string channel;
    std::string address;
};

// A send job as queued by a municipal service (contract v1, docs/jobs.md).
struct Job {
    std::string id;  // the sender's idempotency key
    std::string service;
    std::string template_name;
    std::string citizen;                // directory id; empty when `to` is given
    std::vector<InlineContact> to;      // inline contacts, in the order given
    std::string data_json;              // the `data` object, kept as JSON text for the renderer
    std::optional<std::string> channel;
    std::vector<std::string> channels;  // the channels it may go on (a campaign's); empty: the template's
    std::optional<std::string> locale;
    Priority priority = Priority::normal;
    std::optional<TimePoint> not_before;
    std::optional<TimePoint> deadline;
    std::string campaign;
    std::string journey;  // the journey instance whose step it is (its id is "<journey>:<step>")
    std::string reference;
    bool test = false;  // validated, rendered, recorded, and written to the outbox, never to a provider
};

// A stream entry as read from Redis: its entry id and the raw `job` field.
struct StreamEntry {
    std::string entry_id;
    std::string job_json;   // empty when the entry has no `job` field
    bool has_job = false;
    bool deleted = false;   // a pending entry whose content was deleted from the stream
    // How it comes back from the schedule: the `resume` field as written (daemon/resume.hpp);
    // empty for a job seen for the first time. Decoded, and checked, by the intake.
    std::string resume;
    // Read again after an interruption: this consumer's own pending entry after a restart, or
    // one taken over from another consumer (XAUTOCLAIM).
    bool redelivered = false;
    bool from_schedule = false;  // put back by crieur's schedule (`from` = "schedule"): a job's continuation
};

// What a channel driver sends: the rendered content (channel, locale, text and the channel's
// parts) for one recipient.
struct Message {
    std::string job_id;
    std::string recipient;  // the address on the channel (E.164, e-mail, subscription, token)
    render::Rendered content;
    Priority priority = Priority::normal;
};

// How a send ended, as a channel driver classifies it.
enum class OutcomeKind {
    accepted,     // the provider took it; provider_id identifies it
    retry,        // try again later (retry_after_ms when the provider said)
    bad_address,  // this contact cannot be reached on this channel
    failed,       // permanent for this message: our message or template is at fault; no retry
    provider_down,  // the provider or our account with it cannot send now (credentials, suspension,
                    // rights): not the message's fault; counts against the provider
    unknown,      // the request may have reached the provider: never assume "not sent"
};

struct Outcome {
    OutcomeKind kind = OutcomeKind::failed;
    std::string provider;
    std::string provider_id;
    std::string code;  // the provider's own code
    std::string reason;
    std::int64_t retry_after_ms = 0;
    bool opted_out = false;  // a bad address because the citizen asked for no more (Twilio 21610 after STOP)
};

const char* to_string(OutcomeKind k);
const char* to_string(Priority p);

// A provider's report on a message it took (a status callback, a delivery report): parsed by
// the provider's driver, recorded by the receipt store.
struct ProviderEvent {
    std::string provider;     // as recorded with the attempt ("twilio")
    std::string provider_id;  // the provider's message id
    Status status = Status::sent;
    std::string provider_status;  // the provider's own word ("undelivered")
    std::string raw;              // what it sent, for the record
    bool bad_address = false;     // the provider says the address cannot be reached (WhatsApp 131026)
    // A failure that may pass (the handset was switched off, a rate limit): the same channel is
    // tried again later, rather than the next one at once.
    bool temporary = false;
};

}  // namespace crieur
