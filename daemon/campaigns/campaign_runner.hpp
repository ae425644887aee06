// CampaignRunner: launches campaigns and their follow-ups, and fans each one out onto the jobs
// stream, one job per citizen of its snapshot (docs/campaigns.md).
//
// The fan-out goes a page at a time (campaigns.page jobs): the page is read from the snapshot on
// the store's worker, then one Lua script XADDs the whole page and moves the campaign's place in
// Redis, so that a page is queued whole or not at all, and never twice: a fan-out taken up again
// after a crash (the place in SQLite may be behind Redis's by the page in flight) starts at
// Redis's place. Only one page of one campaign is in memory at a time. It waits while the stream
// holds more than campaigns.max_backlog unread entries, so that the other services' messages
// queued meanwhile wait behind a few thousand of the campaign's, not behind a million; urgent
// campaigns go to the urgent stream.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/campaigns/campaign_store.hpp"
#include "daemon/clock.hpp"
#include "daemon/metrics.hpp"
#include "daemon/worker.hpp"

namespace crieur {
struct Config;
class ReceiptStore;
namespace redis {
class RedisConnection;
}
}  // namespace crieur

namespace crieur::campaigns {

class CampaignRunner {
public:
    // Opens the campaigns database (throws sqlite::Error at start-up).
    CampaignRunner(boost::asio::io_context& io, const Config& config, redis::RedisConnection& redis, ReceiptStore& receipts,
                   const Clock& clock);
    ~CampaignRunner();

    // Takes up the fan-outs a stop or a crash cut short.
    void start();
    // No page more; the store's worker ends its work.
    void stop();

    enum class Outcome { done, exists, not_found, bad_state, bad_audience, failed };
    struct Answer {
        Outcome outcome = Outcome::failed;
        Campaign campaign;
        std::string detail;  // why, for an answer that is not done
        std::string part;    // the audience's part at fault
    };
    using Reply = std::function<void(Answer)>;

    // Stores it and, unless a draft, takes its snapshot and starts its fan-out.
    void create(CampaignRequest request, Reply done);
    // A draft's launch.
    void launch(const std::string& id, Reply done);
    // A follow-up of campaign `request.campaign.id`; a resolution first cancels what the thread
    // still has to send. `dry_run`: only counted.
    void followup(CampaignRequest request, Reply done);
    // The thread (the campaign and its follow-ups) cancelled: fan-outs stopped, its messages not
    // yet sent cancelled in the receipts. `cancelled`: how many messages.
    void cancel(const std::string& id, const std::string& reason, std::function<void(std::optional<std::int64_t> cancelled)> done);

    // The campaign (or follow-up) by key and, for a campaign, its follow-ups; each one's counts
    // from this daemon's receipts (receipts::campaign_report), in the same order.
    struct Shown {
        std::vector<Campaign> thread;
        std::vector<std::string> reports;
    };
    void show(const std::string& key, std::function<void(std::optional<Shown>, bool found)> done);
    void list(const std::string& service, std::int64_t before, int limit,
              std::function<void(std::optional<std::pair<std::vector<Campaign>, std::int64_t>>)> done);
    // The campaign's own record (its service, for the routes' checks).
    void get(const std::string& key, std::function<void(std::optional<std::optional<Campaign>>)> done);
    void erase_citizen(const std::string& citizen, std::function<void(bool ok)> done);
    // Retention, hourly: the snapshots of the threads idle for `days` (retention.days) go; 0: kept.
    void remove_old_snapshots(int days);

    // The fan-outs' gauge and counter (the daemon's /metrics); none: not counted.
    void set_metrics(Metrics* metrics) { metrics_ = metrics; }

    // Called for each campaign key cancelled in this daemon's receipts (the other daemons are told).
    void on_cancelled(std::function<void(const std::string& key)> f) { on_cancelled_ = std::move(f); }
    void cancelled(const std::string& key) {
        if (on_cancelled_) on_cancelled_(key);
    }

    // How many fan-outs are going (a gauge), and jobs queued by them since the start (a counter).
    std::size_t fanouts() const { return runs_.size(); }
    std::int64_t jobs_queued() const { return jobs_queued_; }

private:
    struct Run;
    void fan_out(Campaign c);
    void pump(std::shared_ptr<Run> run);
    void queue_page(std::shared_ptr<Run> run, CampaignStore::Page page);
    void finish(std::shared_ptr<Run> run);
    void stop_runs(const std::string& id, const std::string& reason);

    boost::asio::io_context& io_;
    const Config& config_;
    redis::RedisConnection& redis_;
    ReceiptStore& receipts_;
    const Clock& clock_;
    std::unique_ptr<CampaignStore> store_;  // used on worker_'s thread only
    std::map<std::string, std::shared_ptr<Run>> runs_;  // by key: the fan-outs going
    std::int64_t jobs_queued_ = 0;
    std::function<void(const std::string&)> on_cancelled_;
    Metrics* metrics_ = nullptr;
    void count_fanouts() {
        if (metrics_) metrics_->campaign_fanouts = static_cast<std::int64_t>(runs_.size());
    }
    bool stopping_ = false;
    bool sweeping_ = false;
    Worker worker_{"campaigns"};  // last: stopped (joined) first
};

// The campaign as GET /v1/campaigns/{id} shows it: with its counts (`done` when every message
// has ended), and its follow-ups with theirs.
std::string thread_json(const CampaignRunner::Shown& shown);
// This daemon's report with the other daemons' counts added (their reach is not: each daemon's
// steps differ, and the reach stays this daemon's).
std::string merged_report(const std::string& mine, const std::vector<std::string>& theirs);

}  // namespace crieur::campaigns
