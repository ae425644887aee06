#include "daemon/callbacks/dispatcher.hpp"

#include <algorithm>
#include <random>

#include "channels/encoding.hpp"
#include "daemon/callbacks/signature.hpp"
#include "daemon/log.hpp"

namespace crieur {

namespace {
constexpr int kPage = 1000;      // rows loaded at once per service
constexpr std::size_t kRefill = 250;  // a service's next page is loaded below this many rows
constexpr std::size_t kSettleBatch = 500;
constexpr auto kSettleDelay = std::chrono::milliseconds(100);
constexpr std::int64_t kMaxRetryAfterMs = 10 * 3'600'000;

std::string short_text(std::string_view s) {
    std::string out(s.substr(0, 200));
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return out;
}
}  // namespace

CallbackVerdict classify_callback_answer(const HttpResponse& r) {
    if (r.status >= 200 && r.status < 300) return CallbackVerdict::delivered;
    if (r.status == 410) return CallbackVerdict::gone;
    if (r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429) return CallbackVerdict::refused;
    return CallbackVerdict::retry;  // no answer, 1xx, 3xx (never followed), 408, 429, 5xx
}

std::chrono::milliseconds callback_backoff(int n) {
    using namespace std::chrono;
    // Standard Webhooks' example schedule after the immediate first attempt; the last step repeats.
    static constexpr milliseconds kSteps[] = {seconds(5), minutes(5), minutes(30), hours(2), hours(5), hours(10)};
    constexpr int kLast = static_cast<int>(std::size(kSteps)) - 1;
    return kSteps[std::clamp(n - 1, 0, kLast)];
}

CallbackDispatcher::CallbackDispatcher(boost::asio::io_context& io, ReceiptStore& store, Metrics& metrics,
                                       const Clock& clock, HttpClientOptions http)
    : io_(io), store_(store), metrics_(metrics), clock_(clock), http_(io, std::move(http)),
      headers_(std::make_shared<HttpHeaders>(std::vector<std::pair<std::string, std::string>>{
          {"Content-Type", "application/json"}, {"User-Agent", "crieur/" CRIEUR_VERSION}})),
      id_prefix_("msg_" + store.instance_id() + "_"), settle_timer_(io) {}

CallbackDispatcher::~CallbackDispatcher() { stop(); }

std::size_t CallbackDispatcher::in_flight() const {
    std::size_t n = 0;
    for (auto& [service, e] : endpoints_) n += static_cast<std::size_t>(e->sending);
    return n;
}

void CallbackDispatcher::configure(const CallbacksConfig& config) {
    if (stopped_) return;
    timeout_ = std::chrono::milliseconds(config.timeout_ms);
    max_in_flight_ = config.max_in_flight;
    max_age_ms_ = std::int64_t{config.max_age_s} * 1000;
    CallbackServices services;
    services.drop_before_ms = to_unix_ms(clock_.now()) - max_age_ms_;
    std::map<std::string, EndpointPtr, std::less<>> next;
    for (const auto& c : config.endpoints) {
        services.services.push_back(c.service);
        auto found = endpoints_.find(c.service);
        EndpointPtr e = found != endpoints_.end() ? found->second : std::make_shared<Endpoint>(io_);
        if (found == endpoints_.end() || !(e->config == c)) {
            // A new or changed endpoint: a backoff was about the old one.
            e->failures = 0;
            e->closed_until = {};
        }
        if (e->gone) spdlog::info("callbacks: {}'s endpoint, suspended by a 410, is called again", c.service);
        e->gone = false;  // the operator reloaded: the service says it is back
        e->config = c;
        e->keys.clear();
        for (const auto& s : c.secrets)
            if (auto key = callbacks::secret_key(s)) e->keys.push_back(std::move(*key));
        next.emplace(c.service, e);
    }
    for (auto& [service, e] : endpoints_)
        if (!next.count(service)) {
            e->removed = true;
            e->timer.cancel();
            metrics_.service_callbacks_waiting -= static_cast<std::int64_t>(e->rows.size());
            spdlog::info("callbacks: {} has no endpoint any more; its callbacks stop", service);
        }
    endpoints_ = std::move(next);
    store_.set_callback_services(std::move(services));
    for (auto& [service, e] : endpoints_) {
        e->more = true;
        load(e);
        pump(e);
    }
}

void CallbackDispatcher::notify() {
    if (stopped_) return;
    ++generation_;
    for (auto& [service, e] : endpoints_) {
        e->more = true;
        load(e);
    }
}

void CallbackDispatcher::load(const EndpointPtr& e) {
    if (e->loading || !e->more || e->removed || e->rows.size() >= kRefill) return;
    e->loading = true;
    e->load_generation = generation_;
    store_.pending_callbacks(e->config.service, e->loaded_up_to, kPage, [this, e](std::vector<CallbackRow> rows) {
        e->loading = false;
        if (stopped_ || e->removed) return;
        e->more = rows.size() == static_cast<std::size_t>(kPage) || e->load_generation != generation_;
        for (auto& r : rows) {
            if (r.id <= e->loaded_up_to) continue;
            e->loaded_up_to = r.id;
            e->rows.push_back({std::move(r)});
            ++metrics_.service_callbacks_waiting;
        }
        pump(e);
    });
}

void CallbackDispatcher::pump(const EndpointPtr& e) {
    if (stopped_ || e->removed || e->gone) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < e->closed_until) {
        e->timer.expires_at(e->closed_until);
        e->timer.async_wait([this, weak = std::weak_ptr<Endpoint>(e)](boost::system::error_code ec) {
            if (ec) return;
            if (auto alive = weak.lock()) pump(alive);
        });
        return;
    }
    // After a failure, one request probes the endpoint; the others follow once it answers well.
    const int limit = e->failures > 0 ? 1 : max_in_flight_;
    for (auto& row : e->rows) {
        if (e->sending >= limit) break;
        if (row.sending || e->busy.count(row.row.message_key)) continue;
        send(e, row);
    }
    load(e);
}

