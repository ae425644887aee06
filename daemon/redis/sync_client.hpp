// SyncClient: a blocking hiredis connection for the command-line tools, the tests and the
// benchmarks. Never used inside crieurd (it would block the io_context).
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/redis/address.hpp"

namespace crieur::redis {

struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

class SyncClient {
public:
    SyncClient(const std::string& host, int port, const std::string& password = {}, int timeout_ms = 5000);

    // Sends one command and waits for its reply; throws std::runtime_error when the connection fails.
    ReplyPtr command(const std::vector<std::string_view>& args);
    // Pipelining: append many, then read their replies in order.
    void append(const std::vector<std::string_view>& args);
    ReplyPtr reply();

    // Convenience: an integer reply (or -1).
    long long integer(const std::vector<std::string_view>& args);

private:
    struct Free {
        void operator()(redisContext* c) const { redisFree(c); }
    };
    std::unique_ptr<redisContext, Free> ctx_;
};

// The primary of `master_name` as the first sentinel that answers names it; throws
// std::runtime_error when none does.
Address primary_from_sentinels(const std::vector<Address>& sentinels, const std::string& master_name,
                               const std::string& sentinel_password = {});

// The text of a string/status/error reply.
inline std::string_view text(const redisReply* r) {
    return r && r->str ? std::string_view(r->str, r->len) : std::string_view{};
}

}  // namespace crieur::redis
