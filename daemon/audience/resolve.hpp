// Who an audience is, in the directory: one SQL query with the parts given (each on its index:
// the R*Tree for an area's bounding box, the street's key, the tags' table), then the exact
// point-in-polygon or distance test on each located candidate (Boost.Geometry), and the exclusion.
// Members come one by one in directory order, never all in memory. Reads only; any thread with its
// own connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "daemon/audience/audience.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::audience {

struct Member {
    std::int64_t row = 0;  // the directory's row id
    std::string id;        // the citizen's external id
    // With `columns` asked of resolve(): the query's row, those columns from `first` on.
    const sqlite::Stmt* row_stmt = nullptr;
    int first = 0;
};

// Calls `each` for every member (it returns false to stop). An error names the part that
// selects wrongly: a tag no citizen has, a street where no citizen lives, an area with nobody
// inside that would hold citizens with its longitude and latitude swapped.
// `columns`: more of the citizens table's columns to select with each member (unqualified names,
// comma-separated), read from Member::row_stmt.
std::optional<AudienceError> resolve(sqlite3* db, const Audience& audience, const std::function<bool(const Member&)>& each,
                                     const char* columns = nullptr);

}  // namespace crieur::audience
