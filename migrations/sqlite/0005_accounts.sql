-- Accounts for the web UI, SQLite: users (argon2 password hashes) and
-- server-side sessions. Times are epoch milliseconds.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    -- ASCII letters, digits and `_.@-`; unique regardless of case.
    username      TEXT    NOT NULL,
    -- An argon2 PHC string (`$argon2id$v=19$...`).
    password_hash TEXT    NOT NULL,
    -- `viewer`, `editor` or `admin`.
    role          TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE sessions (
    -- SHA-256 (hex) of the random session token; the token itself is never stored.
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);
