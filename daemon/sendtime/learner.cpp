#include "daemon/sendtime/learner.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_set>

#include <date/tz.h>
#include <malloc.h>

#include "daemon/log.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::sendtime {

Learner::Learner(std::string receipts_path, std::string directory_path, Options options, std::chrono::seconds period,
                 std::string default_zone, std::int64_t max_attempts)
    : path_(std::move(receipts_path)), directory_path_(std::move(directory_path)), options_(options), period_(period),
      default_zone_(std::move(default_zone)), max_attempts_(max_attempts) {
    thread_ = std::thread([this] { loop(); });
}

Learner::~Learner() { stop(); }

void Learner::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const Model> Learner::model() const {
    std::lock_guard lock(mutex_);
    return model_;
}

void Learner::loop() {
    for (;;) {
        try {
            auto learnt = learn_once();
            // The history and the counts are freed: give their pages back to the system, or the
            // daemon's RSS would keep the learning's peak until the next hour.
            malloc_trim(0);
            std::lock_guard lock(mutex_);
            model_ = std::move(learnt);
        } catch (const std::exception& e) {
            spdlog::warn("send time: could not learn from the receipts: {}", e.what());
        }
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, period_, [&] { return stopping_; })) return;
    }
}

std::shared_ptr<const Model> Learner::learn_once() {
    auto model = std::make_shared<Model>(options_);
    if (!std::filesystem::exists(path_)) return model;
    const auto started = std::chrono::steady_clock::now();
    auto db = sqlite::open(path_, SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 2000);
    const auto now = SystemClock().now();
    const std::int64_t since = to_unix_ms(now) - std::int64_t{180} * 86'400'000;
    // Each citizen's hours in their own zone from the directory (attached to this connection, read
    // only), at today's offset: a history across a daylight-saving change is an hour off on one side.
    bool zones = false;
    if (!directory_path_.empty() && std::filesystem::exists(directory_path_)) {
        try {
            sqlite::Stmt(db.get(), "ATTACH DATABASE ?1 AS dir").bind(1, directory_path_).run();
            sqlite::Stmt(db.get(), "SELECT time_zone FROM dir.citizens LIMIT 0").step();
            zones = true;
        } catch (const std::exception& e) {
            // A directory being created or migrated: the default zone for everyone this time.
            spdlog::warn("send time: could not read the citizens' time zones: {}", e.what());
        }
    }
    std::map<std::string, int, std::less<>> offsets;
    auto offset_of = [&](std::string_view zone_name) -> std::optional<int> {
        if (auto it = offsets.find(zone_name); it != offsets.end()) return it->second;
        try {
            const auto* zone = date::locate_zone(zone_name);
            const int m = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(zone->get_info(now).offset).count());
            return offsets[std::string(zone_name)] = m;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    const int fallback = offset_of(default_zone_).value_or(0);
    sqlite::exec(db.get(), "BEGIN");  // one snapshot for every pass
    // The latest send_time.history_attempts accepted attempts: the work of each learning is bounded.
    std::int64_t min_id = 0;
    {
        sqlite::Stmt q(db.get(), "SELECT id FROM attempts WHERE outcome = 'accepted' ORDER BY id DESC LIMIT 1 OFFSET ?1");
        q.bind(1, max_attempts_ - 1);
        if (q.step()) min_id = q.int64(0);
    }
    const std::string zone_of_m = zones ? "(SELECT time_zone FROM dir.citizens WHERE external_id = m.citizen)" : "NULL";
    const std::string zone_of_s = zones ? "(SELECT time_zone FROM dir.citizens WHERE external_id = s.citizen)" : "NULL";
    sqlite::Stmt attempts(db.get(), "SELECT a.id, a.started_at, a.channel, m.citizen, " + zone_of_m + R"(
        FROM attempts a JOIN messages m ON m.id = a.message_id
        WHERE a.id >= ?1 AND a.started_at >= ?2 AND a.outcome = 'accepted' AND m.citizen IS NOT NULL ORDER BY a.id)");
    sqlite::Stmt events(db.get(), "SELECT at, status FROM events WHERE attempt_id = ?1 ORDER BY at, id");
    sqlite::Stmt sessions(db.get(), "SELECT s.citizen, s.at, " + zone_of_s + " FROM app_sessions s WHERE s.at >= ?1");
    TimePoint first = now;
    {
        sqlite::Stmt q(db.get(), "SELECT min(started_at) FROM attempts WHERE id >= ?1 AND started_at >= ?2");
        q.bind(1, min_id).bind(2, since);
        if (q.step() && !q.is_null(0)) first = std::min(first, from_unix_ms(q.int64(0)));
        sqlite::Stmt r(db.get(), "SELECT min(at) FROM app_sessions WHERE at >= ?1");
        r.bind(1, since);
        if (r.step() && !r.is_null(0)) first = std::min(first, from_unix_ms(r.int64(0)));
    }
    std::size_t read = 0, session_count = 0, zoned = 0, passes = 0;
    // One pass: each accepted attempt with its events (by the index on attempt_id), then the sessions.
    HistoryScan scan = [&](const std::function<void(const Observed&)>& message,
                           const std::function<void(const std::string&, int, TimePoint)>& session) {
        const bool counting = passes++ == 0;
        std::string citizen;
        attempts.bind(1, min_id).bind(2, since);
        while (attempts.step()) {
            citizen.assign(attempts.text(3));
            int offset = fallback;
            if (!attempts.is_null(4))
                if (auto m = offset_of(attempts.text(4))) {
                    offset = *m;
                    zoned += counting;
                }
            const Group group = group_of(std::string(attempts.text(2)));
            TimePoint delivered = from_unix_ms(attempts.int64(1));
            std::optional<TimePoint> engaged;
            bool failed = false;
            events.bind(1, attempts.int64(0));
            while (!engaged && !failed && events.step()) {
                const std::string_view status = events.text(1);
                const TimePoint at = from_unix_ms(events.int64(0));
                if (status == "delivered") {
                    delivered = at;
                } else if (status == "failed") {
                    failed = true;
                } else if (status == "read" || status == "open" || status == "click") {
                    // An e-mail "open" seconds after delivery is a mail server or a privacy proxy.
                    if (status == "open" && group == Group::email && at >= delivered && at - delivered < std::chrono::seconds(30))
                        continue;
                    engaged = at;
                }
            }
            events.reset();
            read += counting;
            if (!failed) message(Observed{&citizen, offset, group, delivered, engaged});
        }
        attempts.reset();
        sessions.bind(1, since);
        while (sessions.step()) {
            citizen.assign(sessions.text(0));
            int offset = fallback;
            if (!sessions.is_null(2))
                if (auto m = offset_of(sessions.text(2))) offset = *m;
            session(citizen, offset, from_unix_ms(sessions.int64(1)));
            session_count += counting;
        }
        sessions.reset();
    };
    model->learn(scan, first, now, kShardCitizens);
    sqlite::exec(db.get(), "COMMIT");
    spdlog::info("send time: learnt from {} accepted attempts and {} app sessions in {} passes, {:.1f} s ({} citizens with "
                 "rates of their own; {} attempts in their citizen's own time zone)",
                 read, session_count, passes,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), model->citizens(), zoned);
    return model;
}

}  // namespace crieur::sendtime
