//! Storage of the web UI's users and their server-side sessions
//! ([`UserQueries`]), implemented for SQLite (`sqlite/users.rs`) and
//! Postgres (`postgres/users.rs`).
//!
//! Usernames are unique regardless of case (an index on `lower(username)`)
//! and looked up the same way. Sessions are keyed by the SHA-256 (hex) of
//! their random token, so a leaked database does not leak live sessions;
//! they live in the database so that any replica serves them. Times are
//! epoch milliseconds.

use std::future::Future;

use super::Result;

row! {
    /// A user of the web UI.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserRecord {
        pub id: i64,
        /// As created (lookups ignore case).
        pub username: String,
        /// An argon2 PHC string; never leaves the server.
        pub password_hash: String,
        /// `viewer`, `editor` or `admin`.
        pub role: String,
        pub disabled: bool,
        pub created_at: i64,
        pub updated_at: i64,
        pub last_login_at: Option<i64>,
    }
}

/// What a new user row holds.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub at: i64,
}

row! {
    /// A session row.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SessionRecord {
        /// SHA-256 (hex) of the session token.
        pub id: String,
        pub user_id: i64,
        /// The session's anti-CSRF token (random, sent in forms and headers).
        pub csrf_token: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub last_seen_at: i64,
    }
}

row! {
    /// A session joined with its user: what resolving a cookie needs.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SessionUser {
        #[flatten]
        pub session: SessionRecord,
        pub username: String,
        pub role: String,
        pub disabled: bool,
    }
}

/// The user and session queries, run inside one transaction like [`super::Queries`].
/// Plain statements: the rules (validation, last-admin protection, expiry)
/// are in `crate::service`.
pub trait UserQueries: Send {
    // Users.
    /// Every user, by lower-cased username.
    fn users(&mut self) -> impl Future<Output = Result<Vec<UserRecord>>> + Send;
    /// The user with this username, compared without case.
    fn user(&mut self, username: &str) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
    /// Inserts a user (enabled, never logged in); `StoreError::Duplicate` when
    /// the username is taken in any case.
    fn insert_user(&mut self, user: &NewUser<'_>) -> impl Future<Output = Result<UserRecord>> + Send;
    /// Writes password_hash, role, disabled and updated_at by id.
    fn update_user(&mut self, user: &UserRecord) -> impl Future<Output = Result<()>> + Send;
    /// Sets last_login_at.
    fn touch_login(&mut self, user_id: i64, at: i64) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the user and (by cascade) its sessions; false if there was none.
    fn delete_user(&mut self, user_id: i64) -> impl Future<Output = Result<bool>> + Send;
    fn count_users(&mut self) -> impl Future<Output = Result<i64>> + Send;
    /// Users with the `admin` role that are not disabled.
    fn count_active_admins(&mut self) -> impl Future<Output = Result<i64>> + Send;

    // Sessions.
    fn insert_session(&mut self, session: &SessionRecord) -> impl Future<Output = Result<()>> + Send;
    /// The session with this id and its user, expired or not.
    fn session(&mut self, id: &str) -> impl Future<Output = Result<Option<SessionUser>>> + Send;
    /// Slides a session: sets last_seen_at and expires_at; false if there is none.
    fn touch_session(
        &mut self,
        id: &str,
        last_seen_at: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// False if there was no such session.
    fn delete_session(&mut self, id: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Ends every session of a user; returns how many.
    fn delete_user_sessions(&mut self, user_id: i64) -> impl Future<Output = Result<u64>> + Send;
    /// Deletes sessions with expires_at <= `now`; returns how many.
    fn delete_expired_sessions(&mut self, now: i64) -> impl Future<Output = Result<u64>> + Send;
}
