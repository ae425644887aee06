// CallbackDispatcher: POSTs the services' status callbacks from the receipts' outbox (filled by
// the receipts' triggers in the transaction that changes a status), signed with the Standard
// Webhooks headers, at least once and in order per message.
//
// Per service: the outbox is read in pages of row ids on the reader thread, at most
// max_in_flight requests at once, one at a time per message (its next callback waits for the
// previous one's answer). A 2xx deletes the row; a network error, a timeout, a 3xx, 408, 429 or
// 5xx closes the endpoint for the Standard Webhooks backoff (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
// with jitter; Retry-After when given), then one request probes it before the others follow;
// another 4xx is final (the endpoint refuses that payload: retrying would not change it); 410
// Gone suspends the endpoint until the next reload or restart. A callback still failing max_age_s after
// its status change is given up: a log line and a metric. What became of each row is written
// back in batches; a restart resends the rows not yet settled (the same webhook-id, so a
// receiver drops the copy). Use from the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "channels/http_client.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/receipts/receipt_store.hpp"

namespace crieur {

// What an endpoint's answer means for the callback.
enum class CallbackVerdict {
    delivered,  // 2xx
    retry,      // no answer, 3xx, 408, 429, 5xx: the endpoint is unwell, try again later
    refused,    // another 4xx: dropped
    gone,       // 410: the endpoint is suspended
};
CallbackVerdict classify_callback_answer(const HttpResponse& response);

// The wait before the n-th retry of an endpoint (n from 1), before jitter.
std::chrono::milliseconds callback_backoff(int n);

class CallbackDispatcher {
public:
    CallbackDispatcher(boost::asio::io_context& io, ReceiptStore& store, Metrics& metrics, const Clock& clock,
                       HttpClientOptions http);
    ~CallbackDispatcher();
    CallbackDispatcher(const CallbackDispatcher&) = delete;
    CallbackDispatcher& operator=(const CallbackDispatcher&) = delete;

    // At start and on every reload: the endpoints and how to call them. An endpoint whose URL or
    // secrets changed keeps its queue and leaves its backoff; every one leaves a 410's suspension;
    // one removed stops.
    void configure(const CallbacksConfig& config);
    // The outbox grew (after a commit).
    void notify();
    // Writes back what was settled, stops the timers; requests still out are not waited for
    // (their rows are sent again after the restart).
    void stop();

    std::size_t in_flight() const;

private:
    struct Row {
        CallbackRow row;
        bool sending = false;
    };
    struct Endpoint {
        explicit Endpoint(boost::asio::io_context& io) : timer(io) {}
        callbacks::Endpoint config;
        std::vector<std::string> keys;  // the secrets' HMAC keys, newest first
        std::deque<Row> rows;           // loaded, in id order; the sending ones stay in place
        std::unordered_set<std::string> busy;  // message keys with a callback in flight
        std::int64_t loaded_up_to = 0;  // the highest row id loaded
        bool loading = false;
        bool more = true;               // the outbox may hold rows past loaded_up_to
        std::uint64_t load_generation = 0;
        int sending = 0;
        int failures = 0;  // consecutive: while > 0 one request at a time probes the endpoint
        std::chrono::steady_clock::time_point closed_until{};
        bool gone = false;     // answered 410
        bool removed = false;  // no longer configured
        boost::asio::steady_timer timer;
    };
    using EndpointPtr = std::shared_ptr<Endpoint>;

    void load(const EndpointPtr& e);
    void pump(const EndpointPtr& e);
    void send(const EndpointPtr& e, Row& row);
    void answered(const EndpointPtr& e, std::int64_t id, const HttpResponse& response);
    void give_up_old(Endpoint& e);
    void settle_later();
    void flush();

    boost::asio::io_context& io_;
    ReceiptStore& store_;
    Metrics& metrics_;
    const Clock& clock_;
    HttpClient http_;
    std::shared_ptr<const HttpHeaders> headers_;
    std::string id_prefix_;  // "msg_<instance>_"
    std::chrono::milliseconds timeout_{15'000};
    int max_in_flight_ = 16;
    std::int64_t max_age_ms_ = 86'400'000;
    std::uint64_t generation_ = 0;  // bumped by each notify
    std::map<std::string, EndpointPtr, std::less<>> endpoints_;
    CallbacksSettled settled_;
    boost::asio::steady_timer settle_timer_;
    bool settle_armed_ = false;
    bool stopped_ = false;
};

}  // namespace crieur
