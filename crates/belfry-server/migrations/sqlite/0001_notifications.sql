-- Notifications in commit order. AUTOINCREMENT guarantees an id is never
-- reused, even after the newest rows are pruned, so a client's Last-Event-ID
-- can never point at a different notification.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    -- 0 info, 1 warning, 2 critical: ordered, so "at least warning" is a range.
    severity    INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 2),
    title       TEXT    NOT NULL,
    body        TEXT,
    link        TEXT,
    data        TEXT,
    -- Unix milliseconds, UTC.
    created_at  INTEGER NOT NULL,
    -- `sub` of the service token that published it.
    publisher   TEXT    NOT NULL
);

CREATE INDEX notifications_created_at ON notifications (created_at);

-- Idempotency keys, per publisher, kept for 24 hours.
CREATE TABLE idempotency_keys (
    publisher        TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    notification_id  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (publisher, key)
) WITHOUT ROWID;

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
