// Read queries on the receipts database, shared by the daemon's reader thread and the `crieur`
// CLI. Each takes a connection owned by the calling thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace crieur::receipts {

// The message with its attempts and events as a JSON object, by job id (or by stream entry id
// for a rejected job whose id could not be read); nullopt when there is none.
std::optional<std::string> message_json(sqlite3* db, const std::string& id);

// Messages per status.
std::vector<std::pair<std::string, std::int64_t>> status_counts(sqlite3* db);

}  // namespace crieur::receipts
