// The message status model (docs/jobs.md): queued → scheduled → sending → sent → delivered → read,
// and the final failures. Pure functions, usable from any thread.
#pragma once

#include <optional>
#include <string_view>

namespace crieur {

enum class Status {
    queued,     // read from the stream, not yet handed to a channel
    scheduled,  // waiting for its send time
    sending,    // an attempt is recorded and the send has started
    sent,       // a provider accepted it
    delivered,  // the provider reported delivery to the device or mailbox
    read,       // the citizen opened it (where the channel tells)
    failed,     // no channel could deliver it
    rejected,   // the job was invalid or poisonous: see the dead-letter stream
    cancelled,  // an operator or the service cancelled it before it was sent
    expired,    // its deadline passed before it could be sent
    unknown,    // the daemon stopped mid-send; an operator decides (intake.on_crash = "unknown")
};

std::string_view to_string(Status s);
std::optional<Status> parse_status(std::string_view s);

// A status after which the job is done with: its stream entry may be acknowledged.
// `sent` counts: the send is over, later receipts only add to it.
bool is_final(Status s);

// Whether a message may move from `from` to `to`. Receipts arrive out of order (a "delivered"
// may come after "read"), so progress never goes backwards: a late lower status is recorded as
// an event but does not change the message's status.
bool can_transition(Status from, Status to);

}  // namespace crieur
