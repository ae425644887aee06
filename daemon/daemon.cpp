#include "daemon/daemon.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <date/tz.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <csignal>

#include "channels/encoding.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"
#include "daemon/directory/directory_routes.hpp"
#include "daemon/engagement/engagement_routes.hpp"
#include "daemon/log.hpp"

namespace crieur {

namespace {
redis::Endpoint endpoint_of(const RedisConfig& r) {
    return {r.host, r.port, r.password, std::chrono::milliseconds(r.reconnect_max_ms)};
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

Daemon::Daemon(Config config, std::string config_path, std::shared_ptr<const render::TemplateStore> templates)
    : config_(std::move(config)), config_path_(std::move(config_path)),
      store_(io_, config_.receipts, config_.intake.on_crash, clock_),
      directory_(io_, config_.directory.path, clock_), channels_(io_, config_),
      reads_(io_, endpoint_of(config_.redis), "reads"), urgent_reads_(io_, endpoint_of(config_.redis), "urgent reads"),
      commands_(io_, endpoint_of(config_.redis), "commands"),
      schedule_(commands_, config_.redis.schedule, config_.redis.stream, urgent_stream_of(config_.redis)),
      rate_limiter_(commands_, config_.redis.stream + ":rate:", rate_limits_of(config_)),
      caps_(commands_, config_.redis.stream + ":caps:", config_.caps, date::locate_zone(config_.quiet_hours.time_zone)),
      send_time_(make_learner(config_)),
      pipeline_(io_, config_, std::move(templates), store_, directory_, channels_, schedule_, rate_limiter_, caps_,
                send_time_.get(), metrics_, clock_),
      intake_(config_, config_.redis.stream, consumer_name(config_), reads_, commands_, store_, metrics_, clock_,
              [this](Job job, const StreamEntry& entry, std::function<void(Disposition)> done) {
                  return pipeline_.process(std::move(job), entry, std::move(done));
              }),
      urgent_intake_(config_, urgent_stream_of(config_.redis), consumer_name(config_), urgent_reads_, commands_, store_,
                     metrics_, clock_,
                     [this](Job job, const StreamEntry& entry, std::function<void(Disposition)> done) {
                         return pipeline_.process(std::move(job), entry, std::move(done));
                     }),
      http_(io_, routes_), watchdog_(io_, [this] { return !stopped_; }), signals_(io_, SIGTERM, SIGINT, SIGHUP),
      tick_(io_) {
    // A provider's callback said an address cannot be reached: the directory stops using it.
    store_.on_bad_address([this](const BadAddress& b) { directory_.invalidate(b.channel, b.recipient, b.reason); });
    add_routes();
    if (config_.http.enabled) http_.start(config_.http.listen, static_cast<unsigned short>(config_.http.port));
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

    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
        if (!ec) on_signal(signo);
    });
    start_tick();
    watchdog_.start();
    spdlog::info("crieurd {}: consumer {} in group {} on {} and {} at {}:{}; receipts in {}; http on {}:{}",
                 CRIEUR_VERSION, intake_.consumer(), config_.redis.group, config_.redis.stream,
                 urgent_stream_of(config_.redis), config_.redis.host,
                 config_.redis.port, config_.receipts.path, config_.http.listen, http_.port());
    systemd::notify_ready();
    io_.run();
    return 0;
}

// The periodic duties, each with its own period, all from one timer on the io_context:
//   - every redis.claim_interval_ms: take over entries idle for longer than redis.claim_after_ms
//     (XAUTOCLAIM), dead-lettering those delivered more than redis.max_deliveries times;
//   - every 500 ms: move the scheduled jobs that are due back onto the stream;
//   - every 2 s: refresh the queue lag and pending gauges (XINFO GROUPS);
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
    const auto now = std::chrono::steady_clock::now();
    if (draining_) {
        if ((intake_.idle() && urgent_intake_.idle()) || now >= drain_deadline_) finish_stop();
        return;
    }
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
        } catch (const std::exception& e) {
            result->problems = std::string("\n") + e.what();
        }
        boost::asio::post(io_, [this, result] { apply_reload(*result); });
    });
}

