#include <utility>  // before Asio (GCC 12, Boost 1.74)

#include "channels/http1_client.hpp"

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <unordered_map>

#include "channels/encoding.hpp"
#include "channels/http_client.hpp"
#include "daemon/log.hpp"

namespace crieur {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {
class Http1Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "http"; }
    std::string message(int ev) const override {
        switch (static_cast<Http1Errc>(ev)) {
        case Http1Errc::timed_out: return "the request timed out";
        case Http1Errc::bad_url: return "the URL cannot be requested (an http or https URL with a host, no CR or LF in headers)";
        case Http1Errc::response_too_large: return "the answer is larger than 1 MiB";
        case Http1Errc::closed: return "the connection was closed before the answer was complete";
        }
        return "http error";
    }
};

// No provider answers with more than this; an endpoint that streams more (a hostile push
// endpoint, a misrouted URL) has its request cut, which the driver sees as a failed request.
constexpr std::size_t kMaxResponseBody = 1024 * 1024;

// Where a URL leads, read with libcurl's URL API.
struct Target {
    bool tls = false;
    std::string host;         // without IPv6 brackets: what the resolver takes
    std::string port;         // always set (the scheme's when the URL has none)
    std::string host_header;  // the Host header: the host, and the port when it is not the scheme's
    std::string path;         // path and query
    std::string origin;       // scheme://host:port, the pool's key
};

std::optional<Target> parse_target(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
    auto part = [&](CURLUPart which, unsigned flags = 0) -> std::optional<std::string> {
        char* value = nullptr;
        if (curl_url_get(u.get(), which, &value, flags) != CURLUE_OK || !value) return std::nullopt;
        std::string out(value);
        curl_free(value);
        return out;
    };
    const auto scheme = part(CURLUPART_SCHEME);
    auto host = part(CURLUPART_HOST);
    if (!scheme || (*scheme != "http" && *scheme != "https") || !host || host->empty()) return std::nullopt;
    Target t;
    t.tls = *scheme == "https";
    const auto explicit_port = part(CURLUPART_PORT);
    t.port = explicit_port ? *explicit_port : (t.tls ? "443" : "80");
    t.host_header = *host + (explicit_port && *explicit_port != (t.tls ? "443" : "80") ? ":" + *explicit_port : "");
    if (host->size() > 2 && host->front() == '[') *host = host->substr(1, host->size() - 2);
    t.host = std::move(*host);
    t.path = part(CURLUPART_PATH).value_or("/");
    if (auto query = part(CURLUPART_QUERY)) t.path += "?" + *query;
    t.origin = *scheme + "://" + t.host_header + ":" + t.port;
    return t;
}

std::error_code std_error(boost::system::error_code e) { return e; }

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }
}  // namespace

std::error_code make_error_code(Http1Errc e) {
    static const Http1Category category;
    return {static_cast<int>(e), category};
}

struct Http1Client::Tls {
    asio::ssl::context context{asio::ssl::context::tls_client};
    std::error_code error;  // the CA bundle could not be read: every https request fails with it
};

struct Http1Client::Origin {
    Target target;  // its scheme, host and port; the path is each request's
    std::vector<ConnectionPtr> idle;  // kept alive, the most recently used last
    std::string auth, auth_header;    // the last Basic credentials and their header: a driver has one
};

class Http1Client::Connection {
public:
    Connection(asio::io_context& io, Origin& o, asio::ssl::context* tls) : origin(&o), resolver(io) {
        if (tls) secure.emplace(io, *tls);
        else plain.emplace(io);
    }
    tcp::socket& socket() { return secure ? secure->next_layer() : *plain; }
    // Runs `f` with the stream requests go through: the TLS stream, or the socket itself.
    template <class F>
    void with_stream(F&& f) {
        if (secure) f(*secure);
        else f(*plain);
    }

    Origin* origin;
    tcp::resolver resolver;
    std::optional<tcp::socket> plain;
    std::optional<asio::ssl::stream<tcp::socket>> secure;
    beast::flat_buffer buffer;  // the connection's read buffer, reused by each answer
    std::optional<beast::http::response_parser<beast::http::string_body>> parser;
    std::chrono::steady_clock::time_point idle_since;
    bool used = false;  // it has carried a request: a failure before any answer may be a dropped idle connection
    bool open = true;
};

