//! Users of the web UI: validation, argon2 password hashing, the admin
//! operations (create, list, change role, disable, reset password, delete)
//! and the first admin on an empty database.
//!
//! Hashing is slow on purpose (argon2id, ~20 MiB and two passes), so it never
//! runs inside a write transaction: callers hash first ([`prepare_user`],
//! [`prepare_patch`]) and hand the result to the writer. Hashes run on the
//! blocking pool, a few at a time, so a burst of logins cannot exhaust memory.
//!
//! The last active admin (role `admin`, not disabled) can be neither
//! deleted, nor demoted, nor disabled. Every change is audited (entity
//! `user`); password hashes never appear in views or audit entries.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::error::Error;
use super::views::rfc3339;
use super::{audit, now_ms};
use crate::auth::{Role, new_secret};
use crate::config::Config;
use crate::store::{Backend, NewUser, Queries, StoreError, Topic, UserQueries, UserRecord};

/// The least number of characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The most bytes of a password (argon2 would take more; nobody needs more).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The username of the user created on an empty database.
pub const FIRST_ADMIN: &str = "admin";

/// Hashes running at once (each holds ~20 MiB).
static HASHING: Semaphore = Semaphore::const_new(4);

/// Whether `name` is a valid username: 1 to 64 of `[a-zA-Z0-9_.@-]`.
pub fn is_valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'))
}

/// A bad username, as a 422 naming `field`.
pub fn check_username(field: &str, name: &str) -> Result<(), Error> {
    if is_valid_username(name) {
        Ok(())
    } else {
        Err(Error::invalid(field, "1 to 64 ASCII letters, digits, `_`, `.`, `@` or `-`"))
    }
}

/// A password that is too short or too long, as a 422 naming `field`.
pub fn check_password(field: &str, password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(Error::invalid(field, format!("at least {MIN_PASSWORD_CHARS} characters")))
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(Error::invalid(field, format!("at most {MAX_PASSWORD_BYTES} bytes")))
    } else {
        Ok(())
    }
}

fn hashing_failed(e: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt(format!("password hashing failed: {e}")))
}

/// Runs `work` on the blocking pool, at most a few at once.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    let _permit = HASHING.acquire().await.map_err(hashing_failed)?;
    tokio::task::spawn_blocking(work).await.map_err(hashing_failed)
}

/// The argon2id PHC string of `password` (random salt, default parameters).
pub async fn hash_password(password: String) -> Result<String, Error> {
    blocking(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await?
        .map_err(hashing_failed)
}

/// A hash of a random password, verified against when a username does not
/// exist, so that a login costs the same whether or not it does.
async fn dummy_hash() -> Result<&'static str, Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_password(new_secret("")).await?;
    Ok(DUMMY.get_or_init(|| hash))
}

/// Whether `password` matches the PHC string `hash`; with no hash (no such
/// user) it verifies against a dummy hash all the same and answers false.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, Error> {
    let (hash, real) = match hash {
        Some(hash) => (hash, true),
        None => (dummy_hash().await?.to_owned(), false),
    };
    let matches =
        blocking(move || Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok()).await?;
    Ok(real && matches)
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login_at: Option<String>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            role: Role::parse(&u.role).unwrap_or(Role::Viewer),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            last_login_at: u.last_login_at.map(rfc3339),
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// 1 to 64 of `[a-zA-Z0-9_.@-]`, unique regardless of case.
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    pub role: Role,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub role: Option<Role>,
    /// A disabled user cannot log in; its sessions end.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new password (at least 10 characters); the user's sessions end.
    #[serde(default)]
    pub password: Option<String>,
}

/// A validated new user with its password hashed: ready for the writer.
#[derive(Debug, Clone)]
pub struct PreparedUser {
    pub username: String,
    pub role: Role,
    password_hash: String,
}

/// Validates `input` and hashes its password (outside any transaction).
pub async fn prepare_user(input: UserInput) -> Result<PreparedUser, Error> {
    check_username("username", &input.username)?;
    check_password("password", &input.password)?;
    let password_hash = hash_password(input.password).await?;
    Ok(PreparedUser { username: input.username, role: input.role, password_hash })
}

/// A validated [`UserPatch`], its new password hashed.
#[derive(Debug, Clone, Default)]
pub struct PreparedPatch {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    password_hash: Option<String>,
}

