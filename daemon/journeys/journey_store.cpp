#include "daemon/journeys/journey_store.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

namespace crieur::journeys {

namespace {
// Migration i takes PRAGMA user_version i to i + 1; never edit one that has shipped.
constexpr std::array<const char*, 2> kMigrations{
    R"sql(
CREATE TABLE instances (
    seq          INTEGER PRIMARY KEY,       -- creation order: the list's cursor
    id           TEXT NOT NULL UNIQUE,      -- the service's, never used twice
    journey      TEXT NOT NULL,
    service      TEXT NOT NULL,
    citizen      TEXT NOT NULL,
    reference    TEXT,
    data         TEXT NOT NULL,             -- JSON: the anchors and the templates' data
    state        TEXT NOT NULL,             -- active, paused, ended
    step         TEXT NOT NULL,
    wake_at      INTEGER,                   -- Unix ms: when its wait ends by the clock
    since        INTEGER NOT NULL,
    runs         TEXT NOT NULL,             -- JSON: step → times run
    events       TEXT NOT NULL,             -- JSON: what happened
    messages     TEXT NOT NULL,             -- JSON: each send step's latest message
    actions      INTEGER NOT NULL DEFAULT 0,
    ended_reason TEXT,
    request_hash TEXT NOT NULL,             -- the start's fingerprint: the same request is answered the same
    created_by   TEXT,
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- The timers: the active waits by when they end.
CREATE INDEX instances_due ON instances(wake_at) WHERE state = 'active' AND wake_at IS NOT NULL;
CREATE INDEX instances_by_journey ON instances(journey, step, seq);
CREATE INDEX instances_by_citizen ON instances(citizen, seq);
CREATE TABLE history (
    instance INTEGER NOT NULL,              -- instances.seq
    n        INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    what     TEXT NOT NULL,
    by       TEXT,
    PRIMARY KEY (instance, n)
) WITHOUT ROWID;
)sql",
    // 2: the latest reply an instance took (the receipts' inbound row), so that a reply worked
    // out again after a crash moves it once; the ended instances by their last change, for the
    // retention.
    R"sql(
ALTER TABLE instances ADD COLUMN last_inbound INTEGER NOT NULL DEFAULT 0;
CREATE INDEX instances_ended ON instances(updated_at) WHERE state = 'ended';
)sql",
};

constexpr const char* kColumns =
    "seq, id, journey, service, citizen, reference, data, state, step, wake_at, since, runs, events, messages, actions, "
    "ended_reason, started_at, updated_at, last_inbound";

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string text_of(const rapidjson::StringBuffer& b) { return {b.GetString(), b.GetSize()}; }

std::string runs_json(const std::map<std::string, int>& runs) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    for (auto& [k, v] : runs) {
        w.Key(k.c_str());
        w.Int(v);
    }
    w.EndObject();
    return text_of(b);
}

std::string events_json(const std::set<std::string>& events) {
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartArray();
    for (auto& e : events) w.String(e.c_str());
    w.EndArray();
    return text_of(b);
}

void write_messages(Writer& w, const std::map<std::string, SentMessage>& messages) {
    w.StartObject();
    for (auto& [step, m] : messages) {
        w.Key(step.c_str());
        w.StartObject();
        w.Key("job_id");
        w.String(m.job_id.c_str());
        w.Key("run");
        w.Int(m.run);
        w.Key("progress");
        w.String(to_string(m.progress));
        w.Key("sent_ms");
        w.Int64(m.sent_ms);
        w.Key("replied");
        w.Bool(m.replied);
        w.EndObject();
    }
    w.EndObject();
}

std::string messages_json(const std::map<std::string, SentMessage>& messages) {
    rapidjson::StringBuffer b;
    Writer w(b);
    write_messages(w, messages);
    return text_of(b);
}