struct Http1Client::Exchange {
    explicit Exchange(asio::io_context& io) : timer(io) {}
    HttpRequest request;
    Done done;
    HttpResponse response;
    std::string head;  // the request line and headers, serialised once
    Origin* origin = nullptr;
    ConnectionPtr connection;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point started;
    bool on_reused = false, retried = false, timed_out = false, finished = false;
};

Http1Client::Http1Client(asio::io_context& io, Http1Options options)
    : io_(io), options_(std::move(options)), tls_(std::make_unique<Tls>()) {
    auto& ctx = tls_->context;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (options_.verify_tls) {
        ctx.set_verify_mode(asio::ssl::verify_peer);
        if (options_.ca_path.empty()) ctx.set_default_verify_paths(ec);
        else ctx.load_verify_file(options_.ca_path, ec);
        if (ec) {
            tls_->error = ec;
            spdlog::error("http: the CA certificates ({}) cannot be read: {}; https requests will fail",
                          options_.ca_path.empty() ? "the system's" : options_.ca_path, ec.message());
        }
    } else {
        ctx.set_verify_mode(asio::ssl::verify_none);
    }
}

Http1Client::~Http1Client() {
    *alive_ = false;
    // Idle or carrying a request, every connection closes now; the handlers still pending see
    // that the client is gone and stop there.
    std::vector<ConnectionPtr> open;
    for (auto& [raw, weak] : open_)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    for (auto& c : open) close(c);
    for (auto& x : waiting_) x->timer.cancel();
}

Http1Client::Origin& Http1Client::origin_of(const std::string& key) {
    auto& o = origins_[key];
    if (!o) o = std::make_unique<Origin>();
    return *o;
}

void Http1Client::perform(HttpRequest request, Done done) {
    auto x = std::make_shared<Exchange>(io_);
    x->started = std::chrono::steady_clock::now();
    x->request = std::move(request);
    x->done = std::move(done);
    const HttpRequest& r = x->request;
    // A driver sends to one URL (Twilio's account, a WhatsApp number): its parse is kept.
    thread_local std::string last_url;
    thread_local std::optional<Target> last_target;
    if (r.url != last_url || !last_target) {
        last_target = parse_target(r.url);
        last_url = r.url;
    }
    bool bad = !last_target || has_line_break(r.method) || has_line_break(r.basic_auth);
    for (auto& [name, value] : r.headers) bad = bad || has_line_break(name) || has_line_break(value);
    if (bad) {
        x->response.error = Http1Errc::bad_url;
        asio::post(io_, [x] { x->done(std::move(x->response)); });
        return;
    }
    const Target& t = *last_target;
    if (t.tls && tls_->error) {
        x->response.error = tls_->error;
        asio::post(io_, [x] { x->done(std::move(x->response)); });
        return;
    }
    Origin& o = origin_of(t.origin);
    if (o.target.origin.empty()) o.target = t;
    x->origin = &o;

    std::string& head = x->head;
    head.reserve(160 + t.path.size() + (r.fixed_headers ? r.fixed_headers->block().size() : 0));
    head.append(r.method).append(" ").append(t.path).append(" HTTP/1.1\r\nHost: ").append(t.host_header).append("\r\n");
    if (!r.basic_auth.empty()) {
        if (o.auth != r.basic_auth) {
            o.auth = r.basic_auth;
            o.auth_header = "Authorization: Basic " + base64_encode(r.basic_auth) + "\r\n";
        }
        head.append(o.auth_header);
    }
    if (r.fixed_headers) head.append(r.fixed_headers->block());
    for (auto& [name, value] : r.headers) head.append(name).append(": ").append(value).append("\r\n");
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
        head.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
    head.append("\r\n");

    ++in_flight_;
    x->timer.expires_after(r.timeout);
    x->timer.async_wait([this, alive = std::weak_ptr<bool>(alive_), w = std::weak_ptr<Exchange>(x)](
                            const boost::system::error_code& ec) {
        auto late = w.lock();
        if (ec || alive.expired() || !late || late->finished) return;
        late->timed_out = true;
        if (late->connection) {
            close(late->connection);  // its pending operation ends with operation_aborted, then finish
            return;
        }
        std::erase(waiting_, late);
        finish(late, Http1Errc::timed_out);
    });
    start(std::move(x));
}