void Daemon::apply_reload(const ReloadResult& r) {
    reloading_ = false;
    systemd::notify_ready();
    if (!r.config || !r.templates) {
        spdlog::error("reload refused, the running config and templates stay:{}", r.problems);
        return;
    }
    const Config& next = *r.config;
    pipeline_.set_templates(r.templates);
    set_log_level(next.log.level);
    intake_.update_limits(next);
    urgent_intake_.update_limits(next);
    const bool needs_restart = next.redis.host != config_.redis.host || next.redis.port != config_.redis.port ||
                               next.redis.stream != config_.redis.stream ||
                               next.redis.urgent_stream != config_.redis.urgent_stream || next.redis.group != config_.redis.group ||
                               next.receipts.path != config_.receipts.path || next.outbox.dir != config_.outbox.dir ||
                               next.http.listen != config_.http.listen || next.http.port != config_.http.port;
    config_.log = next.log;
    config_.intake.max_inflight = next.intake.max_inflight;
    config_.intake.max_job_bytes = next.intake.max_job_bytes;
    config_.redis.claim_interval_ms = next.redis.claim_interval_ms;
    spdlog::info("reloaded {}: templates ({}), log level, intake limits, batch and claim settings applied{}",
                 config_path_, r.templates->names().size(),
                 needs_restart ? "; changes to redis, receipts, outbox, http or providers need a restart" : "");
}

void Daemon::begin_drain() {
    draining_ = true;
    systemd::notify_stopping();
    drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.daemon.drain_timeout_ms);
    spdlog::info("stopping: no new jobs; draining {} in flight (at most {} ms)",
                 intake_.in_flight() + urgent_intake_.in_flight(), config_.daemon.drain_timeout_ms);
    intake_.stop_reading();
    urgent_intake_.stop_reading();
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
    reads_.stop();
    urgent_reads_.stop();
    commands_.stop();
    channels_.stop_all();
    store_.stop();  // commits what is queued
    directory_.stop();
    if (send_time_) send_time_->stop();
    if (left > 0) spdlog::warn("stopped with {} jobs in flight; they stay pending in Redis and come back", left);
    else spdlog::info("stopped: every job read was committed and acknowledged");
    io_.stop();
}

bool Daemon::ready() const {
    return !draining_ && reads_.connected() && urgent_reads_.connected() && commands_.connected() && store_.writable();
}

