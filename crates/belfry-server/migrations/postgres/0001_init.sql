-- Belfry on PostgreSQL: the same model as the SQLite store.

-- The id counter. Appending locks this one row for the rest of the publishing
-- transaction, so ids are handed out and committed in the same order across
-- every replica, with no gaps (see store/postgres/mod.rs).
CREATE TABLE notification_counter (
    only_row  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    value     BIGINT  NOT NULL
);
INSERT INTO notification_counter (only_row, value) VALUES (TRUE, 0);

CREATE TABLE notifications (
    id          BIGINT   PRIMARY KEY,
    kind        TEXT     NOT NULL,
    severity    SMALLINT NOT NULL CHECK (severity BETWEEN 0 AND 2),
    title       TEXT     NOT NULL,
    body        TEXT,
    link        TEXT,
    data        TEXT,
    created_at  BIGINT   NOT NULL,
    publisher   TEXT     NOT NULL
);
CREATE INDEX notifications_created_at ON notifications (created_at);

CREATE TABLE idempotency_keys (
    publisher        TEXT   NOT NULL,
    key              TEXT   NOT NULL,
    notification_id  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (publisher, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE read_horizons (
    user_sub  TEXT   PRIMARY KEY,
    up_to     BIGINT NOT NULL
);

CREATE TABLE read_marks (
    user_sub         TEXT    NOT NULL,
    notification_id  BIGINT  NOT NULL,
    is_read          BOOLEAN NOT NULL,
    PRIMARY KEY (user_sub, notification_id)
);
CREATE INDEX read_marks_notification ON read_marks (notification_id);

CREATE TABLE acks (
    notification_id  BIGINT PRIMARY KEY,
    by_sub           TEXT   NOT NULL,
    by_email         TEXT,
    at               BIGINT NOT NULL,
    note             TEXT
);

CREATE TABLE preferences (
    user_sub    TEXT   PRIMARY KEY,
    json        TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    email          TEXT      NOT NULL UNIQUE,
    password_hash  TEXT      NOT NULL,
    is_admin       BOOLEAN   NOT NULL,
    disabled       BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at     BIGINT    NOT NULL
);

CREATE TABLE sessions (
    id          TEXT   PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT   PRIMARY KEY,
    session_id  TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE login_failures (
    key  TEXT   NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

CREATE TABLE revocations (
    id       BIGSERIAL PRIMARY KEY,
    scope    TEXT      NOT NULL CHECK (scope IN ('user', 'session')),
    subject  TEXT      NOT NULL,
    at       BIGINT    NOT NULL
);

CREATE TABLE meta (
    key    TEXT   PRIMARY KEY,
    value  BIGINT NOT NULL
);
