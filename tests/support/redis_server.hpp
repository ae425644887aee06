// Test support: a real redis-server on a free loopback port, in its own folder, with the
// persistence crieur's no-loss promise needs (AOF, appendfsync everysec). stop() and start()
// again keep the data, as a restarted production Redis would. Test code only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/redis/sync_client.hpp"
#include "support/process.hpp"

namespace crieur::test {

class RedisServer {
public:
    // `extra_args`: more redis-server options ("--replicaof", "127.0.0.1", "6379").
    explicit RedisServer(const std::string& dir, std::vector<std::string> extra_args = {});
    ~RedisServer();

    void start();
    // SIGTERM: Redis writes its AOF and exits.
    void stop();
    // SIGKILL: what a crashed machine does (no last write).
    void kill9();
    int port() const { return port_; }
    redis::SyncClient client() const { return redis::SyncClient("127.0.0.1", port_); }

private:
    std::string dir_;
    std::vector<std::string> extra_args_;
    int port_;
    std::unique_ptr<Process> process_;
};

// A Redis Sentinel (redis-server --sentinel) on a free loopback port, watching `primary_port` as
// the set `master_name`, quick to act: the primary is down after 1 s without answers.
class RedisSentinel {
public:
    RedisSentinel(const std::string& dir, const std::string& master_name, int primary_port, int quorum = 2);
    ~RedisSentinel();
    int port() const { return port_; }
    redis::SyncClient client() const { return redis::SyncClient("127.0.0.1", port_); }

private:
    int port_;
    std::unique_ptr<Process> process_;
};

}  // namespace crieur::test
