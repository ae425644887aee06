#include "daemon/campaigns/campaign_store.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

#include "daemon/audience/resolve.hpp"
#include "daemon/job_codec.hpp"

namespace crieur::campaigns {

namespace {
// Migration i takes PRAGMA user_version i to i + 1; never edit one that has shipped.
constexpr std::array<const char*, 2> kMigrations{
    R"sql(
CREATE TABLE campaigns (
    seq           INTEGER PRIMARY KEY,       -- creation order: the list's cursor, the members' key
    key           TEXT NOT NULL UNIQUE,      -- "<id>" or "<id>~<n>": never used twice
    id            TEXT NOT NULL,             -- the thread's id
    followup      INTEGER NOT NULL,          -- 0: the campaign; n: its n-th follow-up
    service       TEXT NOT NULL,
    template      TEXT NOT NULL,
    audience      TEXT,                      -- as given (JSON); NULL for a follow-up
    data          TEXT NOT NULL,
    priority      TEXT NOT NULL,
    channels      TEXT,                      -- JSON array; NULL: the template's
    not_before    INTEGER,                   -- Unix ms
    deadline      INTEGER,
    reference     TEXT,
    target        TEXT NOT NULL,
    resolved      INTEGER NOT NULL,
    state         TEXT NOT NULL,             -- draft, launching, running, cancelled
    state_reason  TEXT,
    created_by    TEXT,
    created_at    INTEGER NOT NULL,
    launched_at   INTEGER,
    queued_at     INTEGER,
    cancelled_at  INTEGER,
    members       INTEGER NOT NULL DEFAULT 0,
    queued        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX campaigns_by_id ON campaigns(id, followup);
CREATE INDEX campaigns_by_service ON campaigns(service, seq) WHERE followup = 0;
-- The snapshot: who was targeted, in the order the jobs go out.
CREATE TABLE members (
    campaign INTEGER NOT NULL,               -- campaigns.seq
    position INTEGER NOT NULL,               -- 1, 2, ...
    citizen  TEXT NOT NULL,
    PRIMARY KEY (campaign, position)
) WITHOUT ROWID;
CREATE INDEX members_by_citizen ON members(citizen);  -- an erasure finds them at once
)sql",
    // 2: retention: a thread's snapshots (and audience as given) removed retention.days after its last activity.
    R"sql(
ALTER TABLE campaigns ADD COLUMN snapshot_removed_at INTEGER;
)sql",
};

constexpr const char* kColumns =
    "key, id, followup, service, template, audience, data, priority, channels, not_before, deadline, reference, target, "
    "resolved, state, state_reason, created_by, created_at, launched_at, queued_at, cancelled_at, members, queued, snapshot_removed_at";

std::string channels_json(const std::vector<std::string>& channels) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.StartArray();
    for (auto& c : channels) w.String(c.c_str());
    w.EndArray();
    return std::string(b.GetString(), b.GetSize());
}

Priority priority_of(std::string_view s) { return s == "urgent" ? Priority::urgent : s == "bulk" ? Priority::bulk : Priority::normal; }
Target target_of(std::string_view s) { return s == "not_read" ? Target::not_read : s == "reached" ? Target::reached : Target::all; }

std::string attach(sqlite3* db, const std::string& path, const char* name) {
    // Read-only, by URI: this connection never writes the directory or the receipts.
    sqlite::Stmt s(db, "ATTACH DATABASE ?1 AS " + std::string(name));
    // A URI: the characters it gives a meaning to are escaped in the path.
    std::string uri = "file:";
    for (char c : path) {
        if (c == '%' || c == '?' || c == '#') {
            static const char* hex = "0123456789ABCDEF";
            uri += '%';
            uri += hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
            uri += hex[static_cast<unsigned char>(c) & 0xF];
        } else {
            uri += c;
        }
    }
    s.bind(1, uri + "?mode=ro").run();
    return name;
}
}  // namespace

