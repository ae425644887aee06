#include "channels/http_client.hpp"

#include <curl/curl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "channels/http1_client.hpp"
#include "daemon/log.hpp"

namespace crieur {
namespace {
class CurlCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "curl"; }
    std::string message(int ev) const override { return curl_easy_strerror(static_cast<CURLcode>(ev)); }
};
}  // namespace

const std::error_category& curl_category() {
    static const CurlCategory category;
    return category;
}
std::error_code curl_error(int curl_code) { return {curl_code, curl_category()}; }
bool HttpResponse::timed_out() const {
    return error == curl_error(CURLE_OPERATION_TIMEDOUT) || error == std::error_code(Http1Errc::timed_out);
}

namespace asio = boost::asio;

namespace {
// curl_global_init once per process, before any handle (it is not thread-safe itself).
struct CurlGlobal {
    CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~CurlGlobal() { curl_global_cleanup(); }
};
void ensure_global() { static CurlGlobal global; }

// No provider answers with more than this; an endpoint that streams more (a hostile push
// endpoint, a misrouted URL) has its transfer cut, which the driver sees as a failed request.
constexpr std::size_t kMaxResponseBody = 1024 * 1024;

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* out) {
    auto* body = static_cast<std::string*>(out);
    if (body->size() + size * n > kMaxResponseBody) return 0;  // CURLE_WRITE_ERROR
    body->append(data, size * n);
    return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* out) {
    std::string_view line(data, size * n);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
        (*static_cast<std::map<std::string, std::string>*>(out))[name] = std::string(value);
    }
    return size * n;
}

// The variables libcurl reads for a proxy (HTTP_PROXY in capitals it ignores, as CGI sets it).
bool proxy_configured() {
    for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
        if (const char* v = std::getenv(name); v && *v) return true;
    return false;
}

curl_socket_t open_socket(void* own_sockets, curlsocktype, curl_sockaddr* address) {
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    static_cast<std::set<int>*>(own_sockets)->insert(fd);
    return fd;
}
}  // namespace

HttpHeaders::HttpHeaders(const std::vector<std::pair<std::string, std::string>>& headers) : entries_(headers) {
    curl_slist* list = nullptr;
    for (auto& [name, value] : entries_) {
        list = curl_slist_append(list, (name + ": " + value).c_str());
        block_.append(name).append(": ").append(value).append("\r\n");
    }
    list_ = curl_slist_append(list, "Expect:");  // no 100-continue round trip
}

HttpHeaders::~HttpHeaders() { curl_slist_free_all(static_cast<curl_slist*>(list_)); }

struct HttpClient::Transfer {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    HttpRequest request;
    HttpResponse response;
    Done done;
    std::shared_ptr<void> keep_alive;  // what a custom transfer's options point into
    std::chrono::steady_clock::time_point started;
    ~Transfer() {
        if (headers) curl_slist_free_all(headers);
        if (easy) curl_easy_cleanup(easy);  // unless handed back to the pool first
    }
};

// Watches one of libcurl's sockets for the readiness it asks for. The descriptor is libcurl's:
// released, never closed, when libcurl lets go of it.
class HttpClient::Watch : public std::enable_shared_from_this<Watch> {
public:
    Watch(asio::io_context& io, int fd, HttpClient& client) : fd_(fd), descriptor_(io, fd), client_(client) {}

    void want(int what) {
        want_read_ = what == CURL_POLL_IN || what == CURL_POLL_INOUT;
        want_write_ = what == CURL_POLL_OUT || what == CURL_POLL_INOUT;
        if (want_read_) arm(true);
        if (want_write_) arm(false);
    }
    // libcurl no longer watches the socket but keeps it open (an idle connection in its cache):
    // the descriptor stays registered with the reactor, so reusing the connection costs no
    // epoll_ctl. A wait still pending may fire; libcurl ignores an action on a socket it does not watch.
    void forget() { want_read_ = want_write_ = false; }
    void remove() {
        removed_ = true;
        boost::system::error_code ignored;
        descriptor_.cancel(ignored);
        descriptor_.release();
    }

private:
    void arm(bool read) {
        bool& armed = read ? read_armed_ : write_armed_;
        if (armed || removed_) return;
        armed = true;
        descriptor_.async_wait(read ? asio::posix::stream_descriptor::wait_read : asio::posix::stream_descriptor::wait_write,
                               [self = shared_from_this(), read, alive = std::weak_ptr<bool>(client_.alive_)](
                                   const boost::system::error_code& ec) {
                                   (read ? self->read_armed_ : self->write_armed_) = false;
                                   if (ec == asio::error::operation_aborted || self->removed_ || alive.expired()) return;
                                   self->client_.act(self->fd_, read ? CURL_CSELECT_IN : CURL_CSELECT_OUT);
                                   if (!self->removed_ && (read ? self->want_read_ : self->want_write_)) self->arm(read);
                               });
    }