void Http1Client::start(ExchangePtr x) {
    Origin& o = *x->origin;
    const auto now = std::chrono::steady_clock::now();
    while (!o.idle.empty()) {
        ConnectionPtr c = std::move(o.idle.back());
        o.idle.pop_back();
        if (now - c->idle_since > options_.max_idle) {
            close(c);
            continue;
        }
        send(std::move(x), std::move(c));
        return;
    }
    if (connections_ >= options_.max_connections) {
        // Room for this origin: an idle connection of another one goes (that origin's oldest).
        for (auto& [key, other] : origins_) {
            if (other->idle.empty()) continue;
            ConnectionPtr c = std::move(other->idle.front());
            other->idle.erase(other->idle.begin());
            close(c);
            break;
        }
    }
    if (connections_ < options_.max_connections) return open(std::move(x));
    waiting_.push_back(std::move(x));
}

void Http1Client::open(ExchangePtr x) {
    Origin& o = *x->origin;
    auto c = std::make_shared<Connection>(io_, o, o.target.tls ? &tls_->context : nullptr);
    open_.emplace(c.get(), c);
    ++connections_;
    ++opened_;
    x->connection = c;
    c->resolver.async_resolve(o.target.host, o.target.port, [this, alive = std::weak_ptr<bool>(alive_), x, c](
                                                               const boost::system::error_code& resolving,
                                                               tcp::resolver::results_type found) {
        if (alive.expired()) return;
        if (resolving || !c->open) return not_connected(x, c, resolving);
        asio::async_connect(c->socket(), found, [this, alive, x, c](const boost::system::error_code& connecting, const tcp::endpoint&) {
            if (alive.expired()) return;
            if (connecting || !c->open) return not_connected(x, c, connecting);
            boost::system::error_code ignored;
            c->socket().set_option(tcp::no_delay(true), ignored);  // the head and body go in one write anyway
            if (!c->secure) return send(x, c);
            const std::string& host = c->origin->target.host;
            boost::system::error_code not_ip;
            asio::ip::make_address(host, not_ip);
            if (not_ip) SSL_set_tlsext_host_name(c->secure->native_handle(), host.c_str());  // SNI, for names only
            if (options_.verify_tls) c->secure->set_verify_callback(asio::ssl::host_name_verification(host));
            c->secure->async_handshake(asio::ssl::stream_base::client, [this, alive, x, c](const boost::system::error_code& shaking) {
                if (alive.expired()) return;
                if (shaking || !c->open) return not_connected(x, c, shaking);
                send(x, c);
            });
        });
    });
}

void Http1Client::not_connected(const ExchangePtr& x, const ConnectionPtr& c, std::error_code error) {
    close(c);
    // The request never left.
    if (x->timed_out) error = Http1Errc::timed_out;
    else if (!error) error = Http1Errc::closed;
    finish(x, error);
    serve_waiting();
}

void Http1Client::not_answered(const ExchangePtr& x, const ConnectionPtr& c, std::error_code error, bool answered) {
    close(c);
    // A connection the server dropped while it was idle fails before any answer: the request
    // goes again once, on a fresh connection (as libcurl does); the server never saw a request
    // whose connection gave no answer at all.
    if (!x->timed_out && x->on_reused && !answered && !x->retried) {
        x->retried = true;
        x->connection.reset();
        return open(x);  // in the slot this connection held
    }
    x->response.request_sent = true;
    if (x->timed_out) error = Http1Errc::timed_out;
    else if (error == std_error(beast::http::error::body_limit)) {
        // The status line was read: the driver classifies the answer by it, with no body (as
        // libcurl's cut transfer did).
        error = Http1Errc::response_too_large;
        if (c->parser) x->response.status = static_cast<int>(c->parser->get().result_int());
    }
    else if (!error || error == std_error(beast::http::error::end_of_stream) || error == std_error(asio::error::eof))
        error = Http1Errc::closed;
    finish(x, error);
    serve_waiting();
}

