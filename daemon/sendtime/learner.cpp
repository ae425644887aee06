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
    auto db = sqlite::open(path_, SQLITE_OPEN_READONLY);
    sqlite3_busy_timeout(db.get(), 2000);
    const auto now = SystemClock().now();
    const std::int64_t since = to_unix_ms(now) - std::int64_t{180} * 86'400'000;
    // The latest attempts only (send_time.history_attempts): the history is held in memory while
    // the model learns, so a large receipts database is sampled by recency, not loaded whole.
    sqlite::Stmt q(db.get(), R"(
        SELECT m.citizen, a.id, a.channel, a.started_at, e.status, e.at
        FROM (SELECT id, message_id, channel, started_at FROM attempts
              WHERE outcome = 'accepted' AND started_at >= ?1 ORDER BY id DESC LIMIT ?2) a
        JOIN messages m ON m.id = a.message_id LEFT JOIN events e ON e.attempt_id = a.id
        WHERE m.citizen IS NOT NULL)");
    q.bind(1, since).bind(2, max_attempts_);
    std::vector<HistoryEvent> history;
    std::map<std::string, CitizenInfo> citizens;
    std::unordered_set<std::int64_t> seen;  // an attempt comes once per event: its "sent" once
    while (q.step()) {
        const std::string citizen(q.text(0)), message = "a" + std::to_string(q.int64(1)), channel(q.text(2));
        if (seen.insert(q.int64(1)).second) {
            history.push_back({from_unix_ms(q.int64(3)), citizen, message, channel, "sent", ""});
            citizens.emplace(citizen, CitizenInfo{});
        }
        if (q.is_null(4)) continue;
        const std::string status(q.text(4));
        if (status == "delivered" || status == "read" || status == "open" || status == "click")
            history.push_back({from_unix_ms(q.int64(5)), citizen, message, channel, status, ""});
    }
    // App sessions: when a citizen picks up their phone.
    sqlite::Stmt sessions(db.get(), "SELECT citizen, at FROM app_sessions WHERE at >= ?1 ORDER BY at DESC LIMIT ?2");
    sessions.bind(1, since).bind(2, max_attempts_);
    std::size_t session_count = 0;
    while (sessions.step()) {
        const std::string citizen(sessions.text(0));
        history.push_back({from_unix_ms(sessions.int64(1)), citizen, "", "app", "session", ""});
        citizens[citizen].app_user = true;
        ++session_count;
    }
    std::stable_sort(history.begin(), history.end(), [](auto& a, auto& b) { return a.ts < b.ts; });
    // Each citizen's hours in their own zone, at today's offset (a history across a DST change is
    // an hour off on one side of it).
    std::map<std::string, int> offsets;
    auto offset_of = [&](const std::string& zone_name) -> std::optional<int> {
        if (auto it = offsets.find(zone_name); it != offsets.end()) return it->second;
        try {
            const auto* zone = date::locate_zone(zone_name);
            const int m = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(zone->get_info(now).offset).count());
            return offsets[zone_name] = m;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    };
    const int fallback = offset_of(default_zone_).value_or(0);
    std::size_t zoned = 0;
    for (auto& [id, info] : citizens) {
        info.policy_utc_offset_minutes = fallback;
        info.utc_offset_minutes = fallback;
    }
    try {
        if (!directory_path_.empty() && std::filesystem::exists(directory_path_)) {
            auto dir = sqlite::open(directory_path_, SQLITE_OPEN_READONLY);
            sqlite3_busy_timeout(dir.get(), 2000);
            sqlite::exec(dir.get(), "BEGIN");  // one read transaction for every lookup
            sqlite::Stmt zone_q(dir.get(), "SELECT time_zone FROM citizens WHERE external_id = ?1 AND time_zone IS NOT NULL");
            for (auto& [id, info] : citizens) {
                zone_q.bind(1, id);
                if (zone_q.step())
                    if (auto m = offset_of(std::string(zone_q.text(0)))) {
                        info.utc_offset_minutes = *m;
                        ++zoned;
                    }
                zone_q.reset();
            }
            sqlite::exec(dir.get(), "COMMIT");
        }
    } catch (const std::exception& e) {
        // A directory being created or migrated: the default zone for everyone this time.
        spdlog::warn("send time: could not read the citizens' time zones: {}", e.what());
    }
    model->learn(history, citizens);
    spdlog::info("send time: learnt from {} receipts rows and {} app sessions of {} citizens ({} with their own time zone)",
                 history.size() - session_count, session_count, citizens.size(), zoned);
    return model;
}

}  // namespace crieur::sendtime
