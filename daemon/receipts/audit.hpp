// The dashboard's audit log (migration 11: the `audit` table): every action an operator takes in
// /ui/ (a sign-in, its failure, a campaign launched, a dead letter requeued, a citizen erased...),
// by whom, when, from where, and what came of it. In the receipts' database, beside what the
// actions changed, written by the same writer; kept `retention.audit_days` (a year by default),
// longer than the messages, since it is what answers "who did this?" months later. It names
// citizens by their id only, never by a contact.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/receipts/sqlite.hpp"

namespace crieur::receipts {

struct AuditEntry {
    std::int64_t at_ms = 0;  // 0: when the writer takes it
    std::string operator_name, role;
    std::string action;   // sign_in, sign_in_refused, sign_out, campaign_launch, dead_letter_requeue, ...
    std::string target;   // what it acted on: a message id, a campaign id, a citizen id, a stream entry
    std::string outcome;  // ok, or the refusal's code (scope_missing, invalid, ...)
    std::string detail;   // a short word on it, never personal data
    std::string address;  // the client's address
};

class AuditWriter {
public:
    explicit AuditWriter(sqlite3* db);
    void record(const AuditEntry& e, std::int64_t now_ms, int& rows);
    void retain(std::int64_t before_ms, int& rows);

private:
    sqlite::Stmt insert_, delete_;
};

// A page of the log, newest first, before a row id (0: the newest):
// {"entries":[{"id":..,"at":"...","operator":..,...}],"next_cursor":"<id>"|null}
std::string audit_page(sqlite3* db, std::int64_t before_id, int limit, const std::string& operator_name = {});

}  // namespace crieur::receipts
