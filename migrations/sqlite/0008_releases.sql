-- Releases (issue 14), SQLite: a named set of configuration changes across
-- flags and environments, applied at once (one new version per environment,
-- every environment in one transaction), now or at a scheduled instant.
-- Times are epoch milliseconds. Mirrors the Postgres migration.
CREATE TABLE releases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    -- draft, scheduled, applied, reverted, failed, cancelled
    state        TEXT    NOT NULL,
    -- JSON array of parts: {flag, environment, enabled?, offVariant?,
    -- defaultVariant?, prerequisites?, rules?, baseRevision?}
    changes      TEXT    NOT NULL,
    -- JSON of what applying did: each part's configuration and revision
    -- before and after, each environment's new version.
    outcome      TEXT,
    -- Why the last (scheduled) attempt failed.
    failure      TEXT,
    -- The release this one reverts, and the one that reverted this one.
    reverts      INTEGER,
    reverted_by  INTEGER,
    scheduled_at INTEGER,
    -- A scheduled release not applied by then (the server was down) is not applied.
    expires_at   INTEGER,
    -- When a part's base revision no longer matches at the scheduled time:
    -- `fail` (the default) or `apply` (on top of the newer edit).
    on_stale     TEXT    NOT NULL DEFAULT 'fail',
    -- How late a scheduled release was applied.
    late_ms      INTEGER,
    revision     INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL,
    applied_at   INTEGER,
    applied_by   TEXT
);
CREATE INDEX releases_due ON releases (scheduled_at) WHERE state = 'scheduled';
