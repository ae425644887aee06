// What the provider emulators share: a blocking HTTP/1.1 server (a thread per connection, keep-
// alive), JSON answers, and an outgoing POST for the providers' status callbacks. Test tools
// only: they may block, they are not crieurd.
#pragma once

#include <utility>  // GCC 12 with Boost 1.74's Asio
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <curl/curl.h>

#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A handler's answer that means: drop the connection without a word (a fault mode).
inline Response drop_connection() { return Response{static_cast<http::status>(599), 11}; }

inline Response json(unsigned status, const std::string& body, unsigned version) {
    Response res{static_cast<http::status>(status), version};
    res.set(http::field::content_type, "application/json; charset=utf-8");
    res.body() = body;
    res.prepare_payload();
    return res;
}

// Serves on 127.0.0.1:port for ever, one thread per connection.
[[noreturn]] inline void serve(unsigned short port, const char* name, std::function<Response(const Request&)> handle) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
    std::printf("%s listening on 127.0.0.1:%u\n", name, acceptor.local_endpoint().port());
    std::fflush(stdout);
    for (;;) {
        tcp::socket socket(io);
        acceptor.accept(socket);
        std::thread([socket = std::move(socket), handle]() mutable {
            beast::flat_buffer buffer;
            beast::error_code ec;
            for (;;) {
                Request req;
                http::read(socket, buffer, req, ec);
                if (ec) break;
                Response res = handle(req);
                if (res.result_int() == 599) break;  // drop_connection()
                res.keep_alive(req.keep_alive());
                http::write(socket, res, ec);
                if (ec || !req.keep_alive()) break;
            }
            socket.shutdown(tcp::socket::shutdown_send, ec);
        }).detach();
    }
}

// POSTs a callback; returns the HTTP status (0 when nothing answered).
inline long post(const std::string& url, const std::string& body, const std::vector<std::string>& headers) {
    CURL* c = curl_easy_init();
    curl_slist* list = nullptr;
    for (auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t s, std::size_t n, void*) { return s * n; });
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return code;
}

}  // namespace emulator
