// The directory schema, as an ordered list of migrations (PRAGMA user_version), like the receipts'.
// Never edit one that has shipped; append.
#pragma once

#include <array>

namespace crieur::directory::schema {

inline constexpr std::array<const char*, 2> kMigrations{
    // 1: citizens, their contacts and consents (with an audit log), the locations' R*Tree, the
    // suppression list (addresses that said STOP, kept as hashes) and the erased ids (hashes).
    R"sql(
CREATE TABLE citizens (
    id           INTEGER PRIMARY KEY,
    external_id  TEXT NOT NULL UNIQUE,
    given_name   TEXT,
    family_name  TEXT,
    locale       TEXT,
    time_zone    TEXT,
    quiet_start  INTEGER,                 -- minutes after local midnight; NULL: the config's default
    quiet_end    INTEGER,
    channels     TEXT,                    -- preferred order, comma-separated; NULL: the service's default
    address_line TEXT,
    postcode     TEXT,
    city         TEXT,
    lat          REAL,
    lon          REAL,
    updated_at   INTEGER NOT NULL         -- Unix milliseconds
);
CREATE VIRTUAL TABLE citizen_locations USING rtree(id, min_lat, max_lat, min_lon, max_lon);
CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    citizen_id INTEGER NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL,
    address    TEXT NOT NULL,
    position   INTEGER NOT NULL,          -- order among the citizen's contacts on the channel
    state      TEXT NOT NULL,             -- valid, unverified, invalid
    reason     TEXT,
    state_at   INTEGER NOT NULL,
    UNIQUE (citizen_id, channel, address)
);
CREATE INDEX contacts_by_address ON contacts(channel, address);
CREATE TABLE consents (
    citizen_id INTEGER NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL,
    category   TEXT NOT NULL,
    granted    INTEGER NOT NULL,
    source     TEXT,
    at         INTEGER NOT NULL,
    PRIMARY KEY (citizen_id, channel, category)
) WITHOUT ROWID;
CREATE TABLE consent_log (
    id         INTEGER PRIMARY KEY,
    citizen_id INTEGER NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL,
    category   TEXT NOT NULL,
    granted    INTEGER NOT NULL,
    source     TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX consent_log_by_citizen ON consent_log(citizen_id);
CREATE TABLE suppressions (
    channel      TEXT NOT NULL,
    address_hash BLOB NOT NULL,           -- SHA-256 of the canonical address: checkable, not readable
    source       TEXT,
    at           INTEGER NOT NULL,
    PRIMARY KEY (channel, address_hash)
) WITHOUT ROWID;
CREATE TABLE erased (
    id_hash BLOB PRIMARY KEY,             -- SHA-256 of the external id
    at      INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: audiences (issue 14): the address in parts (street with its normalised key, INSEE code,
    // district) with the indexes an audience walks, and the citizens' tags.
    R"sql(
ALTER TABLE citizens ADD COLUMN street_number TEXT;
ALTER TABLE citizens ADD COLUMN street TEXT;
ALTER TABLE citizens ADD COLUMN street_key TEXT;   -- directory::street_key(street)
ALTER TABLE citizens ADD COLUMN insee TEXT;
ALTER TABLE citizens ADD COLUMN district TEXT;
CREATE INDEX citizens_by_street ON citizens(street_key, postcode);
CREATE INDEX citizens_by_postcode ON citizens(postcode);
CREATE INDEX citizens_by_insee ON citizens(insee);
CREATE INDEX citizens_by_district ON citizens(district);
CREATE TABLE citizen_tags (
    tag        TEXT NOT NULL,
    citizen_id INTEGER NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
    PRIMARY KEY (tag, citizen_id)
) WITHOUT ROWID;
CREATE INDEX citizen_tags_by_citizen ON citizen_tags(citizen_id);
)sql",
};

}  // namespace crieur::directory::schema
