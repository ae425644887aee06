// crieur's error codes: an enum class with its own error category, so that they travel in
// std::error_code beside the system's. One line per code says what it means.
#pragma once

#include <string>
#include <system_error>

namespace crieur {

enum class errc {
    ok = 0,
    job_too_large = 1,        // the job's JSON is longer than intake.max_job_bytes
    job_not_json,             // the `job` field is not valid JSON, or not an object
    job_missing_field,        // a required field is absent
    job_wrong_type,           // a field has the wrong JSON type
    job_unknown_field,        // a field the contract does not define (typo or newer version)
    job_bad_value,            // a field has the right type but a value out of its domain
    job_bad_version,          // `v` is not a contract version this daemon speaks
    job_no_job_field,         // the stream entry has no `job` field at all
    job_bad_resume,           // the stream entry's `resume` field (written by the schedule) is malformed
    poison_job,               // delivered more than redis.max_deliveries times without an outcome
    unknown_template,         // the job names a template the daemon does not have
    no_template_channel,      // none of the job's channels is a channel of its template
    bad_template_data,        // the job's data lacks a variable the template needs, or has a wrong type
    redis_disconnected,       // the Redis connection is down; the command was not sent
    redis_error,              // Redis answered with an error reply
    store_failed,             // the receipt database refused a write (the batch was rolled back)
    directory_failed,         // the directory database failed to answer or to write
};

const std::error_category& error_category();
// The code's name as written above ("job_unknown_field"): stable, for machines (dead letters, API).
const char* code_name(errc e);
std::error_code make_error_code(errc e);

}  // namespace crieur

template <>
struct std::is_error_code_enum<crieur::errc> : std::true_type {};
