// The body of POST /v1/events: what citizens did with their messages, reported by the municipal
// app's back end, for the send time. Pure: the JSON in, the engagements or the first field at fault out.
//
//   {"events": [
//     {"type": "session", "citizen": "C-1042", "at": "2026-12-01T18:02:11+01:00"},
//     {"type": "tap", "message": "passport-2027-C-1042"},              a push notification tapped
//     {"type": "read", "message": "water-cut-17", "channel": "push"},  read in the app
//     {"type": "click", "message": "aid-2026-C-1042"}]}
// A single event object is also taken. `at` defaults to the time of the request.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/clock.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur::engagement {

struct EventsError {
    std::string field;  // "events[2].type"
    std::string reason;
};

inline constexpr std::size_t kMaxEvents = 1000;
inline constexpr auto kMaxAge = std::chrono::hours(24 * 30);       // an app that was offline for a month
inline constexpr auto kMaxAhead = std::chrono::minutes(5);         // a phone's clock a little ahead

std::variant<std::vector<Engagement>, EventsError> parse_events(std::string_view body, TimePoint now);

}  // namespace crieur::engagement
