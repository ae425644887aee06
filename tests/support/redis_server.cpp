#include "support/redis_server.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace crieur::test {

RedisServer::RedisServer(const std::string& dir, std::vector<std::string> extra_args)
    : dir_(dir), extra_args_(std::move(extra_args)), port_(free_port()) {
    std::filesystem::create_directories(dir_);
    start();
}

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
    const char* bin = std::getenv("REDIS_SERVER");
    std::vector<std::string> argv{bin ? bin : "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--dir", dir_, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                                  "--daemonize", "no", "--protected-mode", "yes"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    process_ = std::make_unique<Process>(argv, dir_ + "/redis.log");
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

void RedisServer::kill9() {
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
    process_.reset();
}

RedisSentinel::RedisSentinel(const std::string& dir, const std::string& master_name, int primary_port, int quorum)
    : port_(free_port()) {
    std::filesystem::create_directories(dir);
    // A sentinel rewrites its config file as it learns: it must be its own, and writable.
    const std::string conf = dir + "/sentinel.conf";
    std::ofstream(conf) << "port " << port_ << "\nbind 127.0.0.1\ndir " << dir << "\n"
                        << "sentinel monitor " << master_name << " 127.0.0.1 " << primary_port << " " << quorum << "\n"
                        << "sentinel down-after-milliseconds " << master_name << " 1000\n"
                        << "sentinel failover-timeout " << master_name << " 10000\n"
                        << "sentinel parallel-syncs " << master_name << " 1\n";
    const char* bin = std::getenv("REDIS_SERVER");
    process_ = std::make_unique<Process>(std::vector<std::string>{bin ? bin : "redis-server", conf, "--sentinel"},
                                         dir + "/sentinel.log");
    const bool up = wait_until(
        [&] {
            try {
                return client().command({"PING"})->type == REDIS_REPLY_STATUS;
            } catch (const std::exception&) {
                return false;
            }
        },
        std::chrono::seconds(10));
    if (!up) throw std::runtime_error("redis sentinel did not start on port " + std::to_string(port_) + " (see " + dir + "/sentinel.log)");
}

RedisSentinel::~RedisSentinel() {
    process_->signal(SIGTERM);
    if (process_->wait(std::chrono::seconds(10)) < 0) process_->signal(SIGKILL);
}

}  // namespace crieur::test
