-- Flagyard schema, SQLite. Times are epoch milliseconds; JSON is text.

CREATE TABLE environments (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE flags (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL,
    variants    TEXT    NOT NULL,
    tags        TEXT    NOT NULL DEFAULT '[]',
    archived    INTEGER NOT NULL DEFAULT 0,
    revision    INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- The current configuration of each flag in each environment.
CREATE TABLE flag_configs (
    flag_id        INTEGER NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    config         TEXT    NOT NULL,
    revision       INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    updated_by     TEXT    NOT NULL,
    PRIMARY KEY (flag_id, environment_id)
);

-- Every configuration revision ever written (rollback reads these).
CREATE TABLE flag_config_history (
    flag_id        INTEGER NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    revision       INTEGER NOT NULL,
    config         TEXT    NOT NULL,
    updated_at     INTEGER NOT NULL,
    updated_by     TEXT    NOT NULL,
    PRIMARY KEY (flag_id, environment_id, revision)
);

CREATE TABLE segments (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    definition  TEXT    NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Each environment version's change: what the stream sends as a patch.
CREATE TABLE changes (
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    entity         TEXT    NOT NULL,
    key            TEXT    NOT NULL,
    op             TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    PRIMARY KEY (environment_id, version)
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    environment TEXT,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_key ON audit_log (key, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE sdk_keys (
    id             INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    key_hash       TEXT    NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);
