// Http1Client against real sockets: a scripted server on its own thread (plain TCP, or TLS with a
// certificate made here with OpenSSL) that counts its connections and answers as each case needs.
#include <utility>  // GCC 12 with Boost 1.74's Asio
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <thread>

#include "channels/http1_client.hpp"
#include "channels/http_client.hpp"
#include "support/process.hpp"

using namespace crieur;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A request as the server read it: its head (request line and headers) and its body.
struct Seen {
    std::string head, body;
};

// Reads one request from `s` (Content-Length bodies only, as the client sends); false at EOF.
template <class Stream>
bool read_request(Stream& s, asio::streambuf& in, Seen& out) {
    boost::system::error_code ec;
    const std::size_t n = asio::read_until(s, in, "\r\n\r\n", ec);
    if (ec) return false;
    std::string head(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + static_cast<std::ptrdiff_t>(n));
    in.consume(n);
    std::size_t length = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos) length = std::stoul(head.substr(at + 16));
    if (in.size() < length) asio::read(s, in, asio::transfer_exactly(length - in.size()), ec);
    if (ec) return false;
    out.head = head;
    out.body.assign(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + static_cast<std::ptrdiff_t>(length));
    in.consume(length);
    return true;
}

std::string answer(int status, const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Accepts connections on 127.0.0.1 and runs `serve` for each on a thread of its own. With a TLS
// context, each connection does its handshake first (a failed one is counted, not served).
// Declared before the client: a connection's thread ends when the client closes it.
class ScriptedServer {
public:
    using Serve = std::function<void(std::function<bool(Seen&)> next, std::function<void(const std::string&)> write)>;

    explicit ScriptedServer(Serve serve, asio::ssl::context* tls = nullptr)
        : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), serve_(std::move(serve)), tls_(tls) {
        thread_ = std::thread([this] { run(); });
    }
    ~ScriptedServer() {
        stopping_ = true;
        boost::system::error_code ignored;
        tcp::socket poke(io_);
        poke.connect(acceptor_.local_endpoint(), ignored);  // wakes accept()
        thread_.join();
        for (auto& t : served_) t.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    int connections() const { return connections_; }
    int failed_handshakes() const { return failed_handshakes_; }
    std::string url(const std::string& path = "/send") const {
        return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
    }

private:
    void run() {
        while (!stopping_) {
            tcp::socket s(io_);
            boost::system::error_code ec;
            acceptor_.accept(s, ec);
            if (ec || stopping_) break;
            ++connections_;
            served_.emplace_back([this, s = std::move(s)]() mutable { serve(std::move(s)); });
        }
    }
    void serve(tcp::socket s) {
        asio::streambuf in;
        boost::system::error_code ec;
        if (tls_) {
            asio::ssl::stream<tcp::socket> secure(std::move(s), *tls_);
            secure.handshake(asio::ssl::stream_base::server, ec);
            if (ec) {
                ++failed_handshakes_;
                return;
            }
            serve_([&](Seen& r) { return read_request(secure, in, r); },
                   [&](const std::string& bytes) { asio::write(secure, asio::buffer(bytes), ec); });
        } else {
            serve_([&](Seen& r) { return read_request(s, in, r); },
                   [&](const std::string& bytes) { asio::write(s, asio::buffer(bytes), ec); });
        }
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    Serve serve_;
    asio::ssl::context* tls_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0}, failed_handshakes_{0};
    std::thread thread_;
    std::vector<std::thread> served_;  // one per connection, joined at the end
};

// One request through the client, run to its end.
HttpResponse fetch(Http1Client& client, asio::io_context& io, HttpRequest request) {
    std::optional<HttpResponse> out;
    io.restart();  // a previous fetch may have run it out of work
    client.perform(std::move(request), [&](HttpResponse r) { out = std::move(r); });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!out && std::chrono::steady_clock::now() < deadline) io.run_one_for(20ms);
    REQUIRE(out);
    return std::move(*out);
}

HttpRequest post(const std::string& url, std::string body = R"({"to":"+33600000000"})") {
    HttpRequest r;
    r.url = url;
    r.body = std::move(body);
    r.timeout = 2s;
    return r;
}

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1"), written as PEM: key and certificate.
void make_certificate(const std::string& san, const std::string& key_path, const std::string& cert_path) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    REQUIRE(key);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("crieur test"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    REQUIRE(ext);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    std::FILE* k = std::fopen(key_path.c_str(), "w");
    PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(k);
    std::FILE* c = std::fopen(cert_path.c_str(), "w");
    PEM_write_X509(c, cert.get());
    std::fclose(c);
}

}  // namespace

