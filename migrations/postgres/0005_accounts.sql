-- Accounts for the web UI, Postgres; mirrors the SQLite migration: users
-- (argon2 password hashes) and server-side sessions, shared by every replica.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    -- ASCII letters, digits and `_.@-`; unique regardless of case.
    username      TEXT COLLATE "C" NOT NULL,
    -- An argon2 PHC string (`$argon2id$v=19$...`).
    password_hash TEXT    NOT NULL,
    -- `viewer`, `editor` or `admin`.
    role          TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    last_login_at BIGINT
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE sessions (
    -- SHA-256 (hex) of the random session token; the token itself is never stored.
    id           TEXT   PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);
