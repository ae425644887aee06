// Resume: how a job comes back from the schedule, and what it carries from its earlier passes.
// It travels as one stream field, `resume`, beside the job (docs/jobs.md): written by
// Schedule::put_aside, read once by the intake, which refuses a malformed one with a clear reason.
//
//   (no field)          a job seen for the first time, or one that only waited (not_before, quiet
//                       hours, a retry, caps, providers down): it goes through everything again
//   escalation:sms,push its next channel after a silence; the channels it already went out on
//   fallback:sms        its next channel only if the message failed after acceptance (a late failure)
//   slot:twilio-2       a rate-limit slot of this provider instance is reserved for it
//   send_time           the send time was chosen for it: not chosen again
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crieur {

struct Resume {
    enum class Kind { none, escalation, slot, send_time };
    Kind kind = Kind::none;
    std::vector<std::string> channels_used;  // escalation: in the order they were used
    bool on_failure_only = false;            // escalation: goes on only once the message failed
    std::string slot_provider;               // slot: the provider instance whose slot is reserved

    static Resume escalation(std::vector<std::string> used, bool on_failure_only) {
        return {Kind::escalation, std::move(used), on_failure_only, {}};
    }
    static Resume slot(std::string provider) { return {Kind::slot, {}, false, std::move(provider)}; }
    static Resume send_time() { return {Kind::send_time, {}, false, {}}; }

    bool operator==(const Resume&) const = default;
};

// The field's value; empty for Kind::none (no field is written). Never contains a space.
std::string encode(const Resume& resume);
// A field's value, checked strictly: a string says what is wrong with it.
std::variant<Resume, std::string> decode_resume(std::string_view field);

}  // namespace crieur
