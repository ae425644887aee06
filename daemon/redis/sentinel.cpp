#include "daemon/redis/sentinel.hpp"

#include "daemon/log.hpp"

namespace crieur::redis {

namespace asio = boost::asio;

std::optional<Address> parse_master_reply(const redisReply* r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return std::nullopt;
    const redisReply* host = r->element[0];
    const redisReply* port = r->element[1];
    if (!host || !port || host->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_STRING) return std::nullopt;
    return parse_address(std::string(host->str, host->len) + ":" + std::string(port->str, port->len));
}

SentinelResolver::SentinelResolver(asio::io_context& io, std::vector<Address> sentinels, std::string master_name,
                                   std::string password, std::string name)
    : io_(io), master_name_(std::move(master_name)), name_(std::move(name)), patience_timer_(io) {
    for (auto& s : sentinels) {
        Endpoint e;
        e.host = s.host;
        e.port = s.port;
        e.password = password;
        auto conn = std::make_unique<RedisConnection>(io_, e, name_ + " sentinel " + s.host + ":" + std::to_string(s.port));
        conn->on_up([this] { flush_waiting(); });
        sentinels_.push_back(std::move(conn));
    }
}

SentinelResolver::~SentinelResolver() { stop(); }

void SentinelResolver::start() {
    stopping_ = false;
    for (auto& s : sentinels_) s->start();
}

void SentinelResolver::stop() {
    stopping_ = true;
    patience_timer_.cancel();
    for (auto& s : sentinels_) s->stop();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& q : waiting) q->done(std::nullopt);
}

void SentinelResolver::primary(std::function<void(std::optional<Address>)> done, std::chrono::milliseconds patience) {
    ask(std::make_shared<Question>(Question{std::move(done), std::chrono::steady_clock::now() + patience}), 0);
}

void SentinelResolver::ask(std::shared_ptr<Question> q, std::size_t from) {
    if (stopping_) return q->done(std::nullopt);
    for (std::size_t i = from; i < sentinels_.size(); ++i) {
        if (!sentinels_[i]->connected()) continue;
        sentinels_[i]->command({"SENTINEL", "get-master-addr-by-name", master_name_}, [this, q, i](const redisReply* r) {
            if (auto address = parse_master_reply(r)) return q->done(address);
            if (r && r->type == REDIS_REPLY_ERROR)
                spdlog::warn("redis {}: sentinel {} refused the question: {}", name_, i + 1, std::string(r->str, r->len));
            ask(q, i + 1);  // lost, refused or does not know the set: the next one
        });
        return;
    }
    // No connected sentinel left to ask: wait for one (start-up), unless patience is spent or
    // every sentinel is connected and none knew.
    bool any_connected = false;
    for (auto& s : sentinels_) any_connected = any_connected || s->connected();
    if (any_connected || std::chrono::steady_clock::now() >= q->deadline) return q->done(std::nullopt);
    waiting_.push_back(q);
    patience_timer_.expires_at(q->deadline);
    patience_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        const auto now = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<Question>> late;
        std::erase_if(waiting_, [&](auto& w) {
            if (w->deadline > now) return false;
            late.push_back(w);
            return true;
        });
        for (auto& w : late) w->done(std::nullopt);
    });
}

void SentinelResolver::flush_waiting() {
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& q : waiting) ask(q, 0);
}

}  // namespace crieur::redis
