// The few typed stream commands crieur uses (XGROUP CREATE, XREADGROUP, XAUTOCLAIM, XPENDING,
// XACK, XADD), over RedisConnection, with their replies parsed into values. Reply parsing is pure
// and tested without a server. Use from the io_context's thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/errors.hpp"
#include "daemon/redis/hiredis_asio.hpp"
#include "daemon/types.hpp"

namespace crieur::redis {

// Outcome of one command: a code (errc::redis_disconnected when the connection was lost or the
// command never sent, errc::redis_error when Redis answered an error), and Redis' own words.
struct Status {
    std::error_code code;
    std::string detail;  // Redis' error text; empty when disconnected
    bool ok() const { return !code; }
    // For a log line: Redis' text, or the code's message.
    std::string what() const { return detail.empty() ? code.message() : detail; }
};

// A reply's error code: none for a reply that is not an error.
std::error_code error_of(const redisReply* reply);

struct ClaimResult {
    Status status;
    std::string next_cursor;
    std::vector<StreamEntry> entries;
    std::vector<std::string> deleted;  // pending ids whose entries no longer exist
};

struct PendingInfo {
    std::string entry_id;
    std::string consumer;
    long long idle_ms = 0;
    long long deliveries = 0;
};

// Pure reply parsers (exposed for tests).
std::vector<StreamEntry> parse_entries(const redisReply* array);
// XINFO GROUPS' answer: the `lag` (entries not yet read) of `group`; -1 when it does not say
// (Redis before 7, or no such group).
long long parse_group_lag(const redisReply* reply, std::string_view group);
// Asks it of `stream`: what the campaigns' fan-out and the journeys' due steps wait on, so that
// other services' messages never queue behind all of theirs.
void group_lag(RedisConnection& conn, const std::string& stream, const std::string& group,
               std::function<void(long long lag)> done);
std::vector<StreamEntry> parse_xreadgroup(const redisReply* reply);
Status to_status(const redisReply* reply);

class StreamClient {
public:
    StreamClient(RedisConnection& conn, std::string stream, std::string group)
        : conn_(conn), stream_(std::move(stream)), group_(std::move(group)) {}

    // XGROUP CREATE <stream> <group> 0 MKSTREAM; an existing group is fine.
    void ensure_group(std::function<void(Status)> done);
    // XREADGROUP GROUP g c COUNT n [BLOCK ms] STREAMS s <from>; from ">" for new entries, "0" for
    // this consumer's own pending ones.
    void read(const std::string& consumer, int count, int block_ms, const char* from,
              std::function<void(Status, std::vector<StreamEntry>)> done);
    void autoclaim(const std::string& consumer, long long min_idle_ms, const std::string& cursor, int count,
                   std::function<void(ClaimResult)> done);
    // XPENDING s g <first> <last> <count> <consumer>: delivery counts of a range of this consumer's entries.
    void pending(const std::string& consumer, const std::string& first, const std::string& last, int count,
                 std::function<void(Status, std::vector<PendingInfo>)> done);
    void ack(const std::vector<std::string>& ids, std::function<void(Status)> done);
    // XADD to another stream (the dead letters), field/value pairs.
    void add(const std::string& stream, const std::vector<std::pair<std::string, std::string>>& fields,
             std::function<void(Status)> done);

    const std::string& stream() const { return stream_; }

private:
    RedisConnection& conn_;
    std::string stream_;
    std::string group_;
};

}  // namespace crieur::redis
