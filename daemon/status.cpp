#include "daemon/status.hpp"

#include <array>

namespace crieur {
namespace {
constexpr std::array<std::string_view, 11> kNames{"queued", "scheduled", "sending", "sent",      "delivered", "read",
                                                  "failed", "rejected",  "cancelled", "expired", "unknown"};
// Rank along the happy path; the terminal failures have no rank.
constexpr int rank(Status s) {
    switch (s) {
    case Status::queued: return 0;
    case Status::scheduled: return 1;
    case Status::sending: return 2;
    case Status::sent: return 3;
    case Status::delivered: return 4;
    case Status::read: return 5;
    default: return -1;
    }
}
}  // namespace

std::string_view to_string(Status s) { return kNames[static_cast<std::size_t>(s)]; }

std::optional<Status> parse_status(std::string_view s) {
    for (std::size_t i = 0; i < kNames.size(); ++i)
        if (kNames[i] == s) return static_cast<Status>(i);
    return std::nullopt;
}

bool is_final(Status s) { return s != Status::queued && s != Status::scheduled && s != Status::sending; }

bool can_transition(Status from, Status to) {
    if (from == to) return false;
    switch (from) {
    case Status::rejected:
        // A service may correct a rejected job and queue it again under the same id.
        return to == Status::queued || to == Status::sending;
    case Status::failed:
        // A provider's failure report may arrive after "sent"; nothing else leaves failed.
    case Status::cancelled:
    case Status::expired:
        return false;
    case Status::unknown:
        // The operator's decision: resend (sending) or give up (failed).
        return to == Status::sending || to == Status::failed;
    default: break;
    }
    switch (to) {
    case Status::queued: return false;
    case Status::failed: return true;  // from any live or sent state: a provider may report failure later
    case Status::rejected: return rank(from) < rank(Status::sending);
    case Status::cancelled:
    case Status::expired: return rank(from) < rank(Status::sent);
    case Status::unknown: return from == Status::sending;
    default: return rank(to) > rank(from);
    }
}

}  // namespace crieur