void read_json(Instance& in, std::string_view runs, std::string_view events, std::string_view messages) {
    rapidjson::Document d;
    d.Parse(runs.data(), runs.size());
    if (d.IsObject())
        for (auto& m : d.GetObject())
            if (m.value.IsInt()) in.runs[m.name.GetString()] = m.value.GetInt();
    d.Parse(events.data(), events.size());
    if (d.IsArray())
        for (auto& e : d.GetArray())
            if (e.IsString()) in.events.insert(e.GetString());
    d.Parse(messages.data(), messages.size());
    if (d.IsObject())
        for (auto& m : d.GetObject()) {
            if (!m.value.IsObject()) continue;
            SentMessage s;
            auto& o = m.value;
            if (o.HasMember("job_id") && o["job_id"].IsString()) s.job_id = o["job_id"].GetString();
            if (o.HasMember("run") && o["run"].IsInt()) s.run = o["run"].GetInt();
            if (o.HasMember("progress") && o["progress"].IsString())
                s.progress = parse_progress(o["progress"].GetString()).value_or(MessageProgress::queued);
            if (o.HasMember("sent_ms") && o["sent_ms"].IsInt64()) s.sent_ms = o["sent_ms"].GetInt64();
            if (o.HasMember("replied") && o["replied"].IsBool()) s.replied = o["replied"].GetBool();
            in.messages[m.name.GetString()] = s;
        }
}
}  // namespace

