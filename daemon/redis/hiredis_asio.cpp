#include "daemon/redis/hiredis_asio.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include <vector>

#include "daemon/log.hpp"
#include "daemon/redis/sentinel.hpp"

namespace crieur::redis {

namespace asio = boost::asio;

// Bridges hiredis' ev hooks to Asio. Kept alive by the handlers it has outstanding, so that a
// cleanup from inside redisAsyncHandleRead never leaves a handler pointing at freed memory.
class AsioAdapter : public std::enable_shared_from_this<AsioAdapter> {
public:
    AsioAdapter(asio::io_context& io, redisAsyncContext* ctx) : ctx_(ctx), socket_(io, ctx->c.fd) {}

    void attach() {
        ctx_->ev.data = this;
        ctx_->ev.addRead = [](void* p) { static_cast<AsioAdapter*>(p)->want(true, true); };
        ctx_->ev.delRead = [](void* p) { static_cast<AsioAdapter*>(p)->want(true, false); };
        ctx_->ev.addWrite = [](void* p) { static_cast<AsioAdapter*>(p)->want(false, true); };
        ctx_->ev.delWrite = [](void* p) { static_cast<AsioAdapter*>(p)->want(false, false); };
        ctx_->ev.cleanup = [](void* p) { static_cast<AsioAdapter*>(p)->cleanup(); };
    }

private:
    void want(bool read, bool on) {
        (read ? want_read_ : want_write_) = on;
        if (on) arm(read);
    }

    void arm(bool read) {
        bool& armed = read ? read_armed_ : write_armed_;
        if (armed || !ctx_) return;
        armed = true;
        socket_.async_wait(read ? asio::posix::stream_descriptor::wait_read
                                : asio::posix::stream_descriptor::wait_write,
                           [self = shared_from_this(), read](const boost::system::error_code& ec) {
                               self->on_ready(read, ec);
                           });
    }

    void on_ready(bool read, const boost::system::error_code& ec) {
        (read ? read_armed_ : write_armed_) = false;
        if (!ctx_ || ec == asio::error::operation_aborted) return;
        // Any other error: let hiredis find it out through its own read or write.
        if (read) redisAsyncHandleRead(ctx_);
        else redisAsyncHandleWrite(ctx_);
        // hiredis may have freed the context (cleanup() cleared ctx_); if not, keep listening.
        if (ctx_ && (read ? want_read_ : want_write_)) arm(read);
    }

    void cleanup() {
        ctx_ = nullptr;
        want_read_ = want_write_ = false;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        socket_.release();  // hiredis closes the descriptor itself
    }

    redisAsyncContext* ctx_;
    asio::posix::stream_descriptor socket_;
    bool want_read_ = false, want_write_ = false;
    bool read_armed_ = false, write_armed_ = false;
};

RedisConnection::RedisConnection(asio::io_context& io, Endpoint endpoint, std::string name)
    : io_(io), endpoint_(std::move(endpoint)), name_(std::move(name)), reconnect_timer_(io), resolver_(io),
      watch_timer_(io) {
    if (!endpoint_.sentinels.empty())
        sentinels_ = std::make_unique<SentinelResolver>(io_, endpoint_.sentinels, endpoint_.master_name,
                                                        endpoint_.sentinel_password, name_);
}

RedisConnection::~RedisConnection() { stop(); }

void RedisConnection::start() {
    stopping_ = false;
    if (sentinels_) sentinels_->start();
    connect();
}

void RedisConnection::stop() {
    stopping_ = true;
    reconnect_timer_.cancel();
    watch_timer_.cancel();
    resolver_.cancel();
    if (sentinels_) sentinels_->stop();
    if (ctx_) {
        auto* ctx = ctx_;
        ctx_ = nullptr;
        connected_ = false;
        ctx->data = nullptr;  // the callbacks that hiredis makes while freeing must not reach us
        redisAsyncFree(ctx);  // pending callbacks get a null reply
    }
}

void RedisConnection::connect() {
    reconnect_scheduled_ = false;
    if (stopping_) return;
    if (!sentinels_) return connect_host();
    sentinels_->primary([this](std::optional<Address> primary) {
        if (stopping_) return;
        if (!primary) return lost(("no sentinel answers for the primary of '" + endpoint_.master_name + "'").c_str());
        if (endpoint_.host != primary->host || endpoint_.port != primary->port)
            spdlog::info("redis {}: the sentinels name {}:{} as the primary of '{}'", name_, primary->host, primary->port,
                         endpoint_.master_name);
        endpoint_.host = primary->host;
        endpoint_.port = primary->port;
        connect_host();
    });
}

void RedisConnection::connect_host() {
    boost::system::error_code ec;
    asio::ip::make_address(endpoint_.host, ec);
    if (!ec) return connect_to(endpoint_.host);
    // A host name: resolve it on the io_context first, then hand hiredis the address.
    resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                            [this](const boost::system::error_code& err, asio::ip::tcp::resolver::results_type r) {
                                if (err == asio::error::operation_aborted || stopping_) return;
                                if (err || r.empty()) return lost(("cannot resolve " + endpoint_.host).c_str());
                                connect_to(r.begin()->endpoint().address().to_string());
                            });
}

