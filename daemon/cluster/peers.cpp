#include "daemon/cluster/peers.hpp"

#include <algorithm>
#include <charconv>

#include "daemon/clock.hpp"
#include "daemon/http/routes.hpp"
#include "daemon/log.hpp"
#include "daemon/redis/hiredis_asio.hpp"

namespace crieur::cluster {

namespace {
constexpr auto kEvery = std::chrono::seconds(5);
constexpr std::int64_t kFreshMs = 15'000;         // three registrations missed: not asked
constexpr std::int64_t kForgottenMs = 3'600'000;  // an hour: removed from the hash
constexpr auto kPeerTimeout = std::chrono::milliseconds(3000);

std::int64_t seen_ms(const std::string& value) {
    std::int64_t ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    return ec == std::errc{} && end != value.data() + value.size() && *end == ' ' ? ms : 0;
}
}  // namespace

std::vector<Peer> parse_registry(const std::vector<std::pair<std::string, std::string>>& fields, const std::string& self,
                                 std::int64_t fresh_after_ms) {
    std::vector<Peer> out;
    for (auto& [name, value] : fields) {
        const auto ms = seen_ms(value);
        if (name == self || ms < fresh_after_ms || ms == 0) continue;
        std::string url = value.substr(value.find(' ') + 1);
        if (!url.starts_with("http://") && !url.starts_with("https://")) continue;
        while (url.ends_with('/')) url.pop_back();
        out.push_back({name, std::move(url)});
    }
    return out;
}

PeerDaemons::PeerDaemons(boost::asio::io_context& io, redis::RedisConnection& redis, std::string key,
                         std::string self_name, std::string self_url, const Clock& clock, HttpClientOptions http)
    : redis_(redis), key_(std::move(key)), self_name_(std::move(self_name)), self_url_(std::move(self_url)),
      clock_(clock), http_(io, http) {}

PeerDaemons::~PeerDaemons() { *alive_ = false; }

void PeerDaemons::tick() {
    const auto now = clock_.steady();
    if (reading_ || (last_ != std::chrono::steady_clock::time_point{} && now - last_ < kEvery) || !redis_.connected()) return;
    last_ = now;
    reading_ = true;
    const auto now_ms = to_unix_ms(clock_.now());
    redis_.command({"HSET", key_, self_name_, std::to_string(now_ms) + " " + self_url_}, [](const redisReply*) {});
    redis_.command({"HGETALL", key_}, [this, alive = alive_, now_ms](const redisReply* r) {
        if (!*alive) return;
        reading_ = false;
        if (!r || r->type != REDIS_REPLY_ARRAY) return;  // kept as they were: the next tick tries again
        std::vector<std::pair<std::string, std::string>> fields;
        for (std::size_t i = 0; i + 1 < r->elements; i += 2)
            fields.emplace_back(std::string(r->element[i]->str, r->element[i]->len),
                                std::string(r->element[i + 1]->str, r->element[i + 1]->len));
        auto next = parse_registry(fields, self_name_, now_ms - kFreshMs);
        for (auto& p : next)
            if (std::find(peers_.begin(), peers_.end(), p) == peers_.end())
                spdlog::info("cluster: daemon {} at {} shares the streams; its messages are read through it", p.name, p.url);
        for (auto& p : peers_)
            if (std::find(next.begin(), next.end(), p) == next.end())
                spdlog::warn("cluster: daemon {} at {} is no longer registered (stopped, or silent for {} s)", p.name,
                             p.url, kFreshMs / 1000);
        peers_ = std::move(next);
        for (auto& [name, value] : fields)
            if (name != self_name_ && seen_ms(value) < now_ms - kForgottenMs)
                redis_.command({"HDEL", key_, name}, [](const redisReply*) {});
    });
}

void PeerDaemons::leave() {
    redis_.command({"HDEL", key_, self_name_}, [](const redisReply*) {});
}

void PeerDaemons::ask(const http::Request& req, const std::function<std::string(const Peer&)>& path_for,
                      std::function<void(std::vector<PeerAnswer>)> done) {
    struct Gather {
        std::vector<PeerAnswer> answers;
        std::size_t left = 0;
        std::function<void(std::vector<PeerAnswer>)> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->done = std::move(done);
    std::vector<std::pair<std::size_t, std::string>> paths;
    for (auto& p : peers_) {
        auto path = path_for(p);
        if (path.empty()) continue;
        paths.emplace_back(gather->answers.size(), std::move(path));
        gather->answers.push_back({p, {}});
    }
    gather->left = paths.size();
    if (paths.empty()) return gather->done({});
    const std::string authorization = req.header("authorization");
    for (auto& [i, path] : paths) {
        HttpRequest r;
        r.method = "GET";
        r.url = gather->answers[i].peer.url + path;
        r.headers = {{"Authorization", authorization}, {"X-Crieur-Forwarded", self_name_}, {"Accept", "application/json"}};
        r.timeout = kPeerTimeout;
        http_.perform(std::move(r), [gather, i = i](HttpResponse response) {
            if (response.status == 0)
                spdlog::warn("cluster: daemon {} did not answer ({})", gather->answers[i].peer.name, response.error.message());
            gather->answers[i].response = std::move(response);
            if (--gather->left == 0) gather->done(std::move(gather->answers));
        });
    }
}

}  // namespace crieur::cluster

namespace crieur::cluster {

void PeerDaemons::forward(const http::Request& req, const std::string& peer_name, const std::string& method,
                          const std::string& path, const std::string& body,
                          std::function<void(std::optional<HttpResponse>)> done) {
    auto peer = std::find_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.name == peer_name; });
    if (peer == peers_.end()) return done(std::nullopt);
    HttpRequest r;
    r.method = method;
    r.url = peer->url + path;
    r.headers = {{"Authorization", req.header("authorization")}, {"X-Crieur-Forwarded", self_name_},
                 {"Accept", "application/json"}};
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    r.body = body;
    r.timeout = kPeerTimeout;
    http_.perform(std::move(r), [done = std::move(done), name = peer->name](HttpResponse response) {
        if (response.status == 0) spdlog::warn("cluster: daemon {} did not answer ({})", name, response.error.message());
        done(std::move(response));
    });
}

}  // namespace crieur::cluster