TEST_CASE("http1 client: requests share one kept-alive connection, and carry the driver's headers and body") {
    std::vector<Seen> seen;  // one connection: written by one server thread, read after it answered
    ScriptedServer server([&](auto next, auto write) {
        Seen r;
        while (next(r)) {
            seen.push_back(r);
            write(answer(201, R"({"sid":"SM)" + std::to_string(seen.size()) + "\"}", "X-Twilio-Request: RQ1\r\n"));
        }
    });
    asio::io_context io;
    Http1Client client(io, {});
    auto fixed = std::make_shared<const HttpHeaders>(std::vector<std::pair<std::string, std::string>>{
        {"Content-Type", "application/x-www-form-urlencoded"}});
    for (int i = 0; i < 50; ++i) {
        HttpRequest r = post(server.url("/2010-04-01/Accounts/AC1/Messages.json?x=1"), "To=%2B336&Body=n" + std::to_string(i));
        r.fixed_headers = fixed;
        r.basic_auth = "AC1:secret";
        r.headers = {{"Idempotency-Key", "job-" + std::to_string(i)}};
        const HttpResponse got = fetch(client, io, std::move(r));
        REQUIRE_FALSE(got.error);
        CHECK(got.status == 201);
        CHECK(got.body == R"({"sid":"SM)" + std::to_string(i + 1) + "\"}");
        CHECK(got.headers.at("x-twilio-request") == "RQ1");  // names lower-cased
        CHECK(got.request_sent);
    }
    CHECK(server.connections() == 1);
    CHECK(client.connections_opened() == 1);
    REQUIRE(seen.size() == 50);
    const std::string& head = seen[7].head;
    CHECK(head.rfind("POST /2010-04-01/Accounts/AC1/Messages.json?x=1 HTTP/1.1\r\n", 0) == 0);
    CHECK(head.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") != std::string::npos);
    CHECK(head.find("\r\nAuthorization: Basic QUMxOnNlY3JldA==\r\n") != std::string::npos);
    CHECK(head.find("\r\nContent-Type: application/x-www-form-urlencoded\r\n") != std::string::npos);
    CHECK(head.find("\r\nIdempotency-Key: job-7\r\n") != std::string::npos);
    CHECK(seen[7].body == "To=%2B336&Body=n7");
}

TEST_CASE("http1 client: a connection the server closed while idle is replaced, and the request is not lost") {
    // Each connection serves one request, then the server closes it without a word.
    std::atomic<int> requests{0};
    ScriptedServer server([&](auto next, auto write) {
        Seen r;
        if (!next(r)) return;
        ++requests;
        write(answer(200, "{}"));
    });
    asio::io_context io;
    Http1Client client(io, {});
    for (int i = 0; i < 3; ++i) {
        const HttpResponse got = fetch(client, io, post(server.url()));
        REQUIRE_FALSE(got.error);
        CHECK(got.status == 200);
        std::this_thread::sleep_for(20ms);  // the close reaches us before the next request
    }
    CHECK(requests == 3);
    CHECK(server.connections() == 3);
}

TEST_CASE("http1 client: a server that says Connection: close gets a new connection for the next request") {
    ScriptedServer server([&](auto next, auto write) {
        Seen r;
        while (next(r)) write(answer(200, "{}", "Connection: close\r\n"));
    });
    asio::io_context io;
    Http1Client client(io, {});
    for (int i = 0; i < 3; ++i) CHECK(fetch(client, io, post(server.url())).status == 200);
    CHECK(server.connections() == 3);
    CHECK(client.connections() == 0);
}

TEST_CASE("http1 client: no answer in time is a timeout after the request left, and nobody listening is not sent") {
    ScriptedServer server([&](auto next, auto) {
        Seen r;
        while (next(r)) {
        }  // reads, never answers
    });
    asio::io_context io;
    Http1Client client(io, {});
    HttpRequest slow = post(server.url());
    slow.timeout = 300ms;
    const auto started = std::chrono::steady_clock::now();
    const HttpResponse late = fetch(client, io, std::move(slow));
    CHECK(late.timed_out());
    CHECK(late.request_sent);
    CHECK(late.status == 0);
    CHECK(std::chrono::steady_clock::now() - started < 2s);

    const HttpResponse refused = fetch(client, io, post("http://127.0.0.1:" + std::to_string(test::free_port()) + "/x"));
    CHECK(refused.error);
    CHECK_FALSE(refused.timed_out());
    CHECK_FALSE(refused.request_sent);
    CHECK(client.in_flight() == 0);
}