    int fd_;
    asio::posix::stream_descriptor descriptor_;
    HttpClient& client_;
    bool want_read_ = false, want_write_ = false, read_armed_ = false, write_armed_ = false, removed_ = false;
};

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : io_(io), options_(std::move(options)), timer_(io) {
    ensure_global();
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &HttpClient::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &HttpClient::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, options_.max_connections);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_connections);
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    if (proxy_configured()) {
        spdlog::info("http: a proxy is set in the environment; provider requests go through libcurl, which uses it");
    } else {
        http1_ = std::make_unique<Http1Client>(
            io, Http1Options{static_cast<std::size_t>(std::max(1L, options_.max_connections)), options_.ca_path, options_.verify_tls});
    }
}

std::size_t HttpClient::in_flight() const { return transfers_.size() + (http1_ ? http1_->in_flight() : 0); }

HttpClient::~HttpClient() {
    http1_.reset();
    *alive_ = false;
    alive_.reset();
    timer_.cancel();
    for (auto& [easy, t] : transfers_) curl_multi_remove_handle(multi_, easy);
    transfers_.clear();
    for (auto& [fd, w] : watches_) w->remove();
    watches_.clear();
    for (void* e : idle_easies_) curl_easy_cleanup(static_cast<CURL*>(e));
    curl_multi_cleanup(multi_);
}

void* HttpClient::take_easy() {
    if (idle_easies_.empty()) return curl_easy_init();
    void* e = idle_easies_.back();
    idle_easies_.pop_back();
    return e;
}

void HttpClient::give_back(void* easy) {
    if (idle_easies_.size() >= static_cast<std::size_t>(options_.max_connections)) {
        curl_easy_cleanup(static_cast<CURL*>(easy));
        return;
    }
    curl_easy_reset(static_cast<CURL*>(easy));
    idle_easies_.push_back(easy);
}

void HttpClient::set_common_options(void* easy, void* transfer, std::chrono::milliseconds timeout) {
    CURL* e = static_cast<CURL*>(easy);
    curl_easy_setopt(e, CURLOPT_PRIVATE, transfer);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min(5000L, static_cast<long>(timeout.count())));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_path.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_path.c_str());
    // Connection sockets are opened and closed through us, so that we know how long each lives.
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &own_sockets_);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &HttpClient::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
}

int HttpClient::on_close_socket(void* self_ptr, int fd) {
    auto* self = static_cast<HttpClient*>(self_ptr);
    self->own_sockets_.erase(fd);
    if (auto it = self->watches_.find(fd); it != self->watches_.end()) {
        it->second->remove();  // deregistered before the number can be reused
        self->watches_.erase(it);
    }
    return ::close(fd);
}

void HttpClient::perform(HttpRequest request, Done done) {
    if (http1_) return http1_->perform(std::move(request), std::move(done));
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->done = std::move(done);
    t->started = std::chrono::steady_clock::now();
    CURL* e = static_cast<CURL*>(take_easy());
    t->easy = e;
    const HttpRequest& r = t->request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    set_common_options(e, t.get(), r.timeout);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->response.body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t->response.headers);
    if (!r.basic_auth.empty()) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, r.basic_auth.c_str());
    }
    if (r.method == "POST") {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method != "GET") {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
        if (!r.body.empty()) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        }
    }
    if (r.fixed_headers && r.headers.empty()) {
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r.fixed_headers->list());
    } else {
        auto append = [&](const std::string& name, const std::string& value) {
            t->headers = curl_slist_append(t->headers, (name + ": " + value).c_str());
        };
        if (r.fixed_headers)
            for (auto& [name, value] : r.fixed_headers->entries()) append(name, value);
        for (auto& [name, value] : r.headers) append(name, value);
        t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    }
    transfers_.emplace(e, std::move(t));
    curl_multi_add_handle(multi_, e);  // libcurl asks for a timer; the transfer starts from it
}

void HttpClient::perform_custom(Setup setup, std::chrono::milliseconds timeout, Done done) {
    auto t = std::make_unique<Transfer>();
    t->done = std::move(done);
    t->started = std::chrono::steady_clock::now();
    CURL* e = static_cast<CURL*>(take_easy());
    t->easy = e;
    set_common_options(e, t.get(), timeout);
    t->keep_alive = setup(e);
    transfers_.emplace(e, std::move(t));
    curl_multi_add_handle(multi_, e);
}

