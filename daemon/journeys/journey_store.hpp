// JourneyStore: the journeys' instances and their history in SQLite (journeys.db, WAL, beside
// the receipts). An instance's row is its whole state (daemon/journeys/engine.hpp) and its timer:
// `wake_at` with an index, so that the state and when it next moves are written in one
// transaction, and a crash can never leave one without the other. One thread uses it: the
// JourneyRunner's worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/journeys/engine.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::journeys {

// One line of an instance's history: what happened, and who did it for an agent's action.
struct HistoryEntry {
    std::int64_t at_ms = 0;
    std::string kind;  // start, send, wait, branch, event, message, reply, action, notice, end, ignored
    std::string what;  // in words, as the engine's trace says it
    std::string by;    // the key's name for an action or a start; empty for crieur
};

// A change to write: the instance after a trigger, and the history it adds.
struct InstanceChange {
    Instance instance;
    std::vector<HistoryEntry> history;
};

struct InstanceFilter {
    std::string service;  // empty: every service (the operators' token)
    std::string journey, step;
    std::optional<InstanceState> state;
    std::int64_t after = 0;  // the page's cursor (0: from the first)
    int limit = 100;
};

class JourneyStore {
public:
    // Opens (creates) the file; throws sqlite::Error.
    explicit JourneyStore(const std::string& path);

    // Stores a new instance with the request's fingerprint; false when its id exists (then
    // `existing_hash` says what the first request was, for an idempotent answer).
    bool create(const InstanceChange& c, const std::string& request_hash, const std::string& created_by,
                std::string& existing_hash);
    std::optional<Instance> get(const std::string& id);
    // The fingerprint of the request that started it ("" when unknown).
    std::string request_hash(const std::string& id);
    // Writes every change in one transaction.
    void save(const std::vector<InstanceChange>& changes);
    std::vector<HistoryEntry> history(const std::string& id, int limit = 1000);
    // Active instances whose wait ends at or before `now_ms`, the earliest first.
    std::vector<std::string> due(std::int64_t now_ms, int limit);
    // When the earliest active wait ends; nullopt: none.
    std::optional<std::int64_t> next_wake();
    // A page of instances and the next cursor (0: no more).
    std::pair<std::vector<Instance>, std::int64_t> list(const InstanceFilter& f);
    // The citizen's instances not ended, the latest started first (replies and erasure find them).
    std::vector<std::string> open_for_citizen(const std::string& citizen);
    // A citizen erased at their request: their journeys end and keep no data, reference or id of
    // theirs (the history says what was sent, never to whom). Returns the instances.
    std::int64_t erase_citizen(const std::string& citizen, std::int64_t now_ms);
    // The retention: at most `limit` instances ended before `before_ms` go, with their history
    // (the oldest first). Returns their ids.
    std::vector<std::string> remove_ended(std::int64_t before_ms, int limit);
    // Counts of instances by state, for /metrics.
    std::vector<std::pair<std::string, std::int64_t>> counts();
    // Counts by journey, step and state, of a service's instances (empty: every service's): the
    // dashboard's view of where the citizens are in each journey.
    struct StepCount {
        std::string journey, step, state;
        std::int64_t instances = 0;
    };
    std::vector<StepCount> step_counts(const std::string& service);

private:
    Instance read(sqlite::Stmt& s);
    void write(const InstanceChange& c);
    sqlite::DbPtr db_;
    sqlite::Stmt insert_, get_, update_, add_history_, history_, due_, next_wake_, for_citizen_, hash_;
};

// The instance as JSON (GET /v1/journeys/{id} and the list): its state, step, when it next
// moves, its messages and events; `history` when given.
std::string instance_json(const Instance& in, const std::vector<HistoryEntry>* history);

}  // namespace crieur::journeys