CampaignStore::CampaignStore(const std::string& path, const std::string& directory_path, const std::string& receipts_path)
    : db_(sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI)) {
    sqlite3* db = db_.get();
    sqlite3_busy_timeout(db, 5000);
    sqlite::exec(db, "PRAGMA journal_mode = WAL");
    sqlite::exec(db, "PRAGMA synchronous = NORMAL");
    sqlite::exec(db, "PRAGMA secure_delete = ON");  // an erased citizen's rows are overwritten
    sqlite::migrate(db, kMigrations, "campaigns");
    attach(db, directory_path, "dir");
    if (!receipts_path.empty()) {
        attach(db, receipts_path, "rcp");
        receipts_ = true;
    }
    insert_ = sqlite::Stmt(db, R"(
        INSERT INTO campaigns (key, id, followup, service, template, audience, data, priority, channels, not_before, deadline,
                               reference, target, resolved, state, created_by, created_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
        ON CONFLICT(key) DO NOTHING)");
    get_ = sqlite::Stmt(db, std::string("SELECT ") + kColumns + " FROM campaigns WHERE key = ?1");
    add_member_ = sqlite::Stmt(db, "INSERT INTO members (campaign, position, citizen) VALUES (?1, ?2, ?3)");
    page_ = sqlite::Stmt(db, R"(
        SELECT position, citizen FROM members
        WHERE campaign = (SELECT seq FROM campaigns WHERE key = ?1) AND position > ?2 ORDER BY position LIMIT ?3)");
    set_queued_ = sqlite::Stmt(db, R"(
        UPDATE campaigns SET queued = ?2,
            state = CASE WHEN ?2 >= members AND state = 'launching' THEN 'running' ELSE state END,
            queued_at = CASE WHEN ?2 >= members AND queued_at IS NULL THEN ?3 ELSE queued_at END
        WHERE key = ?1)");
    set_state_ = sqlite::Stmt(db, R"(
        UPDATE campaigns SET state = ?2, state_reason = ?3,
            cancelled_at = CASE WHEN ?2 = 'cancelled' THEN ?4 ELSE cancelled_at END
        WHERE key = ?1)");
    // A member not yet queued will never be: the campaign's count goes down with it (one already
    // queued stays counted, as its message is in the receipts).
    erase_count_ = sqlite::Stmt(db, R"(
        UPDATE campaigns SET members = members - (SELECT count(*) FROM members m WHERE m.citizen = ?1 AND m.campaign = campaigns.seq AND m.position > campaigns.queued)
        WHERE seq IN (SELECT campaign FROM members WHERE citizen = ?1))");
    erase_ = sqlite::Stmt(db, "DELETE FROM members WHERE citizen = ?1");
}

Campaign CampaignStore::read(sqlite::Stmt& s) {
    Campaign c;
    c.id = std::string(s.text(1));  // column 0, the key, is made of these two
    c.followup = static_cast<int>(s.int64(2));
    c.service = std::string(s.text(3));
    c.template_name = std::string(s.text(4));
    c.audience_json = std::string(s.text(5));
    c.data_json = std::string(s.text(6));
    c.priority = priority_of(s.text(7));
    if (!s.is_null(8)) {
        rapidjson::Document d;
        d.Parse(s.text(8).data(), s.text(8).size());
        if (d.IsArray())
            for (auto& v : d.GetArray())
                if (v.IsString()) c.channels.emplace_back(v.GetString());
    }
    if (!s.is_null(9)) c.not_before = from_unix_ms(s.int64(9));
    if (!s.is_null(10)) c.deadline = from_unix_ms(s.int64(10));
    c.reference = std::string(s.text(11));
    c.target = target_of(s.text(12));
    c.resolved = s.int64(13) != 0;
    c.state = parse_state(s.text(14)).value_or(State::draft);
    c.state_reason = std::string(s.text(15));
    c.created_by = std::string(s.text(16));
    c.created_ms = s.int64(17);
    c.launched_ms = s.int64(18);
    c.queued_ms = s.int64(19);
    c.cancelled_ms = s.int64(20);
    c.members = s.int64(21);
    c.queued = s.int64(22);
    c.snapshot_removed_ms = s.int64(23);
    return c;
}

bool CampaignStore::create(const Campaign& c) {
    insert_.bind(1, c.key()).bind(2, c.id).bind(3, c.followup).bind(4, c.service).bind(5, c.template_name)
        .bind_opt(6, c.audience_json).bind(7, c.data_json).bind(8, crieur::to_string(c.priority));
    if (c.channels.empty()) insert_.bind_null(9);
    else insert_.bind(9, channels_json(c.channels));
    if (c.not_before) insert_.bind(10, to_unix_ms(*c.not_before));
    else insert_.bind_null(10);
    if (c.deadline) insert_.bind(11, to_unix_ms(*c.deadline));
    else insert_.bind_null(11);
    insert_.bind_opt(12, c.reference).bind(13, to_string(c.target)).bind(14, c.resolved ? 1 : 0).bind(15, to_string(c.state))
        .bind_opt(16, c.created_by).bind(17, c.created_ms).run();
    return sqlite3_changes(db_.get()) == 1;
}

std::optional<Campaign> CampaignStore::get(const std::string& key) {
    get_.bind(1, key);
    std::optional<Campaign> c;
    if (get_.step()) c = read(get_);
    get_.reset();
    return c;
}

std::pair<std::vector<Campaign>, std::int64_t> CampaignStore::list(const std::string& service, std::int64_t before, int limit) {
    std::string sql = std::string("SELECT ") + kColumns + ", seq FROM campaigns WHERE followup = 0";
    if (!service.empty()) sql += " AND service = ?1";
    if (before) sql += " AND seq < ?2";
    sql += " ORDER BY seq DESC LIMIT ?3";
    sqlite::Stmt s(db_.get(), sql);
    if (!service.empty()) s.bind(1, service);
    if (before) s.bind(2, before);
    s.bind(3, limit + 1);
    std::vector<Campaign> out;
    std::int64_t next = 0, last_seq = 0;
    while (s.step()) {
        if (static_cast<int>(out.size()) == limit) {
            next = last_seq;
            break;
        }
        out.push_back(read(s));
        last_seq = s.int64(24);
    }
    return {std::move(out), next};
}

std::vector<Campaign> CampaignStore::followups(const std::string& id) {
    sqlite::Stmt s(db_.get(), std::string("SELECT ") + kColumns + " FROM campaigns WHERE id = ?1 AND followup > 0 ORDER BY followup");
    s.bind(1, id);
    std::vector<Campaign> out;
    while (s.step()) out.push_back(read(s));
    return out;
}

std::vector<Campaign> CampaignStore::unfinished() {
    sqlite::Stmt s(db_.get(), std::string("SELECT ") + kColumns + " FROM campaigns WHERE state = 'launching' ORDER BY seq");
    std::vector<Campaign> out;
    while (s.step()) out.push_back(read(s));
    return out;
}

namespace {
// BEGIN IMMEDIATE … COMMIT, rolled back when `work` throws or returns false.
template <class Work>
void in_transaction(sqlite3* db, Work work) {
    sqlite::exec(db, "BEGIN IMMEDIATE");
    try {
        if (work()) sqlite::exec(db, "COMMIT");
        else sqlite::exec(db, "ROLLBACK");
    } catch (...) {
        sqlite::exec(db, "ROLLBACK");
        throw;
    }
}
}  // namespace

CampaignStore::Launched CampaignStore::launch(const Campaign& c, const audience::Audience& a, std::int64_t now_ms, bool create) {
    sqlite3* db = db_.get();
    Launched out;
    in_transaction(db, [&] {
        if (create && !this->create(c)) {
            out.exists = true;
            return false;
        }
        sqlite::Stmt seq(db, "SELECT seq FROM campaigns WHERE key = ?1");
        seq.bind(1, c.key());
        if (!seq.step()) throw sqlite::Error("campaign " + c.key() + " is not stored");
        const auto campaign = seq.int64(0);
        seq.reset();
        std::int64_t position = 0;
        out.error = audience::resolve(db, a, [&](const audience::Member& m) {
            add_member_.bind(1, campaign).bind(2, ++position).bind(3, m.id).run();
            return true;
        });
        if (!out.error && position == 0)
            out.error = audience::AudienceError{"", "it holds no citizen: the campaign would reach nobody"};
        if (out.error) return false;
        sqlite::Stmt done(db, "UPDATE campaigns SET members = ?2, queued = 0, state = 'launching', launched_at = ?3 WHERE seq = ?1");
        done.bind(1, campaign).bind(2, position).bind(3, now_ms).run();
        out.members = position;
        return true;
    });
    return out;
}

CampaignStore::Launched CampaignStore::launch_followup(Campaign& f, std::int64_t now_ms, bool dry) {
    if (f.target != Target::all && !receipts_) throw sqlite::Error("the receipts are not attached: a follow-up can only go to all");
    sqlite3* db = db_.get();
    // The campaign's messages are found by their job ids, "<id>:<citizen>", on the receipts'
    // unique index. Reached: a provider took it. Read: a read receipt, or an e-mail opened or a
    // link clicked (the engagement events).
    std::string narrowed;
    if (f.target == Target::reached)
        narrowed = " AND EXISTS (SELECT 1 FROM rcp.messages m WHERE m.job_id = ?3 || ':' || p.citizen AND m.status IN ('sent', 'delivered', 'read'))";
    else if (f.target == Target::not_read)
        narrowed = " AND NOT EXISTS (SELECT 1 FROM rcp.messages m WHERE m.job_id = ?3 || ':' || p.citizen AND (m.status = 'read' OR "
                   "EXISTS (SELECT 1 FROM rcp.events e WHERE e.message_id = m.id AND e.status IN ('read', 'open', 'click'))))";
    Launched out;
    in_transaction(db, [&] {
        sqlite::Stmt next(db, "SELECT max(followup) + 1 FROM campaigns WHERE id = ?1");
        next.bind(1, f.id);
        next.step();
        f.followup = static_cast<int>(next.int64(0));
        next.reset();
        if (!create(f)) {
            out.exists = true;
            return false;
        }
        sqlite::Stmt fill(db, R"(
            INSERT INTO members (campaign, position, citizen)
            SELECT (SELECT seq FROM campaigns WHERE key = ?1), row_number() OVER (ORDER BY p.position), p.citizen
            FROM members p WHERE p.campaign = (SELECT seq FROM campaigns WHERE key = ?2))" + narrowed);
        fill.bind(1, f.key()).bind(2, f.id);
        if (!narrowed.empty()) fill.bind(3, f.id);
        fill.run();
        out.members = static_cast<std::int64_t>(sqlite3_changes(db));
        sqlite::Stmt done(db, "UPDATE campaigns SET members = ?2, queued = 0, state = 'launching', launched_at = ?3 WHERE key = ?1");
        done.bind(1, f.key()).bind(2, out.members).bind(3, now_ms).run();
        return !dry;
    });
    return out;
}

CampaignStore::Page CampaignStore::page(const Campaign& c, std::int64_t after, int n) {
    Page p;
    const std::string common = common_job_fields(c);
    page_.bind(1, c.key()).bind(2, after).bind(3, n);
    while (page_.step()) {
        p.last = page_.int64(0);
        p.jobs.push_back(job_json(c, common, page_.text(1)));
    }
    page_.reset();
    return p;
}

void CampaignStore::set_queued(const std::string& key, std::int64_t queued, std::int64_t now_ms) {
    set_queued_.bind(1, key).bind(2, queued).bind(3, now_ms).run();
}

void CampaignStore::set_state(const std::string& key, State state, const std::string& reason, std::int64_t now_ms) {
    set_state_.bind(1, key).bind(2, to_string(state)).bind_opt(3, reason).bind(4, now_ms).run();
}

std::int64_t CampaignStore::remove_old_snapshots(std::int64_t before_ms, std::int64_t now_ms) {
    std::int64_t threads = 0;
    in_transaction(db_.get(), [&] {
        // Threads whose last activity (a creation, a launch, the end of a fan-out, a cancellation,
        // of the campaign or any follow-up) is older than `before_ms`, and none still going out.
        sqlite::Stmt old(db_.get(), R"(
            SELECT id FROM campaigns GROUP BY id
            HAVING max(max(created_at, ifnull(launched_at, 0), ifnull(queued_at, 0), ifnull(cancelled_at, 0))) < ?1
               AND sum(state = 'launching') = 0 AND sum(snapshot_removed_at IS NULL) > 0)");
        old.bind(1, before_ms);
        std::vector<std::string> ids;
        while (old.step()) ids.emplace_back(old.text(0));
        old.reset();
        sqlite::Stmt members(db_.get(), "DELETE FROM members WHERE campaign IN (SELECT seq FROM campaigns WHERE id = ?1)");
        sqlite::Stmt mark(db_.get(), "UPDATE campaigns SET audience = NULL, snapshot_removed_at = ?2 WHERE id = ?1");
        for (auto& id : ids) {
            members.bind(1, id).run();
            mark.bind(1, id).bind(2, now_ms).run();
        }
        threads = static_cast<std::int64_t>(ids.size());
        return true;
    });
    if (threads) sqlite::exec(db_.get(), "PRAGMA wal_checkpoint(TRUNCATE)");
    return threads;
}

std::int64_t CampaignStore::erase_citizen(const std::string& citizen) {
    std::int64_t n = 0;
    in_transaction(db_.get(), [&] {
        erase_count_.bind(1, citizen).run();
        erase_.bind(1, citizen).run();
        n = static_cast<std::int64_t>(sqlite3_changes(db_.get()));
        return true;
    });
    if (n) sqlite::exec(db_.get(), "PRAGMA wal_checkpoint(TRUNCATE)");  // the WAL's copies go too
    return n;
}

}  // namespace crieur::campaigns
