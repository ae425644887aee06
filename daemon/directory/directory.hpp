// Directory: the citizens' contacts, consents and preferences in one SQLite file (WAL, foreign
// keys, secure_delete so that erased data does not linger in free pages). Synchronous: it belongs
// to one thread, the DirectoryService's worker in the daemon, or the CLI's import.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/directory/citizen.hpp"
#include "daemon/receipts/sqlite.hpp"

namespace crieur::directory {

class Directory {
public:
    // Opens (creating if needed) and migrates; throws sqlite::Error. `cache_mb`: SQLite's page
    // cache (the daemon keeps it small; an import of a million citizens gains from a larger one).
    explicit Directory(const std::string& path, int cache_mb = 8);

    void begin() { sqlite::exec(db_.get(), "BEGIN IMMEDIATE"); }
    void commit() { sqlite::exec(db_.get(), "COMMIT"); }
    void rollback() { sqlite::exec(db_.get(), "ROLLBACK"); }
    // Runs `f` in a write transaction: committed when it returns, rolled back when it throws.
    template <class F>
    auto in_transaction(F&& f) {
        begin();
        try {
            auto result = f();
            commit();
            return result;
        } catch (...) {
            rollback();
            throw;
        }
    }
    // A read transaction around several reads (false if one could not be begun: each read then has its own).
    bool begin_read() {
        try {
            begin_read_.run();
            return true;
        } catch (const sqlite::Error&) {
            return false;
        }
    }
    void end_read() {
        sqlite3_step(end_read_.get());
        sqlite3_reset(end_read_.get());
    }

    // Inserts or replaces the citizen's profile and contact list by external id. A contact already
    // known keeps its state (a number found invalid stays invalid when re-imported); contacts not
    // in `c` are removed; consents in `c` are set (and logged), others kept. Returns true when created.
    bool upsert(const Citizen& c, std::int64_t now_ms);
    std::optional<Citizen> get(const std::string& id, bool with_tags = true);
    // The same by the directory's row id (an audience's walk has it); tags, contacts and consents
    // only when asked (a walk over many citizens reads those in citizen order instead).
    std::optional<Citizen> get_row(std::int64_t row, bool with_tags = true, bool with_contacts = true);
    // A citizen's profile (no contacts, consents or tags) as kProfileColumns select it, from the
    // row of `s` at column `first` on: a query over many citizens reads each one's profile in
    // its own row, rather than again by row id.
    static constexpr const char* kProfileColumns =
        "id, given_name, family_name, locale, time_zone, quiet_start, quiet_end, channels, address_line, "
        "postcode, city, lat, lon, street_number, street, insee, district, external_id";
    static Citizen profile_at(const sqlite::Stmt& s, int first);
    bool erased(const std::string& id);
    // GDPR erasure: the citizen's rows go (contacts, consents and their log, location); their id
    // is remembered as a hash so that later jobs are refused. False when unknown.
    bool erase(const std::string& id, std::int64_t now_ms);
    // Empties the WAL into the database file and truncates it: what was erased is then nowhere on disk.
    void checkpoint();

    // Records a consent decision (and its audit line). False when the citizen is unknown.
    bool set_consent(const std::string& id, const Consent& consent);
    // Sets the state of every contact with this address on this channel (all citizens sharing it).
    int mark_contact(const std::string& channel, const std::string& address, ContactState state,
                     const std::string& reason, std::int64_t now_ms);
    // The citizen ids that have this address on this channel.
    std::vector<std::string> citizens_with(const std::string& channel, const std::string& address);

    // The citizen at this address asked for no more messages on the channel (an SMS STOP): the
    // address goes on the suppression list, and every citizen with it refuses the channel for every
    // category (logged with `source`). Returns the number of citizens concerned.
    int opt_out(const std::string& channel, const std::string& address, const std::string& source, std::int64_t now_ms);
    // The way back (an SMS START): off the suppression list; the refusals that opt_out recorded
    // (same source family) become grants again. Refusals given another way stay.
    int opt_in(const std::string& channel, const std::string& address, const std::string& source,
               const std::string& opt_out_source, std::int64_t now_ms);
    // The suppression list: addresses that asked for no more messages, by hash of the canonical address.
    void suppress(const std::string& channel, const std::string& address, const std::string& source, std::int64_t now_ms);
    std::vector<std::pair<std::string, std::string>> suppressions();  // channel, hash

    std::int64_t citizen_count();
    sqlite3* db() { return db_.get(); }

private:
    std::optional<Citizen> read(sqlite::Stmt& profile, bool with_tags, bool with_contacts = true);

    sqlite::DbPtr db_;
    sqlite::Stmt find_id_, insert_citizen_, update_citizen_, set_location_, drop_location_, contacts_of_,
        insert_contact_, update_position_, delete_contact_, upsert_consent_, log_consent_, get_citizen_,
        get_citizen_by_row_, get_contacts_, get_consents_, is_erased_, delete_citizen_, add_erased_, mark_contact_, citizens_with_,
        add_suppression_, list_suppressions_, count_, drop_suppression_, refusals_by_source_,
        clear_tags_, add_tag_, get_tags_, begin_read_, end_read_;
};

// SHA-256 of a canonical address or id, as the suppression and erasure tables keep them.
std::string hash_key(const std::string& channel, const std::string& value);

}  // namespace crieur::directory