void RedisConnection::connect_to(const std::string& address) {
    redisAsyncContext* ctx = redisAsyncConnect(address.c_str(), endpoint_.port);
    if (!ctx) {
        lost("out of memory");
        return;
    }
    if (ctx->err) {
        std::string err = ctx->errstr;
        redisAsyncFree(ctx);
        lost(err.c_str());
        return;
    }
    ctx->data = this;
    adapter_ = std::make_shared<AsioAdapter>(io_, ctx);
    adapter_->attach();
    ctx_ = ctx;
    redisAsyncSetConnectCallback(ctx, &RedisConnection::on_connect_cb);
    redisAsyncSetDisconnectCallback(ctx, &RedisConnection::on_disconnect_cb);
    if (!endpoint_.password.empty())
        command({"AUTH", endpoint_.password}, [this](const redisReply* r) {
            if (r && r->type == REDIS_REPLY_ERROR) spdlog::error("redis {}: AUTH refused: {}", name_, r->str);
        });
}

void RedisConnection::on_connect_cb(const redisAsyncContext* ctx, int status) {
    auto* self = static_cast<RedisConnection*>(ctx->data);
    if (!self) return;
    if (status != REDIS_OK) {
        // hiredis frees the context right after this callback.
        self->ctx_ = nullptr;
        self->lost(ctx->errstr);
        return;
    }
    if (self->sentinels_) return self->confirm_primary();
    self->connected_ = true;
    self->backoff_ = std::chrono::milliseconds{100};
    if (self->failed_attempts_ > 0 || self->reconnects_ > 0)
        spdlog::info("redis {}: connected to {}:{}", self->name_, self->endpoint_.host, self->endpoint_.port);
    self->failed_attempts_ = 0;
    if (self->on_up_) self->on_up_();
}

// Through sentinels, the server they named may have been demoted since: ROLE says whether it is
// the primary before anything is sent there (a replica would refuse writes, and serve stale reads).
void RedisConnection::confirm_primary() {
    command({"ROLE"}, [this](const redisReply* r) {
        if (!r || stopping_ || !ctx_) return;  // lost meanwhile: lost() reconnects
        const bool primary = r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
                             std::string_view(r->element[0]->str, r->element[0]->len) == "master";
        if (!primary) {
            spdlog::warn("redis {}: {}:{} is not the primary of '{}' (any more); asking the sentinels again", name_,
                         endpoint_.host, endpoint_.port, endpoint_.master_name);
            redisAsyncDisconnect(ctx_);  // on_disconnect_cb → lost() → connect() asks again
            return;
        }
        connected_ = true;
        backoff_ = std::chrono::milliseconds{100};
        if (failed_attempts_ > 0 || reconnects_ > 0)
            spdlog::info("redis {}: connected to {}:{}, primary of '{}'", name_, endpoint_.host, endpoint_.port,
                         endpoint_.master_name);
        failed_attempts_ = 0;
        watch_primary();
        if (on_up_) on_up_();
    });
}

