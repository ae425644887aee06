#include "daemon/http/server.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <optional>

#include "daemon/log.hpp"

namespace crieur::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kReadTimeout = std::chrono::seconds(30);

class Session : public std::enable_shared_from_this<Session> {
public:
    // `open` counts the live sessions (for the connection cap); a session is one until it ends.
    Session(tcp::socket&& socket, const Routes& routes, Exposure exposure, std::shared_ptr<std::atomic<int>> open)
        : stream_(std::move(socket)), routes_(routes), exposure_(exposure), open_(std::move(open)) {
        open_->fetch_add(1, std::memory_order_relaxed);
    }
    ~Session() { open_->fetch_sub(1, std::memory_order_relaxed); }

    void start() {
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
    }

private:
    // The head first, then the body within its route's limit (1 MiB; a batch of jobs more): the
    // limit depends on the path, which only the head tells. A declared length over it is
    // refused before any of the body is read.
    void do_read() {
        parser_.emplace();
        parser_->body_limit(routes_.largest_body_limit());
        stream_.expires_after(kReadTimeout);
        bhttp::async_read_header(stream_, buffer_, *parser_,
                                 [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
    }

    void on_header(beast::error_code ec) {
        if (ec) return on_read(ec);
        const auto target = parser_->get().target();
        const std::string_view path(target.data(), std::min(target.size(), target.find('?')));
        const std::uint64_t limit = routes_.body_limit(path);
        if (parser_->content_length() && *parser_->content_length() > limit) return on_read(bhttp::error::body_limit);
        parser_->body_limit(limit);  // a chunked body is held to it as it comes
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code read, std::size_t) { self->on_read(read); });
    }

    void on_read(beast::error_code ec) {
        if (ec == bhttp::error::end_of_stream) return do_close();
        if (ec) {
            if (ec == bhttp::error::body_limit) {
                Response r = status_problem(413, "request body too large");
                keep_alive_ = false;
                return send(std::move(r));
            }
            return;  // timeout or reset: the session ends
        }
        auto req = parser_->release();
        keep_alive_ = req.keep_alive();
        Request request;
        request.method = std::string(req.method_string());
        std::string_view target(req.target().data(), req.target().size());
        auto q = target.find('?');
        request.path = std::string(target.substr(0, q));
        if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
        request.body = std::move(req.body());
        for (auto& field : req) {
            std::string name(field.name_string().data(), field.name_string().size());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            request.headers.emplace_back(std::move(name), std::string(field.value().data(), field.value().size()));
        }
        beast::error_code no_peer;
        const auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(no_peer);
        if (!no_peer) request.peer = peer.address().to_string();
        version_ = req.version();
        // Handlers may answer later (after a database query): the session waits for its reply.
        routes_.dispatch(request, [self = shared_from_this()](Response r) {
            asio::dispatch(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->send(std::move(r)); });
        }, exposure_);
    }

    void send(Response r) {
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version_);
        res->set(bhttp::field::server, "crieurd");
        res->set(bhttp::field::content_type, r.content_type);
        res->set(bhttp::field::cache_control, "no-store");
        // Set-Cookie may come more than once; the defaults above are replaced, not repeated.
        for (auto& [k, v] : r.headers) {
            if (beast::iequals(k, "cache-control") || beast::iequals(k, "content-type")) res->set(k, v);
            else res->insert(k, v);
        }
        res->keep_alive(keep_alive_);
        res->body() = std::move(r.body);
        res->prepare_payload();
        stream_.expires_after(kReadTimeout);
        bhttp::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
            if (ec) return;
            if (!self->keep_alive_) return self->do_close();
            self->do_read();
        });
    }

    void do_close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    const Routes& routes_;
    Exposure exposure_;
    std::shared_ptr<std::atomic<int>> open_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
};

}  // namespace

class HttpServer::Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(asio::io_context& io, const Routes& routes, Exposure exposure, const tcp::endpoint& endpoint,
             int max_connections)
        : io_(io), acceptor_(asio::make_strand(io)), retry_(acceptor_.get_executor()), routes_(routes),
          exposure_(exposure), max_connections_(max_connections) {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(asio::socket_base::max_listen_connections);
    }
    void accept() {
        acceptor_.async_accept(asio::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
            self->on_accept(ec, std::move(s));
        });
    }
    void stop() {
        beast::error_code ec;
        acceptor_.close(ec);
        retry_.cancel();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    int open() const { return open_->load(std::memory_order_relaxed); }

private:
    void on_accept(beast::error_code ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
            // Out of descriptors (EMFILE) or memory: accepting again at once would spin. Wait,
            // longer each time, and say so once per episode.
            backoff_ = backoff_.count() == 0 ? std::chrono::milliseconds(50) : std::min(backoff_ * 2, kMaxBackoff);
            if (backoff_ == std::chrono::milliseconds(50) || backoff_ == kMaxBackoff)
                spdlog::warn("http: accept failed ({}); accepting again in {} ms", ec.message(), backoff_.count());
            retry_.expires_after(backoff_);
            retry_.async_wait([self = shared_from_this()](beast::error_code e) {
                if (!e) self->accept();
            });
            return;
        }
        backoff_ = {};
        if (open() >= max_connections_) {
            // Over the cap: this connection is closed at once, the ones open keep being served.
            if (!refusing_) spdlog::warn("http: {} connections open, the cap (http.max_connections); refusing new ones", open());
            refusing_ = true;
            beast::error_code ignored;
            s.close(ignored);
        } else {
            if (refusing_) spdlog::info("http: under the connection cap again ({} open)", open());
            refusing_ = false;
            std::make_shared<Session>(std::move(s), routes_, exposure_, open_)->start();
        }
        accept();
    }

    static constexpr std::chrono::milliseconds kMaxBackoff{1000};
    asio::io_context& io_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_;
    const Routes& routes_;
    Exposure exposure_;
    int max_connections_;
    std::shared_ptr<std::atomic<int>> open_ = std::make_shared<std::atomic<int>>(0);
    std::chrono::milliseconds backoff_{0};
    bool refusing_ = false;
};

HttpServer::HttpServer(asio::io_context& io, const Routes& routes, Exposure exposure)
    : io_(io), routes_(routes), exposure_(exposure) {}
HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& address, unsigned short port, int max_connections) {
    tcp::endpoint endpoint(asio::ip::make_address(address), port);
    listener_ = std::make_shared<Listener>(io_, routes_, exposure_, endpoint, max_connections);
    listener_->accept();
}

void HttpServer::stop() {
    if (listener_) listener_->stop();
}

unsigned short HttpServer::port() const { return listener_ ? listener_->port() : 0; }

}  // namespace crieur::http