TEST_CASE("http1 client: an answer over 1 MiB is cut, and chunked answers are read whole") {
    ScriptedServer server([&](auto next, auto write) {
        Seen r;
        while (next(r)) {
            if (r.head.find("/huge") != std::string::npos) write(answer(400, std::string(2 << 20, 'x')));
            else write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n3\r\n12}\r\n0\r\n\r\n");
        }
    });
    asio::io_context io;
    Http1Client client(io, {});
    const HttpResponse huge = fetch(client, io, post(server.url("/huge")));
    CHECK(huge.error == std::error_code(Http1Errc::response_too_large));
    CHECK(huge.status == 400);  // the driver still reads a refusal from the status line
    CHECK(huge.body.empty());
    const HttpResponse chunked = fetch(client, io, post(server.url("/chunked")));
    CHECK_FALSE(chunked.error);
    CHECK(chunked.body == R"({"a":12})");
}

TEST_CASE("http1 client: requests beyond max_connections wait for one, then all complete") {
    std::atomic<int> served{0};
    ScriptedServer server([&](auto next, auto write) {
        Seen r;
        while (next(r)) {
            ++served;
            write(answer(200, "{}"));
        }
    });
    asio::io_context io;
    Http1Client client(io, {.max_connections = 2});
    int done = 0;
    io.restart();
    for (int i = 0; i < 10; ++i)
        client.perform(post(server.url()), [&](HttpResponse r) {
            CHECK_FALSE(r.error);
            ++done;
        });
    CHECK(client.in_flight() == 10);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done < 10 && std::chrono::steady_clock::now() < deadline) io.run_one_for(20ms);
    CHECK(done == 10);
    CHECK(served == 10);
    CHECK(client.connections() <= 2);
    CHECK(server.connections() == 2);
}

TEST_CASE("http1 client: TLS is verified: the right CA passes, an unknown one or another host name fails") {
    test::TempDir dir;
    make_certificate("IP:127.0.0.1", dir / "key.pem", dir / "cert.pem");
    make_certificate("DNS:provider.example", dir / "other-key.pem", dir / "other-cert.pem");
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(dir / "cert.pem");
    tls.use_private_key_file(dir / "key.pem", asio::ssl::context::pem);
    ScriptedServer server([&](auto next, auto write) {
        Seen r;
        while (next(r)) write(answer(200, R"({"ok":true})"));
    }, &tls);

    asio::io_context io;
    {
        Http1Client trusting(io, {.ca_path = dir / "cert.pem"});
        for (int i = 0; i < 3; ++i) {
            const HttpResponse got = fetch(trusting, io, post(server.url()));
            REQUIRE_FALSE(got.error);
            CHECK(got.body == R"({"ok":true})");
        }
        CHECK(trusting.connections_opened() == 1);
    }
    {
        Http1Client system_store(io, {});  // the system's CAs do not know this certificate
        const HttpResponse got = fetch(system_store, io, post(server.url()));
        CHECK(got.error);
        CHECK_FALSE(got.request_sent);
        CHECK(got.status == 0);
    }
    {
        Http1Client wrong_ca(io, {.ca_path = dir / "other-cert.pem"});
        CHECK(fetch(wrong_ca, io, post(server.url())).error);
    }
    {
        Http1Client unverified(io, {.verify_tls = false});  // the operator's explicit choice
        CHECK(fetch(unverified, io, post(server.url())).status == 200);
    }
}

TEST_CASE("http1 client: a URL it cannot request, or a header with a line break, fails without a connection") {
    asio::io_context io;
    Http1Client client(io, {});
    CHECK(fetch(client, io, post("ftp://127.0.0.1/x")).error == std::error_code(Http1Errc::bad_url));
    CHECK(fetch(client, io, post("not a url")).error == std::error_code(Http1Errc::bad_url));
    HttpRequest injected = post("http://127.0.0.1:1/x");
    injected.headers = {{"X-Job", "1\r\nX-Evil: 1"}};
    CHECK(fetch(client, io, std::move(injected)).error == std::error_code(Http1Errc::bad_url));
    CHECK(client.connections_opened() == 0);
}
