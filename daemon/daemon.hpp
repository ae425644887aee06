// Daemon: crieurd's parts, built in dependency order and wired together in one place
// (daemon.cpp reads top to bottom), with the periodic duties and the process life: signals,
// reload, drain and stop. Owns the io_context; run() returns the process's exit code.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "channels/registry.hpp"
#include "daemon/callbacks/dispatcher.hpp"
#include "daemon/campaigns/campaign_runner.hpp"
#include "daemon/cluster/cancellations.hpp"
#include "daemon/cluster/peers.hpp"
#include "daemon/retention/retention.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/directory/directory_service.hpp"
#include "daemon/http/health_routes.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/http/server.hpp"
#include "daemon/intake.hpp"
#include "daemon/inbound/reply_desk.hpp"
#include "daemon/journeys/journey_runner.hpp"
#include "daemon/metrics.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/caps.hpp"
#include "daemon/rate_limiter.hpp"
#include "daemon/schedule.hpp"
#include "daemon/sendtime/learner.hpp"
#include "daemon/systemd.hpp"
#include "daemon/ui/dashboard.hpp"

namespace crieur {

class Daemon {
public:
    // Opens the receipts database and binds the HTTP port: throws when either fails.
    // `templates` is the checked template set (TemplateStore::load).
    // `journeys`, the journeys checked against those templates (JourneyLibrary::load).
    Daemon(Config config, std::string config_path, std::shared_ptr<const render::TemplateStore> templates,
           std::shared_ptr<const journeys::JourneyLibrary> journeys);
    ~Daemon();

    int run();

private:
    void add_routes();
    void start_tick();
    void on_tick();
    void on_signal(int signo);
    struct ReloadResult {
        std::optional<Config> config;
        std::shared_ptr<const render::TemplateStore> templates;
        std::shared_ptr<const journeys::JourneyLibrary> journeys;
        std::string problems;  // one "\n"-led line each
    };
    void reload();
    void apply_reload(const ReloadResult& result);
    void begin_drain();
    void finish_stop();
    http::Readiness readiness() const;

    Config config_;
    std::string config_path_;
    boost::asio::io_context io_{1};
    DaemonClock clock_;  // the system's (a test may move it: CRIEUR_TEST_CLOCK_FILE)
    Metrics metrics_;
    ReceiptStore store_;
    CallbackDispatcher callbacks_;  // the services' status callbacks, from the receipts' outbox
    directory::DirectoryService directory_;
    // A second connection and worker on the directory for the long reads (audience previews),
    // which would otherwise hold up the lookups of messages being sent.
    directory::DirectoryService audience_reader_;
    ChannelRegistry channels_;
    redis::RedisConnection reads_;         // dedicated to blocking XREADGROUP on the jobs stream
    redis::RedisConnection urgent_reads_;  // the same on the urgent stream: never behind the other's block
    redis::RedisConnection commands_;  // everything else: XACK, XADD, XAUTOCLAIM, the schedule
    Schedule schedule_;
    campaigns::CampaignRunner campaigns_;  // the campaigns' snapshots and fan-outs (campaigns.db)
    journeys::JourneyRunner journeys_;     // the journeys' instances, their steps and timers (journeys.db)
    ReplyDesk replies_;  // what citizens' replies mean: a journey's keyword, a service's callback
    Retention retention_;  // personal data cleared and removed after its days, streams trimmed
    RateLimiter rate_limiter_;
    Caps caps_;
    std::unique_ptr<sendtime::Learner> send_time_;  // null when [send_time] is off
    std::unique_ptr<JobClaims> claims_;  // redis.claim_job_ids: several daemons on one Redis
    std::unique_ptr<cluster::PeerDaemons> peers_;
    std::unique_ptr<cluster::CampaignCancellations> cancellations_;  // the same: campaign cancellations told to all  // the same: the others, asked for the messages they hold
    Pipeline pipeline_;
    Intake intake_;
    Intake urgent_intake_;
    http::Routes routes_;
    std::unique_ptr<ui::Dashboard> dashboard_;  // /ui/: made with the routes, before any request
    http::HttpServer http_;         // the internal listener (all the routes when there is no public one)
    http::HttpServer public_http_;  // the public listener (http.public_port): hooks and links only
    systemd::Watchdog watchdog_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer tick_;
    std::chrono::steady_clock::time_point last_claim_{}, last_promote_{}, last_lag_{}, last_cancellations_{}, last_campaign_sweep_{}, drain_deadline_{};
    bool draining_ = false;
    bool stopped_ = false;
    bool reloading_ = false;
    std::thread reload_thread_;  // reads and compiles a reload's files; joined before the next or at stop
};

// "<hostname>-<pid>": unique per process, so a restarted daemon never mistakes a dead run's pending
// entries for its own in-flight work; they come back to it through XAUTOCLAIM.
std::string default_consumer_name();

}  // namespace crieur
