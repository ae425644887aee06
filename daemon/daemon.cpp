#include "daemon/daemon.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <date/tz.h>

#include <algorithm>
#include <csignal>

#include <spdlog/fmt/ranges.h>

#include "daemon/audience/audience_routes.hpp"
#include "daemon/campaigns/campaign_routes.hpp"
#include "daemon/journeys/journey_routes.hpp"
#include "daemon/directory/directory_routes.hpp"
#include "daemon/engagement/engagement_routes.hpp"
#include "daemon/http/dead_letter_routes.hpp"
#include "daemon/http/health_routes.hpp"
#include "daemon/http/hook_routes.hpp"
#include "daemon/http/message_routes.hpp"
#include "daemon/http/send_routes.hpp"
#include "daemon/log.hpp"

namespace crieur {

namespace {
redis::Endpoint endpoint_of(const RedisConfig& r) {
    redis::Endpoint e{r.host, r.port, r.password, std::chrono::milliseconds(r.reconnect_max_ms)};
    for (auto& s : r.sentinels)
        if (auto a = redis::parse_address(s)) e.sentinels.push_back(*a);
    e.master_name = r.master_name;
    e.sentinel_password = r.sentinel_password;
    return e;
}
// Where the other daemons reach this one's internal listener.
std::string advertised_url(const HttpConfig& h, unsigned short port) {
    if (!h.advertise_url.empty()) return h.advertise_url;
    std::string host = h.listen;
    if (host == "0.0.0.0" || host == "::") {
        char name[256] = {};
        host = gethostname(name, sizeof name - 1) == 0 ? name : "localhost";
    } else if (host.find(':') != std::string::npos) {
        host = "[" + host + "]";
    }
    return "http://" + host + ":" + std::to_string(port);
}
std::string redis_where(const RedisConfig& r) {
    if (r.sentinels.empty()) return fmt::format("{}:{}", r.host, r.port);
    return fmt::format("the primary of '{}' (sentinels {})", r.master_name, fmt::join(r.sentinels, ", "));
}
constexpr auto kTickPeriod = std::chrono::milliseconds(50);
constexpr auto kPromotePeriod = std::chrono::milliseconds(500);
constexpr auto kLagPeriod = std::chrono::milliseconds(2000);
}  // namespace

std::map<std::string, RateLimit> rate_limits_of(const Config& c) {
    std::map<std::string, RateLimit> out;
    for (auto& [provider, l] : c.rate_limits.providers) out[provider] = {l.per_s, l.burst, l.segments, l.segments_per_s, l.segments_burst, l.recipient_every_s};
    return out;
}

std::unique_ptr<sendtime::Learner> make_learner(const Config& c) {
    if (!c.send_time.enabled) return nullptr;
    sendtime::Options options;
    options.explore = c.send_time.explore;
    return std::make_unique<sendtime::Learner>(c.receipts.path, c.directory.path, options,
                                               std::chrono::seconds(c.send_time.relearn_s), c.quiet_hours.time_zone,
                                               c.send_time.history_attempts);
}

std::string default_consumer_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "crieurd");
    return std::string(host) + "-" + std::to_string(getpid());
}

std::string consumer_name(const Config& c) { return c.redis.consumer.empty() ? default_consumer_name() : c.redis.consumer; }

