// The messages citizens send back (SMS and WhatsApp replies), kept in the receipts' database
// (migration 10: the `inbound` table) because they are personal data like the receipts, under
// the same retention and erasure, and because what a reply answers is found there (the
// provider's id of our message, WhatsApp's context.id).
//
// A reply is written as it comes, before the provider is answered (so that a provider whose
// request failed sends it again, and a copy is dropped by its provider's id); what it means is
// worked out afterwards from the stored row (daemon/inbound/reply_desk.hpp), which then settles
// it: whose it is, which journey or message it answers, what became of it. A row not settled yet
// when the daemon dies is taken again at the next start: nothing a citizen said is lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/receipts/sqlite.hpp"

namespace crieur::receipts {

// What became of a reply. Written with the row for STOP and START, by the reply desk otherwise.
enum class InboundOutcome {
    pending,         // not worked out yet
    opted_out,       // STOP, ARRET...: the channel is closed for the address
    opted_in,        // START
    journey,         // a journey took it (a keyword or a free reply)
    forwarded,       // no journey: given to the service of the message it answers
    unknown_sender,  // no citizen has this address and it answers no message of ours: counted, kept
    unmatched,       // a known citizen, but nothing of ours to answer: counted, kept
};
const char* to_string(InboundOutcome o);

// A reply as the provider gave it.
struct InboundRecord {
    std::string provider;     // the instance name ("sms-etat-civil")
    std::string provider_id;  // its id of the message: a second delivery of it is dropped
    std::string channel;      // sms, whatsapp
    std::string sender;       // the citizen's address (E.164)
    std::string text;
    std::string in_reply_to;  // the provider's id of our message it answers, when the provider says (WhatsApp)
    std::int64_t received_ms = 0;
    InboundOutcome outcome = InboundOutcome::pending;  // opted_out or opted_in: settled as written
};

// A stored reply not worked out yet, with the message it names when it names one.
struct InboundRow {
    std::int64_t id = 0;
    std::string provider, channel, sender, text;
    std::int64_t received_ms = 0;
    // The message it answers (in_reply_to found among our attempts): its job id, service, journey, citizen.
    std::string answered_job, answered_service, answered_journey, answered_citizen;
};

// What the reply desk found, written back with the service's callback when there is one.
struct InboundSettled {
    std::int64_t id = 0;
    InboundOutcome outcome = InboundOutcome::unmatched;
    std::string citizen, service, journey, answered_job, keyword;
    // The service's callback (reply.received): sent when the service has an endpoint.
    std::string callback_key, callback_payload;
};

// A callback for a service that is not a message's status change (journey.notice).
struct ServiceCallback {
    std::string service;
    std::string key;      // its order: one callback of a key in flight at a time
    std::string payload;  // as signed and sent
    std::int64_t at_ms = 0;
};

// The latest message sent to one of these citizens: whose service it was, which journey.
struct LatestMessage {
    std::string job_id, service, journey, citizen;
};

// The statements the receipts' writer runs for replies, on its connection, in its batches.
class InboundWriter {
public:
    explicit InboundWriter(sqlite3* db);
    // False when the provider gave this message before (the copy is dropped).
    bool record(const InboundRecord& r, int& rows);
    void settle(const InboundSettled& s, std::int64_t now_ms, int& rows);
    void queue(const ServiceCallback& c, int& rows);
    void erase_citizen(const std::string& citizen, int& rows);
    // The retention: the text of replies older than `personal_before_ms` goes; rows older than `delete_before_ms` go.
    void retain(std::int64_t personal_before_ms, std::int64_t delete_before_ms, int& rows);

private:
    sqlite::Stmt insert_, settle_, queue_, erase_, clear_, delete_;
};

// Read side (the receipts' reader connection).
std::vector<InboundRow> pending_inbound(sqlite3* db, std::int64_t after_id, int limit);
std::optional<LatestMessage> latest_message_of(sqlite3* db, const std::vector<std::string>& citizens);

}  // namespace crieur::receipts
