#include "daemon/types.hpp"

namespace crieur {

const char* to_string(OutcomeKind k) {
    switch (k) {
    case OutcomeKind::accepted: return "accepted";
    case OutcomeKind::retry: return "retry";
    case OutcomeKind::bad_address: return "bad_address";
    case OutcomeKind::failed: return "failed";
    case OutcomeKind::provider_down: return "provider_down";
    case OutcomeKind::unknown: return "unknown";
    }
    return "?";
}

const char* to_string(Priority p) {
    switch (p) {
    case Priority::urgent: return "urgent";
    case Priority::normal: return "normal";
    case Priority::bulk: return "bulk";
    }
    return "?";
}

}  // namespace crieur
