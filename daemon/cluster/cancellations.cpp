#include "daemon/cluster/cancellations.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

#include "daemon/log.hpp"
#include "daemon/receipts/receipt_store.hpp"
#include "daemon/redis/hiredis_asio.hpp"

namespace crieur::cluster {

CampaignCancellations::CampaignCancellations(redis::RedisConnection& redis, ReceiptStore& receipts, std::string key,
                                             std::int64_t hold_ms, const Clock& clock)
    : redis_(redis), receipts_(receipts), key_(std::move(key)), keep_ms_(hold_ms + 86'400'000), clock_(clock) {}

void CampaignCancellations::publish(const std::string& campaign) {
    const auto now = to_unix_ms(clock_.now());
    applied_[campaign] = now;
    redis_.command({"HSET", key_, campaign, std::to_string(now)}, [campaign](const redisReply* r) {
        if (!r || r->type == REDIS_REPLY_ERROR)
            spdlog::warn("campaigns: the other daemons could not be told that {} is cancelled (Redis away); cancel it again", campaign);
    });
}

void CampaignCancellations::poll() {
    if (polling_ || !redis_.connected()) return;
    polling_ = true;
    redis_.command({"HGETALL", key_}, [this](const redisReply* r) {
        polling_ = false;
        if (!r || r->type != REDIS_REPLY_ARRAY) return;
        const auto now = to_unix_ms(clock_.now());
        for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
            const std::string campaign(r->element[i]->str, r->element[i]->len);
            const std::string_view value(r->element[i + 1]->str, r->element[i + 1]->len);
            std::int64_t at = 0;
            std::from_chars(value.data(), value.data() + value.size(), at);
            if (at < now - keep_ms_) {
                redis_.command({"HDEL", key_, campaign}, [](const redisReply*) {});
                continue;
            }
            auto& applied = applied_[campaign];
            if (applied >= at) continue;
            applied = at;
            CancelRequest req;
            req.campaign = campaign;
            req.reason = "its campaign was cancelled (through another daemon)";
            req.at_ms = at;
            receipts_.cancel(std::move(req), [this, campaign](CancelResult c) {
                if (c.error) {
                    applied_.erase(campaign);  // tried again at the next poll
                    return;
                }
                if (c.cancelled) spdlog::info("campaigns: {} cancelled through another daemon: {} messages cancelled here", campaign, c.cancelled);
            });
        }
    });
}

}  // namespace crieur::cluster
