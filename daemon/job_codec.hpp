// Job contract v1: JSON text → Job, with every rejection naming the field at fault.
// Pure functions (no I/O), usable from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/errors.hpp"
#include "daemon/types.hpp"

namespace crieur {

struct JobError {
    errc code = errc::ok;
    std::string field;   // the JSON field at fault ("" for the whole job), e.g. "deadline", "to.sms"
    std::string reason;  // a sentence for the operator and the sender
    std::string id;      // the job's id when it could be read, so the receipt can carry it
    std::string service; // the same for its service, whose status callback tells it of the rejection
};

inline constexpr int kJobContractVersion = 1;
inline constexpr std::size_t kMaxIdLength = 128;  // a citizen's, a service's
// A job's id: room for a campaign's ids, "<campaign>:<citizen>" (daemon/campaigns).
inline constexpr std::size_t kMaxJobIdLength = 256;

// Parses and validates one job. `max_bytes` is intake.max_job_bytes.
std::variant<Job, JobError> parse_job(std::string_view json, std::size_t max_bytes);

// Parses an RFC 3339 timestamp ("2026-11-23T10:20:31Z", "...T10:20:31.5+01:00"). Strict: a date
// and a time, seconds required, an offset required.
std::optional<TimePoint> parse_rfc3339(std::string_view s);

// The channels the contract knows.
bool is_known_channel(std::string_view c);

}  // namespace crieur