int HttpClient::on_socket(void*, int fd, int what, void* self_ptr, void*) {
    auto* self = static_cast<HttpClient*>(self_ptr);
    if (what == CURL_POLL_REMOVE) {
        if (auto it = self->watches_.find(fd); it != self->watches_.end()) {
            if (self->own_sockets_.count(fd)) {
                it->second->forget();  // still open: deregistered when libcurl closes it
            } else {
                it->second->remove();  // a socket libcurl opened itself (its resolver's): its life is not ours to see
                self->watches_.erase(it);
            }
        }
        return 0;
    }
    auto& w = self->watches_[fd];
    if (!w) w = std::make_shared<Watch>(self->io_, fd, *self);
    w->want(what);
    return 0;
}

int HttpClient::on_timer(void*, long timeout_ms, void* self_ptr) {
    auto* self = static_cast<HttpClient*>(self_ptr);
    if (timeout_ms == 0) {
        // "Act at once" (every new transfer asks for it): a posted handler, not a timer re-armed
        // through the kernel. libcurl calls back with its next deadline after acting.
        if (!self->kick_posted_) {
            self->kick_posted_ = true;
            asio::post(self->io_, [self, alive = std::weak_ptr<bool>(self->alive_)] {
                if (alive.expired()) return;
                self->kick_posted_ = false;
                self->act(CURL_SOCKET_TIMEOUT, 0);
            });
        }
        return 0;
    }
    self->deadline_ = timeout_ms < 0 ? std::chrono::steady_clock::time_point::max()
                                     : std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (self->deadline_ < self->armed_for_) self->arm_timer();
    return 0;
}

void HttpClient::arm_timer() {
    armed_for_ = deadline_;
    timer_.expires_at(deadline_);  // cancels a later wait, whose handler then sees operation_aborted
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        armed_for_ = std::chrono::steady_clock::time_point::max();
        if (deadline_ == std::chrono::steady_clock::time_point::max()) return;  // libcurl withdrew it
        if (std::chrono::steady_clock::now() < deadline_) {
            arm_timer();  // libcurl moved it later meanwhile
            return;
        }
        deadline_ = std::chrono::steady_clock::time_point::max();
        act(CURL_SOCKET_TIMEOUT, 0);
        if (deadline_ != std::chrono::steady_clock::time_point::max() && deadline_ < armed_for_) arm_timer();
    });
}

void HttpClient::act(int fd, int events) {
    int running = 0;
    curl_multi_socket_action(multi_, fd, events, &running);
    finish_done_transfers();
}

void HttpClient::finish_done_transfers() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* e = msg->easy_handle;
        const CURLcode code = msg->data.result;
        auto it = transfers_.find(e);
        if (it == transfers_.end()) continue;
        std::unique_ptr<Transfer> t = std::move(it->second);
        transfers_.erase(it);
        curl_multi_remove_handle(multi_, e);
        HttpResponse& r = t->response;
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        r.status = static_cast<int>(status);
        curl_off_t pretransfer = 0;
        curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
        // Past pre-transfer, the request was (at least partly) on the wire.
        r.request_sent = pretransfer > 0 || status > 0;
        if (code != CURLE_OK) r.error = curl_error(code);
        r.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t->started);
        give_back(e);  // the handle goes back to the pool; the transfer keeps none
        t->easy = nullptr;
        // Completions run from a fresh handler: a driver may start a new transfer from its callback.
        asio::post(io_, [t = std::shared_ptr<Transfer>(std::move(t))]() mutable { t->done(std::move(t->response)); });
    }
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    auto encode = [&](const std::string& s) {
        for (unsigned char c : s) {
            if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
            else if (c == ' ') out += '+';
            else {
                out += '%';
                out += hex[c >> 4];
                out += hex[c & 15];
            }
        }
    };
    for (auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        encode(k);
        out += '=';
        encode(v);
    }
    return out;
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') out += ' ';
        else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else out += s[i];
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> form_decode(std::string_view body) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!body.empty()) {
        auto amp = body.find('&');
        auto part = body.substr(0, amp);
        auto eq = part.find('=');
        if (!part.empty())
            out.emplace_back(url_decode(part.substr(0, eq)), eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1)));
        if (amp == std::string_view::npos) break;
        body.remove_prefix(amp + 1);
    }
    return out;
}

}  // namespace crieur
