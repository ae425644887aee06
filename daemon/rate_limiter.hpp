// RateLimiter: provider rate limits shared by every daemon through Redis. Each provider account
// has one GCRA meter per unit it is limited in (messages, and SMS segments when both are capped),
// moved by a Lua script with Redis's own clock, so that daemons on several machines share one
// limit and one time. A send reserves its slot: at once within the burst, else further ahead, one
// interval after the last one reserved. The pipeline waits for a near slot with a timer (the job
// still pending in the stream), and puts a far one in the schedule with its slot: reservations
// spread a backlog evenly, with no herd and no retry burnt.
//
// Priorities: bulk jobs queue at the end of the meter. Urgent and normal jobs do not queue behind
// bulk reservations: they borrow a slot, and the meter records the debt. Every bulk job asks again
// when its slot comes (after its timer, or back from the schedule), and gives its slot up and
// queues again while a debt is owed: the pace holds and the backlog yields. Urgent goes at once;
// normal keeps its own pace (normal jobs queue behind each other, not behind bulk). A provider
// may also pace each recipient (WhatsApp: about one message every 6 s to one person, else error
// 131056): every message waits for its recipient's slot, urgent ones too, holding no provider
// slot meanwhile.
// Use from the io_context's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <system_error>

#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/types.hpp"

namespace crieur {

struct RateLimit {
    double per_s = 0;    // messages per second (segments, with `segments`); 0: no limit
    int burst = 1;       // sent back to back before the pace applies
    bool segments = false;
    double segments_per_s = 0;  // a second meter, in SMS segments, beside the messages one; 0: none
    int segments_burst = 1;
    double recipient_every_s = 0;  // at most one message per this many seconds to one recipient; 0: none
};

class RateLimiter {
public:
    RateLimiter(redis::RedisConnection& conn, std::string key_prefix, std::map<std::string, RateLimit> limits);

    bool limited(const std::string& provider) const { return limits_.count(provider) > 0; }
    // Reserves a slot for one message to `recipient` of `segments` SMS segments (1 for other
    // channels) with `provider`. `returning`: a bulk job back at the slot it reserved earlier,
    // which keeps it unless a higher priority borrowed one meanwhile. `done(error, slot)`: an
    // errc::redis_* code when Redis could not answer (nothing reserved); else see Slot.
    struct Slot {
        std::int64_t wait_ms = 0;  // 0 go now; > 0 go after that long
        bool reserved = false;     // the slot is yours; false: the recipient's pace holds it, ask again then
    };
    void reserve(const std::string& provider, const std::string& recipient, int segments, Priority priority,
                 bool returning, std::function<void(std::error_code, Slot)> done);

private:
    redis::RedisConnection& conn_;
    std::string prefix_;
    std::map<std::string, RateLimit> limits_;
};

}  // namespace crieur
