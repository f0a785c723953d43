//! [`UserQueries`] on Postgres: the statements of `sqlite/users.rs` in Postgres syntax.

use crate::store::{NewUser, Result, SessionRecord, SessionUser, UserQueries, UserRecord};

use super::PgTx;

/// The columns of `UserRecord`.
macro_rules! user_columns {
    () => {
        "id, username, password_hash, role, disabled, created_at, updated_at, last_login_at"
    };
}

impl UserQueries for PgTx {
    async fn users(&mut self) -> Result<Vec<UserRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users ORDER BY lower(username), id"))
            .fetch_all(self.conn().await?)
            .await?)
    }

    async fn user(&mut self, username: &str) -> Result<Option<UserRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE lower(username) = lower($1)"))
            .bind(username)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn insert_user(&mut self, u: &NewUser<'_>) -> Result<UserRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at)
             VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING ",
            user_columns!()
        ))
        .bind(u.username)
        .bind(u.password_hash)
        .bind(u.role)
        .bind(u.at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn update_user(&mut self, u: &UserRecord) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $2, role = $3, disabled = $4, updated_at = $5 WHERE id = $1")
            .bind(u.id)
            .bind(&u.password_hash)
            .bind(&u.role)
            .bind(u.disabled)
            .bind(u.updated_at)
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }

    async fn touch_login(&mut self, user_id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(at)
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }

    async fn delete_user(&mut self, user_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(self.conn().await?).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_users(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(self.conn().await?).await?)
    }

    async fn count_active_admins(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(self.conn().await?)
            .await?)
    }

    async fn insert_session(&mut self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id)
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn session(&mut self, id: &str) -> Result<Option<SessionUser>> {
        Ok(sqlx::query_as(
            "SELECT s.id, s.user_id, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at,
                    u.username, u.role, u.disabled
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    async fn touch_session(&mut self, id: &str, last_seen_at: i64, expires_at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1")
            .bind(id)
            .bind(last_seen_at)
            .bind(expires_at)
            .execute(self.conn().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_session(&mut self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(self.conn().await?).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user_sessions(&mut self, user_id: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(self.conn().await?).await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&mut self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.conn().await?).await?;
        Ok(done.rows_affected())
    }
}
