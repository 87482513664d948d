-- Restores from a backup, recorded by `belfry-server restore`. Ids after
-- `floor` up to `base` may have been handed out before the restore, in a
-- history this database no longer has: a client resuming from one of them
-- gets `event: reset`, and new notifications start at `base`.
CREATE TABLE restores (
    id     BIGSERIAL PRIMARY KEY,
    floor  BIGINT NOT NULL,
    base   BIGINT NOT NULL,
    at     BIGINT NOT NULL
);
