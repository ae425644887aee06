#include "daemon/ui/session_book.hpp"

#include <sodium.h>

#include <stdexcept>

namespace crieur::ui {

std::string random_token() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    unsigned char bytes[32];
    randombytes_buf(bytes, sizeof bytes);
    char text[sodium_base64_ENCODED_LEN(sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(text, sizeof text, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return text;
}

bool same_token(std::string_view a, std::string_view b) {
    if (a.size() != b.size() || a.empty()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string SessionBook::open(std::string operator_name, Role role, std::int64_t now_ms) {
    std::size_t theirs = 0;
    auto oldest = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (it->second.operator_name != operator_name) continue;
        ++theirs;
        if (oldest == sessions_.end() || it->second.seen_ms < oldest->second.seen_ms) oldest = it;
    }
    if (theirs >= kPerOperator) sessions_.erase(oldest);
    std::string token = random_token();
    sessions_[token] = Session{std::move(operator_name), role, random_token(), now_ms, now_ms};
    return token;
}

const Session* SessionBook::find(std::string_view token, std::int64_t now_ms, bool touch) {
    auto it = sessions_.find(std::string(token));
    if (it == sessions_.end()) return nullptr;
    if (expired(it->second, now_ms)) {
        sessions_.erase(it);
        return nullptr;
    }
    if (touch) it->second.seen_ms = now_ms;
    return &it->second;
}

void SessionBook::close(std::string_view token) { sessions_.erase(std::string(token)); }

void SessionBook::retain(const std::function<bool(const Session&)>& keep) {
    std::erase_if(sessions_, [&](const auto& entry) { return !keep(entry.second); });
}

void SessionBook::sweep(std::int64_t now_ms) {
    std::erase_if(sessions_, [&](const auto& entry) { return expired(entry.second, now_ms); });
}

std::int64_t LoginThrottle::wait_of(std::unordered_map<std::string, Failures>& book, const std::string& key, int limit,
                                    std::int64_t now_ms) {
    auto it = book.find(key);
    if (it == book.end()) return 0;
    Failures& f = it->second;
    while (!f.empty() && now_ms - f.front() >= limits_.window_ms) f.pop_front();
    if (static_cast<int>(f.size()) < limit) return 0;
    return f.front() + limits_.window_ms - now_ms;
}

std::int64_t LoginThrottle::wait_ms(const std::string& name, const std::string& address, std::int64_t now_ms) {
    forget_old(now_ms);
    return std::max(wait_of(by_name_, name, limits_.per_name, now_ms),
                    wait_of(by_address_, address, limits_.per_address, now_ms));
}

void LoginThrottle::failed(const std::string& name, const std::string& address, std::int64_t now_ms) {
    // Bounded: only the failures a limit can still count are kept.
    auto add = [&](Failures& f, int limit) {
        f.push_back(now_ms);
        while (static_cast<int>(f.size()) > limit) f.pop_front();
    };
    // A flood of made-up names counts against its address; past 100,000 names, new ones are not kept.
    if (by_name_.size() < 100'000 || by_name_.contains(name)) add(by_name_[name], limits_.per_name);
    add(by_address_[address], limits_.per_address);
}

void LoginThrottle::succeeded(const std::string& name) { by_name_.erase(name); }

void LoginThrottle::forget_old(std::int64_t now_ms) {
    // Once a window, the entries whose every failure aged out go: guessed names cannot fill memory
    // for longer than a window.
    if (now_ms - last_forget_ms_ < limits_.window_ms) return;
    last_forget_ms_ = now_ms;
    auto old = [&](const auto& entry) { return entry.second.empty() || now_ms - entry.second.back() >= limits_.window_ms; };
    std::erase_if(by_name_, old);
    std::erase_if(by_address_, old);
}

}  // namespace crieur::ui