Daemon::Daemon(Config config, std::string config_path, std::shared_ptr<const render::TemplateStore> templates,
               std::shared_ptr<const journeys::JourneyLibrary> journeys)
    : config_(std::move(config)), config_path_(std::move(config_path)),
      store_(io_, config_.receipts, config_.intake.on_crash, clock_),
      callbacks_(io_, store_, metrics_, clock_, HttpClientOptions{64, config_.provider_defaults.ca_path}),
      directory_(io_, config_.directory.path, clock_), audience_reader_(io_, config_.directory.path, clock_),
      channels_(io_, config_, clock_),
      reads_(io_, endpoint_of(config_.redis), "reads"), urgent_reads_(io_, endpoint_of(config_.redis), "urgent reads"),
      commands_(io_, endpoint_of(config_.redis), "commands"),
      schedule_(commands_, config_.redis.schedule, config_.redis.stream, urgent_stream_of(config_.redis)),
      campaigns_(io_, config_, commands_, store_, clock_),
      journeys_(io_, config_, commands_, store_, clock_),
      replies_(io_, store_, directory_, &journeys_, metrics_),
      retention_(store_, commands_, metrics_, clock_),
      rate_limiter_(commands_, config_.redis.stream + ":rate:", rate_limits_of(config_)),
      caps_(commands_, config_.redis.stream + ":caps:", config_.caps, date::locate_zone(config_.quiet_hours.time_zone)),
      send_time_(make_learner(config_)),
      claims_(config_.redis.claim_job_ids ? std::make_unique<JobClaims>(commands_, config_.redis.stream + ":claim:",
                                                                        store_.instance_id(), config_.redis.claim_ttl_s)
                                          : nullptr),
      pipeline_(io_, config_, std::move(templates), store_, directory_, channels_, schedule_, rate_limiter_, caps_,
                send_time_.get(), metrics_, clock_),
      intake_(config_, config_.redis.stream, consumer_name(config_), reads_, commands_, store_, metrics_, clock_,
              [this](Job job, Resume resume, const StreamEntry& entry, std::function<void(Disposition)> done) {
                  return pipeline_.process(std::move(job), std::move(resume), entry, std::move(done));
              }),
      urgent_intake_(config_, urgent_stream_of(config_.redis), consumer_name(config_), urgent_reads_, commands_, store_,
                     metrics_, clock_,
                     [this](Job job, Resume resume, const StreamEntry& entry, std::function<void(Disposition)> done) {
                         return pipeline_.process(std::move(job), std::move(resume), entry, std::move(done));
                     }),
      http_(io_, routes_, config_.http.public_port ? http::Exposure::internal : http::Exposure::all),
      public_http_(io_, routes_, http::Exposure::external), watchdog_(io_, [this] { return !stopped_; }), signals_(io_, SIGTERM, SIGINT, SIGHUP),
      tick_(io_) {
    // A provider's callback said an address cannot be reached: the directory stops using it.
    store_.on_bad_address([this](const BadAddress& b) { directory_.invalidate(b.channel, b.recipient, b.reason); });
    // A provider said a message it had accepted failed after all: the pipeline decides what follows.
    store_.on_late_failure([this](const LateFailure& failure) { pipeline_.on_late_failure(failure); });
    if (clock_.moved()) spdlog::warn("the wall clock is moved by the file CRIEUR_TEST_CLOCK_FILE names: for tests only");
    pipeline_.set_claims(claims_.get());
    campaigns_.set_metrics(&metrics_);
    journeys_.set_library(std::move(journeys));
    if (config_.redis.claim_job_ids) {
        cancellations_ = std::make_unique<cluster::CampaignCancellations>(
            commands_, store_, config_.redis.stream + ":cancelled-campaigns",
            std::int64_t{config_.receipts.cancelled_campaign_hold_s} * 1000, clock_);
        campaigns_.on_cancelled([this](const std::string& key) { cancellations_->publish(key); });
    }
    // A commit queued status callbacks for the services: the dispatcher loads and sends them.
    store_.on_callbacks_queued([this] { callbacks_.notify(); });
    callbacks_.configure(config_.callbacks);
    retention_.configure(config_.retention, {config_.redis.stream, urgent_stream_of(config_.redis)}, config_.redis.dead_stream);
    if (config_.http.enabled) {
        http_.start(config_.http.listen, static_cast<unsigned short>(config_.http.port), config_.http.max_connections);
        if (config_.http.public_port)
            public_http_.start(config_.http.public_listen, static_cast<unsigned short>(config_.http.public_port),
                               config_.http.max_connections);
        // Several daemons: this one registers where the others reach it (its port now bound).
        if (config_.redis.claim_job_ids)
            peers_ = std::make_unique<cluster::PeerDaemons>(io_, commands_, config_.redis.stream + ":daemons",
                                                            intake_.consumer(), advertised_url(config_.http, http_.port()),
                                                            clock_, HttpClientOptions{16, config_.provider_defaults.ca_path});
    }
    // Several daemons: a journey removed by the retention no longer needs its keeper's key, and
    // the receipts of journeys kept elsewhere go to their keepers.
    if (peers_) journeys_.share_with_peers(peers_->self_name());
    if (peers_)
        journeys_.on_removed([this](const std::vector<std::string>& ids) {
            for (const auto& id : ids) commands_.command({"UNLINK", config_.redis.stream + ":journey-owner:" + id}, [](const redisReply*) {});
        });
    add_routes();  // before io_.run(): no request is read until then
}

