#include "daemon/sendtime/learner.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "daemon/log.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::sendtime {

namespace {
constexpr std::int64_t kMaxAttempts = 500'000;
}  // namespace

Learner::Learner(std::string receipts_path, Options options, std::chrono::seconds period, int utc_offset_minutes)
    : path_(std::move(receipts_path)), options_(options), period_(period), offset_(utc_offset_minutes) {
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
    const std::int64_t since = to_unix_ms(SystemClock().now()) - std::int64_t{180} * 86'400'000;
    // The latest attempts only: the history is held in memory while the model learns (about 200
    // bytes a row), so a large receipts database is sampled by recency, not loaded whole.
    sqlite::Stmt q(db.get(), R"(
        SELECT m.citizen, a.id, a.channel, a.started_at, e.status, e.at
        FROM (SELECT id, message_id, channel, started_at FROM attempts
              WHERE outcome = 'accepted' AND started_at >= ?1 ORDER BY id DESC LIMIT ?2) a
        JOIN messages m ON m.id = a.message_id LEFT JOIN events e ON e.attempt_id = a.id
        WHERE m.citizen IS NOT NULL)");
    q.bind(1, since).bind(2, kMaxAttempts);
    std::vector<HistoryEvent> history;
    std::map<std::string, CitizenInfo> citizens;
    std::unordered_set<std::int64_t> seen;  // an attempt comes once per event: its "sent" once
    while (q.step()) {
        const std::string citizen(q.text(0)), message = "a" + std::to_string(q.int64(1)), channel(q.text(2));
        if (seen.insert(q.int64(1)).second) {
            history.push_back({from_unix_ms(q.int64(3)), citizen, message, channel, "sent", ""});
            citizens.emplace(citizen, CitizenInfo{offset_, offset_, false});
        }
        if (q.is_null(4)) continue;
        const std::string status(q.text(4));
        if (status == "delivered" || status == "read")
            history.push_back({from_unix_ms(q.int64(5)), citizen, message, channel, status, ""});
    }
    std::stable_sort(history.begin(), history.end(), [](auto& a, auto& b) { return a.ts < b.ts; });
    model->learn(history, citizens);
    spdlog::info("send time: learnt from {} receipts rows of {} citizens", history.size(), citizens.size());
    return model;
}

}  // namespace crieur::sendtime
