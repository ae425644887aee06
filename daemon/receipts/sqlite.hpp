// Thin RAII over the SQLite C API: a connection, a prepared statement, a transaction.
// Each object belongs to the one thread that uses it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crieur::sqlite {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;

inline DbPtr open(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK)
        throw Error("cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_extended_result_codes(raw, 1);
    return db;
}

inline void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw Error(std::string(sql).substr(0, 60) + ": " + msg);
    }
}

class Stmt {
public:
    Stmt() = default;
    Stmt(sqlite3* db, std::string_view sql) {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                               nullptr) != SQLITE_OK)
            throw Error("prepare: " + std::string(sqlite3_errmsg(db)) + " in: " + std::string(sql));
        stmt_.reset(raw);
    }
    sqlite3_stmt* get() const { return stmt_.get(); }

    Stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(get(), i, v)); }
    Stmt& bind(int i, int v) { return check(sqlite3_bind_int(get(), i, v)); }
    Stmt& bind(int i, std::string_view v) {
        return check(sqlite3_bind_text(get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind_null(int i) { return check(sqlite3_bind_null(get(), i)); }
    // Binds NULL for an empty string: optional text columns stay NULL rather than "".
    Stmt& bind_opt(int i, std::string_view v) { return v.empty() ? bind_null(i) : bind(i, v); }

    // Steps once: true while a row is available.
    bool step() {
        int rc = sqlite3_step(get());
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        std::string why = sqlite3_errmsg(sqlite3_db_handle(get()));
        reset();  // usable again after the caller rolls back
        throw Error("step: " + why);
    }
    void run() {
        step();
        reset();
    }
    void reset() {
        sqlite3_reset(get());
        sqlite3_clear_bindings(get());
    }
    std::int64_t int64(int col) const { return sqlite3_column_int64(get(), col); }
    std::string_view text(int col) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(get(), col));
        return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(get(), col))) : std::string_view{};
    }
    bool is_null(int col) const { return sqlite3_column_type(get(), col) == SQLITE_NULL; }

private:
    Stmt& check(int rc) {
        if (rc != SQLITE_OK) throw Error(std::string("bind: ") + sqlite3_errstr(rc));
        return *this;
    }
    std::unique_ptr<sqlite3_stmt, StmtFinalize> stmt_;
};

// Brings a database to the last of `migrations` (migration i takes PRAGMA user_version i to i + 1),
// each in its own transaction. Returns the version found. Refuses a database newer than this build.
inline std::int64_t migrate(sqlite3* db, std::span<const char* const> migrations, std::string_view what) {
    Stmt version(db, "PRAGMA user_version");
    version.step();
    const auto current = version.int64(0);
    version.reset();  // a statement left running holds the schema: a migration's DROP would fail ("table is locked")
    const auto last = static_cast<std::int64_t>(migrations.size());
    if (current > last)
        throw Error("the " + std::string(what) + " database has schema version " + std::to_string(current) +
                    ", newer than this build's (" + std::to_string(last) + ")");
    for (auto v = current; v < last; ++v) {
        exec(db, "BEGIN IMMEDIATE");
        try {
            exec(db, migrations[static_cast<std::size_t>(v)]);
            exec(db, ("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
            exec(db, "COMMIT");
        } catch (...) {
            exec(db, "ROLLBACK");
            throw;
        }
    }
    return current;
}

}  // namespace crieur::sqlite