Daemon::~Daemon() {
    if (!stopped_) finish_stop();
}

int Daemon::run() {
    // The read connection: (re)start intake whenever it comes up.
    reads_.on_up([this] {
        metrics_.redis_up = commands_.connected();
        intake_.resume();
    });
    reads_.on_down([this] {
        metrics_.redis_up = false;
        metrics_.redis_reconnects++;
    });
    urgent_reads_.on_up([this] { urgent_intake_.resume(); });
    // The command connection: acknowledgements that failed while Redis was away leave now.
    commands_.on_up([this] {
        metrics_.redis_up = reads_.connected();
        intake_.flush_acks();
        urgent_intake_.flush_acks();
    });
    commands_.on_down([this] { metrics_.redis_up = false; });
    commands_.start();
    urgent_reads_.start();
    reads_.start();
    campaigns_.start();  // the fan-outs a stop cut short go on (each page waits for Redis)
    journeys_.start();   // the waits whose time came while stopped go on at once
    replies_.start();    // the replies not worked out before a stop are, now
    // Providers that push no replies (OVHcloud) have theirs fetched, and deleted there once written.
    channels_.start_inbound([this](std::string_view provider, std::vector<InboundMessage> messages,
                                   std::function<void(bool)> stored) {
        replies_.take(std::string(provider), std::move(messages),
                      [stored = std::move(stored)](std::error_code e) { stored(!e); });
    });

    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
        if (!ec) on_signal(signo);
    });
    start_tick();
    watchdog_.start();
    for (auto& notice : config_.notices) spdlog::info("config: {}", notice);
    const std::string listeners =
        config_.http.public_port ? fmt::format("http on {}:{} (internal), {}:{} (public: hooks and links)", config_.http.listen,
                                               http_.port(), config_.http.public_listen, public_http_.port())
                                 : fmt::format("http on {}:{}", config_.http.listen, http_.port());
    spdlog::info("crieurd {}: consumer {} in group {} on {} and {} at {}; receipts in {}; {}",
                 CRIEUR_VERSION, intake_.consumer(), config_.redis.group, config_.redis.stream,
                 urgent_stream_of(config_.redis), redis_where(config_.redis), config_.receipts.path, listeners);
    systemd::notify_ready();
    io_.run();
    return 0;
}

// The periodic duties, each with its own period, all from one timer on the io_context:
//   - every redis.claim_interval_ms: take over entries idle for longer than redis.claim_after_ms
//     (XAUTOCLAIM), dead-lettering those delivered more than redis.max_deliveries times;
//   - every 500 ms: move the scheduled jobs that are due back onto the stream;
//   - every 2 s: refresh the queue lag and pending gauges (XINFO GROUPS);
//   - every sixth of redis.claim_after_ms: make the entries that wait in this daemon idle again;
//   - the retention (daemon/retention): a receipts step every retention.interval_s (sooner while
//     there is more), the streams trimmed every 5 s;
//   - every hour: the campaigns' snapshots idle for retention.days removed, and the journeys
//     ended that long ago;
//   - every second, with several daemons: the campaign cancellations taken through the others;
//   - while draining, every tick: stop once nothing is in flight, or at the drain deadline.
void Daemon::start_tick() {
    tick_.expires_after(kTickPeriod);
    tick_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        on_tick();
        if (!stopped_) start_tick();
    });
}

