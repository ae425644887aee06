// The receipts schema, as an ordered list of migrations. Migration i brings the database from
// PRAGMA user_version i to i + 1; never edit one that has shipped, append a new one.
#pragma once

#include <array>

namespace crieur::schema {

inline constexpr std::array<const char*, 6> kMigrations{
    // 1: messages (one per job id), attempts (one per send try), events (provider status reports).
    R"sql(
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    job_id        TEXT UNIQUE,              -- the sender's idempotency key; NULL when unreadable
    stream_id     TEXT NOT NULL,            -- the Redis stream entry it came from (the latest one)
    service       TEXT,
    template      TEXT,
    citizen       TEXT,
    campaign      TEXT,
    reference     TEXT,
    priority      TEXT,
    channel       TEXT,                     -- the channel chosen for the latest attempt
    status        TEXT NOT NULL,
    status_reason TEXT,
    created_at    INTEGER NOT NULL,         -- Unix milliseconds
    updated_at    INTEGER NOT NULL
);
CREATE TABLE attempts (
    id                  INTEGER PRIMARY KEY,
    message_id          INTEGER NOT NULL REFERENCES messages(id),
    n                   INTEGER NOT NULL,   -- 1 for the first try of the message
    channel             TEXT NOT NULL,
    provider            TEXT NOT NULL,
    recipient           TEXT,
    started_at          INTEGER NOT NULL,
    finished_at         INTEGER,
    outcome             TEXT,               -- NULL while in flight; accepted, retry, bad_address, failed, unknown
    provider_message_id TEXT,
    error_code          TEXT,
    error_text          TEXT,
    latency_us          INTEGER
);
CREATE INDEX attempts_by_message ON attempts(message_id);
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    attempt_id      INTEGER REFERENCES attempts(id),
    at              INTEGER NOT NULL,
    status          TEXT NOT NULL,          -- delivered, read, failed, ...
    provider_status TEXT,                   -- the provider's own word for it
    raw             TEXT
);
CREATE INDEX events_by_message ON events(message_id);
)sql",
    // 2: the rendered message's locale, and what an SMS costs (encoding, segments) per attempt.
    R"sql(
ALTER TABLE messages ADD COLUMN locale TEXT;
ALTER TABLE attempts ADD COLUMN sms_encoding TEXT;      -- gsm7 or ucs2
ALTER TABLE attempts ADD COLUMN sms_segments INTEGER;
)sql",
    // 3: providers' status callbacks find their attempt by the provider's message id.
    R"sql(
CREATE INDEX attempts_by_provider_id ON attempts(provider, provider_message_id);
)sql",
    // 4: a citizen's messages, found at once for an erasure.
    R"sql(
CREATE INDEX messages_by_citizen ON messages(citizen) WHERE citizen IS NOT NULL;
)sql",
    // 5: cancellations: a campaign's later jobs are cancelled as they come; its messages found at once.
    R"sql(
CREATE TABLE cancelled_campaigns (
    campaign TEXT PRIMARY KEY,
    at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX messages_by_campaign ON messages(campaign) WHERE campaign IS NOT NULL;
)sql",
    // 6: engagement for the send time. Opens, clicks and taps are events of their attempt (found
    // by attempt); app sessions, reported by the app, belong to a citizen and no message.
    R"sql(
CREATE INDEX events_by_attempt ON events(attempt_id) WHERE attempt_id IS NOT NULL;
CREATE TABLE app_sessions (
    citizen TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX app_sessions_by_citizen ON app_sessions(citizen, at);
CREATE INDEX app_sessions_by_at ON app_sessions(at);
)sql",
};

}  // namespace crieur::schema
