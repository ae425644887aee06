// JourneyRunner: runs the journeys' instances in the daemon (docs/journeys.md).
//
// Work comes from four places: a start or an event or an agent's action over the API, a wait
// whose time came (the store's timers index), and the receipts' feed (a message of a journey
// delivered, read, clicked or failed). It goes in rounds, one at a time, so that one instance is
// never moved by two triggers at once: on the store's worker, each instance of the round is read,
// moved by the engine (daemon/journeys/engine.hpp) and its messages built; on the io_context, the
// messages are queued once each (a Redis script keyed by the job id: a round run again after a
// crash queues nothing twice); then on the worker the instances are written in one transaction,
// and only then are the feed's rows deleted and the API answered. A step therefore runs exactly
// once across kill -9: before the commit the round is done again from the same state, after it
// the state has moved on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/clock.hpp"
#include "daemon/journeys/engine.hpp"
#include "daemon/journeys/journey_store.hpp"
#include "daemon/receipts/inbound.hpp"
#include "daemon/worker.hpp"

namespace crieur {
struct Config;
class ReceiptStore;
namespace redis {
class RedisConnection;
}
namespace directory {
class Directory;
}
}  // namespace crieur

namespace crieur::journeys {

// A start, as POST /v1/journeys gives it (checked by the routes against the definition).
struct StartRequest {
    Instance instance;         // id, journey, service, citizen, reference, data
    std::string request_hash;  // the body's fingerprint: the same request is answered the same
    std::string by;            // the key's name
};

// A citizen's reply, as the reply desk worked it out (daemon/inbound/reply_desk.hpp).
struct ReplyIn {
    std::int64_t inbound_id = 0;        // its row in the receipts: taken once by an instance (0: another daemon's)
    std::vector<std::string> citizens;  // whose address it came from (several: a shared phone)
    std::string answered_journey;       // the journey of the message it names (WhatsApp's context.id)
    std::string text;
};
// What a journey made of it; `instance` empty when no open journey of theirs took it.
struct ReplyTaken {
    std::string instance, service, citizen, reference, keyword;  // keyword: one its step asked for, folded
    bool elsewhere = false;  // sent to the daemon that keeps the journey (several daemons): it reads the keyword
};

class JourneyRunner {
public:
    // Opens the journeys' database (throws sqlite::Error at start-up).
    JourneyRunner(boost::asio::io_context& io, const Config& config, redis::RedisConnection& redis,
                  ReceiptStore& receipts, const Clock& clock);
    ~JourneyRunner();

    // The definitions in use (at start and on reload). Without any, nothing runs.
    void set_library(std::shared_ptr<const JourneyLibrary> library) { library_ = std::move(library); }
    std::shared_ptr<const JourneyLibrary> library() const { return library_; }
    void start();
    void stop();

    enum class Outcome { done, same, conflict, not_found, ignored, bad_request, failed };
    struct Answer {
        Outcome outcome = Outcome::failed;
        std::string json;    // the instance, as GET shows it
        std::string detail;  // why, when it is not done
        std::string field;   // the request's field at fault (bad_request)
    };
    using Reply = std::function<void(Answer)>;

    void begin(StartRequest request, Reply done);
    // `service`: the caller's (empty: the operators'); another service's instance is not found.
    void event(std::string id, std::string service, std::string name, std::string data_json, Reply done);
    void act(std::string id, std::string service, Action action, Reply done);
    void show(std::string id, std::string service, Reply done);
    // A reply goes to the journey of the message it names, else to the citizen's latest open
    // journey; a keyword the step's message asked for (OUI, AIDE) is a `reply.<KEYWORD>`, other
    // words a plain `reply`. nullopt: nothing could be written (the desk tries again).
    void reply(ReplyIn in, std::function<void(std::optional<ReplyTaken>)> done);
    void list(InstanceFilter filter, std::function<void(std::optional<std::pair<std::vector<Instance>, std::int64_t>>)> done);
    void step_counts(std::string service, std::function<void(std::optional<std::vector<JourneyStore::StepCount>>)> done);
    // The citizen's journeys end ("the citizen was erased") and lose their data.
    void erase_citizen(const std::string& citizen, std::function<void(bool ok)> done);

    // Retention, hourly: the journeys ended `days` ago (retention.days) go with their history; 0: kept.
    void remove_old(int days);
    // Several daemons on one Redis (redis.claim_job_ids): `self` is this daemon's consumer name.
    // The receipts of a journey another daemon keeps (that daemon's step was sent from here) go
    // to its inbox, <stream>:journey-inbox:<keeper>, and this daemon's inbox is read like its
    // feed: a journey hears how far its messages went whichever daemon sent them. Before start().
    void share_with_peers(std::string self) { self_ = std::move(self); }
    // Told the ids the retention removed (several daemons: their keepers' keys in Redis go too).
    void on_removed(std::function<void(const std::vector<std::string>&)> f) { on_removed_ = std::move(f); }

    std::int64_t steps_run() const { return steps_run_; }
    std::int64_t messages_queued() const { return messages_queued_; }

private:
    struct Work;
    struct Round;
    void kick();
    void run_round(std::shared_ptr<Round> round);
    void compute(Round& round);  // on the worker
    void queue_sends(std::shared_ptr<Round> round);
    void queue_notices(std::shared_ptr<Round> round);
    void commit(std::shared_ptr<Round> round);
    void finish(std::shared_ptr<Round> round);
    void schedule_tick();
    void poll_feed();
    void poll_inbox();
    void settle_foreign(std::shared_ptr<Round> round);
    void replies_to_keepers(std::shared_ptr<Round> round);

    boost::asio::io_context& io_;
    const Config& config_;
    redis::RedisConnection& redis_;
    ReceiptStore& receipts_;
    const Clock& clock_;
    std::shared_ptr<const JourneyLibrary> library_;
    std::function<void(const std::vector<std::string>&)> on_removed_;
    std::unique_ptr<JourneyStore> store_;              // used on worker_'s thread only
    std::unique_ptr<directory::Directory> directory_;  // likewise: the citizens' time zones
    std::deque<std::shared_ptr<Work>> pending_;        // API work waiting for the next round
    bool running_ = false;                             // a round is going
    bool due_more_ = false;                            // the last round left due instances
    bool stopping_ = false;
    bool feed_busy_ = false;
    bool sweeping_ = false;
    std::int64_t feed_after_ = 0;                      // the feed's rows after this are not taken yet
    std::int64_t steps_run_ = 0, messages_queued_ = 0;
    boost::asio::steady_timer tick_, feed_timer_, inbox_timer_;
    std::string self_;                  // several daemons: this one's name; empty: alone
    std::string inbox_after_ = "-";     // the inbox's entries after this are not read yet
    bool inbox_busy_ = false;
    Worker worker_{"journeys"};  // last: stopped (joined) first
};

}  // namespace crieur::journeys
