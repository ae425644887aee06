// The dashboard's sign-ins: who is signed in (SessionBook) and who is trying too often
// (LoginThrottle). Both are in memory, per daemon: a restart signs everyone out, which is what an
// agent expects of an intranet page after an upgrade. Times are given by the caller (milliseconds
// of the daemon's clock), so that the tests can move them. Use from one thread (the io_context's).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "daemon/ui/operators.hpp"

namespace crieur::ui {

// 32 random bytes, base64url (43 characters): a session or CSRF token.
std::string random_token();
// Compares in constant time for equal sizes (a CSRF token against the session's).
bool same_token(std::string_view a, std::string_view b);

struct Session {
    std::string operator_name;
    Role role = Role::viewer;
    std::string csrf;  // the token every form of this session carries (synchronizer token)
    std::int64_t opened_ms = 0, seen_ms = 0;
};

class SessionBook {
public:
    // A session ends after `idle_ms` without a request, and `max_ms` after it opened, whatever.
    SessionBook(std::int64_t idle_ms, std::int64_t max_ms) : idle_ms_(idle_ms), max_ms_(max_ms) {}
    void set_limits(std::int64_t idle_ms, std::int64_t max_ms) {
        idle_ms_ = idle_ms;
        max_ms_ = max_ms;
    }

    // A new session's token (the cookie's value). An operator has at most kPerOperator sessions:
    // past that, their least recently used one ends (memory stays bounded, whatever a script does).
    std::string open(std::string operator_name, Role role, std::int64_t now_ms);
    static constexpr std::size_t kPerOperator = 20;
    // The live session of that token, its last request moved to now (unless `touch` is false: a
    // page refreshing itself is not the agent at work); nullptr when there is none or it expired
    // (then it is gone).
    const Session* find(std::string_view token, std::int64_t now_ms, bool touch = true);
    void close(std::string_view token);
    // Ends the sessions `keep` says no to (an account disabled, removed, or its role changed).
    void retain(const std::function<bool(const Session&)>& keep);
    // Drops the expired ones (each minute), so that abandoned sessions do not pile up.
    void sweep(std::int64_t now_ms);
    std::size_t size() const { return sessions_.size(); }

private:
    bool expired(const Session& s, std::int64_t now_ms) const {
        return now_ms - s.seen_ms >= idle_ms_ || now_ms - s.opened_ms >= max_ms_;
    }
    std::int64_t idle_ms_, max_ms_;
    std::unordered_map<std::string, Session> sessions_;  // by token
};

// Failed sign-ins counted per account name and per client address over a window: past the limit,
// further attempts are refused without checking the password until the window's oldest failure
// ages out. Per name, so that nobody can guess one account's password; per address, so that
// one machine cannot try many names. A success clears the name's failures.
class LoginThrottle {
public:
    struct Limits {
        int per_name = 5;
        int per_address = 20;
        std::int64_t window_ms = 15 * 60'000;
    };
    LoginThrottle() = default;
    explicit LoginThrottle(Limits limits) : limits_(limits) {}
    // Milliseconds until `name` from `address` may try again; 0: now.
    std::int64_t wait_ms(const std::string& name, const std::string& address, std::int64_t now_ms);
    void failed(const std::string& name, const std::string& address, std::int64_t now_ms);
    void succeeded(const std::string& name);

private:
    using Failures = std::deque<std::int64_t>;
    std::int64_t wait_of(std::unordered_map<std::string, Failures>& book, const std::string& key, int limit,
                         std::int64_t now_ms);
    void forget_old(std::int64_t now_ms);
    Limits limits_;
    std::unordered_map<std::string, Failures> by_name_, by_address_;
    std::int64_t last_forget_ms_ = 0;
};

}  // namespace crieur::ui