void Http1Client::send(ExchangePtr x, ConnectionPtr c) {
    x->connection = c;
    x->on_reused = c->used;
    c->used = true;
    c->parser.emplace();
    c->parser->body_limit(kMaxResponseBody);
    c->with_stream([&](auto& stream) {
        const std::array<asio::const_buffer, 2> out{asio::buffer(x->head), asio::buffer(x->request.body)};
        asio::async_write(stream, out, [this, alive = std::weak_ptr<bool>(alive_), x, c, &stream](
                                           const boost::system::error_code& writing, std::size_t) {
            if (alive.expired()) return;
            if (writing || !c->open) return not_answered(x, c, writing, false);
            // The head first, then the body: Beast 1.74's parser misses the body limit of a
            // Content-Length answer whose head and body come in one read (its eager mode, which
            // async_read turns on); reading the head alone, it sees the length and refuses it.
            beast::http::async_read_header(stream, c->buffer, *c->parser, [this, alive, x, c, &stream](
                                                                            const boost::system::error_code& heading, std::size_t) {
                if (alive.expired()) return;
                if (heading || !c->open) return not_answered(x, c, heading, c->parser->got_some());
                beast::http::async_read(stream, c->buffer, *c->parser, [this, alive, x, c](
                                                                         const boost::system::error_code& reading, std::size_t) {
                    if (alive.expired()) return;
                    if (reading || !c->open) return not_answered(x, c, reading, true);
                    answered(x, c);
                });
            });
        });
    });
}

void Http1Client::answered(const ExchangePtr& x, const ConnectionPtr& c) {
    auto& answer = c->parser->get();
    HttpResponse& r = x->response;
    r.request_sent = true;
    r.status = static_cast<int>(answer.result_int());
    for (const auto& field : answer) {
        std::string name(field.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[std::move(name)] = std::string(field.value());
    }
    r.body = std::move(answer.body());
    const bool keep = answer.keep_alive();
    c->parser.reset();
    release(c, keep);
    finish(x, {});
}

void Http1Client::release(ConnectionPtr c, bool reusable) {
    if (!reusable || !c->open) {
        close(c);
        serve_waiting();
        return;
    }
    // A request waiting for a connection takes this one: its own origin's first, else the
    // connection makes room for the oldest waiting request's origin.
    if (!waiting_.empty()) {
        auto same = std::find_if(waiting_.begin(), waiting_.end(), [&](const ExchangePtr& x) { return x->origin == c->origin; });
        if (same != waiting_.end()) {
            ExchangePtr x = std::move(*same);
            waiting_.erase(same);
            return send(std::move(x), std::move(c));
        }
        close(c);
        serve_waiting();
        return;
    }
    c->idle_since = std::chrono::steady_clock::now();
    c->origin->idle.push_back(std::move(c));
}

void Http1Client::serve_waiting() {
    while (!waiting_.empty() && connections_ < options_.max_connections) {
        ExchangePtr x = std::move(waiting_.front());
        waiting_.pop_front();
        start(std::move(x));
    }
}

void Http1Client::close(const ConnectionPtr& c) {
    if (!c->open) return;
    c->open = false;
    --connections_;
    open_.erase(c.get());
    boost::system::error_code ignored;
    c->resolver.cancel();
    c->socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->socket().close(ignored);
}

void Http1Client::finish(ExchangePtr x, std::error_code error) {
    if (x->finished) return;
    x->finished = true;
    --in_flight_;
    x->timer.cancel();
    x->connection.reset();
    x->response.error = error;
    x->response.elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - x->started);
    // From a completion handler: a driver's callback may send its next request at once.
    Done done = std::move(x->done);
    done(std::move(x->response));
}

}  // namespace crieur