void Daemon::add_routes() {
    using http::Reply;
    using http::Request;
    using http::Response;
    routes_.add("GET", "/healthz", [](const Request&, std::string_view, Reply reply) {
        reply({200, "application/json", R"({"status":"ok"})", {}});
    });
    routes_.add("GET", "/readyz", [this](const Request&, std::string_view, Reply reply) {
        auto b = [](bool v) { return v ? "true" : "false"; };
        std::string body = std::string("{\"ready\":") + b(ready()) + ",\"redis\":" +
                           b(reads_.connected() && urgent_reads_.connected() && commands_.connected()) +
                           ",\"receipts_writable\":" +
                           b(store_.writable()) + ",\"draining\":" + b(draining_) + "}";
        reply({ready() ? 200 : 503, "application/json", std::move(body), {}});
    });
    routes_.add("GET", "/metrics", [this](const Request&, std::string_view, Reply reply) {
        store_.status_counts([this, reply = std::move(reply)](auto counts) {
            reply({200, "text/plain; version=0.0.4",
                   metrics_.prometheus(store_.rows_committed(), store_.batches_committed(), store_.queue_depth(),
                                       counts) +
                       channels_.prometheus(),
                   {}});
        });
    });
    // Twilio signs what it posts with the auth token over the URL it called, which is the URL this
    // daemon gave it (status_callback) or the one set on the number (inbound_url). Counted either way.
    auto twilio_signed = [this](const Request& req, const std::string& url,
                                const std::vector<std::pair<std::string, std::string>>& form, const char* what) {
        if (twilio_signature_valid(config_.twilio.auth_token, url, form, req.header("x-twilio-signature"))) {
            metrics_.callbacks_received++;
            return true;
        }
        metrics_.callbacks_rejected++;
        spdlog::warn("hooks: a Twilio {} with a bad signature was refused", what);
        return false;
    };
    routes_.add("POST", "/hooks/twilio", [this, twilio_signed](const Request& req, std::string_view, Reply reply) {
        if (!config_.twilio.enabled) return reply(http::json_error(404, "twilio is not enabled"));
        const auto form = form_decode(req.body);
        if (!twilio_signed(req, config_.twilio.status_callback, form, "callback"))
            return reply(http::json_error(403, "bad signature"));
        std::string sid, status, error_code;
        for (auto& [k, v] : form) {
            if (k == "MessageSid") sid = v;
            else if (k == "MessageStatus") status = v;
            else if (k == "ErrorCode") error_code = v;
        }
        const std::string ours = twilio_status(status);
        if (sid.empty() || ours.empty()) return reply({204, "text/plain", "", {}});  // nothing to record
        ProviderEvent event{"twilio", sid, *parse_status(ours), error_code.empty() ? status : status + " " + error_code,
                            req.body, ours == "failed" && twilio_bad_address_code(error_code)};
        store_.record_event(std::move(event), [reply = std::move(reply)](EventVerdict v) {
            // A failed write answers 500: Twilio tries the callback again.
            reply(v == EventVerdict::failed ? http::json_error(500, "could not record the event")
                                            : http::Response{204, "text/plain", "", {}});
        });
    });
    // Citizens' replies to our number (Twilio's incoming-message webhook, signed like the status
    // callbacks over the URL set on the number): STOP and its kin opt the number out of SMS, START
    // back in. The answer is an empty TwiML document: no automatic reply from us.
    routes_.add("POST", "/hooks/twilio/inbound", [this, twilio_signed](const Request& req, std::string_view, Reply reply) {
        if (!config_.twilio.enabled || config_.twilio.inbound_url.empty())
            return reply(http::json_error(404, "twilio inbound messages are not enabled"));
        const auto form = form_decode(req.body);
        if (!twilio_signed(req, config_.twilio.inbound_url, form, "incoming message"))
            return reply(http::json_error(403, "bad signature"));
        std::string from, body, opt_out_type;
        for (auto& [k, v] : form) {
            if (k == "From") from = v;
            else if (k == "Body") body = v;
            else if (k == "OptOutType") opt_out_type = v;  // Twilio's Advanced Opt-Out, when enabled
        }
        SmsKeyword word = sms_keyword(body);
        if (opt_out_type == "STOP") word = SmsKeyword::opt_out;
        else if (opt_out_type == "START") word = SmsKeyword::opt_in;
        if (!from.empty() && word == SmsKeyword::opt_out) directory_.opt_out("sms", from, "sms STOP");
        else if (!from.empty() && word == SmsKeyword::opt_in) directory_.opt_in("sms", from, "sms START", "sms STOP");
        reply({200, "text/xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>", {}});
    });
    // OVHcloud's delivery reports: GET (or POST) /hooks/ovh/<token>?id=<outgoing id>&dlr=<code>. OVH
    // signs nothing; the unguessable token in the path is what keeps strangers out.
    auto ovh_hook = [this](const Request& req, std::string_view token, Reply reply) {
        if (!config_.ovh.enabled || config_.ovh.callback_token.empty() || !same_bytes(token, config_.ovh.callback_token)) {
            metrics_.callbacks_rejected++;
            return reply(http::json_error(403, "unknown hook"));
        }
        metrics_.callbacks_received++;
        // The parameters come in the query string, or in a form body.
        std::string id, dlr;
        auto params = form_decode(req.query);
        for (auto& p : form_decode(req.body)) params.push_back(std::move(p));
        for (auto& [k, v] : params) {
            if (k == "id") id = v;
            else if (k == "dlr") dlr = v;
        }
        const std::string ours = ovh_status(dlr);
        if (id.empty() || ours.empty()) return reply({200, "text/plain", "", {}});
        store_.record_event({"ovh", id, *parse_status(ours), "dlr " + dlr, req.query + (req.body.empty() ? "" : "&" + req.body)},
                            [reply = std::move(reply)](EventVerdict v) {
                                reply(v == EventVerdict::failed ? http::json_error(500, "could not record the event")
                                                                : http::Response{200, "text/plain", "", {}});
                            });
    };
    routes_.add("GET", "/hooks/ovh/", ovh_hook);
    routes_.add("POST", "/hooks/ovh/", ovh_hook);
    // WhatsApp: the subscription handshake (GET), then signed status notifications (POST).
    routes_.add("GET", "/hooks/whatsapp", [this](const Request& req, std::string_view, Reply reply) {
        std::string mode, token, challenge;
        for (auto& [k, v] : form_decode(req.query)) {
            if (k == "hub.mode") mode = v;
            else if (k == "hub.verify_token") token = v;
            else if (k == "hub.challenge") challenge = v;
        }
        const bool ok = config_.whatsapp.enabled && mode == "subscribe" && !config_.whatsapp.verify_token.empty() &&
                        token == config_.whatsapp.verify_token;
        reply(ok ? http::Response{200, "text/plain", challenge, {}} : http::json_error(403, "verification refused"));
    });
    routes_.add("POST", "/hooks/whatsapp", [this](const Request& req, std::string_view, Reply reply) {
        if (!config_.whatsapp.enabled) return reply(http::json_error(404, "whatsapp is not enabled"));
        if (!whatsapp_signature_valid(config_.whatsapp.app_secret, req.body, req.header("x-hub-signature-256"))) {
            metrics_.callbacks_rejected++;
            spdlog::warn("hooks: a WhatsApp notification with a bad signature was refused");
            return reply(http::json_error(403, "bad signature"));
        }
        metrics_.callbacks_received++;
        auto statuses = parse_whatsapp_statuses(req.body);
        if (statuses.empty()) return reply({200, "text/plain", "", {}});
        // One answer once every status is recorded; a failed write answers 500 and Meta retries.
        auto left = std::make_shared<std::size_t>(statuses.size());
        auto failed = std::make_shared<bool>(false);
        auto shared_reply = std::make_shared<Reply>(std::move(reply));
        for (auto& s : statuses) {
            auto status = parse_status(s.status);
            if (!status) {
                if (--*left == 0) (*shared_reply)({200, "text/plain", "", {}});
                continue;
            }
            store_.record_event({"whatsapp", s.id, *status, s.provider_status, req.body, s.bad_address},
                                [left, failed, shared_reply](EventVerdict v) {
                                    *failed = *failed || v == EventVerdict::failed;
                                    if (--*left == 0)
                                        (*shared_reply)(*failed ? http::json_error(500, "could not record the events")
                                                                : http::Response{200, "text/plain", "", {}});
                                });
        }
    });
    routes_.add("GET", "/v1/messages/", [this](const Request&, std::string_view tail, Reply reply) {
        std::string id;
        if (!http::percent_decode(tail, id) || id.empty() || id.find('/') != std::string::npos)
            return reply(http::json_error(400, "bad message id"));
        store_.message_json(id, [reply = std::move(reply), id](std::optional<std::string> json) {
            if (!json) return reply(http::json_error(404, "no message with id " + id));
            reply({200, "application/json", std::move(*json), {}});
        });
    });
    // Cancellation of what has not gone out: POST /v1/messages/{id}/cancel, /v1/campaigns/{id}/cancel.
    auto cancel = [this](bool campaign) {
        return [this, campaign](const Request& req, std::string_view tail, Reply reply) {
            if (!http::authorised(req, config_.http.api_token))
                return reply(http::json_error(401, "a bearer token is required"));
            std::string id;
            if (!tail.ends_with("/cancel") || !http::percent_decode(tail.substr(0, tail.size() - 7), id) || id.empty() ||
                id.find('/') != std::string::npos)
                return reply(http::json_error(404, "no such route"));
            CancelRequest r;
            (campaign ? r.campaign : r.job_id) = id;
            r.reason = "cancelled by an operator";
            store_.cancel(std::move(r), [reply = std::move(reply), id, campaign](CancelResult c) {
                if (!c.ok) return reply(http::json_error(503, "the receipts database refused it; try again"));
                if (!campaign && c.status != Status::cancelled)
                    return reply(http::json_error(409, "message " + id + " is " + std::string(to_string(c.status)) +
                                                           ": too late to cancel"));
                rapidjson::StringBuffer b;
                rapidjson::Writer<rapidjson::StringBuffer> w(b);
                w.StartObject();
                w.Key(campaign ? "campaign" : "id");
                w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
                w.Key("cancelled");
                w.Int64(c.cancelled);  // messages known and not yet sent; later jobs are cancelled as they come
                w.EndObject();
                reply({200, "application/json", b.GetString(), {}});
            });
        };
    };
    routes_.add("POST", "/v1/messages/", cancel(false));
    routes_.add("POST", "/v1/campaigns/", cancel(true));
    directory::add_directory_routes(routes_, config_, directory_, store_, clock_);
    engagement::add_engagement_routes(routes_, config_, store_, directory_, clock_);
}

}  // namespace crieur
