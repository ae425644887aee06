#include "daemon/journeys/journey_runner.hpp"

#include <date/tz.h>
#include <hiredis/hiredis.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>

#include "daemon/config.hpp"
#include "daemon/directory/directory.hpp"
#include "daemon/log.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/redis_client.hpp"
#include "daemon/redis/script.hpp"

namespace crieur::journeys {

namespace {
// How long a queued step's job id is remembered: a round done again after a crash comes within
// seconds; a week covers a daemon left stopped over a long weekend.
constexpr int kRememberSeconds = 7 * 24 * 3600;

// Queues a job once per id. KEYS[1] the id's record, KEYS[2] the stream; ARGV[1] the job, ARGV[2]
// the TTL. Returns 1 when queued now, 0 when it was before.
const redis::Script kQueueStep(R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[2])) then return 0 end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[1])
return 1
)lua");

// A receipt of a journey another daemon keeps, to that daemon's inbox; 0 when this daemon or
// nobody keeps it (then it is a counted no-op here). ARGV: self, the inboxes' prefix, journey, job, progress.
const redis::Script kToKeeper(R"lua(
local keeper = redis.call('GET', KEYS[1])
if not keeper or keeper == ARGV[1] then return 0 end
redis.call('XADD', ARGV[2] .. keeper, 'MAXLEN', '~', '1000000', '*', 'journey', ARGV[3], 'job', ARGV[4], 'progress', ARGV[5])
return 1
)lua");

// A reply to a journey another daemon keeps, to that daemon's inbox, once: 0 when this daemon or
// nobody keeps it, 2 when sent before. KEYS: the journey's keeper, the reply's "seen" key.
// ARGV: self, the inboxes' prefix, journey, the reply's words.
const redis::Script kReplyToKeeper(R"lua(
local keeper = redis.call('GET', KEYS[1])
if not keeper or keeper == ARGV[1] then return 0 end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', 604800) then return 2 end
redis.call('XADD', ARGV[2] .. keeper, 'MAXLEN', '~', '1000000', '*', 'kind', 'reply', 'journey', ARGV[3], 'reply', ARGV[4])
return 1
)lua");

std::string inbox_key(const Config& config, const std::string& self) { return config.redis.stream + ":journey-inbox:" + self; }

// The first of `anchors` missing from `data_json` or not a date: its name and why; nullopt: all there.
std::optional<std::pair<std::string, std::string>> missing_anchor(const std::vector<std::string>& anchors,
                                                                  const std::string& data_json, const date::time_zone* zone) {
    rapidjson::Document d;
    d.Parse(data_json.c_str());
    for (auto& a : anchors) {
        auto it = d.IsObject() ? d.FindMember(a.c_str()) : d.MemberEnd();
        if (!d.IsObject() || it == d.MemberEnd()) return std::pair{a, "the anchor '" + a + "' is missing from the data"};
        if (!it->value.IsString() || !anchor_instant(it->value.GetString(), zone))
            return std::pair{a, "the anchor '" + a + "' is not a date (2027-03-14) or an RFC 3339 date-time"};
    }
    return std::nullopt;
}

HistoryEntry entry(std::int64_t at, std::string kind, std::string what, std::string by = {}) {
    return {at, std::move(kind), std::move(what), std::move(by)};
}

// The kind of a trace line, for the history ("send warning: ..." → send).
std::string kind_of(const std::string& line) {
    const auto space = line.find_first_of(" :");
    return space == std::string::npos ? line : line.substr(0, space);
}

std::string job_json(const Instance& in, const SendOrder& o) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto str = [&](const char* k, const std::string& v) {
        w.Key(k);
        w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    w.Key("v");
    w.Int(1);
    str("id", o.job_id);
    str("service", in.service);
    str("template", o.template_name);
    str("citizen", in.citizen);
    w.Key("data");
    w.RawValue(o.data_json.c_str(), o.data_json.size(), rapidjson::kObjectType);
    if (!o.channels.empty()) {
        w.Key("channels");
        w.StartArray();
        for (auto& c : o.channels) w.String(c.c_str());
        w.EndArray();
    }
    str("priority", to_string(o.priority));
    if (o.deadline_ms) str("deadline", format_rfc3339(from_unix_ms(*o.deadline_ms)));
    str("journey", in.id);
    if (!in.reference.empty()) str("reference", in.reference);
    w.EndObject();
    return {b.GetString(), b.GetSize()};
}

