#include "daemon/redis/script.hpp"

#include <openssl/sha.h>

#include <memory>
#include <vector>

#include "channels/encoding.hpp"

namespace crieur::redis {

Script::Script(std::string_view text) : text_(text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text_.data()), text_.size(), digest);
    sha1_ = hex_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

void Script::run(RedisConnection& conn, std::initializer_list<std::string_view> keys,
                 std::initializer_list<std::string_view> args, RedisConnection::Callback done) const {
    run(conn, keys, std::vector<std::string>(args.begin(), args.end()), std::move(done));
}

void Script::run(RedisConnection& conn, std::initializer_list<std::string_view> keys, std::vector<std::string> args,
                 RedisConnection::Callback done) const {
    // The call as sent, kept for the one retry with the text (the caller's views may not live).
    auto call = std::make_shared<std::vector<std::string>>();
    call->reserve(3 + keys.size() + args.size());
    call->insert(call->end(), {"EVALSHA", sha1_, std::to_string(keys.size())});
    call->insert(call->end(), keys.begin(), keys.end());
    call->insert(call->end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    std::vector<std::string_view> argv(call->begin(), call->end());
    conn.command(argv, [this, &conn, call, done = std::move(done)](const redisReply* r) mutable {
        if (!r || r->type != REDIS_REPLY_ERROR || !std::string_view(r->str, r->len).starts_with("NOSCRIPT")) return done(r);
        (*call)[0] = "EVAL";
        (*call)[1] = text_;
        std::vector<std::string_view> again(call->begin(), call->end());
        conn.command(again, [call, done = std::move(done)](const redisReply* reply) { done(reply); });
    });
}

}  // namespace crieur::redis
