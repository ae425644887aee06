// RedisConnection: one hiredis 0.14 async connection driven by an Asio io_context, reconnecting
// with backoff when Redis goes away. Use from the io_context's thread only.
//
// hiredis asks for read/write interest through its ev hooks (the shape of adapters/libevent.h);
// we answer with stream_descriptor::async_wait. hiredis owns and closes the socket, so the
// descriptor is released, never closed, when hiredis cleans up.
#pragma once

#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/redis/address.hpp"

namespace crieur::redis {

class AsioAdapter;
class SentinelResolver;

struct Endpoint {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password;
    std::chrono::milliseconds reconnect_max{5000};
    // With sentinels, host and port are not used: the sentinels say which server is the primary
    // of `master_name`, before each connection and every second while connected.
    std::vector<Address> sentinels;
    std::string master_name;
    std::string sentinel_password;
};

class RedisConnection {
public:
    // `reply` is null when the command could not complete (connection lost or never sent); it is
    // valid only during the call.
    using Callback = std::function<void(const redisReply* reply)>;

    RedisConnection(boost::asio::io_context& io, Endpoint endpoint, std::string name);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Called on the io_context after each successful (re)connection, and after each loss.
    void on_up(std::function<void()> f) { on_up_ = std::move(f); }
    void on_down(std::function<void()> f) { on_down_ = std::move(f); }

    void start();
    // Closes the connection; pending callbacks get a null reply. No reconnection after this.
    void stop();

    bool connected() const { return connected_; }
    std::uint64_t reconnects() const { return reconnects_; }

    // Sends a command. When not connected, `cb(nullptr)` is posted (never called inline).
    void command(std::span<const std::string_view> args, Callback cb);
    void command(std::initializer_list<std::string_view> args, Callback cb) {
        command(std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
    }

private:
    static void on_connect_cb(const redisAsyncContext* ctx, int status);
    static void on_disconnect_cb(const redisAsyncContext* ctx, int status);
    static void on_reply_cb(redisAsyncContext* ctx, void* reply, void* privdata);

    void connect();
    void connect_host();
    void connect_to(const std::string& address);
    void confirm_primary();
    void watch_primary();
    void lost(const char* why);
    void drop(const char* why);  // closes at once (pending replies are not awaited), then lost()
    void schedule_reconnect();

    boost::asio::io_context& io_;
    Endpoint endpoint_;
    std::string name_;
    boost::asio::steady_timer reconnect_timer_;
    boost::asio::ip::tcp::resolver resolver_;  // hiredis would resolve a host name with a blocking call
    redisAsyncContext* ctx_ = nullptr;  // owned by hiredis once connected; freed by it on disconnect
    std::shared_ptr<AsioAdapter> adapter_;
    std::unique_ptr<SentinelResolver> sentinels_;  // when the endpoint names sentinels
    boost::asio::steady_timer watch_timer_;        // while connected through them: is it still the primary?
    std::function<void()> on_up_, on_down_;
    std::chrono::milliseconds backoff_{100};
    bool connected_ = false;
    bool stopping_ = false;
    bool reconnect_scheduled_ = false;
    std::uint64_t reconnects_ = 0;
    std::uint64_t failed_attempts_ = 0;
};

}  // namespace crieur::redis
