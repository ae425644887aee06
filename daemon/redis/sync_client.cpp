#include "daemon/redis/sync_client.hpp"

namespace crieur::redis {

SyncClient::SyncClient(const std::string& host, int port, const std::string& password, int timeout_ms) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ctx_.reset(redisConnectWithTimeout(host.c_str(), port, tv));
    if (!ctx_ || ctx_->err)
        throw std::runtime_error("cannot connect to redis at " + host + ":" + std::to_string(port) + ": " +
                                 (ctx_ ? ctx_->errstr : "out of memory"));
    redisSetTimeout(ctx_.get(), tv);
    if (!password.empty()) {
        auto r = command({"AUTH", password});
        if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("redis AUTH refused: " + std::string(text(r.get())));
    }
}

void SyncClient::append(const std::vector<std::string_view>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(), lens.data()) != REDIS_OK)
        throw std::runtime_error(std::string("redis: ") + ctx_->errstr);
}

ReplyPtr SyncClient::reply() {
    void* r = nullptr;
    if (redisGetReply(ctx_.get(), &r) != REDIS_OK || !r) throw std::runtime_error(std::string("redis: ") + ctx_->errstr);
    return ReplyPtr(static_cast<redisReply*>(r));
}

ReplyPtr SyncClient::command(const std::vector<std::string_view>& args) {
    append(args);
    return reply();
}

long long SyncClient::integer(const std::vector<std::string_view>& args) {
    auto r = command(args);
    return r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

Address primary_from_sentinels(const std::vector<Address>& sentinels, const std::string& master_name,
                               const std::string& sentinel_password) {
    std::string why;
    for (auto& s : sentinels) {
        try {
            SyncClient sentinel(s.host, s.port, sentinel_password, 2000);
            auto r = sentinel.command({"SENTINEL", "get-master-addr-by-name", master_name});
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 2)
                if (auto a = parse_address(std::string(text(r->element[0])) + ":" + std::string(text(r->element[1]))))
                    return *a;
            why = r->type == REDIS_REPLY_ERROR ? std::string(text(r.get())) : "does not know '" + master_name + "'";
        } catch (const std::exception& e) {
            why = e.what();
        }
    }
    throw std::runtime_error("no sentinel names the primary of '" + master_name + "' (last: " + why + ")");
}

}  // namespace crieur::redis
