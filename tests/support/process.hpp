// Test support: a child process (posix_spawn) owned by an RAII object, with its output in a log
// file; a temporary folder removed at the end; free ports; polling with a deadline; a tiny
// blocking HTTP GET. Test code only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace crieur::test {

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

class Process {
public:
    Process(std::vector<std::string> argv, const std::string& log_path, std::vector<std::string> extra_env = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    void signal(int signo);
    // Waits for the process to exit; returns its exit code, 128 + signal when killed, or -1 on timeout.
    int wait(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    int status_ = -1;
    bool reaped_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

// Polls `done` every `every` until it is true (returns true) or `timeout` passes (returns false).
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(20));

struct HttpResult {
    int status = 0;
    std::string body;
    std::string head;  // the status line and the header lines, as received
    // A response header's value (name matched without regard to case), or empty.
    std::string header(const std::string& name) const;
};
// GET http://127.0.0.1:port/path with Connection: close; status 0 when nothing answered.
HttpResult http_get(int port, const std::string& path);
// POST, with extra header lines ("Name: value").
HttpResult http_post(int port, const std::string& path, const std::string& body,
                     const std::vector<std::string>& headers = {});

// Any method, with extra header lines.
HttpResult http_request(int port, const std::string& method, const std::string& path, const std::string& body = {},
                        const std::vector<std::string>& headers = {});

std::string read_file(const std::string& path);
std::size_t count_lines(const std::string& path);

}  // namespace crieur::test
