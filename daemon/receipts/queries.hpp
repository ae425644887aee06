// Read queries on the receipts database, shared by the daemon's reader thread and the `crieur`
// CLI. Each takes a connection owned by the calling thread.
#pragma once

#include <sqlite3.h>

#include "daemon/receipts/sqlite.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace crieur::receipts {

// The message with its attempts and events as a JSON object, by job id (or by stream entry id
// for a rejected job whose id could not be read); nullopt when there is none.
std::optional<std::string> message_json(sqlite3* db, const std::string& id);

// Every copy of the message's recipients in `text` masked (the providers' texts and reasons
// quote the number: Twilio writes it into its errors). `recipients` is a statement prepared on
// kMessageRecipients, reused from one message to the next; true when `text` changed.
inline constexpr const char* kMessageRecipients =
    "SELECT DISTINCT recipient FROM attempts WHERE message_id = ?1 AND length(recipient) >= 5";
bool mask_recipients(sqlite::Stmt& recipients, std::int64_t message_id, std::string& text);

// A page of the message list, newest first (by row id: stable while messages come in). Empty
// filters match everything; `before_id` is where the previous page stopped (0: the newest).
struct MessageFilter {
    std::string service;  // empty: every service (an operator's list)
    std::string status, template_name, campaign, reference, citizen;
    std::int64_t since_ms = 0, until_ms = 0;  // created_at in [since, until); 0: unbounded
    std::int64_t before_id = 0;
    int limit = 50;
    bool item_cursors = false;  // each message with its own "cursor" (for a daemon that merges lists)
};
struct MessagePage {
    std::string json;           // {"messages":[...],"next_cursor":...}
    std::int64_t last_id = 0;   // the page's last row id when there may be more; 0: the end
};
MessagePage message_list(sqlite3* db, const MessageFilter& filter);

// Counts of messages by one of their fields (status, channel, template, service), for a
// service or every one, queued since a time: {"since":...,"by":"status","counts":{"sent":12,...}}.
// `by` must be one of the four (the caller checks it).
std::string message_stats(sqlite3* db, const std::string& service, const std::string& by, std::int64_t since_ms);
// The first message row made at or after `since_ms` (max id + 1: none). Row ids grow with
// created_at (a row is made when its job is read, with the writer's clock), so a binary search
// over ids finds it in about 25 probes, where a filter on created_at (no index: one more B-tree
// written per message) would read the whole table. A clock set back would misplace a few rows
// at the edge; the counts' filter on created_at stays, so none is counted that is too old.
std::int64_t first_message_since(sqlite3* db, std::int64_t since_ms);

// A campaign's (or follow-up's) messages, by its key (the jobs' `campaign`): counts by status and
// by channel, how many are still on their way (queued, scheduled, sending), and its reach over
// time (messages a provider took, cumulated, in at most 60 steps of 1 min to 1 day):
// {"messages":n,"pending":n,"by_status":{...},"by_channel":{...},"reach":[{"at":...,"reached":n},...]}
// `service`: only that service's messages (a service's key asking); empty: all.
std::string campaign_report(sqlite3* db, const std::string& key, const std::string& service = {});

// Messages per status.
std::vector<std::pair<std::string, std::int64_t>> status_counts(sqlite3* db);

}  // namespace crieur::receipts