void CallbackDispatcher::send(const EndpointPtr& e, Row& row) {
    row.sending = true;
    ++e->sending;
    e->busy.insert(row.row.message_key);
    const std::string id = id_prefix_ + std::to_string(row.row.id);
    const auto timestamp = to_unix_ms(clock_.now()) / 1000;
    HttpRequest request;
    request.method = "POST";
    request.url = e->config.url;
    request.fixed_headers = headers_;
    request.headers = {{"webhook-id", id},
                       {"webhook-timestamp", std::to_string(timestamp)},
                       {"webhook-signature", callbacks::signature_header(e->keys, id, timestamp, row.row.payload)}};
    request.body = row.row.payload;
    request.timeout = timeout_;
    http_.perform(std::move(request), [this, e, id = row.row.id](HttpResponse response) {
        if (!stopped_) answered(e, id, response);
    });
}

void CallbackDispatcher::answered(const EndpointPtr& e, std::int64_t id, const HttpResponse& response) {
    --e->sending;
    auto it = std::find_if(e->rows.begin(), e->rows.end(), [&](const Row& r) { return r.row.id == id; });
    if (it == e->rows.end()) return;  // the endpoint was reconfigured away meanwhile
    e->busy.erase(it->row.message_key);
    it->sending = false;
    if (e->removed) return;
    const auto verdict = classify_callback_answer(response);
    auto webhook_id = [&] { return id_prefix_ + std::to_string(id); };  // for the log lines only
    auto drop = [&] {
        settled_.done.push_back(id);
        e->rows.erase(it);
        --metrics_.service_callbacks_waiting;
        settle_later();
    };
    switch (verdict) {
    case CallbackVerdict::delivered:
        ++metrics_.service_callbacks_delivered;
        if (e->failures > 0) spdlog::info("callbacks: {} answers again ({})", e->config.service, webhook_id());
        e->failures = 0;
        drop();
        break;
    case CallbackVerdict::refused:
        ++metrics_.service_callbacks_refused;
        spdlog::warn("callbacks: {} refused {} with HTTP {} ({}): dropped", e->config.service, webhook_id(),
                     response.status, short_text(response.body));
        drop();
        break;
    case CallbackVerdict::gone:
        e->gone = true;
        spdlog::error("callbacks: {} answered 410 Gone to {}: its endpoint is suspended until crieurd is reloaded "
                      "(systemctl reload crieurd)", e->config.service, webhook_id());
        break;
    case CallbackVerdict::retry: {
        ++metrics_.service_callbacks_retried;
        const std::string error = response.status != 0 ? "HTTP " + std::to_string(response.status)
                                                       : (response.timed_out() ? "timeout" : response.error.message());
        it->row.attempts += 1;
        settled_.failed.push_back({id, it->row.attempts, error});
        ++e->failures;
        auto wait = callback_backoff(e->failures);
        if (const auto after = retry_after_ms(response); after > 0)
            wait = std::chrono::milliseconds(std::min(after, kMaxRetryAfterMs));
        else {
            static thread_local std::minstd_rand jitter{std::random_device{}()};
            wait += std::chrono::milliseconds(jitter() % (wait.count() / 10 + 1));
        }
        e->closed_until = std::max(e->closed_until, std::chrono::steady_clock::now() + wait);
        spdlog::warn("callbacks: {} did not take {} ({}, attempt {}): next try in {} s", e->config.service, webhook_id(),
                     error, it->row.attempts,
                     std::chrono::duration_cast<std::chrono::seconds>(wait).count());
        give_up_old(*e);
        settle_later();
        break;
    }
    }
    pump(e);
}

void CallbackDispatcher::give_up_old(Endpoint& e) {
    const auto oldest_kept = to_unix_ms(clock_.now()) - max_age_ms_;
    std::size_t given_up = 0;
    for (auto it = e.rows.begin(); it != e.rows.end();) {
        if (!it->sending && it->row.created_ms < oldest_kept) {
            settled_.done.push_back(it->row.id);
            it = e.rows.erase(it);
            ++given_up;
        } else {
            ++it;
        }
    }
    if (given_up == 0) return;
    metrics_.service_callbacks_given_up += given_up;
    metrics_.service_callbacks_waiting -= static_cast<std::int64_t>(given_up);
    spdlog::error("callbacks: {}: {} callback(s) given up, still failing {} h after their status change",
                  e.config.service, given_up, max_age_ms_ / 3'600'000);
}

void CallbackDispatcher::settle_later() {
    if (settled_.done.size() + settled_.failed.size() >= kSettleBatch) {
        flush();
        return;
    }
    if (settle_armed_) return;
    settle_armed_ = true;
    settle_timer_.expires_after(kSettleDelay);
    settle_timer_.async_wait([this](boost::system::error_code ec) {
        settle_armed_ = false;
        if (!ec) flush();
    });
}

void CallbackDispatcher::flush() {
    if (settled_.done.empty() && settled_.failed.empty()) return;
    store_.settle_callbacks(std::exchange(settled_, {}));
}

void CallbackDispatcher::stop() {
    if (stopped_) return;
    flush();
    stopped_ = true;
    settle_timer_.cancel();
    for (auto& [service, e] : endpoints_) e->timer.cancel();
}

}  // namespace crieur
