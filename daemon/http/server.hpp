// HttpServer: the operators' HTTP endpoint (Boost.Beast), in the shape of Beast's async server
// example: a listener, and a session per connection with a timeout and a body limit before every
// read. Beast stays inside server.cpp; handlers see http::Request/Response from routes.hpp.
// Use from the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "daemon/http/routes.hpp"

namespace crieur::http {

class HttpServer {
public:
    // `exposure`: which of the table's routes this listener serves (the others answer 404).
    HttpServer(boost::asio::io_context& io, const Routes& routes, Exposure exposure = Exposure::all);
    ~HttpServer();

    // Binds and starts accepting; throws std::system_error when the address cannot be bound.
    // Past `max_connections` open at once, a new connection is closed as soon as it is accepted.
    void start(const std::string& address, unsigned short port, int max_connections = 1024);
    void stop();
    unsigned short port() const;

private:
    class Listener;
    boost::asio::io_context& io_;
    const Routes& routes_;
    Exposure exposure_;
    std::shared_ptr<Listener> listener_;
};

}  // namespace crieur::http
