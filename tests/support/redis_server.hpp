// Test support: a real redis-server on a free loopback port, in its own folder, with the
// persistence crieur's no-loss promise needs (AOF, appendfsync everysec). stop() and start()
// again keep the data, as a restarted production Redis would. Test code only.
#pragma once

#include <memory>
#include <string>

#include "daemon/redis/sync_client.hpp"
#include "support/process.hpp"

namespace crieur::test {

class RedisServer {
public:
    explicit RedisServer(const std::string& dir);
    ~RedisServer();

    void start();
    // SIGTERM: Redis writes its AOF and exits.
    void stop();
    int port() const { return port_; }
    redis::SyncClient client() const { return redis::SyncClient("127.0.0.1", port_); }

private:
    std::string dir_;
    int port_;
    std::unique_ptr<Process> process_;
};

}  // namespace crieur::test
