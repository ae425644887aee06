// CampaignCancellations: several daemons on one Redis each hold the receipts of the messages they
// read, so a campaign cancelled through one of them must be cancelled in every one's receipts
// (its messages waiting there, and its jobs still to be read). A cancellation is put in the hash
// `<stream>:cancelled-campaigns` (campaign → when, Unix ms); each daemon reads the hash every
// second and cancels in its own receipts what it has not yet. Entries older than the receipts'
// cancelled_campaign_hold_s (and a day) leave the hash.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "daemon/clock.hpp"

namespace crieur {
class ReceiptStore;
namespace redis {
class RedisConnection;
}
}  // namespace crieur

namespace crieur::cluster {

class CampaignCancellations {
public:
    CampaignCancellations(redis::RedisConnection& redis, ReceiptStore& receipts, std::string key, std::int64_t hold_ms, const Clock& clock);

    // This daemon cancelled `campaign` in its receipts: the others are told.
    void publish(const std::string& campaign);
    // Periodic duty: what the others cancelled is cancelled here too.
    void poll();

private:
    redis::RedisConnection& redis_;
    ReceiptStore& receipts_;
    std::string key_;
    std::int64_t keep_ms_;
    const Clock& clock_;
    std::unordered_map<std::string, std::int64_t> applied_;  // campaign → the cancellation applied here
    bool polling_ = false;
};

}  // namespace crieur::cluster
