#include <doctest/doctest.h>

#include "daemon/receipts/queries.hpp"
#include "daemon/receipts/sqlite.hpp"

using namespace crieur;

TEST_CASE("the first message since a time is found by its id, gaps and edges included") {
    auto db = sqlite::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite::exec(db.get(), "CREATE TABLE messages (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL)");
    CHECK(receipts::first_message_since(db.get(), 100) == 1);  // an empty table
    // Ids 1..1000 made at 10, 20, ... 10000, with every third one removed (the retention's gaps).
    sqlite::exec(db.get(), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                           "INSERT INTO messages SELECT i, i * 10 FROM n WHERE i % 3 != 0");
    auto count = [&](const char* where, std::int64_t v) {
        sqlite::Stmt q(db.get(), std::string("SELECT count(*) FROM messages WHERE ") + where);
        q.bind(1, v);
        q.step();
        return q.int64(0);
    };
    // The rows from the id found on are exactly those made since (the id may be a gap's).
    for (std::int64_t since : {0, 5, 10, 11, 29, 30, 31, 5000, 5005, 9990, 9999, 10000, 10001, 99999}) {
        CAPTURE(since);
        const auto first = receipts::first_message_since(db.get(), since);
        CHECK(count("id >= ?1", first) == count("created_at >= ?1", since));
        CHECK(count("id < ?1 AND created_at >= 0", first) == count("created_at < ?1", since));
    }
}
