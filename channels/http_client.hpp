// HttpClient: HTTP requests for the channel drivers, on the daemon's io_context: no thread per
// request, nothing blocks the io_context, connections kept alive and reused, TLS verification on.
// HTTP and HTTPS requests go through Http1Client (http1_client.hpp: HTTP/1.1 on Asio and Beast,
// the lean path); other protocols (SMTP) through libcurl's multi interface, driven by the same
// io_context (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION on Asio descriptors and a
// steady_timer). When the environment names a proxy (https_proxy, http_proxy, all_proxy, as
// libcurl reads them), HTTP requests go through libcurl too, which speaks to proxies.
// Use from the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace crieur {

class Http1Client;

// A header list built once and shared by all of a driver's requests (an immutable curl_slist,
// "Expect:" included): a request with it and no other headers costs no list building.
class HttpHeaders {
public:
    explicit HttpHeaders(const std::vector<std::pair<std::string, std::string>>& headers);
    ~HttpHeaders();
    HttpHeaders(const HttpHeaders&) = delete;
    HttpHeaders& operator=(const HttpHeaders&) = delete;
    const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
    void* list() const { return list_; }  // curl_slist*
    const std::string& block() const { return block_; }  // "Name: value\r\n" each, as sent

private:
    std::vector<std::pair<std::string, std::string>> entries_;
    std::string block_;
    void* list_ = nullptr;
};

struct HttpRequest {
    std::string method = "POST";
    std::string url;
    std::shared_ptr<const HttpHeaders> fixed_headers;  // the driver's own, sent first
    std::vector<std::pair<std::string, std::string>> headers;  // name, value: this request's
    std::string body;
    std::string basic_auth;  // "user:password", or empty
    std::chrono::milliseconds timeout{10'000};
};

// libcurl's CURLcode values as std::error_code: the message is libcurl's own text. Requests that
// went through Http1Client carry its errors (Http1Errc), the system's or OpenSSL's instead.
const std::error_category& curl_category();
std::error_code curl_error(int curl_code);

struct HttpResponse {
    int status = 0;  // 0: no HTTP answer (see error)
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::error_code error;    // why the transfer failed; none: it completed
    bool timed_out() const;   // the error is a timeout (libcurl's or Http1Client's)
    bool request_sent = false;  // the request may have reached the server: a failure is "unknown"
    std::chrono::microseconds elapsed{0};
};

struct HttpClientOptions {
    long max_connections = 64;  // all hosts together; requests beyond wait for a connection
    std::string ca_path;        // a CA bundle file; empty: the system's
    bool verify_tls = true;
};

class HttpClient {
public:
    using Done = std::function<void(HttpResponse)>;

    HttpClient(boost::asio::io_context& io, HttpClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Starts a transfer; `done` is called once, on the io_context, never from inside perform().
    void perform(HttpRequest request, Done done);
    // A transfer of another protocol libcurl speaks (SMTP): `setup` sets the easy handle's options
    // and returns what must live until the transfer ends (MIME parts, lists). The response's
    // status is CURLINFO_RESPONSE_CODE (for SMTP, the last reply code).
    using Setup = std::function<std::shared_ptr<void>(void* easy)>;
    void perform_custom(Setup setup, std::chrono::milliseconds timeout, Done done);
    std::size_t in_flight() const;
    // HTTP requests through libcurl (a proxy is configured): for the logs and the tests.
    bool http_through_curl() const { return !http1_; }

private:
    struct Transfer;
    class Watch;
    static int on_socket(void* easy, int fd, int what, void* self, void* socket_data);
    static int on_timer(void* multi, long timeout_ms, void* self);
    static int on_close_socket(void* self, int fd);
    void set_common_options(void* easy, void* transfer, std::chrono::milliseconds timeout);
    void act(int fd, int events);
    void finish_done_transfers();
    void arm_timer();
    void* take_easy();            // a reset handle from the pool, or a new one
    void give_back(void* easy);   // to the pool (bounded)

    boost::asio::io_context& io_;
    HttpClientOptions options_;
    void* multi_;  // CURLM*
    boost::asio::steady_timer timer_;
    // libcurl moves its deadline at nearly every call; re-arming an Asio timer each time costs a
    // cancelled handler. The deadline is kept here and the timer re-armed only when it must fire sooner.
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    std::chrono::steady_clock::time_point armed_for_ = std::chrono::steady_clock::time_point::max();
    std::vector<void*> idle_easies_;  // reset easy handles, reused: cheaper than init + cleanup
    bool kick_posted_ = false;
    std::map<int, std::shared_ptr<Watch>> watches_;
    std::set<int> own_sockets_;  // opened through on_open_socket, open until on_close_socket
    std::map<void*, std::unique_ptr<Transfer>> transfers_;  // by CURL* easy handle
    std::unique_ptr<Http1Client> http1_;  // none: HTTP goes through libcurl (a proxy)
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// application/x-www-form-urlencoded, as providers expect it.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
std::string url_decode(std::string_view s);
// Parses a form body into its fields, in order.
std::vector<std::pair<std::string, std::string>> form_decode(std::string_view body);

}  // namespace crieur
