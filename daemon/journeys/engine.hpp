// What a journey's instance does next: a pure function of its definition, its state, what just
// happened (it started, its wait's time came, an event, a message's progress, a reply, an agent's
// action) and the time. It runs steps until the instance waits or ends, and says what to send;
// the caller stores the state, queues the messages and sets the timer. Nothing here touches a
// clock, a file or the network: tests run a journey of four months in microseconds.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/journeys/journey.hpp"

namespace crieur::journeys {

enum class InstanceState { active, paused, ended };
const char* to_string(InstanceState s);
std::optional<InstanceState> parse_instance_state(std::string_view s);

// The latest message a send step queued, and how far it went.
struct SentMessage {
    std::string job_id;
    int run = 1;
    MessageProgress progress = MessageProgress::queued;
    std::int64_t sent_ms = 0;
    bool replied = false;  // the citizen replied after it (and before a later message)
};

struct Instance {
    std::string id;  // the service's (idempotent), unique among journeys
    std::string journey;
    std::string service;
    std::string citizen;
    std::string reference;
    std::string data_json = "{}";  // the anchors and the templates' data; an event's data merges in
    InstanceState state = InstanceState::active;
    std::string step;                     // the step it waits at; the last one run once ended
    std::optional<std::int64_t> wake_ms;  // when that wait ends by the clock (none: only an event ends it)
    std::int64_t since_ms = 0;            // when it came to `step`
    std::map<std::string, int> runs;      // how many times each step ran
    std::set<std::string> events;         // what happened: the service's events, "reply", "reply.OUI"
    std::map<std::string, SentMessage> messages;  // each send step's latest message
    int actions = 0;                      // agents' messages sent so far (their job ids count them)
    std::int64_t last_inbound = 0;        // the latest reply taken (its row in the receipts): a reply taken twice moves it once
    std::string ended_reason;             // why it ended: "end", "on booked", "stopped by <key>", ...
    std::int64_t started_ms = 0, updated_ms = 0;
};

// What just happened to an instance.
struct Trigger {
    enum class Kind { start, timer, event, message, reply };
    Kind kind = Kind::start;
    std::string name;  // event: its name; timer and message: the step; reply: the keyword folded ("" free text)
    int run = 0;       // timer and message: the step's run they are about
    MessageProgress progress = MessageProgress::none;  // message
    std::string data_json;                             // event: the data it brings (merged)
};

// An agent stepping in (POST /v1/journeys/{id}/actions), recorded with who did it.
struct Action {
    enum class Kind { send, reschedule, pause, resume, stop };
    Kind kind = Kind::send;
    std::string template_name;  // send
    std::vector<std::string> channels;
    std::string data_json;      // send: merged over the instance's data for this message only
    std::int64_t at_ms = 0;     // reschedule: when the current wait ends
    std::string by;             // the key's name
};
std::optional<Action::Kind> parse_action_kind(std::string_view s);
const char* to_string(Action::Kind k);

// A message to queue: its job id is "<instance>:<step>" (":<run>" from a step's second run;
// "<instance>:action-<n>" for an agent's), so that queuing it twice sends it once.
struct SendOrder {
    std::string step;
    std::string job_id;
    std::string template_name;
    std::vector<std::string> channels;
    Priority priority = Priority::normal;
    std::optional<std::int64_t> deadline_ms;  // the end of the step's window: the send time picks within
    std::string data_json;
};

struct Advance {
    Instance instance;               // the state after
    std::vector<SendOrder> sends;    // in the order the steps ran
    std::vector<std::string> notices;  // the notify steps' names, for the service's callbacks
    std::vector<std::string> notice_ids;  // each one's id, "<instance>:<step>[:<run>]": a receiver drops a copy
    std::vector<std::string> trace;  // what it did, in words, for the instance's history
    bool moved = false;              // it ran a step, or its timer changed
    // Non-empty when nothing was done and why: ended, paused, a stale or early timer, an event no
    // step waits for (still recorded: `recorded`).
    std::string ignored;
    bool recorded = false;  // the instance's record of what happened changed (an event, a progress)
};

// The most steps one trigger may run: a definition with no cycle without a wait never gets near.
inline constexpr int kMaxStepsPerTrigger = 64;

// `zone`: the citizen's time zone for anchors written with "at HH:MM" and for dates (nullptr: UTC).
Advance advance(const Journey& journey, Instance instance, const Trigger& trigger, std::int64_t now_ms,
                const date::time_zone* zone);
Advance apply(const Journey& journey, Instance instance, const Action& action, std::int64_t now_ms,
              const date::time_zone* zone);

// What a citizen's reply is to an instance: `reply` with the keyword folded ("  Aïde !" → AIDE)
// when it is one the step of the latest message asked for (its `replies`) or one the journey
// jumps on (`[on] "reply.AIDE"`); else a plain reply (an empty name: free words).
Trigger reply_trigger(const Journey& journey, const Instance& instance, std::string_view text);

// "<instance>:<step>[:<run>]" → the step and its run; nullopt when the id is not one of this instance's steps.
std::optional<std::pair<std::string, int>> step_of_job(const Instance& instance, std::string_view job_id);

}  // namespace crieur::journeys