// At most `bytes` of the text, never in the middle of a character.
std::string cut_utf8(const std::string& text, std::size_t bytes) {
    if (text.size() <= bytes) return text;
    while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
    return text.substr(0, bytes) + "…";
}

// A notify step's callback to the service (the status callbacks' envelope): the heatwave check
// that nobody answered, so that someone calls. `id` is the same when a round is done again.
std::string notice_json(const Instance& in, const std::string& notice, const std::string& id, std::int64_t now) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    auto str = [&](const char* k, const std::string& v) {
        w.Key(k);
        if (v.empty()) w.Null();
        else w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("type", "journey.notice");
    str("timestamp", format_rfc3339(from_unix_ms(now)));
    w.Key("data");
    w.StartObject();
    str("id", id);
    str("notice", notice);
    str("journey", in.id);
    str("name", in.journey);
    str("step", in.step);
    str("service", in.service);
    str("citizen", in.citizen);
    str("reference", in.reference);
    w.EndObject();
    w.EndObject();
    return {b.GetString(), b.GetSize()};
}
}  // namespace

struct JourneyRunner::Work {
    enum class Kind { start, event, action, show, feed, timer, erase, reply };
    Kind kind = Kind::timer;
    std::string id;       // the instance (erase: the citizen)
    std::string service;  // the caller's; empty: the operators'
    StartRequest start;
    Trigger trigger;
    Action action;
    std::int64_t feed_row = 0;  // a feed's row in this daemon's receipts (0: none)
    std::string inbox_id;       // an entry of this daemon's inbox, from another daemon's receipts
    Reply reply;
    std::function<void(bool)> erased;
    Answer answer;
    ReplyIn reply_in;
    std::function<void(std::optional<ReplyTaken>)> replied;
    ReplyTaken taken;
};

struct JourneyRunner::Round {
    std::vector<std::shared_ptr<Work>> works;
    bool with_due = false;
    // Filled on the worker.
    std::map<std::string, InstanceChange> changes;  // by id: the instances moved, as they end the round
    std::map<std::string, std::string> created;     // new instances' ids → their request's fingerprint and creator
    std::map<std::string, std::string> created_by;
    struct Send {
        std::string job_id, stream, json;
    };
    std::vector<Send> sends;
    std::vector<receipts::ServiceCallback> notices;  // queued in the receipts' outbox before the commit
    std::vector<std::int64_t> feed_rows;
    std::vector<std::string> inbox_ids;  // taken from the inbox: deleted once committed
    // Receipts of journeys not kept here: sent to their keepers' inboxes, then their rows settled.
    struct Foreign {
        std::string journey, job_id, progress;
        std::int64_t feed_row = 0;
    };
    std::vector<Foreign> foreign;
    std::vector<std::shared_ptr<Work>> replies_elsewhere;  // to their journeys' keepers, after the commit
    std::vector<std::string> erased;  // citizens
    std::int64_t steps = 0;
    bool due_more = false;
    bool failed = false;
};

JourneyRunner::JourneyRunner(boost::asio::io_context& io, const Config& config, redis::RedisConnection& redis,
                             ReceiptStore& receipts, const Clock& clock)
    : io_(io), config_(config), redis_(redis), receipts_(receipts), clock_(clock), tick_(io), feed_timer_(io), inbox_timer_(io) {
    store_ = std::make_unique<JourneyStore>(config.journeys.path);
}

JourneyRunner::~JourneyRunner() { worker_.stop(); }

void JourneyRunner::start() {
    // The directory is opened on the worker: its connection is the worker's alone.
    worker_.post([this] {
        try {
            directory_ = std::make_unique<directory::Directory>(config_.directory.path);
        } catch (const std::exception& e) {
            spdlog::warn("journeys: the directory could not be opened ({}): anchors are read in {}", e.what(),
                         config_.quiet_hours.time_zone);
        }
    });
    schedule_tick();
    poll_feed();
    poll_inbox();
}

