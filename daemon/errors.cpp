#include "daemon/errors.hpp"

namespace crieur {
namespace {
class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "crieur"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::ok: return "ok";
        case errc::job_too_large: return "job too large";
        case errc::job_not_json: return "job is not a JSON object";
        case errc::job_missing_field: return "job misses a required field";
        case errc::job_wrong_type: return "job field has the wrong type";
        case errc::job_unknown_field: return "job has an unknown field";
        case errc::job_bad_value: return "job field has a bad value";
        case errc::job_bad_version: return "job contract version not supported";
        case errc::job_no_job_field: return "stream entry has no job field";
        case errc::job_bad_resume: return "stream entry has a malformed resume field";
        case errc::poison_job: return "poison job: delivered too many times";
        case errc::unknown_template: return "unknown template";
        case errc::no_template_channel: return "no channel of the template fits the job";
        case errc::bad_template_data: return "the job's data does not fit its template";
        case errc::redis_disconnected: return "redis disconnected";
        case errc::redis_error: return "redis error reply";
        case errc::store_failed: return "the receipt database refused the write";
        case errc::directory_failed: return "the directory database failed";
        }
        return "unknown crieur error";
    }
};
}  // namespace

const char* code_name(errc e) {
    switch (e) {
    case errc::ok: return "ok";
    case errc::job_too_large: return "job_too_large";
    case errc::job_not_json: return "job_not_json";
    case errc::job_missing_field: return "job_missing_field";
    case errc::job_wrong_type: return "job_wrong_type";
    case errc::job_unknown_field: return "job_unknown_field";
    case errc::job_bad_value: return "job_bad_value";
    case errc::job_bad_version: return "job_bad_version";
    case errc::job_no_job_field: return "job_no_job_field";
    case errc::job_bad_resume: return "job_bad_resume";
    case errc::poison_job: return "poison_job";
    case errc::unknown_template: return "unknown_template";
    case errc::no_template_channel: return "no_template_channel";
    case errc::bad_template_data: return "bad_template_data";
    case errc::redis_disconnected: return "redis_disconnected";
    case errc::redis_error: return "redis_error";
    case errc::store_failed: return "store_failed";
    case errc::directory_failed: return "directory_failed";
    }
    return "unknown";
}

const std::error_category& error_category() {
    static const Category category;
    return category;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace crieur
