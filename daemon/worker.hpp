// Worker: one thread that runs tasks in the order they come, for the work that must not run on
// an io_context thread (a SQLite file, a long read). The state the tasks touch belongs to the
// worker's thread alone; results go back to the io_context with boost::asio::post.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/log.hpp"

namespace crieur {

class Worker {
public:
    explicit Worker(const char* name) : name_(name), thread_([this] { loop(); }) {}
    ~Worker() { stop(); }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void post(std::function<void()> task) {
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(std::move(task));
        }
        wake_.notify_one();
    }

    // Runs `work` on the worker; `done` gets its result on `io`, or nullopt when `work` threw
    // (logged with the worker's name).
    template <class R, class Work>
    void run(boost::asio::io_context& io, Work work, std::function<void(std::optional<R>)> done) {
        post([this, &io, work = std::move(work), done = std::move(done)]() mutable {
            std::optional<R> result;
            try {
                result = work();
            } catch (const std::exception& e) {
                spdlog::error("{}: {}", name_, e.what());
            }
            boost::asio::post(io, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
        });
    }

    // Runs what is queued, then ends the thread.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    std::size_t depth() const {
        std::lock_guard lock(mutex_);
        return tasks_.size();
    }

private:
    void loop() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
                if (tasks_.empty()) return;
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            try {
                task();
            } catch (const std::exception& e) {
                spdlog::error("{}: {}", name_, e.what());
            }
        }
    }

    const char* name_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;  // last: started once the rest is built
};

}  // namespace crieur
