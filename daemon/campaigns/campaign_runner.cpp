#include "daemon/campaigns/campaign_runner.hpp"

#include <hiredis/hiredis.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>

#include "daemon/config.hpp"
#include "daemon/log.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/redis/redis_client.hpp"
#include "daemon/redis/script.hpp"

namespace crieur::campaigns {

namespace {
// A page onto the stream, whole, and the campaign's place moved past it. KEYS[1] the place,
// KEYS[2] the stream; ARGV[1] the place before the page, ARGV[2] after it, ARGV[3] the place's
// TTL, ARGV[4...] the jobs. Returns {1, the new place}; or, when Redis's place is already past
// ARGV[1] (this page went out before a crash that kept SQLite from hearing of it), {0, Redis's
// place} and nothing is added.
const redis::Script kQueuePage(R"lua(
local at = tonumber(redis.call('GET', KEYS[1]) or '0')
if at > tonumber(ARGV[1]) then return {0, at} end
for i = 4, #ARGV do redis.call('XADD', KEYS[2], '*', 'job', ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return {1, tonumber(ARGV[2])}
)lua");

// Long enough for any fan-out to be taken up again; the key goes by itself after.
constexpr int kPlaceTtlSeconds = 30 * 86'400;
constexpr auto kBacklogWait = std::chrono::milliseconds(250);

std::string campaigns_path(const Config& config) {
    if (!config.campaigns.path.empty()) return config.campaigns.path;
    return (std::filesystem::path(config.receipts.path).parent_path() / "campaigns.db").string();
}
std::string directory_path(const Config& config) {
    if (!config.directory.path.empty()) return config.directory.path;
    return (std::filesystem::path(config.receipts.path).parent_path() / "directory.db").string();
}

// The report's two numbers that tell whether the campaign is over.
bool over(const Campaign& c, const std::string& report) {
    rapidjson::Document d;
    d.Parse(report.data(), report.size());
    if (!d.IsObject() || !d.HasMember("messages") || !d.HasMember("pending")) return false;
    return c.state == State::running && d["messages"].GetInt64() >= c.members && d["pending"].GetInt64() == 0;
}

std::string with_counts(Campaign c, const std::string& report, const std::string& extra = {}) {
    if (over(c, report)) c.state = State::done;
    std::string json = to_json(c);
    json.pop_back();
    return json + ",\"counts\":" + report + extra + "}";
}
}  // namespace

struct CampaignRunner::Run {
    Campaign campaign;
    std::string stream;     // the jobs' stream (the urgent one for an urgent campaign)
    std::string place_key;  // its place in Redis
    bool stopped = false;
    boost::asio::steady_timer wait;
    Run(boost::asio::io_context& io, Campaign c, const Config& config)
        : campaign(std::move(c)),
          stream(campaign.priority == Priority::urgent ? urgent_stream_of(config.redis) : config.redis.stream),
          place_key(config.redis.stream + ":campaigns:" + campaign.key()),
          wait(io) {}
};

CampaignRunner::CampaignRunner(boost::asio::io_context& io, const Config& config, redis::RedisConnection& redis,
                               ReceiptStore& receipts, const Clock& clock)
    : io_(io), config_(config), redis_(redis), receipts_(receipts), clock_(clock),
      store_(std::make_unique<CampaignStore>(campaigns_path(config), directory_path(config), config.receipts.path)) {}

CampaignRunner::~CampaignRunner() { stop(); }

void CampaignRunner::start() {
    worker_.run<std::vector<Campaign>>(io_, [this] { return store_->unfinished(); }, [this](std::optional<std::vector<Campaign>> open) {
        if (!open) return;
        for (auto& c : *open) {
            spdlog::info("campaigns: {} takes up its fan-out at {} of {}", c.key(), c.queued, c.members);
            fan_out(std::move(c));
        }
    });
}

void CampaignRunner::stop() {
    stopping_ = true;
    for (auto& [key, run] : runs_) {
        run->stopped = true;
        run->wait.cancel();
    }
    runs_.clear();
    count_fanouts();
    worker_.stop();
}

void CampaignRunner::create(CampaignRequest request, Reply done) {
    auto r = std::make_shared<CampaignRequest>(std::move(request));
    r->campaign.created_ms = to_unix_ms(clock_.now());
    r->campaign.state = r->draft ? State::draft : State::launching;
    worker_.run<Answer>(
        io_,
        [this, r] {
            Answer a;
            a.campaign = r->campaign;
            if (r->draft) {
                a.outcome = store_->create(r->campaign) ? Outcome::done : Outcome::exists;
                return a;
            }
            auto launched = store_->launch(r->campaign, *r->audience, r->campaign.created_ms, true);
            if (launched.exists) a.outcome = Outcome::exists;
            else if (launched.error) {
                a.outcome = Outcome::bad_audience;
                a.part = "audience." + launched.error->part;
                a.detail = launched.error->reason;
            } else {
                a = {Outcome::done, *store_->get(r->campaign.key()), {}, {}};
            }
            return a;
        },
        [this, done = std::move(done)](std::optional<Answer> a) {
            if (!a) return done({Outcome::failed, {}, "the campaigns database refused it", {}});
            if (a->outcome == Outcome::done && a->campaign.state == State::launching) {
                spdlog::info("campaigns: {} launched for {} citizens (service {}, template {})", a->campaign.key(),
                             a->campaign.members, a->campaign.service, a->campaign.template_name);
                fan_out(a->campaign);
            }
            done(std::move(*a));
        });
}

void CampaignRunner::launch(const std::string& id, Reply done) {
    worker_.run<Answer>(
        io_,
        [this, id] {
            Answer a;
            auto c = store_->get(id);
            if (!c) return Answer{Outcome::not_found, {}, "no campaign " + id, {}};
            if (c->state != State::draft) return Answer{Outcome::bad_state, *c, "campaign " + id + " is " + to_string(c->state) + ", not a draft", {}};
            auto audience = audience::parse_audience(c->audience_json);
            if (auto* e = std::get_if<audience::AudienceError>(&audience)) return Answer{Outcome::bad_audience, *c, e->reason, "audience." + e->part};
            auto launched = store_->launch(*c, std::get<audience::Audience>(audience), to_unix_ms(clock_.now()), false);
            if (launched.error) return Answer{Outcome::bad_audience, *c, launched.error->reason, "audience." + launched.error->part};
            return Answer{Outcome::done, *store_->get(id), {}, {}};
        },
        [this, done = std::move(done)](std::optional<Answer> a) {
            if (!a) return done({Outcome::failed, {}, "the campaigns database refused it", {}});
            if (a->outcome == Outcome::done) fan_out(a->campaign);
            done(std::move(*a));
        });
}

void CampaignRunner::followup(CampaignRequest request, Reply done) {
    auto r = std::make_shared<CampaignRequest>(std::move(request));
    r->campaign.created_ms = to_unix_ms(clock_.now());
    r->campaign.state = State::launching;
    auto start = [this, r, done = std::move(done)](std::optional<std::int64_t> cancelled) mutable {
        // A resolution sends nothing until what was waiting is cancelled: else an old reminder
        // could follow the "it is over".
        if (r->campaign.resolved && !r->dry_run && !cancelled)
            return done({Outcome::failed, {}, "what the campaign still had to send could not be cancelled; nothing sent: try again", {}});
        worker_.run<Answer>(
            io_,
            [this, r] {
                auto parent = store_->get(r->campaign.id);
                if (!parent || parent->followup != 0) return Answer{Outcome::not_found, {}, "no campaign " + r->campaign.id, {}};
                if (parent->state == State::draft)
                    return Answer{Outcome::bad_state, *parent, "campaign " + parent->id + " is a draft: launch it first", {}};
                if (parent->snapshot_removed_ms)
                    return Answer{Outcome::bad_state, *parent, "campaign " + parent->id + "'s snapshot was removed after retention.days: it takes no follow-up", {}};
                auto launched = store_->launch_followup(r->campaign, r->campaign.created_ms, r->dry_run);
                Answer a{launched.exists ? Outcome::exists : Outcome::done, r->campaign, {}, {}};
                a.campaign.members = launched.members;
                if (!r->dry_run && !launched.exists) a.campaign = *store_->get(r->campaign.key());
                return a;
            },
            [this, r, done = std::move(done)](std::optional<Answer> a) {
                if (!a) return done({Outcome::failed, {}, "the campaigns database refused it", {}});
                if (a->outcome == Outcome::done && !r->dry_run) {
                    spdlog::info("campaigns: {} ({}{}) launched for {} citizens", a->campaign.key(), to_string(a->campaign.target),
                                 a->campaign.resolved ? ", resolution" : "", a->campaign.members);
                    fan_out(a->campaign);
                }
                done(std::move(*a));
            });
    };
    // The resolution: what the thread still has to send is cancelled first (fan-outs stopped,
    // scheduled messages cancelled), then the "it is over" message goes out.
    if (r->campaign.resolved && !r->dry_run) cancel(r->campaign.id, "resolved", std::move(start));
    else start(0);
}

void CampaignRunner::stop_runs(const std::string& id, const std::string& reason) {
    for (auto it = runs_.begin(); it != runs_.end();) {
        if (it->second->campaign.id != id) {
            ++it;
            continue;
        }
        spdlog::info("campaigns: {} fan-out stopped at {} of {} ({})", it->first, it->second->campaign.queued,
                     it->second->campaign.members, reason);
        it->second->stopped = true;
        it->second->wait.cancel();
        it = runs_.erase(it);
    }
    count_fanouts();
}

void CampaignRunner::cancel(const std::string& id, const std::string& reason,
                            std::function<void(std::optional<std::int64_t>)> done) {
    // Fan-outs stop at once: the page in flight, if any, is the last.
    stop_runs(id, reason);
    const bool resolution = reason == "resolved";
    worker_.run<std::vector<std::string>>(
        io_,
        [this, id, reason, resolution, now = to_unix_ms(clock_.now())] {
            std::vector<std::string> keys;
            auto thread = store_->followups(id);
            if (auto c = store_->get(id); c && c->followup == 0) thread.insert(thread.begin(), *c);
            for (auto& c : thread) {
                keys.push_back(c.key());
                // A resolution cuts short what is still going out; a cancellation ends everything.
                if (c.state == State::cancelled || (resolution && c.state == State::running)) continue;
                store_->set_state(c.key(), State::cancelled, resolution ? "resolved before all of it went out" : reason, now);
            }
            return keys;
        },
        [this, reason, done = std::move(done)](std::optional<std::vector<std::string>> keys) mutable {
            if (!keys) return done(std::nullopt);
            if (keys->empty()) return done(0);
            // Each part's messages not yet sent, in the receipts (and those still to come).
            auto total = std::make_shared<std::int64_t>(0);
            auto left = std::make_shared<std::size_t>(keys->size());
            auto failed = std::make_shared<bool>(false);
            auto shared_done = std::make_shared<std::function<void(std::optional<std::int64_t>)>>(std::move(done));
            for (auto& key : *keys) {
                CancelRequest req;
                req.campaign = key;
                req.reason = reason == "resolved" ? "its campaign was resolved" : reason;
                receipts_.cancel(std::move(req), [this, key, total, left, failed, shared_done](CancelResult c) {
                    if (c.error) *failed = true;
                    else cancelled(key);
                    *total += c.cancelled;
                    if (--*left == 0) (*shared_done)(*failed ? std::nullopt : std::optional(*total));
                });
            }
        });
}

void CampaignRunner::show(const std::string& key, std::function<void(std::optional<Shown>, bool found)> done) {
    using Thread = std::vector<Campaign>;
    worker_.run<Thread>(
        io_,
        [this, key] {
            Thread t;
            auto c = store_->get(key);
            if (!c) return t;
            t.push_back(*c);
            if (c->followup == 0)
                for (auto& f : store_->followups(c->id)) t.push_back(std::move(f));
            return t;
        },
        [this, done = std::move(done)](std::optional<Thread> t) {
            if (!t) return done(std::nullopt, true);
            if (t->empty()) return done(std::nullopt, false);
            std::vector<std::string> keys;
            for (auto& c : *t) keys.push_back(c.key());
            receipts_.campaign_reports(keys, {}, [t = std::move(*t), done](std::optional<std::vector<std::string>> reports) {
                if (!reports) return done(std::nullopt, true);
                done(Shown{std::move(t), std::move(*reports)}, true);
            });
        });
}

std::string thread_json(const CampaignRunner::Shown& s) {
    std::string followups;
    for (std::size_t i = 1; i < s.thread.size(); ++i) followups += (i > 1 ? "," : "") + with_counts(s.thread[i], s.reports[i]);
    return with_counts(s.thread[0], s.reports[0], s.thread[0].followup == 0 ? ",\"followups\":[" + followups + "]" : "");
}

std::string merged_report(const std::string& mine, const std::vector<std::string>& theirs) {
    rapidjson::Document d;
    d.Parse(mine.c_str());
    if (!d.IsObject()) return mine;
    auto& alloc = d.GetAllocator();
    for (auto& other : theirs) {
        rapidjson::Document o;
        o.Parse(other.c_str());
        if (!o.IsObject()) continue;
        for (const char* n : {"messages", "pending"})
            if (o.HasMember(n) && o[n].IsInt64()) d[n].SetInt64(d[n].GetInt64() + o[n].GetInt64());
        for (const char* m : {"by_status", "by_channel"}) {
            if (!o.HasMember(m) || !o[m].IsObject()) continue;
            for (auto& kv : o[m].GetObject()) {
                auto found = d[m].FindMember(kv.name);
                if (found != d[m].MemberEnd()) found->value.SetInt64(found->value.GetInt64() + kv.value.GetInt64());
                else d[m].AddMember(rapidjson::Value(kv.name, alloc), rapidjson::Value(kv.value.GetInt64()), alloc);
            }
        }
    }
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d.Accept(w);
    return b.GetString();
}

void CampaignRunner::list(const std::string& service, std::int64_t before, int limit,
                          std::function<void(std::optional<std::pair<std::vector<Campaign>, std::int64_t>>)> done) {
    worker_.run<std::pair<std::vector<Campaign>, std::int64_t>>(
        io_, [this, service, before, limit] { return store_->list(service, before, limit); }, std::move(done));
}

void CampaignRunner::get(const std::string& key, std::function<void(std::optional<std::optional<Campaign>>)> done) {
    worker_.run<std::optional<Campaign>>(io_, [this, key] { return store_->get(key); }, std::move(done));
}

void CampaignRunner::remove_old_snapshots(int days) {
    if (days <= 0 || sweeping_) return;
    sweeping_ = true;
    const auto now = to_unix_ms(clock_.now());
    worker_.run<std::int64_t>(io_, [this, now, days] { return store_->remove_old_snapshots(now - std::int64_t{days} * 86'400'000, now); },
                              [this, days](std::optional<std::int64_t> n) {
                                  sweeping_ = false;
                                  if (n && *n) spdlog::info("campaigns: the snapshots of {} campaigns idle for {} days removed (retention.days)", *n, days);
                              });
}

void CampaignRunner::erase_citizen(const std::string& citizen, std::function<void(bool)> done) {
    worker_.run<std::int64_t>(io_, [this, citizen] { return store_->erase_citizen(citizen); },
                              [done = std::move(done)](std::optional<std::int64_t> n) { done(n.has_value()); });
}

void CampaignRunner::fan_out(Campaign c) {
    if (stopping_ || runs_.count(c.key())) return;
    auto run = std::make_shared<Run>(io_, std::move(c), config_);
    runs_.emplace(run->campaign.key(), run);
    count_fanouts();
    pump(run);
}

void CampaignRunner::pump(std::shared_ptr<Run> run) {
    if (run->stopped) return;
    auto again_later = [this, run] {
        run->wait.expires_after(kBacklogWait);
        run->wait.async_wait([this, run](boost::system::error_code e) {
            if (!e) pump(run);
        });
    };
    if (!redis_.connected()) return again_later();
    auto next_page = [this, run] {
        worker_.run<CampaignStore::Page>(
            io_, [this, c = run->campaign, after = run->campaign.queued, n = config_.campaigns.page] { return store_->page(c, after, n); },
            [this, run](std::optional<CampaignStore::Page> page) {
                if (run->stopped) return;
                if (!page) {  // the database refused the read: try again later
                    run->wait.expires_after(std::chrono::seconds(1));
                    run->wait.async_wait([this, run](boost::system::error_code e) {
                        if (!e) pump(run);
                    });
                    return;
                }
                if (page->jobs.empty()) return finish(run);
                queue_page(run, std::move(*page));
            });
    };
    if (config_.campaigns.max_backlog <= 0) return next_page();
    // The stream's unread entries for our group (Redis ≥ 7 tells them; when it cannot, no wait).
    redis::group_lag(redis_, run->stream, config_.redis.group, [this, run, next_page, again_later](long long lag) {
        if (run->stopped) return;
        if (lag > config_.campaigns.max_backlog) return again_later();
        next_page();
    });
}

void CampaignRunner::queue_page(std::shared_ptr<Run> run, CampaignStore::Page page) {
    const auto from = run->campaign.queued, to = page.last;
    const auto count = static_cast<std::int64_t>(page.jobs.size());
    std::vector<std::string> args;
    args.reserve(page.jobs.size() + 3);
    args.push_back(std::to_string(from));
    args.push_back(std::to_string(to));
    args.push_back(std::to_string(kPlaceTtlSeconds));
    for (auto& j : page.jobs) args.push_back(std::move(j));
    kQueuePage.run(redis_, {run->place_key, run->stream}, std::move(args), [this, run, count](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_INTEGER) {
            spdlog::warn("campaigns: {}: a page was not queued (Redis {}); trying again", run->campaign.key(),
                         r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unreachable");
            run->wait.expires_after(std::chrono::seconds(1));
            run->wait.async_wait([this, run](boost::system::error_code e) {
                if (!e) pump(run);
            });
            return;
        }
        const auto at = static_cast<std::int64_t>(r->element[1]->integer);
        if (r->element[0]->integer == 1) {
            jobs_queued_ += count;
            if (metrics_) metrics_->campaign_jobs_queued += static_cast<std::uint64_t>(count);
        } else spdlog::info("campaigns: {}: Redis had it queued up to {} (a page went out before a stop); going on from there", run->campaign.key(), at);
        run->campaign.queued = at;
        worker_.post([this, key = run->campaign.key(), at, now = to_unix_ms(clock_.now())] { store_->set_queued(key, at, now); });
        if (!run->stopped) pump(run);
    });
}

void CampaignRunner::finish(std::shared_ptr<Run> run) {
    const auto key = run->campaign.key();
    // Every job is on the stream: the campaign becomes running (its place set to the last member).
    worker_.post([this, key, members = run->campaign.members, now = to_unix_ms(clock_.now())] { store_->set_queued(key, members, now); });
    spdlog::info("campaigns: {}: its {} jobs are on the stream", key, run->campaign.members);
    runs_.erase(key);
    count_fanouts();
}

}  // namespace crieur::campaigns
