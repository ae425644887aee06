#include "daemon/directory/directory.hpp"

#include <filesystem>
#include <map>

#include "channels/encoding.hpp"
#include "daemon/directory/schema.hpp"
#include "daemon/directory/street.hpp"

namespace crieur::directory {

const char* to_string(ContactState s) {
    switch (s) {
    case ContactState::valid: return "valid";
    case ContactState::unverified: return "unverified";
    case ContactState::invalid: return "invalid";
    }
    return "unverified";
}

std::optional<ContactState> contact_state_from(std::string_view s) {
    if (s == "valid") return ContactState::valid;
    if (s == "unverified") return ContactState::unverified;
    if (s == "invalid") return ContactState::invalid;
    return std::nullopt;
}

std::string hash_key(const std::string& channel, const std::string& value) { return sha256(channel + '\n' + value); }

namespace {
std::string join(const std::vector<std::string>& items) {
    std::string s;
    for (auto& i : items) s += (s.empty() ? "" : ",") + i;
    return s;
}
std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto comma = s.find(',');
        if (comma != 0) out.emplace_back(s.substr(0, comma));
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}
void bind_blob(sqlite::Stmt& st, int i, const std::string& bytes) {
    sqlite3_bind_blob(st.get(), i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}
}  // namespace

Directory::Directory(const std::string& path, int cache_mb) {
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir);
    db_ = sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3* db = db_.get();
    sqlite3_busy_timeout(db, 5000);
    sqlite::exec(db, "PRAGMA journal_mode = WAL");
    sqlite::exec(db, "PRAGMA synchronous = NORMAL");
    sqlite::exec(db, "PRAGMA foreign_keys = ON");
    sqlite::exec(db, ("PRAGMA cache_size = -" + std::to_string(cache_mb * 1024)).c_str());
    sqlite::exec(db, "PRAGMA secure_delete = ON");  // erased rows are overwritten, not left in free pages
    // Reads map the file rather than copy its pages (a town's directory is a few hundred MB): an
    // audience's dry run over a million citizens spent a tenth of its time copying pages from the
    // kernel. Writes still go through the WAL.
    sqlite::exec(db, "PRAGMA mmap_size = 4294967296");
    sqlite::migrate(db, schema::kMigrations, "directory");
    find_id_ = sqlite::Stmt(db, "SELECT id FROM citizens WHERE external_id = ?1");
    insert_citizen_ = sqlite::Stmt(db, R"(
        INSERT INTO citizens (external_id, given_name, family_name, locale, time_zone, quiet_start, quiet_end,
                              channels, address_line, postcode, city, lat, lon, updated_at,
                              street_number, street, street_key, insee, district)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19))");
    update_citizen_ = sqlite::Stmt(db, R"(
        UPDATE citizens SET given_name = ?2, family_name = ?3, locale = ?4, time_zone = ?5, quiet_start = ?6,
                            quiet_end = ?7, channels = ?8, address_line = ?9, postcode = ?10, city = ?11,
                            lat = ?12, lon = ?13, updated_at = ?14, street_number = ?15, street = ?16,
                            street_key = ?17, insee = ?18, district = ?19
        WHERE id = ?1)");
    clear_tags_ = sqlite::Stmt(db, "DELETE FROM citizen_tags WHERE citizen_id = ?1");
    add_tag_ = sqlite::Stmt(db, "INSERT OR IGNORE INTO citizen_tags (tag, citizen_id) VALUES (?1, ?2)");
    get_tags_ = sqlite::Stmt(db, "SELECT tag FROM citizen_tags WHERE citizen_id = ?1 ORDER BY tag");
    set_location_ = sqlite::Stmt(db, "INSERT OR REPLACE INTO citizen_locations VALUES (?1, ?2, ?2, ?3, ?3)");
    drop_location_ = sqlite::Stmt(db, "DELETE FROM citizen_locations WHERE id = ?1");
    contacts_of_ = sqlite::Stmt(db, "SELECT id, channel, address FROM contacts WHERE citizen_id = ?1");
    insert_contact_ = sqlite::Stmt(db, R"(
        INSERT INTO contacts (citizen_id, channel, address, position, state, reason, state_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))");
    update_position_ = sqlite::Stmt(db, "UPDATE contacts SET position = ?2 WHERE id = ?1");
    delete_contact_ = sqlite::Stmt(db, "DELETE FROM contacts WHERE id = ?1");
    upsert_consent_ = sqlite::Stmt(db, R"(
        INSERT INTO consents (citizen_id, channel, category, granted, source, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        ON CONFLICT (citizen_id, channel, category)
        DO UPDATE SET granted = excluded.granted, source = excluded.source, at = excluded.at)");
    log_consent_ = sqlite::Stmt(db, R"(
        INSERT INTO consent_log (citizen_id, channel, category, granted, source, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6))");
    const std::string kProfile = std::string("SELECT ") + kProfileColumns + " FROM citizens ";
    get_citizen_ = sqlite::Stmt(db, (std::string(kProfile) + "WHERE external_id = ?1").c_str());
    get_citizen_by_row_ = sqlite::Stmt(db, (std::string(kProfile) + "WHERE id = ?1").c_str());
    get_contacts_ = sqlite::Stmt(db, R"(
        SELECT channel, address, state, reason, state_at FROM contacts WHERE citizen_id = ?1
        ORDER BY channel, position)");
    get_consents_ = sqlite::Stmt(db, "SELECT channel, category, granted, source, at FROM consents WHERE citizen_id = ?1");
    is_erased_ = sqlite::Stmt(db, "SELECT 1 FROM erased WHERE id_hash = ?1");
    delete_citizen_ = sqlite::Stmt(db, "DELETE FROM citizens WHERE id = ?1");
    add_erased_ = sqlite::Stmt(db, "INSERT OR IGNORE INTO erased (id_hash, at) VALUES (?1, ?2)");
    mark_contact_ = sqlite::Stmt(db, R"(
        UPDATE contacts SET state = ?3, reason = ?4, state_at = ?5
        WHERE channel = ?1 AND address = ?2 AND (state != ?3 OR ifnull(reason, '') != ifnull(?4, '')))");
    citizens_with_ = sqlite::Stmt(db, R"(
        SELECT c.external_id FROM contacts k JOIN citizens c ON c.id = k.citizen_id
        WHERE k.channel = ?1 AND k.address = ?2)");
    add_suppression_ = sqlite::Stmt(db, R"(
        INSERT INTO suppressions (channel, address_hash, source, at) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (channel, address_hash) DO NOTHING)");
    list_suppressions_ = sqlite::Stmt(db, "SELECT channel, address_hash FROM suppressions");
    count_ = sqlite::Stmt(db, "SELECT count(*) FROM citizens");
    begin_read_ = sqlite::Stmt(db, "BEGIN");
    end_read_ = sqlite::Stmt(db, "COMMIT");
    drop_suppression_ = sqlite::Stmt(db, "DELETE FROM suppressions WHERE channel = ?1 AND address_hash = ?2");
    refusals_by_source_ = sqlite::Stmt(db, R"(
        SELECT category FROM consents k JOIN citizens c ON c.id = k.citizen_id
        WHERE c.external_id = ?1 AND k.channel = ?2 AND k.granted = 0 AND k.source = ?3)");
}

