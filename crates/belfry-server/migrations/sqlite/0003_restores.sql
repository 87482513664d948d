-- Restores from a backup, recorded by `belfry-server restore`. Ids after
-- `floor` up to `base` may have been handed out before the restore, in a
-- history this database no longer has: a client resuming from one of them
-- gets `event: reset`, and new notifications start at `base`.
CREATE TABLE restores (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    floor  INTEGER NOT NULL,
    base   INTEGER NOT NULL,
    at     INTEGER NOT NULL
);