// Every second while connected: do the sentinels still name this server? A primary cut off by the
// network keeps the connection open without answering, and one demoted by hand keeps serving
// reads; both are left for the one the sentinels name.
void RedisConnection::watch_primary() {
    watch_timer_.expires_after(std::chrono::seconds(1));
    watch_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_ || !connected_) return;
        sentinels_->primary(
            [this](std::optional<Address> primary) {
                if (stopping_ || !connected_ || !ctx_) return;
                if (primary && (primary->host != endpoint_.host || primary->port != endpoint_.port)) {
                    spdlog::warn("redis {}: the sentinels now name {}:{} as the primary of '{}'; leaving {}:{}", name_,
                                 primary->host, primary->port, endpoint_.master_name, endpoint_.host, endpoint_.port);
                    // Closed at once, not gracefully: a primary cut off by the network would never
                    // answer the replies a graceful disconnect waits for.
                    drop("the sentinels named another primary");
                    return;
                }
                watch_primary();
            },
            std::chrono::milliseconds(0));
    });
}

void RedisConnection::drop(const char* why) {
    if (!ctx_) return;
    auto* ctx = ctx_;
    ctx_ = nullptr;
    ctx->data = nullptr;  // its disconnect callback must not reach us: lost() is called here
    redisAsyncFree(ctx);  // pending callbacks get a null reply now
    lost(why);
}

void RedisConnection::on_disconnect_cb(const redisAsyncContext* ctx, int status) {
    auto* self = static_cast<RedisConnection*>(ctx->data);
    if (!self) return;
    self->ctx_ = nullptr;  // hiredis frees it after this callback
    self->lost(status == REDIS_OK ? "closed" : ctx->errstr);
}

void RedisConnection::lost(const char* why) {
    const bool was_connected = connected_;
    connected_ = false;
    watch_timer_.cancel();
    if (stopping_) return;
    if (was_connected) {
        spdlog::warn("redis {}: connection lost ({}); reconnecting", name_, why ? why : "?");
        ++reconnects_;
        if (on_down_) on_down_();
    } else if (failed_attempts_++ == 0) {
        const std::string where = sentinels_ ? "the primary of '" + endpoint_.master_name + "'"
                                             : endpoint_.host + ":" + std::to_string(endpoint_.port);
        spdlog::warn("redis {}: cannot connect to {} ({}); retrying with backoff", name_, where, why ? why : "?");
    }
    schedule_reconnect();
}

void RedisConnection::schedule_reconnect() {
    if (reconnect_scheduled_ || stopping_) return;
    reconnect_scheduled_ = true;
    reconnect_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, endpoint_.reconnect_max);
    reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) connect();
    });
}

void RedisConnection::on_reply_cb(redisAsyncContext*, void* reply, void* privdata) {
    std::unique_ptr<Callback> cb(static_cast<Callback*>(privdata));
    (*cb)(static_cast<const redisReply*>(reply));
}

void RedisConnection::command(std::span<const std::string_view> args, Callback cb) {
    if (!ctx_ || (ctx_->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) {
        asio::post(io_, [cb = std::move(cb)] { cb(nullptr); });
        return;
    }
    constexpr std::size_t kInline = 16;
    const char* argv_inline[kInline];
    std::size_t len_inline[kInline];
    std::vector<const char*> argv_heap;
    std::vector<std::size_t> len_heap;
    const char** argv = argv_inline;
    std::size_t* lens = len_inline;
    if (args.size() > kInline) {
        argv_heap.resize(args.size());
        len_heap.resize(args.size());
        argv = argv_heap.data();
        lens = len_heap.data();
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        argv[i] = args[i].data();
        lens[i] = args[i].size();
    }
    auto holder = std::make_unique<Callback>(std::move(cb));
    if (redisAsyncCommandArgv(ctx_, &RedisConnection::on_reply_cb, holder.get(), static_cast<int>(args.size()), argv,
                              lens) == REDIS_OK) {
        holder.release();  // on_reply_cb takes it back
    } else {
        asio::post(io_, [cb = std::move(*holder)] { cb(nullptr); });
    }
}

}  // namespace crieur::redis