JourneyStore::JourneyStore(const std::string& path)
    : db_(sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) {
    sqlite3* db = db_.get();
    sqlite3_busy_timeout(db, 5000);
    sqlite::exec(db, "PRAGMA journal_mode = WAL");
    sqlite::exec(db, "PRAGMA synchronous = NORMAL");
    sqlite::exec(db, "PRAGMA secure_delete = ON");
    sqlite::migrate(db, kMigrations, "journeys");
    insert_ = sqlite::Stmt(db, R"(
        INSERT INTO instances (id, journey, service, citizen, reference, data, state, step, wake_at, since, runs, events,
                               messages, actions, ended_reason, request_hash, created_by, started_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
        ON CONFLICT(id) DO NOTHING)");
    hash_ = sqlite::Stmt(db, "SELECT request_hash FROM instances WHERE id = ?1");
    get_ = sqlite::Stmt(db, std::string("SELECT ") + kColumns + " FROM instances WHERE id = ?1");
    update_ = sqlite::Stmt(db, R"(
        UPDATE instances SET data = ?2, state = ?3, step = ?4, wake_at = ?5, since = ?6, runs = ?7, events = ?8,
                             messages = ?9, actions = ?10, ended_reason = ?11, updated_at = ?12, last_inbound = ?13
        WHERE id = ?1)");
    add_history_ = sqlite::Stmt(db, R"(
        INSERT INTO history (instance, n, at, kind, what, by)
        SELECT seq, (SELECT ifnull(max(n), 0) + 1 FROM history WHERE instance = seq), ?2, ?3, ?4, ?5
        FROM instances WHERE id = ?1)");
    history_ = sqlite::Stmt(db, R"(
        SELECT at, kind, what, by FROM history WHERE instance = (SELECT seq FROM instances WHERE id = ?1)
        ORDER BY n LIMIT ?2)");
    due_ = sqlite::Stmt(db, R"(
        SELECT id FROM instances WHERE state = 'active' AND wake_at IS NOT NULL AND wake_at <= ?1
        ORDER BY wake_at LIMIT ?2)");
    next_wake_ = sqlite::Stmt(db, "SELECT min(wake_at) FROM instances WHERE state = 'active' AND wake_at IS NOT NULL");
    for_citizen_ = sqlite::Stmt(db, "SELECT id FROM instances WHERE citizen = ?1 AND state != 'ended' ORDER BY seq DESC");
}

Instance JourneyStore::read(sqlite::Stmt& s) {
    Instance in;
    in.id = s.text(1);
    in.journey = s.text(2);
    in.service = s.text(3);
    in.citizen = s.text(4);
    in.reference = s.text(5);
    in.data_json = s.text(6);
    in.state = parse_instance_state(s.text(7)).value_or(InstanceState::ended);
    in.step = s.text(8);
    if (!s.is_null(9)) in.wake_ms = s.int64(9);
    in.since_ms = s.int64(10);
    read_json(in, s.text(11), s.text(12), s.text(13));
    in.actions = static_cast<int>(s.int64(14));
    in.ended_reason = s.text(15);
    in.started_ms = s.int64(16);
    in.updated_ms = s.int64(17);
    in.last_inbound = s.int64(18);
    return in;
}

bool JourneyStore::create(const InstanceChange& c, const std::string& request_hash, const std::string& created_by,
                          std::string& existing_hash) {
    const Instance& in = c.instance;
    sqlite::exec(db_.get(), "BEGIN IMMEDIATE");
    try {
        insert_.bind(1, in.id).bind(2, in.journey).bind(3, in.service).bind(4, in.citizen).bind_opt(5, in.reference)
            .bind(6, in.data_json).bind(7, to_string(in.state)).bind(8, in.step);
        if (in.wake_ms) insert_.bind(9, *in.wake_ms);
        else insert_.bind_null(9);
        insert_.bind(10, in.since_ms).bind(11, runs_json(in.runs)).bind(12, events_json(in.events))
            .bind(13, messages_json(in.messages)).bind(14, in.actions).bind_opt(15, in.ended_reason)
            .bind(16, request_hash).bind_opt(17, created_by).bind(18, in.started_ms).bind(19, in.updated_ms).run();
        const bool created = sqlite3_changes(db_.get()) == 1;
        if (created) {
            for (auto& h : c.history)
                add_history_.bind(1, in.id).bind(2, h.at_ms).bind(3, h.kind).bind(4, h.what).bind_opt(5, h.by).run();
        } else {
            hash_.bind(1, in.id);
            if (hash_.step()) existing_hash = hash_.text(0);
            hash_.reset();
        }
        sqlite::exec(db_.get(), "COMMIT");
        return created;
    } catch (...) {
        sqlite::exec(db_.get(), "ROLLBACK");
        throw;
    }
}

std::optional<Instance> JourneyStore::get(const std::string& id) {
    get_.bind(1, id);
    std::optional<Instance> out;
    if (get_.step()) out = read(get_);
    get_.reset();
    return out;
}

std::string JourneyStore::request_hash(const std::string& id) {
    hash_.bind(1, id);
    std::string out;
    if (hash_.step()) out = hash_.text(0);
    hash_.reset();
    return out;
}

void JourneyStore::write(const InstanceChange& c) {
    const Instance& in = c.instance;
    update_.bind(1, in.id).bind(2, in.data_json).bind(3, to_string(in.state)).bind(4, in.step);
    if (in.wake_ms) update_.bind(5, *in.wake_ms);
    else update_.bind_null(5);
    update_.bind(6, in.since_ms).bind(7, runs_json(in.runs)).bind(8, events_json(in.events))
        .bind(9, messages_json(in.messages)).bind(10, in.actions).bind_opt(11, in.ended_reason).bind(12, in.updated_ms)
        .bind(13, in.last_inbound)
        .run();
    for (auto& h : c.history)
        add_history_.bind(1, in.id).bind(2, h.at_ms).bind(3, h.kind).bind(4, h.what).bind_opt(5, h.by).run();
}

void JourneyStore::save(const std::vector<InstanceChange>& changes) {
    if (changes.empty()) return;
    sqlite::exec(db_.get(), "BEGIN IMMEDIATE");
    try {
        for (auto& c : changes) write(c);
        sqlite::exec(db_.get(), "COMMIT");
    } catch (...) {
        sqlite::exec(db_.get(), "ROLLBACK");
        throw;
    }
}

std::vector<HistoryEntry> JourneyStore::history(const std::string& id, int limit) {
    std::vector<HistoryEntry> out;
    history_.bind(1, id).bind(2, limit);
    while (history_.step())
        out.push_back({history_.int64(0), std::string(history_.text(1)), std::string(history_.text(2)),
                       std::string(history_.text(3))});
    history_.reset();
    return out;
}

std::vector<std::string> JourneyStore::due(std::int64_t now_ms, int limit) {
    std::vector<std::string> out;
    due_.bind(1, now_ms).bind(2, limit);
    while (due_.step()) out.emplace_back(due_.text(0));
    due_.reset();
    return out;
}

std::optional<std::int64_t> JourneyStore::next_wake() {
    std::optional<std::int64_t> out;
    if (next_wake_.step() && !next_wake_.is_null(0)) out = next_wake_.int64(0);
    next_wake_.reset();
    return out;
}

std::pair<std::vector<Instance>, std::int64_t> JourneyStore::list(const InstanceFilter& f) {
    std::string sql = std::string("SELECT ") + kColumns + " FROM instances WHERE seq > ?1";
    if (!f.service.empty()) sql += " AND service = ?2";
    if (!f.journey.empty()) sql += " AND journey = ?3";
    if (!f.step.empty()) sql += " AND step = ?4";
    if (f.state) sql += " AND state = ?5";
    sql += " ORDER BY seq LIMIT ?6";
    sqlite::Stmt q(db_.get(), sql);
    q.bind(1, f.after);
    if (!f.service.empty()) q.bind(2, f.service);
    if (!f.journey.empty()) q.bind(3, f.journey);
    if (!f.step.empty()) q.bind(4, f.step);
    if (f.state) q.bind(5, to_string(*f.state));
    q.bind(6, f.limit + 1);
    std::vector<Instance> out;
    std::int64_t last = 0, next = 0;
    while (q.step()) {
        if (static_cast<int>(out.size()) == f.limit) {
            next = last;
            break;
        }
        last = q.int64(0);
        out.push_back(read(q));
    }
    return {std::move(out), next};
}

std::vector<std::string> JourneyStore::open_for_citizen(const std::string& citizen) {
    std::vector<std::string> out;
    for_citizen_.bind(1, citizen);
    while (for_citizen_.step()) out.emplace_back(for_citizen_.text(0));
    for_citizen_.reset();
    return out;
}

std::vector<std::string> JourneyStore::remove_ended(std::int64_t before_ms, int limit) {
    std::vector<std::int64_t> seqs;
    std::vector<std::string> ids;
    {
        sqlite::Stmt q(db_.get(), R"(
            SELECT seq, id FROM instances INDEXED BY instances_ended WHERE state = 'ended' AND updated_at < ?1
            ORDER BY updated_at LIMIT ?2)");
        q.bind(1, before_ms).bind(2, limit);
        while (q.step()) {
            seqs.push_back(q.int64(0));
            ids.emplace_back(q.text(1));
        }
    }
    if (seqs.empty()) return ids;
    sqlite::Stmt history(db_.get(), "DELETE FROM history WHERE instance = ?1");
    sqlite::Stmt instance(db_.get(), "DELETE FROM instances WHERE seq = ?1");
    sqlite::exec(db_.get(), "BEGIN IMMEDIATE");
    try {
        for (auto seq : seqs) {
            history.bind(1, seq).run();
            instance.bind(1, seq).run();
        }
        sqlite::exec(db_.get(), "COMMIT");
    } catch (...) {
        sqlite::exec(db_.get(), "ROLLBACK");
        throw;
    }
    return ids;
}

std::int64_t JourneyStore::erase_citizen(const std::string& citizen, std::int64_t now_ms) {
    // The words of their replies leave the history first, while the instances still say whose they are.
    sqlite::Stmt words(db_.get(), R"(
        UPDATE history SET what = 'reply (erased)'
        WHERE instance IN (SELECT seq FROM instances WHERE citizen = ?1) AND what LIKE 'reply: %')");
    sqlite::Stmt q(db_.get(), R"(
        UPDATE instances SET data = '{}', reference = NULL, citizen = '', wake_at = NULL, updated_at = ?2,
            ended_reason = CASE WHEN state = 'ended' THEN ended_reason ELSE 'the citizen was erased' END,
            state = 'ended'
        WHERE citizen = ?1)");
    sqlite::exec(db_.get(), "BEGIN IMMEDIATE");
    try {
        words.bind(1, citizen).run();
        q.bind(1, citizen).bind(2, now_ms).run();
        const auto n = sqlite3_changes(db_.get());
        sqlite::exec(db_.get(), "COMMIT");
        return n;
    } catch (...) {
        sqlite::exec(db_.get(), "ROLLBACK");
        throw;
    }
}

std::vector<std::pair<std::string, std::int64_t>> JourneyStore::counts() {
    std::vector<std::pair<std::string, std::int64_t>> out;
    sqlite::Stmt q(db_.get(), "SELECT state, count(*) FROM instances GROUP BY state");
    while (q.step()) out.emplace_back(std::string(q.text(0)), q.int64(1));
    return out;
}

std::vector<JourneyStore::StepCount> JourneyStore::step_counts(const std::string& service) {
    std::vector<StepCount> out;
    sqlite::Stmt q(db_.get(), "SELECT journey, step, state, count(*) FROM instances WHERE (?1 = '' OR service = ?1) "
                              "GROUP BY journey, step, state ORDER BY journey, step, state");
    q.bind(1, service);
    while (q.step()) out.push_back({std::string(q.text(0)), std::string(q.text(1)), std::string(q.text(2)), q.int64(3)});
    return out;
}

std::string instance_json(const Instance& in, const std::vector<HistoryEntry>* history) {
    rapidjson::StringBuffer b;
    Writer w(b);
    auto str = [&](const char* k, const std::string& v) {
        w.Key(k);
        w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("id", in.id);
    str("journey", in.journey);
    str("service", in.service);
    str("citizen", in.citizen);
    if (!in.reference.empty()) str("reference", in.reference);
    str("state", to_string(in.state));
    str("step", in.step);
    // When it next moves by the clock (an event may move it sooner); null: only an event, or ended.
    w.Key("next_at");
    if (in.wake_ms && in.state != InstanceState::ended) {
        const auto t = format_rfc3339(from_unix_ms(*in.wake_ms));
        w.String(t.c_str());
    } else {
        w.Null();
    }
    str("since", format_rfc3339(from_unix_ms(in.since_ms)));
    if (in.state == InstanceState::ended) str("ended_reason", in.ended_reason);
    w.Key("messages");
    w.StartObject();
    for (auto& [step, m] : in.messages) {
        w.Key(step.c_str());
        w.StartObject();
        str("id", m.job_id);
        str("progress", to_string(m.progress));
        str("queued_at", format_rfc3339(from_unix_ms(m.sent_ms)));
        w.Key("replied");
        w.Bool(m.replied);
        w.EndObject();
    }
    w.EndObject();
    w.Key("events");
    w.StartArray();
    for (auto& e : in.events) w.String(e.c_str());
    w.EndArray();
    str("started_at", format_rfc3339(from_unix_ms(in.started_ms)));
    str("updated_at", format_rfc3339(from_unix_ms(in.updated_ms)));
    if (history) {
        w.Key("history");
        w.StartArray();
        for (auto& h : *history) {
            w.StartObject();
            str("at", format_rfc3339(from_unix_ms(h.at_ms)));
            str("kind", h.kind);
            str("what", h.what);
            if (!h.by.empty()) str("by", h.by);
            w.EndObject();
        }
        w.EndArray();
    }
    w.EndObject();
    return text_of(b);
}

}  // namespace crieur::journeys
