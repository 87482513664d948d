-- Per-admin read state. An id is read when an explicit mark says so, else
-- when it is at or below the admin's horizon ("mark all read up to N").
CREATE TABLE read_horizons (
    user_sub  TEXT    PRIMARY KEY,
    up_to     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE read_marks (
    user_sub         TEXT    NOT NULL,
    notification_id  INTEGER NOT NULL,
    is_read          INTEGER NOT NULL CHECK (is_read IN (0, 1)),
    PRIMARY KEY (user_sub, notification_id)
) WITHOUT ROWID;

CREATE INDEX read_marks_notification ON read_marks (notification_id);

-- Who took ownership of a notification ("I'm on it"); one owner at a time.
CREATE TABLE acks (
    notification_id  INTEGER PRIMARY KEY,
    by_sub           TEXT    NOT NULL,
    by_email         TEXT,
    at               INTEGER NOT NULL,
    note             TEXT
);

CREATE TABLE preferences (
    user_sub    TEXT    PRIMARY KEY,
    json        TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Local accounts for self-hosted sign-in.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    is_admin       INTEGER NOT NULL CHECK (is_admin IN (0, 1)),
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at     INTEGER NOT NULL
);

-- One sign-in: a chain of rotated refresh tokens.
CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;

-- Refresh tokens, stored only as SHA-256 hashes.
CREATE TABLE refresh_tokens (
    token_hash  TEXT    PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) WITHOUT ROWID;

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed sign-ins, per `email:<address>` and `ip:<address>`, for throttling.
CREATE TABLE login_failures (
    key  TEXT    NOT NULL,
    at   INTEGER NOT NULL
);

CREATE INDEX login_failures_key_at ON login_failures (key, at);

-- Revoked sign-ins and disabled users, in order, so every server process
-- (and replica) sharing this store ends the affected streams.
CREATE TABLE revocations (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 'user' (subject is the user's sub) or 'session' (subject is the session id)
    scope    TEXT    NOT NULL CHECK (scope IN ('user', 'session')),
    subject  TEXT    NOT NULL,
    at       INTEGER NOT NULL
);

-- Small durable facts, e.g. the highest id retention has pruned.
CREATE TABLE meta (
    key    TEXT    PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;