/// Validates `patch` and hashes its new password, if any.
pub async fn prepare_patch(patch: UserPatch) -> Result<PreparedPatch, Error> {
    let password_hash = match patch.password {
        Some(password) => {
            check_password("password", &password)?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    Ok(PreparedPatch { role: patch.role, disabled: patch.disabled, password_hash })
}

fn is_active_admin(u: &UserRecord) -> bool {
    u.role == Role::Admin.as_str() && !u.disabled
}

fn json(view: &UserView) -> String {
    serde_json::to_string(view).unwrap_or_default()
}

async fn find<T: UserQueries>(tx: &mut T, username: &str) -> Result<UserRecord, Error> {
    tx.user(username).await?.ok_or_else(|| Error::NotFound(format!("user `{username}`")))
}

/// Refuses a change that would leave no active admin.
async fn keep_an_admin<T: UserQueries>(tx: &mut T, user: &UserRecord, what: &str) -> Result<(), Error> {
    if is_active_admin(user) && tx.count_active_admins().await? <= 1 {
        return Err(Error::Conflict(format!(
            "`{}` is the last active admin: {what} would lock everyone out of user management; \
             make another user admin first",
            user.username
        )));
    }
    Ok(())
}

/// All users, by username.
pub async fn list_users<T: UserQueries>(tx: &mut T) -> Result<Vec<UserView>, Error> {
    Ok(tx.users().await?.iter().map(UserView::from).collect())
}

/// One user (username compared without case), or 404.
pub async fn get_user<T: UserQueries>(tx: &mut T, username: &str) -> Result<UserView, Error> {
    Ok(UserView::from(&find(tx, username).await?))
}

/// Creates a user; 409 when the username is taken (in any case).
pub async fn create_user<T: Queries + UserQueries>(
    tx: &mut T,
    actor: &str,
    user: PreparedUser,
) -> Result<UserView, Error> {
    let at = now_ms();
    let new = NewUser { username: &user.username, password_hash: &user.password_hash, role: user.role.as_str(), at };
    let record = match tx.insert_user(&new).await {
        Err(StoreError::Duplicate) => {
            return Err(Error::Conflict(format!("a user `{}` already exists", user.username)));
        }
        other => other?,
    };
    let view = UserView::from(&record);
    audit(tx, at, actor, "user.create", "user", &record.username, None, None, Some(&json(&view))).await?;
    Ok(view)
}

/// Changes a user's role, disabled flag and/or password. Disabling or a new
/// password ends the user's sessions; the last active admin keeps its role
/// and stays enabled.
pub async fn update_user<T: Queries + UserQueries>(
    tx: &mut T,
    actor: &str,
    username: &str,
    patch: PreparedPatch,
) -> Result<UserView, Error> {
    let mut user = find(tx, username).await?;
    let before = UserView::from(&user);
    if let Some(role) = patch.role {
        if role != Role::Admin {
            keep_an_admin(tx, &user, "demoting it").await?;
        }
        user.role = role.as_str().to_owned();
    }
    if let Some(disabled) = patch.disabled {
        if disabled {
            keep_an_admin(tx, &user, "disabling it").await?;
        }
        user.disabled = disabled;
    }
    let new_password = patch.password_hash.is_some();
    if let Some(hash) = patch.password_hash {
        user.password_hash = hash;
    }
    let at = now_ms();
    user.updated_at = at;
    tx.update_user(&user).await?;
    if user.disabled || new_password {
        tx.delete_user_sessions(user.id).await?;
        // Open UI streams of those sessions end (every replica).
        tx.notify(Topic::Keys).await?;
    }
    let after = UserView::from(&user);
    let (b, a) = (json(&before), json(&after));
    audit(tx, at, actor, "user.update", "user", &user.username, None, Some(&b), Some(&a)).await?;
    if new_password {
        audit(tx, at, actor, "user.password", "user", &user.username, None, None, None).await?;
    }
    Ok(after)
}

/// Deletes a user and its sessions (not the last active admin).
pub async fn delete_user<T: Queries + UserQueries>(tx: &mut T, actor: &str, username: &str) -> Result<(), Error> {
    let user = find(tx, username).await?;
    keep_an_admin(tx, &user, "deleting it").await?;
    tx.delete_user(user.id).await?;
    tx.notify(Topic::Keys).await?;
    let before = json(&UserView::from(&user));
    audit(tx, now_ms(), actor, "user.delete", "user", &user.username, None, Some(&before), None).await?;
    Ok(())
}

/// Creates the user `admin` on a database without users: with
/// `FLAGYARD_ADMIN_PASSWORD`, or with a random password that is returned
/// (to be shown once). Replicas starting together race like
/// [`super::bootstrap`]: the writer lock (Postgres) or the unique index
/// makes one win, and the others find a user and do nothing.
pub async fn bootstrap_users<B: Backend>(store: &B, config: &Config) -> Result<Option<String>, Error> {
    let mut tx = store.read().await?;
    let empty = tx.count_users().await? == 0;
    drop(tx);
    if !empty {
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.clone(), false),
        None => (new_secret(""), true),
    };
    check_password("FLAGYARD_ADMIN_PASSWORD", &password)?;
    let user = PreparedUser {
        username: FIRST_ADMIN.to_owned(),
        role: Role::Admin,
        password_hash: hash_password(password.clone()).await?,
    };
    for attempt in 1..=5u64 {
        let mut tx = store.write().await?;
        if tx.count_users().await? > 0 {
            return Ok(None);
        }
        let created = async {
            create_user(&mut tx, "system", user.clone()).await?;
            B::commit(tx).await?;
            Ok::<_, Error>(())
        };
        match created.await {
            Ok(()) => return Ok(generated.then_some(password)),
            Err(Error::Conflict(_) | Error::Store(StoreError::Duplicate)) => {
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Creates a user outside the server (`flagyard user create`): validates,
/// hashes, and writes in one transaction on `store` (migrated). `actor`
/// names who did it in the audit log.
pub async fn create_user_directly<B: Backend>(store: &B, actor: &str, input: UserInput) -> Result<UserView, Error> {
    let user = prepare_user(input).await?;
    let mut tx = store.write().await?;
    let view = create_user(&mut tx, actor, user).await?;
    B::commit(tx).await?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords_are_checked() {
        for good in ["a", "alice", "Bob.Smith", "ops@example.com", "x_y-z", &"n".repeat(64)] {
            assert!(is_valid_username(good), "{good}");
        }
        for bad in ["", "a b", "ä", "a/b", "a:b", &"n".repeat(65), "a\0"] {
            assert!(!is_valid_username(bad), "{bad:?}");
        }
        assert!(check_password("p", "123456789").is_err());
        assert!(check_password("p", "1234567890").is_ok());
        assert!(check_password("p", "ääääääääää").is_ok(), "characters, not bytes");
        assert!(check_password("p", &"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(hash, hash_password("correct horse battery".into()).await.unwrap(), "salted");
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("correct horse battery".into(), None).await.unwrap(), "no user: false");
        assert!(!verify_password("x".into(), Some("not a PHC string".into())).await.unwrap());
    }
}