void Daemon::on_tick() {
    const auto now = clock_.steady();
    if (draining_) {
        if ((intake_.idle() && urgent_intake_.idle()) || now >= drain_deadline_) finish_stop();
        return;
    }
    urgent_intake_.touch_waiting();
    intake_.touch_waiting();
    if (now - last_claim_ >= std::chrono::milliseconds(config_.redis.claim_interval_ms)) {
        last_claim_ = now;
        urgent_intake_.claim_stale();
        intake_.claim_stale();
    }
    if (now - last_promote_ >= kPromotePeriod) {
        last_promote_ = now;
        schedule_.promote_due(clock_.now());
    }
    if (now - last_lag_ >= kLagPeriod) {
        last_lag_ = now;
        intake_.refresh_lag();
    }
    retention_.tick();
    if (dashboard_) dashboard_->tick();
    if (peers_) peers_->tick();
    if (last_campaign_sweep_ == std::chrono::steady_clock::time_point{} || now - last_campaign_sweep_ >= std::chrono::hours(1)) {
        last_campaign_sweep_ = now;
        campaigns_.remove_old_snapshots(config_.retention.days);
        journeys_.remove_old(config_.retention.days);
    }
    if (cancellations_ && now - last_cancellations_ >= std::chrono::seconds(1)) {
        last_cancellations_ = now;
        cancellations_->poll();
    }
}

void Daemon::on_signal(int signo) {
    if (signo == SIGHUP) {
        reload();
    } else if (draining_) {
        spdlog::warn("second stop signal: stopping now; {} jobs in flight stay pending in Redis",
                     intake_.in_flight() + urgent_intake_.in_flight());
        finish_stop();
        return;
    } else {
        begin_drain();
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int s) {
        if (!ec) on_signal(s);
    });
}

void Daemon::reload() {
    if (reloading_) return;  // one at a time; a SIGHUP during a reload is folded into it
    reloading_ = true;
    systemd::notify_reloading();
    if (reload_thread_.joinable()) reload_thread_.join();
    // The files are read and compiled off the io_context (a disk may be slow); the result comes
    // back to it to be applied.
    reload_thread_ = std::thread([this, path = config_path_] {
        auto result = std::make_shared<ReloadResult>();
        try {
            result->config = load_config(path);
            auto templates = render::TemplateStore::load(result->config->templates.dir);
            result->templates = templates.store;
            for (auto& p : templates.problems) result->problems += "\n" + p;
            if (templates.store) {
                auto journeys = journeys::JourneyLibrary::load(result->config->journeys.dir, templates.store.get());
                result->journeys = journeys.library;
                for (auto& p : journeys.problems) result->problems += "\n" + p;
            }
        } catch (const std::exception& e) {
            result->problems = std::string("\n") + e.what();
        }
        boost::asio::post(io_, [this, result] { apply_reload(*result); });
    });
}