bool Directory::upsert(const Citizen& c, std::int64_t now_ms) {
    find_id_.bind(1, c.id);
    const bool exists = find_id_.step();
    std::int64_t id = exists ? find_id_.int64(0) : 0;
    find_id_.reset();
    sqlite::Stmt& st = exists ? update_citizen_ : insert_citizen_;
    if (exists) st.bind(1, id);
    else st.bind(1, c.id);
    st.bind_opt(2, c.given_name).bind_opt(3, c.family_name).bind_opt(4, c.locale).bind_opt(5, c.time_zone);
    if (c.quiet_hours) st.bind(6, c.quiet_hours->start_minute).bind(7, c.quiet_hours->end_minute);
    else st.bind_null(6).bind_null(7);
    st.bind_opt(8, join(c.channels)).bind_opt(9, c.address_line).bind_opt(10, c.postcode).bind_opt(11, c.city);
    if (c.lat && c.lon) {
        sqlite3_bind_double(st.get(), 12, *c.lat);
        sqlite3_bind_double(st.get(), 13, *c.lon);
    } else {
        st.bind_null(12).bind_null(13);
    }
    st.bind(14, now_ms);
    const std::string street = street_key(c.street);
    st.bind_opt(15, c.street_number).bind_opt(16, c.street).bind_opt(17, street).bind_opt(18, c.insee).bind_opt(19, c.district);
    st.run();
    if (!exists) id = sqlite3_last_insert_rowid(db_.get());
    if (exists) clear_tags_.bind(1, id).run();
    for (auto& tag : c.tags) add_tag_.bind(1, tag).bind(2, id).run();

    if (c.lat && c.lon) {
        set_location_.bind(1, id);
        sqlite3_bind_double(set_location_.get(), 2, *c.lat);
        sqlite3_bind_double(set_location_.get(), 3, *c.lon);
        set_location_.run();
    } else if (exists) {
        drop_location_.bind(1, id).run();
    }

    std::map<std::pair<std::string, std::string>, std::int64_t> known;  // (channel, address) → row
    if (exists) {
        contacts_of_.bind(1, id);
        while (contacts_of_.step())
            known.emplace(std::pair{std::string(contacts_of_.text(1)), std::string(contacts_of_.text(2))},
                          contacts_of_.int64(0));
        contacts_of_.reset();
    }
    std::map<std::string, int> position;
    for (const Contact& k : c.contacts) {
        const int pos = position[k.channel]++;
        auto it = known.find({k.channel, k.address});
        if (it != known.end()) {
            update_position_.bind(1, it->second).bind(2, pos).run();
            known.erase(it);
            continue;
        }
        insert_contact_.bind(1, id).bind(2, k.channel).bind(3, k.address).bind(4, pos).bind(5, to_string(k.state));
        insert_contact_.bind_opt(6, k.reason).bind(7, k.state_at ? k.state_at : now_ms).run();
    }
    for (auto& [key, row] : known) delete_contact_.bind(1, row).run();

    for (const Consent& k : c.consents) {
        const std::int64_t at = k.at ? k.at : now_ms;
        upsert_consent_.bind(1, id).bind(2, k.channel).bind(3, k.category).bind(4, k.granted ? 1 : 0);
        upsert_consent_.bind_opt(5, k.source).bind(6, at).run();
        log_consent_.bind(1, id).bind(2, k.channel).bind(3, k.category).bind(4, k.granted ? 1 : 0);
        log_consent_.bind_opt(5, k.source).bind(6, at).run();
    }
    return !exists;
}