void JourneyRunner::stop() {
    stopping_ = true;
    tick_.cancel();
    feed_timer_.cancel();
    inbox_timer_.cancel();
    worker_.post([this] { directory_.reset(); });
}

void JourneyRunner::schedule_tick() {
    if (stopping_) return;
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](boost::system::error_code e) {
        if (e) return;
        kick();
        schedule_tick();
    });
}

void JourneyRunner::poll_feed() {
    if (stopping_) return;
    feed_timer_.expires_after(std::chrono::seconds(1));
    feed_timer_.async_wait([this](boost::system::error_code e) {
        if (e) return;
        if (feed_busy_ || !library_) return poll_feed();
        feed_busy_ = true;
        receipts_.journey_feed(feed_after_, config_.journeys.batch, [this](std::vector<JourneyFeedRow> rows) {
            feed_busy_ = false;
            for (auto& r : rows) {
                auto w = std::make_shared<Work>();
                w->kind = Work::Kind::feed;
                w->id = r.journey;
                w->feed_row = r.id;
                w->trigger.kind = Trigger::Kind::message;
                w->trigger.name = r.job_id;  // the step is found from the job id on the worker
                w->trigger.progress = parse_progress(r.progress).value_or(MessageProgress::none);
                pending_.push_back(std::move(w));
                feed_after_ = std::max(feed_after_, r.id);
            }
            if (!rows.empty()) kick();
            poll_feed();
        });
    });
}

void JourneyRunner::begin(StartRequest request, Reply done) {
    auto w = std::make_shared<Work>();
    w->kind = Work::Kind::start;
    w->id = request.instance.id;
    w->service = request.instance.service;
    w->start = std::move(request);
    w->reply = std::move(done);
    pending_.push_back(std::move(w));
    kick();
}

void JourneyRunner::event(std::string id, std::string service, std::string name, std::string data_json, Reply done) {
    auto w = std::make_shared<Work>();
    w->kind = Work::Kind::event;
    w->id = std::move(id);
    w->service = std::move(service);
    w->trigger.kind = name.rfind("reply", 0) == 0 ? Trigger::Kind::reply : Trigger::Kind::event;
    w->trigger.name = w->trigger.kind == Trigger::Kind::reply ? (name.size() > 6 ? name.substr(6) : "") : name;
    w->trigger.data_json = std::move(data_json);
    w->reply = std::move(done);
    pending_.push_back(std::move(w));
    kick();
}

void JourneyRunner::act(std::string id, std::string service, Action action, Reply done) {
    auto w = std::make_shared<Work>();
    w->kind = Work::Kind::action;
    w->id = std::move(id);
    w->service = std::move(service);
    w->action = std::move(action);
    w->reply = std::move(done);
    pending_.push_back(std::move(w));
    kick();
}

void JourneyRunner::show(std::string id, std::string service, Reply done) {
    auto w = std::make_shared<Work>();
    w->kind = Work::Kind::show;
    w->id = std::move(id);
    w->service = std::move(service);
    w->reply = std::move(done);
    pending_.push_back(std::move(w));
    kick();
}

void JourneyRunner::reply(ReplyIn in, std::function<void(std::optional<ReplyTaken>)> done) {
    auto w = std::make_shared<Work>();
    w->kind = Work::Kind::reply;
    w->reply_in = std::move(in);
    w->replied = std::move(done);
    pending_.push_back(std::move(w));
    kick();
}

void JourneyRunner::erase_citizen(const std::string& citizen, std::function<void(bool ok)> done) {
    auto w = std::make_shared<Work>();
    w->kind = Work::Kind::erase;
    w->id = citizen;
    w->erased = std::move(done);
    pending_.push_back(std::move(w));
    kick();
}

