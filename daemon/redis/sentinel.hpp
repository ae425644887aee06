// Redis Sentinel: which server is the primary of a named set right now. RedisConnection asks it
// before each (re)connection when [redis] sentinels are configured, and every second while
// connected, so that a failover (the primary killed, or demoted by an operator) moves crieurd to
// the new primary. Use from the io_context's thread only.
//
// Each sentinel gets a connection of its own (a RedisConnection without sentinels, which
// reconnects by itself); a question goes to the first connected one that answers, so one
// sentinel down costs nothing. Sentinels agree on the primary through their own quorum: asking
// one of them is what Redis' client guidelines describe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/redis/hiredis_asio.hpp"

namespace crieur::redis {

// The reply to SENTINEL get-master-addr-by-name: [ip, port], or nil when the set is unknown.
std::optional<Address> parse_master_reply(const redisReply* reply);

class SentinelResolver {
public:
    SentinelResolver(boost::asio::io_context& io, std::vector<Address> sentinels, std::string master_name,
                     std::string password, std::string name);
    ~SentinelResolver();
    SentinelResolver(const SentinelResolver&) = delete;
    SentinelResolver& operator=(const SentinelResolver&) = delete;

    void start();
    void stop();

    // The primary's address, or nullopt when no sentinel answers within `patience` (at start-up
    // the sentinels' own connections are still being made: the question waits for them).
    void primary(std::function<void(std::optional<Address>)> done,
                 std::chrono::milliseconds patience = std::chrono::milliseconds(2000));

    const std::string& master_name() const { return master_name_; }

private:
    struct Question {
        std::function<void(std::optional<Address>)> done;
        std::chrono::steady_clock::time_point deadline;
    };
    void ask(std::shared_ptr<Question> q, std::size_t from);
    void flush_waiting();

    boost::asio::io_context& io_;
    std::string master_name_;
    std::string name_;
    std::vector<std::unique_ptr<RedisConnection>> sentinels_;
    std::vector<std::shared_ptr<Question>> waiting_;  // asked while no sentinel was connected
    boost::asio::steady_timer patience_timer_;
    bool stopping_ = false;
};

}  // namespace crieur::redis