std::optional<Citizen> Directory::get(const std::string& external_id, bool with_tags) {
    get_citizen_.bind(1, external_id);
    return read(get_citizen_, with_tags);
}

Citizen Directory::profile_at(const sqlite::Stmt& s, int first) {
    auto at = [first](int i) { return first + i; };
    Citizen c;
    c.id = s.text(at(17));
    c.given_name = s.text(at(1));
    c.family_name = s.text(at(2));
    c.locale = s.text(at(3));
    c.time_zone = s.text(at(4));
    if (!s.is_null(at(5)) && !s.is_null(at(6)))
        c.quiet_hours = QuietHours{static_cast<int>(s.int64(at(5))), static_cast<int>(s.int64(at(6)))};
    c.channels = split(s.text(at(7)));
    c.address_line = s.text(at(8));
    c.postcode = s.text(at(9));
    c.city = s.text(at(10));
    if (!s.is_null(at(11)) && !s.is_null(at(12))) {
        c.lat = sqlite3_column_double(s.get(), at(11));
        c.lon = sqlite3_column_double(s.get(), at(12));
    }
    c.street_number = s.text(at(13));
    c.street = s.text(at(14));
    c.insee = s.text(at(15));
    c.district = s.text(at(16));
    return c;
}

std::optional<Citizen> Directory::get_row(std::int64_t row, bool with_tags, bool with_contacts) {
    get_citizen_by_row_.bind(1, row);
    return read(get_citizen_by_row_, with_tags, with_contacts);
}

// The citizen whose profile `profile` (bound, not yet stepped) selects, with contacts, consents
// and, when asked, tags.
std::optional<Citizen> Directory::read(sqlite::Stmt& profile, bool with_tags, bool with_contacts) {
    // One read transaction for the queries: one lock round (fcntl, WAL checks), not four.
    const bool own_transaction = sqlite3_get_autocommit(db_.get()) != 0;
    if (own_transaction) begin_read_.run();
    struct End {
        sqlite::Stmt& commit;
        bool active;
        ~End() {
            if (!active) return;
            sqlite3_step(commit.get());
            sqlite3_reset(commit.get());
        }
    } end{end_read_, own_transaction};
    if (!profile.step()) {
        profile.reset();
        return std::nullopt;
    }
    const std::int64_t id = profile.int64(0);
    Citizen c = profile_at(profile, 0);
    profile.reset();
    if (with_tags) {
        get_tags_.bind(1, id);
        while (get_tags_.step()) c.tags.emplace_back(get_tags_.text(0));
        get_tags_.reset();
    }
    if (!with_contacts) return c;
    get_contacts_.bind(1, id);
    while (get_contacts_.step())
        c.contacts.push_back(Contact{std::string(get_contacts_.text(0)), std::string(get_contacts_.text(1)),
                                     contact_state_from(get_contacts_.text(2)).value_or(ContactState::unverified),
                                     std::string(get_contacts_.text(3)), get_contacts_.int64(4)});
    get_contacts_.reset();
    get_consents_.bind(1, id);
    while (get_consents_.step())
        c.consents.push_back(Consent{std::string(get_consents_.text(0)), std::string(get_consents_.text(1)),
                                     get_consents_.int64(2) != 0, std::string(get_consents_.text(3)),
                                     get_consents_.int64(4)});
    get_consents_.reset();
    return c;
}

