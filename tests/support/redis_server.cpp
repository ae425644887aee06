#include "support/redis_server.hpp"

#include <signal.h>

#include <filesystem>
#include <stdexcept>

namespace crieur::test {

RedisServer::RedisServer(const std::string& dir) : dir_(dir), port_(free_port()) {
    std::filesystem::create_directories(dir_);
    start();
}

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
    const char* bin = std::getenv("REDIS_SERVER");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{bin ? bin : "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                 "--dir", dir_, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                                 "--daemonize", "no", "--protected-mode", "yes"},
        dir_ + "/redis.log");
    const bool up = wait_until(
        [&] {
            try {
                auto r = client().command({"PING"});
                return r->type == REDIS_REPLY_STATUS;
            } catch (const std::exception&) {
                return false;
            }
        },
        std::chrono::seconds(10));
    if (!up) throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) + " (see " + dir_ + "/redis.log)");
}

void RedisServer::stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    if (process_->wait(std::chrono::seconds(10)) < 0) process_->signal(SIGKILL);
    process_.reset();
}

}  // namespace crieur::test