void Daemon::apply_reload(const ReloadResult& r) {
    reloading_ = false;
    systemd::notify_ready();
    if (!r.config || !r.templates || !r.journeys) {
        spdlog::error("reload refused, the running config, templates and journeys stay:{}", r.problems);
        return;
    }
    const Config& next = *r.config;
    pipeline_.set_templates(r.templates);
    // An instance keeps its place by step id: a step removed ends the instances waiting at it.
    journeys_.set_library(r.journeys);
    pipeline_.apply_policies(next);
    set_log_level(next.log.level);
    intake_.update_limits(next);
    urgent_intake_.update_limits(next);
    routes_.set_keys(keys::KeyRing(next.http.api_keys, next.http.api_token));
    routes_.set_request_rate(next.http.requests_per_key_per_s);
    if (dashboard_) {
        if (next.http.operators != config_.http.operators)
            spdlog::info("reload: {} dashboard operators from {}", next.http.operators.size(), next.http.operators_file);
        dashboard_->reload(next.http);
        config_.http.operators = next.http.operators;
    }
    if (next.http.api_keys != config_.http.api_keys)
        spdlog::info("reload: {} API keys from {}", next.http.api_keys.size(), next.http.keys_file);
    // Every reload, changed or not: it also resumes an endpoint suspended by a 410.
    callbacks_.configure(next.callbacks);
    if (!(next.callbacks == config_.callbacks))
        spdlog::info("reload: {} services' callback endpoints from {}", next.callbacks.endpoints.size(),
                     next.callbacks.file.empty() ? "(none)" : next.callbacks.file);
    config_.callbacks = next.callbacks;
    retention_.configure(next.retention, {config_.redis.stream, urgent_stream_of(config_.redis)}, config_.redis.dead_stream);
    config_.retention = next.retention;
    // What is applied above, or read where it is used, is taken; what the parts were built from
    // waits for a restart, and each such section that changed is named.
    std::vector<std::string> restart;
    auto differs = [&](bool changed, const char* name) {
        if (changed) restart.emplace_back(name);
    };
    RedisConfig redis = next.redis;
    redis.claim_interval_ms = config_.redis.claim_interval_ms;  // applied
    redis.batch = config_.redis.batch;
    redis.block_ms = config_.redis.block_ms;
    redis.claim_after_ms = config_.redis.claim_after_ms;
    redis.max_deliveries = config_.redis.max_deliveries;
    differs(!(redis == config_.redis), "[redis] host, port, password, streams, group, consumer, reconnect_max_ms");
    differs(next.intake.on_crash != config_.intake.on_crash, "intake.on_crash");
    differs(!(next.receipts == config_.receipts), "[receipts]");
    HttpConfig http = next.http;
    http.api_token = config_.http.api_token;  // applied
    http.keys_file = config_.http.keys_file;
    http.api_keys = config_.http.api_keys;
    http.requests_per_key_per_s = config_.http.requests_per_key_per_s;
    differs(!(http == config_.http), "[http] listen, port, max_connections");
    differs(!(next.outbox == config_.outbox), "[outbox]");
    differs(!(next.directory == config_.directory), "[directory]");
    JourneysConfig journeys = next.journeys;
    journeys.dir = config_.journeys.dir;  // read again above
    differs(!(journeys == config_.journeys), "[journeys] path, batch, max_backlog");
    differs(next.quiet_hours.time_zone != config_.quiet_hours.time_zone, "quiet_hours.time_zone (the caps' days)");
    differs(!(next.rate_limits == config_.rate_limits), "[rate_limits]");
    differs(!(next.caps == config_.caps), "[caps]");
    differs(!(next.send_time == config_.send_time), "[send_time]");
    differs(!(next.provider_defaults == config_.provider_defaults), "[provider_defaults]");
    differs(!(next.links == config_.links), "[links]");
    for (auto& p : next.providers) {
        auto now = std::find_if(config_.providers.begin(), config_.providers.end(), [&](auto& q) { return q.name == p.name; });
        if (now == config_.providers.end()) restart.push_back("provider " + p.name + " (new)");
        else if (!(*now == p)) restart.push_back("provider " + p.name);
    }
    for (auto& p : config_.providers)
        if (std::none_of(next.providers.begin(), next.providers.end(), [&](auto& q) { return q.name == p.name; }))
            restart.push_back("provider " + p.name + " (removed)");
    config_.log = next.log;
    const OnCrash on_crash = config_.intake.on_crash;  // the receipt store was built with it
    config_.intake = next.intake;
    config_.intake.on_crash = on_crash;
    config_.redis.claim_interval_ms = next.redis.claim_interval_ms;
    config_.redis.batch = next.redis.batch;
    config_.redis.block_ms = next.redis.block_ms;
    config_.redis.claim_after_ms = next.redis.claim_after_ms;
    config_.redis.max_deliveries = next.redis.max_deliveries;
    config_.http.api_token = next.http.api_token;
    config_.http.keys_file = next.http.keys_file;
    config_.http.api_keys = next.http.api_keys;
    config_.http.requests_per_key_per_s = next.http.requests_per_key_per_s;
    config_.router = next.router;
    config_.retry = next.retry;
    config_.quiet_hours.enabled = next.quiet_hours.enabled;
    config_.quiet_hours.start_minute = next.quiet_hours.start_minute;
    config_.quiet_hours.end_minute = next.quiet_hours.end_minute;
    std::string waiting;
    for (auto& name : restart) waiting += (waiting.empty() ? "" : ", ") + name;
    spdlog::info("reloaded {}: templates ({}), API keys, callbacks, retention, log level, intake limits, router, retry, quiet hours applied", config_path_,
                 r.templates->names().size());
    if (!restart.empty())
        spdlog::warn("reload: changed but applied only at the next restart: {}", waiting);
}

void Daemon::begin_drain() {
    draining_ = true;
    systemd::notify_stopping();
    drain_deadline_ = clock_.steady() + std::chrono::milliseconds(config_.daemon.drain_timeout_ms);
    spdlog::info("stopping: no new jobs; draining {} in flight (at most {} ms)",
                 intake_.in_flight() + urgent_intake_.in_flight(), config_.daemon.drain_timeout_ms);
    intake_.stop_reading();
    urgent_intake_.stop_reading();
    campaigns_.stop();  // a fan-out goes on at the next start, from its place
    journeys_.stop();   // a round under way still commits; what is due goes on at the next start
    replies_.stop();    // a reply being worked out is again at the next start
    // Closing the read connections ends a blocked XREADGROUP; whatever it had delivered stays pending.
    reads_.stop();
    urgent_reads_.stop();
}