bool Directory::erased(const std::string& id) {
    bind_blob(is_erased_, 1, hash_key("citizen", id));
    const bool found = is_erased_.step();
    is_erased_.reset();
    return found;
}

bool Directory::erase(const std::string& external_id, std::int64_t now_ms) {
    find_id_.bind(1, external_id);
    const bool exists = find_id_.step();
    const std::int64_t id = exists ? find_id_.int64(0) : 0;
    find_id_.reset();
    if (exists) {
        drop_location_.bind(1, id).run();
        delete_citizen_.bind(1, id).run();  // contacts, consents and their log cascade
    }
    bind_blob(add_erased_, 1, hash_key("citizen", external_id));
    add_erased_.bind(2, now_ms).run();
    return exists;
}

void Directory::checkpoint() { sqlite::exec(db_.get(), "PRAGMA wal_checkpoint(TRUNCATE)"); }

bool Directory::set_consent(const std::string& external_id, const Consent& k) {
    find_id_.bind(1, external_id);
    const bool exists = find_id_.step();
    const std::int64_t id = exists ? find_id_.int64(0) : 0;
    find_id_.reset();
    if (!exists) return false;
    upsert_consent_.bind(1, id).bind(2, k.channel).bind(3, k.category).bind(4, k.granted ? 1 : 0);
    upsert_consent_.bind_opt(5, k.source).bind(6, k.at).run();
    log_consent_.bind(1, id).bind(2, k.channel).bind(3, k.category).bind(4, k.granted ? 1 : 0);
    log_consent_.bind_opt(5, k.source).bind(6, k.at).run();
    return true;
}

int Directory::mark_contact(const std::string& channel, const std::string& address, ContactState state,
                            const std::string& reason, std::int64_t now_ms) {
    mark_contact_.bind(1, channel).bind(2, address).bind(3, to_string(state)).bind_opt(4, reason).bind(5, now_ms);
    mark_contact_.run();
    return sqlite3_changes(db_.get());
}

std::vector<std::string> Directory::citizens_with(const std::string& channel, const std::string& address) {
    std::vector<std::string> out;
    citizens_with_.bind(1, channel).bind(2, address);
    while (citizens_with_.step()) out.emplace_back(citizens_with_.text(0));
    citizens_with_.reset();
    return out;
}

void Directory::suppress(const std::string& channel, const std::string& address, const std::string& source,
                         std::int64_t now_ms) {
    add_suppression_.bind(1, channel);
    bind_blob(add_suppression_, 2, hash_key(channel, address));
    add_suppression_.bind_opt(3, source).bind(4, now_ms).run();
}

int Directory::opt_out(const std::string& channel, const std::string& address, const std::string& source,
                       std::int64_t now_ms) {
    suppress(channel, address, source, now_ms);
    const auto who = citizens_with(channel, address);
    for (auto& id : who)
        for (const char* category : kCategories) set_consent(id, {channel, category, false, source, now_ms});
    return static_cast<int>(who.size());
}

int Directory::opt_in(const std::string& channel, const std::string& address, const std::string& source,
                      const std::string& opt_out_source, std::int64_t now_ms) {
    drop_suppression_.bind(1, channel);
    bind_blob(drop_suppression_, 2, hash_key(channel, address));
    drop_suppression_.run();
    const auto who = citizens_with(channel, address);
    for (auto& id : who) {
        std::vector<std::string> categories;
        refusals_by_source_.bind(1, id).bind(2, channel).bind(3, opt_out_source);
        while (refusals_by_source_.step()) categories.emplace_back(refusals_by_source_.text(0));
        refusals_by_source_.reset();
        for (auto& category : categories) set_consent(id, {channel, category, true, source, now_ms});
    }
    return static_cast<int>(who.size());
}

std::vector<std::pair<std::string, std::string>> Directory::suppressions() {
    std::vector<std::pair<std::string, std::string>> out;
    while (list_suppressions_.step()) {
        const auto* blob = static_cast<const char*>(sqlite3_column_blob(list_suppressions_.get(), 1));
        out.emplace_back(std::string(list_suppressions_.text(0)),
                         std::string(blob, static_cast<std::size_t>(sqlite3_column_bytes(list_suppressions_.get(), 1))));
    }
    list_suppressions_.reset();
    return out;
}

std::int64_t Directory::citizen_count() {
    count_.step();
    const auto n = count_.int64(0);
    count_.reset();
    return n;
}

}  // namespace crieur::directory
