-- Flagyard schema, Postgres. Times are epoch milliseconds; JSON is text.
--
-- Mirrors migrations/sqlite/0001_init.sql. Keys are `COLLATE "C"` so that
-- uniqueness and `ORDER BY key` are bytewise, as with SQLite's BINARY
-- collation, whatever the database's default collation is.

CREATE TABLE environments (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT COLLATE "C" NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    version     BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE flags (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT COLLATE "C" NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL,
    variants    TEXT    NOT NULL,
    tags        TEXT    NOT NULL DEFAULT '[]',
    archived    BOOLEAN NOT NULL DEFAULT FALSE,
    revision    BIGINT  NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- The current configuration of each flag in each environment.
CREATE TABLE flag_configs (
    flag_id        BIGINT NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment_id BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    config         TEXT   NOT NULL,
    revision       BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT   NOT NULL,
    PRIMARY KEY (flag_id, environment_id)
);
-- Postgres does not index referencing columns: `environment_flags` and the
-- cascade from `environments` look configurations up by environment.
CREATE INDEX flag_configs_environment ON flag_configs (environment_id);

-- Every configuration revision ever written (rollback reads these).
CREATE TABLE flag_config_history (
    flag_id        BIGINT NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment_id BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    revision       BIGINT NOT NULL,
    config         TEXT   NOT NULL,
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT   NOT NULL,
    PRIMARY KEY (flag_id, environment_id, revision)
);

CREATE TABLE segments (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT   NOT NULL DEFAULT '',
    definition  TEXT   NOT NULL,
    revision    BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Each environment version's change: what the stream sends as a patch.
CREATE TABLE changes (
    environment_id BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    version        BIGINT NOT NULL,
    entity         TEXT   NOT NULL,
    key            TEXT COLLATE "C" NOT NULL,
    op             TEXT   NOT NULL,
    at             BIGINT NOT NULL,
    PRIMARY KEY (environment_id, version)
);

CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    entity      TEXT   NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    environment TEXT,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_key ON audit_log (key, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT   NOT NULL,
    role        TEXT   NOT NULL,
    token_hash  TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE sdk_keys (
    id             BIGSERIAL PRIMARY KEY,
    environment_id BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           TEXT   NOT NULL,
    key_hash       TEXT   NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX sdk_keys_environment ON sdk_keys (environment_id);
