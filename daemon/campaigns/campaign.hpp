// A campaign: one template sent to an audience (docs/campaigns.md), and its follow-ups, the
// later messages of the same thread (the reminder, the "power is back"). Values and their JSON;
// the requests that create them are checked here, each problem naming the field at fault, before
// anything is stored or sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/audience/audience.hpp"
#include "daemon/types.hpp"

namespace crieur::render {
class TemplateStore;
}

namespace crieur::campaigns {

// draft: stored, not launched. launching: its audience snapshot is taken and its jobs are going
// onto the stream. running: every job is on the stream. done: every message of it has ended
// (read from the receipts, never stored). cancelled.
enum class State { draft, launching, running, done, cancelled };
const char* to_string(State s);
std::optional<State> parse_state(std::string_view s);

// Whom a follow-up goes to, among the campaign's snapshot.
enum class Target { all, not_read, reached };
const char* to_string(Target t);

struct Campaign {
    std::string id;        // the thread's id: the service's, or made by crieur; never used twice
    int followup = 0;      // 0: the campaign itself; n: its n-th follow-up
    std::string service;
    std::string template_name;
    std::string audience_json;  // the campaign's audience as given (a follow-up has none: the snapshot's)
    std::string data_json = "{}";
    Priority priority = Priority::normal;
    std::vector<std::string> channels;  // the channels allowed; empty: the template's
    std::optional<TimePoint> not_before, deadline;
    std::string reference;
    Target target = Target::all;  // a follow-up's
    bool resolved = false;        // a follow-up that closes the incident
    State state = State::draft;
    std::string state_reason;
    std::string created_by;  // the API key's id ("" for the operators' token)
    std::int64_t created_ms = 0, launched_ms = 0, queued_ms = 0, cancelled_ms = 0;
    std::int64_t snapshot_removed_ms = 0;  // the retention removed its snapshot: no follow-up any more
    std::int64_t members = 0;  // the snapshot's size, once taken
    std::int64_t queued = 0;   // jobs on the stream so far: the fan-out's place in the snapshot

    // What stands in each job's `campaign` field and heads its id: "<id>" for the campaign,
    // "<id>~<n>" for its n-th follow-up (a '~' is never in an id).
    std::string key() const { return followup == 0 ? id : id + "~" + std::to_string(followup); }
    // The job of the citizen: "<key>:<citizen>" (docs/jobs.md's contract), the same at each try.
    std::string job_id(std::string_view citizen) const { return key() + ":" + std::string(citizen); }
};

// An id is 1 to 64 letters, digits, '-', '_' or '.'.
bool valid_id(std::string_view id);
// "<id>" or "<id>~<n>" → the id and n; nullopt for anything else.
std::optional<std::pair<std::string, int>> parse_key(std::string_view key);

struct RequestError {
    std::string field;  // "audience.area.coordinates[0]", "data.street", "channels"
    std::string reason;
    int status = 422;
};

// POST /v1/campaigns and POST /v1/campaigns/{id}/followups, checked against the templates: the
// template and its category, the channels, the timestamps, and the data against the template's
// variables (rendered once as the intake would, so a campaign whose data the template cannot use
// is refused before its first job). `service` is the key's (an operator names it in the body).
struct CampaignRequest {
    Campaign campaign;
    std::optional<audience::Audience> audience;  // a campaign's (a follow-up's comes from the snapshot)
    bool dry_run = false;  // answer the preview; store nothing
    bool draft = false;    // store it, launch later
};
std::variant<CampaignRequest, RequestError> parse_campaign_request(std::string_view json, const render::TemplateStore& templates,
                                                                   const std::string& service, bool operator_key);
std::variant<CampaignRequest, RequestError> parse_followup_request(std::string_view json, const render::TemplateStore& templates,
                                                                   const Campaign& parent);

// The campaign as the API shows it (without its counts: the routes add them).
std::string to_json(const Campaign& c);

// The job of one citizen, as it goes onto the stream (docs/jobs.md). `common` is
// common_job_fields(c), made once per page.
std::string common_job_fields(const Campaign& c);
std::string job_json(const Campaign& c, const std::string& common, std::string_view citizen);

}  // namespace crieur::campaigns