void JourneyRunner::remove_old(int days) {
    if (days <= 0 || sweeping_) return;
    sweeping_ = true;
    const auto before = to_unix_ms(clock_.now()) - std::int64_t{days} * 86'400'000;
    // Between rounds on the worker, 10,000 at a time: a sweep never holds the journeys long.
    worker_.run<std::vector<std::string>>(io_, [this, before] { return store_->remove_ended(before, 10'000); },
                                          [this, days](std::optional<std::vector<std::string>> ids) {
                                              sweeping_ = false;
                                              if (!ids || ids->empty()) return;
                                              spdlog::info("journeys: {} journeys ended {} days ago removed (retention.days)",
                                                           ids->size(), days);
                                              if (on_removed_) on_removed_(*ids);
                                          });
}

void JourneyRunner::list(InstanceFilter filter,
                         std::function<void(std::optional<std::pair<std::vector<Instance>, std::int64_t>>)> done) {
    // A read: no round needed (it sees what the last commit wrote).
    worker_.run<std::pair<std::vector<Instance>, std::int64_t>>(
        io_, [this, filter = std::move(filter)] { return store_->list(filter); }, std::move(done));
}

void JourneyRunner::step_counts(std::string service,
                                std::function<void(std::optional<std::vector<JourneyStore::StepCount>>)> done) {
    worker_.run<std::vector<JourneyStore::StepCount>>(
        io_, [this, service = std::move(service)] { return store_->step_counts(service); }, std::move(done));
}

void JourneyRunner::kick() {
    if (running_ || stopping_ || !library_) return;
    running_ = true;
    auto round = std::make_shared<Round>();
    const auto take = static_cast<std::size_t>(config_.journeys.batch);
    while (!pending_.empty() && round->works.size() < take) {
        round->works.push_back(std::move(pending_.front()));
        pending_.pop_front();
    }
    auto go = [this, round](bool with_due) {
        round->with_due = with_due && round->works.size() < static_cast<std::size_t>(config_.journeys.batch);
        run_round(round);
    };
    // Due steps wait while the stream is full of unread jobs; the API's work never does.
    if (config_.journeys.max_backlog <= 0) return go(true);
    redis::group_lag(redis_, config_.redis.stream, config_.redis.group, [this, go](long long lag) {
        go(lag <= config_.journeys.max_backlog);
    });
}

void JourneyRunner::run_round(std::shared_ptr<Round> round) {
    worker_.run<bool>(
        io_,
        [this, round] {
            compute(*round);
            return true;
        },
        [this, round](std::optional<bool> ok) {
            if (!ok) round->failed = true;
            if (round->failed) return finish(round);
            queue_sends(round);
        });
}

void JourneyRunner::compute(Round& round) {
    const auto now = to_unix_ms(clock_.now());
    auto library = library_;
    const date::time_zone* fallback = date::locate_zone(config_.quiet_hours.time_zone);
    std::map<std::string, const date::time_zone*> zones;
    auto zone_of = [&](const std::string& citizen) -> const date::time_zone* {
        if (auto it = zones.find(citizen); it != zones.end()) return it->second;
        const date::time_zone* z = fallback;
        if (directory_) {
            try {
                if (auto c = directory_->get(citizen, false); c && !c->time_zone.empty()) z = date::locate_zone(c->time_zone);
            } catch (const std::exception&) {  // an unknown zone was refused at import; the default then
            }
        }
        return zones[citizen] = z;
    };
    // The instance as this round has it: moved earlier in the round, or as stored.
    auto current = [&](const std::string& id) -> std::optional<Instance> {
        if (auto it = round.changes.find(id); it != round.changes.end()) return it->second.instance;
        return store_->get(id);
    };
    auto json_of = [&](const Instance& in, bool with_history) {
        std::vector<HistoryEntry> h;
        if (with_history) {
            h = store_->history(in.id);
            if (auto it = round.changes.find(in.id); it != round.changes.end())
                h.insert(h.end(), it->second.history.begin(), it->second.history.end());
        }
        return instance_json(in, with_history ? &h : nullptr);
    };
    // A receipt's row (this daemon's feed) or entry (its inbox) is done with once the round commits.
    auto taken_feed = [&round](const Work& w) {
        if (w.feed_row > 0) round.feed_rows.push_back(w.feed_row);
        if (!w.inbox_id.empty()) round.inbox_ids.push_back(w.inbox_id);
    };
    // Keeps what the engine did: the state, its history, the messages to queue.
    auto take = [&](Advance& a, const std::string& by, const std::string& what) {
        auto& change = round.changes[a.instance.id];
        if (!what.empty()) change.history.push_back(entry(now, kind_of(what), what, by));
        for (auto& line : a.trace) change.history.push_back(entry(now, kind_of(line), line));
        for (std::size_t i = 0; i < a.notices.size(); ++i) {
            const auto& n = a.notices[i];
            change.history.push_back(entry(now, "notice", "the service is told: " + n));
            const std::string id = i < a.notice_ids.size() ? a.notice_ids[i] : a.instance.id + ":" + n;
            round.notices.push_back({a.instance.service, a.instance.id, notice_json(a.instance, n, id, now), now});
        }
        if (!a.ignored.empty()) change.history.push_back(entry(now, "ignored", a.ignored));
        for (auto& o : a.sends) {
            const bool urgent = o.priority == Priority::urgent;
            round.sends.push_back({o.job_id, urgent ? urgent_stream_of(config_.redis) : config_.redis.stream,
                                   job_json(a.instance, o)});
        }
        round.steps += static_cast<std::int64_t>(a.trace.size());
        change.instance = std::move(a.instance);
    };

    if (round.with_due) {
        const auto room = config_.journeys.batch - static_cast<int>(round.works.size());
        auto due = store_->due(now, room + 1);
        round.due_more = static_cast<int>(due.size()) > room;
        if (round.due_more) due.pop_back();
        for (auto& id : due) {
            auto w = std::make_shared<Work>();
            w->kind = Work::Kind::timer;
            w->id = id;
            round.works.push_back(std::move(w));
        }
    }

    for (auto& w : round.works) {
        auto& ans = w->answer;
        if (w->kind == Work::Kind::erase) {
            round.erased.push_back(w->id);
            continue;
        }
        if (w->kind == Work::Kind::start) {
            const Instance& asked = w->start.instance;
            if (auto existing = current(asked.id)) {
                const bool mine = w->service.empty() || existing->service == w->service;
                const std::string hash = round.created.count(asked.id) ? round.created[asked.id] : store_->request_hash(asked.id);
                ans.outcome = mine && hash == w->start.request_hash ? Outcome::same : Outcome::conflict;
                if (ans.outcome == Outcome::same) ans.json = json_of(*existing, false);
                else ans.detail = "the journey id '" + asked.id + "' was started before with another request";
                continue;
            }
            const Journey* j = library->find(asked.journey);
            if (!j) {
                ans.outcome = Outcome::not_found;
                ans.detail = "no journey '" + asked.journey + "'";
                continue;
            }
            if (auto bad = missing_anchor(j->anchors, asked.data_json, zone_of(asked.citizen))) {
                ans = {Outcome::bad_request, {}, bad->second, "data." + bad->first};
                continue;
            }
            auto a = advance(*j, asked, Trigger{Trigger::Kind::start}, now, zone_of(asked.citizen));
            round.created[asked.id] = w->start.request_hash;
            round.created_by[asked.id] = w->start.by;
            take(a, w->start.by, "start " + asked.journey + (w->start.by.empty() ? "" : ", by " + w->start.by));
            ans.outcome = Outcome::done;
            ans.json = json_of(round.changes[asked.id].instance, false);
            continue;
        }
        if (w->kind == Work::Kind::reply) {
            // The journey of the message it names, if still open; else the citizen's latest open one.
            const ReplyIn& r = w->reply_in;
            std::optional<Instance> in;
            if (!r.answered_journey.empty()) {
                in = current(r.answered_journey);
                if (in && in->state == InstanceState::ended) in.reset();
            }
            for (std::size_t c = 0; !in && c < r.citizens.size(); ++c)
                for (auto& id : store_->open_for_citizen(r.citizens[c]))
                    if ((in = current(id)) && in->state != InstanceState::ended) break;
                    else in.reset();
            if (!w->inbox_id.empty()) round.inbox_ids.push_back(w->inbox_id);
            // The journey the message names, kept by another daemon (its step went out from here).
            if (!in && !self_.empty() && !r.answered_journey.empty() && w->inbox_id.empty()) {
                round.replies_elsewhere.push_back(w);
                continue;
            }
            const Journey* j = in ? library->find(in->journey) : nullptr;
            if (!in || !j) continue;  // no journey of theirs: the desk forwards it
            w->taken = {in->id, in->service, in->citizen, in->reference, {}};
            if (r.inbound_id > 0 && r.inbound_id <= in->last_inbound) continue;  // taken before a crash: once
            const Trigger t = reply_trigger(*j, *in, r.text);
            const bool asked = !t.name.empty();
            w->taken.keyword = t.name;
            Advance a = advance(*j, *in, t, now, zone_of(in->citizen));
            if (r.inbound_id > 0) a.instance.last_inbound = r.inbound_id;
            // Words that are no keyword are shown in the history (journeys.db is personal data,
            // erased with the citizen), cut at 160 characters.
            std::string what;
            if (!asked) what = r.text.empty() ? "reply with no words" : "reply: \"" + cut_utf8(r.text, 160) + "\"";
            take(a, "", what);
            continue;
        }
        auto in = current(w->id);
        if (!in || (!w->service.empty() && in->service != w->service)) {
            ans.outcome = Outcome::not_found;
            ans.detail = "no journey instance '" + w->id + "'";
            if (w->kind == Work::Kind::feed) {
                // Not kept here: another daemon's, when there are several (its step went out from
                // here); else a counted no-op.
                if (!self_.empty() && w->feed_row > 0)
                    round.foreign.push_back({w->id, w->trigger.name, to_string(w->trigger.progress), w->feed_row});
                else taken_feed(*w);
            }
            continue;
        }
        if (w->kind == Work::Kind::show) {
            ans.outcome = Outcome::done;
            ans.json = json_of(*in, true);
            continue;
        }
        const Journey* j = library->find(in->journey);
        if (!j) {
            ans.outcome = Outcome::failed;
            ans.detail = "the journey '" + in->journey + "' is no longer defined";
            if (w->kind == Work::Kind::feed) taken_feed(*w);
            continue;
        }
        const auto* zone = zone_of(in->citizen);
        Advance a;
        std::string what, by;
        switch (w->kind) {
        case Work::Kind::timer: a = advance(*j, *in, Trigger{Trigger::Kind::timer, in->step, in->runs[in->step]}, now, zone); break;
        case Work::Kind::feed: {
            taken_feed(*w);
            auto step = step_of_job(*in, w->trigger.name);
            if (!step) continue;  // an agent's message: its progress moves nothing
            Trigger t = w->trigger;
            t.name = step->first;
            t.run = step->second;
            a = advance(*j, *in, t, now, zone);
            break;
        }
        case Work::Kind::event: {
            // A service tells what its journey declares, with the anchors that event brings.
            if (w->trigger.kind == Trigger::Kind::event) {
                auto e = j->events.find(w->trigger.name);
                if (e == j->events.end()) {
                    std::string known;
                    for (auto& [n, d] : j->events) known += (known.empty() ? "" : ", ") + n;
                    ans = {Outcome::bad_request, {}, "the journey " + j->name + " knows no event '" + w->trigger.name +
                                                         "' (" + (known.empty() ? "none" : known) + ")", "event"};
                    continue;
                }
                if (auto bad = missing_anchor(e->second.anchors, w->trigger.data_json, zone)) {
                    ans = {Outcome::bad_request, {}, bad->second, "data." + bad->first};
                    continue;
                }
            }
            a = advance(*j, *in, w->trigger, now, zone);
            break;
        }
        case Work::Kind::action:
            by = w->action.by;
            what = std::string("action ") + to_string(w->action.kind) + ", by " + by;
            a = apply(*j, *in, w->action, now, zone);
            break;
        default: continue;
        }
        // A timer that moves nothing (its step is no longer a wait, after a reload): its time is
        // cleared, or it would be due at every round.
        if (w->kind == Work::Kind::timer && !a.moved) {
            a.instance.wake_ms.reset();
            a.moved = true;
        }
        // A receipt that changes nothing is not worth a write.
        if (!a.moved && !a.recorded && w->kind == Work::Kind::feed) continue;
        ans.outcome = a.ignored.empty() || a.recorded ? Outcome::done : Outcome::ignored;
        ans.detail = a.ignored;
        take(a, by, what);
        if (w->reply) ans.json = json_of(round.changes[w->id].instance, false);  // only the API's callers read it
    }
}

void JourneyRunner::queue_sends(std::shared_ptr<Round> round) {
    if (round->sends.empty()) return queue_notices(round);
    auto left = std::make_shared<std::size_t>(round->sends.size());
    for (auto& s : round->sends) {
        const std::string key = config_.redis.stream + ":journey-ids:" + s.job_id;
        kQueueStep.run(redis_, {key, s.stream}, {s.json, std::to_string(kRememberSeconds)},
                       [this, round, left, id = s.job_id](const redisReply* r) {
                           if (!r || r->type != REDIS_REPLY_INTEGER) {
                               spdlog::warn("journeys: the step {} was not queued: Redis {}", id,
                                            r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unreachable");
                               round->failed = true;
                           } else if (r->integer == 1) {
                               ++messages_queued_;
                           }
                           if (--*left == 0) {
                               // One step not queued: the whole round waits for the next (the
                               // others are remembered, and not queued again then).
                               if (round->failed) return finish(round);
                               queue_notices(round);
                           }
                       });
    }
}

// The notify steps' callbacks go in the receipts' outbox before the instances are committed: a
// crash between the two does the round again and calls the service twice with the same notice id
// (which its receiver drops), never not at all.
void JourneyRunner::queue_notices(std::shared_ptr<Round> round) {
    if (round->notices.empty()) return commit(round);
    receipts_.queue_callbacks(std::move(round->notices), [this, round](std::error_code e) {
        if (e) {
            spdlog::warn("journeys: the notices of a round could not be queued for the services");
            round->failed = true;
            return finish(round);
        }
        commit(round);
    });
}

void JourneyRunner::commit(std::shared_ptr<Round> round) {
    worker_.run<bool>(
        io_,
        [this, round] {
            const auto now = to_unix_ms(clock_.now());
            std::vector<InstanceChange> updates;
            for (auto& [id, change] : round->changes) {
                if (auto c = round->created.find(id); c != round->created.end()) {
                    std::string existing;
                    store_->create(change, c->second, round->created_by[id], existing);
                } else {
                    updates.push_back(change);
                }
            }
            store_->save(updates);
            for (auto& citizen : round->erased) store_->erase_citizen(citizen, now);
            return true;
        },
        [this, round](std::optional<bool> ok) {
            if (!ok) round->failed = true;
            finish(round);
        });
}

// Each receipt of a journey kept elsewhere goes to its keeper's inbox; its feed row is settled
// only once it is there (a crash before: sent again, and a progress moves a journey once).
void JourneyRunner::settle_foreign(std::shared_ptr<Round> round) {
    auto left = std::make_shared<std::size_t>(round->foreign.size());
    auto done = std::make_shared<std::vector<std::int64_t>>();
    for (auto& f : round->foreign) {
        kToKeeper.run(redis_, {config_.redis.stream + ":journey-owner:" + f.journey},
                      {self_, config_.redis.stream + ":journey-inbox:", f.journey, f.job_id, f.progress},
                      [this, left, done, row = f.feed_row](const redisReply* r) {
                          if (r && r->type == REDIS_REPLY_INTEGER) done->push_back(row);  // sent, or nobody keeps it
                          else feed_after_ = std::min(feed_after_, row - 1);             // Redis failed: read again
                          if (--*left == 0 && !done->empty()) receipts_.settle_journey_feed({*done});
                      });
    }
}

// Replies to journeys kept by other daemons go to their keepers' inboxes, once each (a reply
// worked out again after a crash is not sent twice: the key of its row here is remembered a week).
void JourneyRunner::replies_to_keepers(std::shared_ptr<Round> round) {
    for (auto& w : round->replies_elsewhere) {
        const ReplyIn& r = w->reply_in;
        const std::string seen = config_.redis.stream + ":journey-reply-seen:" + self_ + ":" + std::to_string(r.inbound_id);
        kReplyToKeeper.run(redis_, {config_.redis.stream + ":journey-owner:" + r.answered_journey, seen},
                           {self_, config_.redis.stream + ":journey-inbox:", r.answered_journey, r.text},
                           [w](const redisReply* reply) {
                               if (!reply || reply->type != REDIS_REPLY_INTEGER) return w->replied(std::nullopt);
                               ReplyTaken taken;
                               if (reply->integer != 0) {  // sent now or before: the keeper's journey takes it
                                   taken.instance = w->reply_in.answered_journey;
                                   taken.elsewhere = true;
                               }
                               w->replied(std::move(taken));
                           });
    }
}

// This daemon's inbox: receipts other daemons recorded for the journeys kept here, read every
// second from where the last read stopped, as feed works.
void JourneyRunner::poll_inbox() {
    if (stopping_ || self_.empty()) return;
    inbox_timer_.expires_after(std::chrono::seconds(1));
    inbox_timer_.async_wait([this](boost::system::error_code e) {
        if (e) return;
        if (inbox_busy_ || !library_) return poll_inbox();
        inbox_busy_ = true;
        const std::string from = inbox_after_ == "-" ? "-" : "(" + inbox_after_;
        const std::string count = std::to_string(config_.journeys.batch);
        redis_.command({"XRANGE", inbox_key(config_, self_), from, "+", "COUNT", count}, [this](const redisReply* r) {
            inbox_busy_ = false;
            bool any = false;
            if (r && r->type == REDIS_REPLY_ARRAY)
                for (std::size_t i = 0; i < r->elements; ++i) {
                    const redisReply* entry = r->element[i];
                    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
                    auto w = std::make_shared<Work>();
                    w->kind = Work::Kind::feed;
                    w->inbox_id.assign(entry->element[0]->str, entry->element[0]->len);
                    w->trigger.kind = Trigger::Kind::message;
                    const redisReply* fields = entry->element[1];
                    for (std::size_t k = 0; k + 1 < fields->elements; k += 2) {
                        const std::string name(fields->element[k]->str, fields->element[k]->len);
                        std::string value(fields->element[k + 1]->str, fields->element[k + 1]->len);
                        if (name == "journey") w->id = std::move(value);
                        else if (name == "job") w->trigger.name = std::move(value);
                        else if (name == "progress") w->trigger.progress = parse_progress(value).value_or(MessageProgress::none);
                        else if (name == "reply") w->reply_in.text = std::move(value);
                        else if (name == "kind" && value == "reply") w->kind = Work::Kind::reply;
                    }
                    if (w->kind == Work::Kind::reply) w->reply_in.answered_journey = w->id;
                    inbox_after_ = w->inbox_id;
                    pending_.push_back(std::move(w));
                    any = true;
                }
            if (any) kick();
            poll_inbox();
        });
    });
}

void JourneyRunner::finish(std::shared_ptr<Round> round) {
    running_ = false;
    if (round->failed) {
        // Nothing of the round was written: the feed's rows are read again, the due steps are
        // still due, the callers are told to try again.
        for (auto& w : round->works) {
            if (w->kind == Work::Kind::feed && w->feed_row > 0) feed_after_ = std::min(feed_after_, w->feed_row - 1);
            if (!w->inbox_id.empty()) inbox_after_ = "-";  // read again from its start: what is taken is deleted
            if (w->reply) w->reply(Answer{Outcome::failed, {}, "the journeys' state could not be written, or Redis is unreachable"});
            if (w->erased) w->erased(false);
            if (w->replied) w->replied(std::nullopt);
        }
    } else {
        steps_run_ += round->steps;
        if (!round->feed_rows.empty()) receipts_.settle_journey_feed({round->feed_rows});
        if (!round->inbox_ids.empty()) {
            std::vector<std::string> args{"XDEL", inbox_key(config_, self_)};
            args.insert(args.end(), round->inbox_ids.begin(), round->inbox_ids.end());
            std::vector<std::string_view> views(args.begin(), args.end());
            redis_.command(views, [](const redisReply*) {});  // not deleted: read again, and changes nothing twice
        }
        if (!round->foreign.empty()) settle_foreign(round);
        if (!round->replies_elsewhere.empty()) replies_to_keepers(round);
        for (auto& w : round->works) {
            if (w->reply) w->reply(std::move(w->answer));
            if (w->erased) w->erased(true);
            if (w->replied && std::find(round->replies_elsewhere.begin(), round->replies_elsewhere.end(), w) ==
                                  round->replies_elsewhere.end())
                w->replied(std::move(w->taken));
        }
    }
    // More to do now: another round at once (after the io_context's other work), else the tick.
    if (!stopping_ && (!pending_.empty() || (round->due_more && !round->failed)))
        boost::asio::post(io_, [this] { kick(); });
}

}  // namespace crieur::journeys
