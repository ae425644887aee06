// DirectoryService: the directory for the daemon. One worker thread owns the Directory (SQLite)
// and runs the requests in order; each completion is posted back to the io_context, so callers on
// the io_context never wait on the disk. The suppression list is also kept in memory, on the
// io_context's side, because every inline job is checked against it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "daemon/clock.hpp"
#include "daemon/errors.hpp"
#include "daemon/directory/directory.hpp"

namespace crieur::directory {

struct Lookup {
    std::optional<Citizen> citizen;
    bool erased = false;
    std::error_code error;  // errc::directory_failed: the database could not be read (logged)
};

class DirectoryService {
public:
    // Opens the directory (throws sqlite::Error at start-up) and loads the suppression list.
    DirectoryService(boost::asio::io_context& io, const std::string& path, const Clock& clock);
    ~DirectoryService();
    DirectoryService(const DirectoryService&) = delete;
    DirectoryService& operator=(const DirectoryService&) = delete;

    // Runs `work` on the worker; `done` gets its result on the io_context. An exception in
    // `work` (sqlite::Error) comes back as nullopt.
    // `read_only` work runs with other reads in one read transaction (it must not begin its own).
    template <class R>
    void run(std::function<R(Directory&)> work, std::function<void(std::optional<R>)> done, bool read_only = false) {
        push(read_only, [work = std::move(work), done = std::move(done), &io = io_](Directory& d) mutable {
            std::optional<R> result;
            try {
                result = work(d);
            } catch (const std::exception& e) {
                log_failure(e.what());
            }
            boost::asio::post(io, [done = std::move(done), result = std::move(result)]() mutable {
                done(std::move(result));
            });
        });
    }

    // `with_tags`: the send path's lookups need none (one query fewer per job).
    void lookup(const std::string& id, std::function<void(Lookup)> done, bool with_tags = true);
    // A provider said the address cannot be reached: every contact with it becomes invalid.
    void invalidate(const std::string& channel, const std::string& address, const std::string& reason);

    // The citizen at this address said STOP (or START) on the channel: see Directory::opt_out / opt_in.
    // The in-memory list changes at once; `done` says whether the directory wrote it (no error),
    // so that a confirmation (to Twilio, to the citizen) is only given for what is on disk.
    using Written = std::function<void(std::error_code)>;
    void opt_out(const std::string& channel, const std::string& address, const std::string& source, Written done = {});
    void opt_in(const std::string& channel, const std::string& address, const std::string& source,
                const std::string& opt_out_source, Written done = {});
    // The suppression list (from the io_context's thread).
    bool suppressed(const std::string& channel, const std::string& address) const;
    void suppress(const std::string& channel, const std::string& address, const std::string& source, Written done = {});

    void stop();
    std::size_t queue_depth() const;

private:
    struct Task {
        bool read_only;
        std::function<void(Directory&)> run;
    };
    void push(bool read_only, std::function<void(Directory&)> task);
    void loop();
    static void log_failure(const char* what);

    boost::asio::io_context& io_;
    const Clock& clock_;
    std::unique_ptr<Directory> directory_;
    std::unordered_set<std::string> suppressed_;  // hash_key(channel, address)
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> queue_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace crieur::directory