void Daemon::finish_stop() {
    if (stopped_) return;
    stopped_ = true;
    const auto left = intake_.in_flight() + urgent_intake_.in_flight();
    tick_.cancel();
    watchdog_.stop();
    if (reload_thread_.joinable()) reload_thread_.join();
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    http_.stop();
    public_http_.stop();
    if (peers_) peers_->leave();  // best effort: the others stop asking it 15 s after its last registration anyway
    reads_.stop();
    urgent_reads_.stop();
    commands_.stop();
    channels_.stop_all();
    callbacks_.stop();  // what it settled is queued for the store
    campaigns_.stop();  // its worker writes the fan-outs' places first
    journeys_.stop();
    replies_.stop();
    store_.stop();  // commits what is queued
    directory_.stop();
    audience_reader_.stop();
    if (send_time_) send_time_->stop();
    if (left > 0) spdlog::warn("stopped with {} jobs in flight; they stay pending in Redis and come back", left);
    else spdlog::info("stopped: every job read was committed and acknowledged");
    io_.stop();
}

http::Readiness Daemon::readiness() const {
    return {reads_.connected() && urgent_reads_.connected() && commands_.connected(), store_.writable(), draining_};
}

// The route table: one file per resource (daemon/http/*_routes.cpp, and the directory's and
// engagement's beside their code); every route asks for the API key unless added as open.
void Daemon::add_routes() {
    routes_.set_keys(keys::KeyRing(config_.http.api_keys, config_.http.api_token));
    routes_.set_request_rate(config_.http.requests_per_key_per_s);
    http::add_health_routes(routes_, [this] { return readiness(); }, metrics_, store_, channels_);
    http::add_hook_routes(routes_, channels_, store_, metrics_, replies_);
    http::add_message_routes(routes_, store_, peers_.get());
    http::add_send_routes(routes_, config_, commands_, [this] { return pipeline_.templates(); });
    directory::add_directory_routes(routes_, config_, directory_, store_, clock_,
                                    [this](std::string_view channel, std::string_view address) {
                                        return channels_.refusal(channel, address);
                                    },
                                    [this](const std::string& citizen, std::function<void(bool)> done) {
                                        // The campaigns' snapshots, then the journeys: the erasure answers once both are done.
                                        campaigns_.erase_citizen(citizen, [this, citizen, done = std::move(done)](bool ok) {
                                            journeys_.erase_citizen(citizen, [ok, done](bool journeys_ok) { done(ok && journeys_ok); });
                                        });
                                    });
    engagement::add_engagement_routes(routes_, config_, store_, directory_, clock_);
    // The registry's drivers are fixed at start-up and `carried` only reads them: safe from the reader's thread.
    audience::add_audience_routes(routes_, config_, audience_reader_, [this] { return pipeline_.templates(); },
                                  [this](const std::string& channel, const std::string& address) {
                                      return channels_.carried(channel, address);
                                  });
    campaigns::add_campaign_routes(routes_, config_, campaigns_, store_, audience_reader_, [this] { return pipeline_.templates(); },
                                   [this](const std::string& channel, const std::string& address) {
                                       return channels_.carried(channel, address);
                                   },
                                   peers_.get());
    journeys::add_journey_routes(routes_, config_, journeys_, [this] { return pipeline_.templates(); }, peers_.get(),
                                 commands_);
    http::add_dead_letter_routes(routes_, config_.redis, commands_);
    // The agents' dashboard, over the routes above (it calls them as its signed-in operator).
    dashboard_ = std::make_unique<ui::Dashboard>(
        io_, config_, routes_, store_, clock_, metrics_,
        ui::Dashboard::Sources{[this] { return channels_.provider_states(); }, [this] { return pipeline_.templates(); },
                               [this] { return journeys_.library(); }, audience_reader_});
    dashboard_->add_routes();
}

}  // namespace crieur
