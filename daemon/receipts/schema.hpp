// The receipts schema, as an ordered list of migrations. Migration i brings the database from
// PRAGMA user_version i to i + 1; never edit one that has shipped, append a new one.
#pragma once

#include <array>
#include <string>

namespace crieur::schema {

inline constexpr std::array<const char*, 11> kMigrations{
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
    // 7: the services' status callbacks. Each status change of a message whose service has a
    // callback endpoint is put in an outbox by the same transaction that changes it (a trigger,
    // callback_triggers() below, so that no code path that sets a status can forget one); the
    // dispatcher POSTs them and deletes each once its endpoint took it. `meta` holds this database's instance id, part of
    // every webhook-id, so that two daemons' callbacks never share one.
    R"sql(
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('instance', lower(hex(randomblob(6))));
CREATE TABLE callback_services (      -- the services with an endpoint, written by the daemon from its config
    service TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE callbacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the webhook-id is made of it
    service     TEXT NOT NULL,
    message_key TEXT NOT NULL,          -- the message's job id: its callbacks go out one at a time, in order
    payload     TEXT NOT NULL,          -- the body, exactly as signed and sent
    created_at  INTEGER NOT NULL,       -- Unix ms: the status change; given up 24 h after it
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX callbacks_by_service ON callbacks(service, id);
)sql",
    // 8: retention. The messages in the order of their last change: the retention's sweeps walk it
    // from a cursor kept in `meta`, and a message that changes again moves ahead of the cursor, to
    // be swept when its new change is old enough (a journey's warning scheduled months ahead is
    // kept until it went out). Measured: a few µs per message (docs/privacy.md).
    // The message list (GET /v1/messages) also reads it: a service's messages newest first, and
    // one found by the service's reference.
    R"sql(
CREATE INDEX messages_by_updated ON messages(updated_at);
CREATE INDEX messages_by_service ON messages(service, id);
CREATE INDEX messages_by_reference ON messages(reference) WHERE reference IS NOT NULL;
)sql",
    // 9: journeys (docs/journeys.md). A message that is a journey's step names its instance; how
    // far it went (delivered, read or opened, clicked, failed for good) goes into a feed in the
    // transaction that records it, by triggers (no code path that sets a status can forget one),
    // and the journeys' runner takes the feed's rows and deletes them once its instances moved.
    // The WHEN tests a column of the row: nothing to look up for the other messages.
    R"sql(
ALTER TABLE messages ADD COLUMN journey TEXT;
CREATE INDEX messages_by_journey ON messages(journey) WHERE journey IS NOT NULL;
CREATE TABLE journey_feed (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    journey  TEXT NOT NULL,
    job_id   TEXT NOT NULL,
    progress TEXT NOT NULL,             -- delivered, read, clicked, failed
    at       INTEGER NOT NULL
);
CREATE TRIGGER journey_feed_on_insert AFTER INSERT ON messages
WHEN new.journey IS NOT NULL AND new.job_id IS NOT NULL AND new.status IN ('delivered', 'read', 'failed', 'expired', 'rejected')
BEGIN
    INSERT INTO journey_feed (journey, job_id, progress, at) VALUES (new.journey, new.job_id,
        CASE new.status WHEN 'delivered' THEN 'delivered' WHEN 'read' THEN 'read' ELSE 'failed' END, new.updated_at);
END;
CREATE TRIGGER journey_feed_on_status AFTER UPDATE OF status ON messages
WHEN new.journey IS NOT NULL AND new.job_id IS NOT NULL AND new.status IS NOT old.status
     AND new.status IN ('delivered', 'read', 'failed', 'expired', 'rejected')
BEGIN
    INSERT INTO journey_feed (journey, job_id, progress, at) VALUES (new.journey, new.job_id,
        CASE new.status WHEN 'delivered' THEN 'delivered' WHEN 'read' THEN 'read' ELSE 'failed' END, new.updated_at);
END;
CREATE TRIGGER journey_feed_on_engagement AFTER INSERT ON events
WHEN new.status IN ('open', 'click', 'read')
BEGIN
    INSERT INTO journey_feed (journey, job_id, progress, at)
    SELECT m.journey, m.job_id, CASE new.status WHEN 'click' THEN 'clicked' ELSE 'read' END, new.at
    FROM messages m WHERE m.id = new.message_id AND m.journey IS NOT NULL AND m.job_id IS NOT NULL;
END;
)sql",
    // 10: what citizens send back (daemon/receipts/inbound.hpp). A reply is a row as soon as it
    // comes (a provider's second delivery of it is dropped by its id), worked out afterwards;
    // `pending` rows are found by a partial index, the answered message by attempts_by_provider_id.
    R"sql(
