// Http1Client: the providers' HTTP APIs over persistent HTTP/1.1 connections, on the daemon's
// io_context: Asio's sockets, OpenSSL through asio::ssl, Beast's response parser. It replaced
// libcurl's multi interface on the send path (issue 12): per request libcurl polled the socket
// twice (its liveness check on reuse, its own readiness check) and re-registered it with epoll,
// about a third of crieurd's CPU with the pipeline around it; here a request on a kept-alive
// connection is one gathered write and the reads its answer needs, and the buffers are the
// connection's own, reused. HttpClient (http_client.hpp) stays the drivers' interface and hands it
// the requests; libcurl still carries SMTP, and every request when a proxy is configured.
// Use from the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace crieur {

struct HttpRequest;
struct HttpResponse;

struct Http1Options {
    std::size_t max_connections = 64;  // all origins together; requests beyond wait their turn
    std::string ca_path;               // a CA bundle file; empty: the system's
    bool verify_tls = true;
    // An idle connection older than this is closed rather than reused: servers drop idle
    // keep-alive connections after a while (nginx 75 s), and a write into one that is gone is
    // a round trip lost.
    std::chrono::seconds max_idle{30};
};

// The error category of what this client itself detects (the rest is the system's or OpenSSL's).
enum class Http1Errc { timed_out = 1, bad_url, response_too_large, closed };
std::error_code make_error_code(Http1Errc e);

class Http1Client {
public:
    using Done = std::function<void(HttpResponse)>;

    Http1Client(boost::asio::io_context& io, Http1Options options);
    ~Http1Client();
    Http1Client(const Http1Client&) = delete;
    Http1Client& operator=(const Http1Client&) = delete;

    // Sends the request; `done` is called once, on the io_context, never from inside perform().
    void perform(HttpRequest request, Done done);
    std::size_t in_flight() const { return in_flight_; }
    std::size_t connections() const { return connections_; }  // open, busy or idle
    std::size_t connections_opened() const { return opened_; }  // since start: how often reuse failed

private:
    struct Origin;
    class Connection;
    struct Exchange;
    using ConnectionPtr = std::shared_ptr<Connection>;
    using ExchangePtr = std::shared_ptr<Exchange>;

    void start(ExchangePtr x);
    void open(ExchangePtr x);
    void send(ExchangePtr x, ConnectionPtr c);
    void answered(const ExchangePtr& x, const ConnectionPtr& c);
    void not_connected(const ExchangePtr& x, const ConnectionPtr& c, std::error_code error);
    void not_answered(const ExchangePtr& x, const ConnectionPtr& c, std::error_code error, bool answered);
    void finish(ExchangePtr x, std::error_code error);
    void release(ConnectionPtr c, bool reusable);
    void close(const ConnectionPtr& c);
    void serve_waiting();
    Origin& origin_of(const std::string& key);

    boost::asio::io_context& io_;
    Http1Options options_;
    struct Tls;
    std::unique_ptr<Tls> tls_;  // the OpenSSL context, made on the first https request
    std::map<std::string, std::unique_ptr<Origin>> origins_;  // by scheme://host:port
    std::deque<ExchangePtr> waiting_;
    std::unordered_map<Connection*, std::weak_ptr<Connection>> open_;  // closed with the client  // for a connection, all origins' connections busy
    std::size_t connections_ = 0, in_flight_ = 0, opened_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace crieur

namespace std {
template <>
struct is_error_code_enum<crieur::Http1Errc> : true_type {};
}  // namespace std
