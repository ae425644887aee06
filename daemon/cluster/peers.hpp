// Several daemons as one (issue 13): each daemon that shares the streams (redis.claim_job_ids)
// registers its internal listener's URL in Redis, and the API asks the others for what its own
// receipts do not hold. A message's receipts live in the SQLite file of the daemon that handled
// it, so a lookup is **forwarded** (to every peer at once, the first that has it answers) and a
// list or a count is **merged** (each daemon's page or counts, combined here): the data stays
// where it was written, no daemon copies another's, and a daemon that is down is said to be.
//
// The registry: a Redis hash `<stream>:daemons`, field = the daemon's consumer name, value =
// "<unix ms> <url>", written every 5 s; a peer not seen for 15 s is left out, one not seen for an
// hour removed. Use from the io_context's thread only.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channels/http_client.hpp"

namespace crieur {
class Clock;
namespace redis {
class RedisConnection;
}
namespace http {
struct Request;
}
}  // namespace crieur

namespace crieur::cluster {

struct Peer {
    std::string name;  // its consumer name
    std::string url;   // its internal listener, "http://10.0.0.5:8080"
    bool operator==(const Peer&) const = default;
};

// The registry's hash, parsed: the peers seen since `fresh_after_ms`, without `self`.
std::vector<Peer> parse_registry(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& self,
                                 std::int64_t fresh_after_ms);

struct PeerAnswer {
    Peer peer;
    HttpResponse response;
};

// A request forwarded from a peer carries this header; it is answered from the local receipts
// only (never forwarded again), with each listed message's cursor so that the asker can merge.
inline constexpr const char* kForwardedHeader = "x-crieur-forwarded";

class PeerDaemons {
public:
    PeerDaemons(boost::asio::io_context& io, redis::RedisConnection& redis, std::string key, std::string self_name,
                std::string self_url, const Clock& clock, HttpClientOptions http);
    ~PeerDaemons();

    // From the daemon's tick: registers this daemon and reads the others, every 5 s.
    void tick();
    // At stop: this daemon leaves the registry, so that no peer asks it meanwhile.
    void leave();

    const std::vector<Peer>& peers() const { return peers_; }
    const std::string& self_name() const { return self_name_; }
    // Asks each peer `path_for(peer)` (none when empty) with the caller's own key (each daemon
    // checks it: the keys file is the same on all of them); `done` gets every answer, failed ones
    // with status 0.
    void ask(const http::Request& req, const std::function<std::string(const Peer&)>& path_for,
             std::function<void(std::vector<PeerAnswer>)> done);

    // Sends the caller's request (its key, its method and body) to one peer by name, as a
    // forwarded request (answered from there only); nullopt when that peer is not among the live
    // ones (down for 15 s, or never seen).
    void forward(const http::Request& req, const std::string& peer_name, const std::string& method,
                 const std::string& path, const std::string& body, std::function<void(std::optional<HttpResponse>)> done);

private:
    redis::RedisConnection& redis_;
    std::string key_, self_name_, self_url_;
    const Clock& clock_;
    HttpClient http_;
    std::vector<Peer> peers_;
    std::chrono::steady_clock::time_point last_{};
    bool reading_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace crieur::cluster
