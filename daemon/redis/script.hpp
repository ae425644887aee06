// A Lua script run by its SHA-1 (EVALSHA): Redis keeps a script after its first EVAL, and each
// call then carries 40 bytes instead of the script's text. A Redis that does not know it (one
// restarted, or a replica just promoted by a failover) answers NOSCRIPT, and the call is made once
// more with the text. Use from the io_context's thread only.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/redis/hiredis_asio.hpp"

namespace crieur::redis {

class Script {
public:
    explicit Script(std::string_view text);
    const std::string& text() const { return text_; }
    const std::string& sha1() const { return sha1_; }

    // EVALSHA sha1 <number of keys> keys... args...; `done` as RedisConnection::command's.
    void run(RedisConnection& conn, std::initializer_list<std::string_view> keys,
             std::initializer_list<std::string_view> args, RedisConnection::Callback done) const;
    // The same with many arguments (a page of jobs), moved into the call.
    void run(RedisConnection& conn, std::initializer_list<std::string_view> keys, std::vector<std::string> args,
             RedisConnection::Callback done) const;

private:
    std::string text_, sha1_;
};

}  // namespace crieur::redis
