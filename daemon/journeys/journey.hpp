// A journey: the steps a service's process takes with one citizen over weeks or months (the
// passport renewal: a warning months ahead, a reminder when nothing happens, the recap the day
// before the appointment, the SMS when the document is ready), read from one TOML file
// (templates/_journeys/<name>.toml, docs/journeys.md) and checked whole when loaded: every
// problem comes back as "file:line: key: what". A loaded definition is a value; what an instance
// does next is computed from it (daemon/journeys/engine.hpp), never stored as code.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/journeys/anchor.hpp"
#include "daemon/types.hpp"

namespace crieur::render {
class TemplateStore;
}

namespace crieur::journeys {

// The furthest a step's message has gone. `failed`: it ended without reaching the citizen on any
// channel. Read and clicked imply delivered; clicked implies read.
enum class MessageProgress { none, queued, delivered, read, clicked, failed };
const char* to_string(MessageProgress p);
std::optional<MessageProgress> parse_progress(std::string_view s);

// What a branch can ask of what happened so far in the instance.
struct Condition {
    enum class Kind { event, message, reply, data };
    Kind kind = Kind::event;
    std::string name;   // the event; the send step; the keyword ("*": any reply); the data key
    // message: delivered, read, clicked, failed, answered (read, clicked or a reply after it).
    // data: the value it must equal, as JSON text ("true", "\"fr\"", "2"); empty: it must exist.
    std::string value;
    std::string text;   // as written, for show
};

struct BranchCase {
    Condition when;
    std::string then;  // a step id or "end"
    int line = 0;
};

enum class StepKind { send, wait, branch, notify, end };
const char* to_string(StepKind k);

struct Step {
    std::string id;
    StepKind kind = StepKind::end;
    int line = 0;
    std::string next;  // a step id or "end" (the file's next step when not written)

    // send: one message, its job id "<instance>:<step>" (":<n>" from its second run, in a loop).
    std::string template_name;
    std::vector<std::string> channels;  // empty: the template's
    Duration window{0};                 // the send time picks the day and hour within it; 0: now
    Priority priority = Priority::normal;
    std::vector<std::string> replies;   // the keywords its message asks for (OUI, NON, AIDE), folded

    // wait: by the clock (a duration after it began, or an anchor) or until one of `until`.
    std::optional<Duration> wait_for;
    std::optional<AnchorTime> wait_until;
    std::vector<std::string> until;  // events that end it early ("booked", "reply", "message.read")
    std::string if_past;             // an anchor already past: "next" (go on now), a step id, or "end"

    // branch: the first case that holds, else `next` (written `otherwise`).
    std::vector<BranchCase> cases;

    // notify: the service is told (its status callbacks: journey.notice with this name), as
    // when a heatwave check went unanswered and someone must call.
    std::string notice;
};

struct EventDefinition {
    std::string name;
    std::vector<std::string> anchors;  // the data it must bring (booked: appointment_at)
    int line = 0;
};

struct Journey {
    std::string name;  // the file's name without .toml
    std::string file;
    std::string description;
    std::vector<std::string> anchors;           // the data a start must bring
    std::map<std::string, EventDefinition> events;  // what a service may tell
    std::map<std::string, std::string> on;      // event → step id or "end", from any step
    std::vector<Step> steps;                    // in the file's order; the first starts it

    const Step* step(std::string_view id) const;
    std::size_t index(std::string_view id) const;  // steps.size() when unknown
};

// crieur's own events, which a journey may wait for or jump on without declaring them.
bool is_crieur_event(std::string_view name);
// A reply's keyword folded as it is compared: trimmed, accents dropped, upper case ("  Oui." → "OUI").
std::string fold_keyword(std::string_view text);

class JourneyLibrary {
public:
    struct LoadResult {
        std::shared_ptr<const JourneyLibrary> library;  // null when there were problems
        std::vector<std::string> problems;              // "file:line: key: what"
    };
    // Every *.toml under `dir` (a missing folder: no journeys). With `templates`, each send step's
    // template, channels and category are checked against it.
    static LoadResult load(const std::string& dir, const render::TemplateStore* templates);
    // One file (crieur journey check FILE).
    static LoadResult load_file(const std::string& file, const render::TemplateStore* templates);

    const Journey* find(std::string_view name) const;
    const std::map<std::string, Journey, std::less<>>& all() const { return journeys_; }

private:
    std::map<std::string, Journey, std::less<>> journeys_;
};

}  // namespace crieur::journeys