CREATE TABLE inbound (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    provider     TEXT NOT NULL,             -- the provider instance it came through
    provider_id  TEXT,                      -- its id of the message
    channel      TEXT NOT NULL,
    sender       TEXT,                      -- the address; cleared by the retention
    text         TEXT,                      -- cleared by the retention
    in_reply_to  TEXT,                      -- the provider's id of our message it answers (WhatsApp)
    received_at  INTEGER NOT NULL,
    outcome      TEXT NOT NULL,             -- pending, opted_out, opted_in, journey, forwarded, unknown_sender, unmatched
    citizen      TEXT,
    service      TEXT,
    journey      TEXT,
    answered_job TEXT,
    keyword      TEXT,
    settled_at   INTEGER
);
CREATE UNIQUE INDEX inbound_by_provider_id ON inbound(provider, provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX inbound_pending ON inbound(id) WHERE outcome = 'pending';
CREATE INDEX inbound_by_citizen ON inbound(citizen) WHERE citizen IS NOT NULL;
CREATE INDEX inbound_by_received ON inbound(received_at);
)sql",
    // 11: the dashboard's audit log (daemon/receipts/audit.hpp), newest first by id.
    R"sql(
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    operator TEXT NOT NULL,
    role     TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    detail   TEXT NOT NULL,
    address  TEXT NOT NULL
);
CREATE INDEX audit_by_at ON audit(at);
CREATE INDEX audit_by_operator ON audit(operator, id);
)sql",
};

// The outbox's triggers, created by the receipts' writer on its own connection (TEMP: they live
// with it, and every write to the receipts goes through it) while at least one service has an
// endpoint, dropped when none has: a town without callbacks pays nothing per status change
// (measured: the triggers' WHEN alone cost 2 µs per message, the first form with an IN
// subquery 12 µs). The INSERT's table is unqualified, as SQLite asks of a trigger.
inline std::string callback_triggers() {
    // What both triggers insert: the callback's body, as signed and sent.
    const std::string insert = R"sql(
BEGIN
    INSERT INTO callbacks (service, message_key, payload, created_at)
    VALUES (new.service, ifnull(new.job_id, new.id), json_object(
        'type', 'message.' || new.status,
        'timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', new.updated_at / 1000.0, 'unixepoch'),
        'data', json_object(
            'id', new.job_id, 'service', new.service, 'reference', new.reference,
            'status', new.status, 'status_reason', new.status_reason,
            'template', new.template, 'campaign', new.campaign, 'channel', new.channel,
            'provider', (SELECT provider FROM main.attempts WHERE message_id = new.id ORDER BY n DESC LIMIT 1),
            'attempts', (SELECT count(*) FROM main.attempts WHERE message_id = new.id))), new.updated_at);
END;
)sql";
    const std::string heard = R"sql(
     new.status IN ('sent', 'delivered', 'read', 'failed', 'expired', 'cancelled', 'unknown', 'rejected')
     AND EXISTS (SELECT 1 FROM main.callback_services WHERE service = new.service))sql";
    return "CREATE TEMP TRIGGER IF NOT EXISTS callback_on_insert AFTER INSERT ON main.messages WHEN" + heard + insert +
           "CREATE TEMP TRIGGER IF NOT EXISTS callback_on_status AFTER UPDATE OF status ON main.messages\n"
           "WHEN new.status IS NOT old.status AND" + heard + insert;
}
inline constexpr const char* kDropCallbackTriggers =
    "DROP TRIGGER IF EXISTS temp.callback_on_insert; DROP TRIGGER IF EXISTS temp.callback_on_status;";

}  // namespace crieur::schema
