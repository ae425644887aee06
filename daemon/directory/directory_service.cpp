#include "daemon/directory/directory_service.hpp"

#include "daemon/log.hpp"

namespace crieur::directory {

DirectoryService::DirectoryService(boost::asio::io_context& io, const std::string& path, const Clock& clock)
    : io_(io), clock_(clock), directory_(std::make_unique<Directory>(path)) {
    for (auto& [channel, hash] : directory_->suppressions()) suppressed_.insert(channel + '\n' + hash);
    worker_ = std::thread([this] { loop(); });
}

DirectoryService::~DirectoryService() { stop(); }

void DirectoryService::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (worker_.joinable()) worker_.join();
}

void DirectoryService::push(bool read_only, std::function<void(Directory&)> task) {
    bool was_empty;
    {
        std::lock_guard lock(mutex_);
        was_empty = queue_.empty();
        queue_.push_back({read_only, std::move(task)});
    }
    if (was_empty) wake_.notify_one();  // otherwise the worker is awake and will drain it
}

std::size_t DirectoryService::queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void DirectoryService::loop() {
    std::deque<Task> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything asked was done
            batch.swap(queue_);
        }
        // Reads in a row share one read transaction: one lock round for the lot.
        bool reading = false;
        for (auto& task : batch) {
            if (task.read_only && !reading) reading = directory_->begin_read();
            if (!task.read_only && reading) {
                directory_->end_read();
                reading = false;
            }
            task.run(*directory_);
        }
        if (reading) directory_->end_read();
        batch.clear();
    }
}

void DirectoryService::log_failure(const char* what) { spdlog::error("directory: {}", what); }

void DirectoryService::lookup(const std::string& id, std::function<void(Lookup)> done, bool with_tags) {
    run<Lookup>(
        [id, with_tags](Directory& d) {
            Lookup l;
            l.citizen = d.get(id, with_tags);
            if (!l.citizen) l.erased = d.erased(id);
            return l;
        },
        [done = std::move(done)](std::optional<Lookup> l) {
            if (!l) {
                Lookup failed;
                failed.error = errc::directory_failed;
                done(std::move(failed));
                return;
            }
            done(std::move(*l));
        },
        true);
}

void DirectoryService::invalidate(const std::string& channel, const std::string& address, const std::string& reason) {
    run<int>([=, &clock = clock_](Directory& d) { return d.mark_contact(channel, address, ContactState::invalid, reason, to_unix_ms(clock.now())); },
             [channel, masked = mask_address(address)](std::optional<int> n) {
                 if (n && *n > 0) spdlog::info("directory: {} contact {} marked invalid ({} citizen(s))", channel, masked, *n);
             });
}

void DirectoryService::opt_out(const std::string& channel, const std::string& address, const std::string& source,
                               Written done) {
    suppressed_.insert(channel + '\n' + hash_key(channel, address));
    run<int>(
        [=, &clock = clock_](Directory& d) {
            return d.in_transaction([&] { return d.opt_out(channel, address, source, to_unix_ms(clock.now())); });
        },
        [channel, source, masked = mask_address(address), done = std::move(done)](std::optional<int> n) {
            if (n) spdlog::info("directory: {} {} opted out ({}): {} citizen(s)", channel, masked, source, *n);
            else spdlog::error("directory: the opt-out of {} {} ({}) could not be written", channel, masked, source);
            if (done) done(n ? std::error_code{} : make_error_code(errc::directory_failed));
        });
}

void DirectoryService::opt_in(const std::string& channel, const std::string& address, const std::string& source,
                              const std::string& opt_out_source, Written done) {
    suppressed_.erase(channel + '\n' + hash_key(channel, address));
    run<int>(
        [=, &clock = clock_](Directory& d) {
            return d.in_transaction(
                [&] { return d.opt_in(channel, address, source, opt_out_source, to_unix_ms(clock.now())); });
        },
        [channel, source, masked = mask_address(address), done = std::move(done)](std::optional<int> n) {
            if (n) spdlog::info("directory: {} {} opted back in ({}): {} citizen(s)", channel, masked, source, *n);
            else spdlog::error("directory: the opt-in of {} {} ({}) could not be written", channel, masked, source);
            if (done) done(n ? std::error_code{} : make_error_code(errc::directory_failed));
        });
}

bool DirectoryService::suppressed(const std::string& channel, const std::string& address) const {
    if (suppressed_.empty()) return false;
    return suppressed_.count(channel + '\n' + hash_key(channel, address)) > 0;
}

void DirectoryService::suppress(const std::string& channel, const std::string& address, const std::string& source,
                                Written done) {
    suppressed_.insert(channel + '\n' + hash_key(channel, address));
    run<bool>(
        [=, &clock = clock_](Directory& d) {
            d.suppress(channel, address, source, to_unix_ms(clock.now()));
            return true;
        },
        [channel, masked = mask_address(address), done = std::move(done)](std::optional<bool> ok) {
            if (!ok) spdlog::error("directory: the suppression of {} {} could not be written", channel, masked);
            if (done) done(ok ? std::error_code{} : make_error_code(errc::directory_failed));
        });
}

}  // namespace crieur::directory
