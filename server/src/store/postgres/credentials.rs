//! [`CredentialQueries`] on Postgres: admin tokens and SDK keys.

use crate::store::{CredentialQueries, Result, SdkKeyRecord, TokenRecord};

use super::PgTx;

/// The columns of `SdkKeyRecord`, from `sdk_keys k JOIN environments e`.
macro_rules! sdk_key_columns {
    () => {
        "k.id, k.environment_id, e.key AS environment_key, k.name, k.key_hash AS hash, k.created_at, k.revoked_at, k.last_used_at"
    };
}

impl CredentialQueries for PgTx {
    async fn insert_token(&mut self, name: &str, role: &str, hash: &str, at: i64) -> Result<TokenRecord> {
        Ok(sqlx::query_as(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, name, role, token_hash AS hash, created_at, revoked_at, last_used_at",
        )
        .bind(name)
        .bind(role)
        .bind(hash)
        .bind(at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, role, token_hash AS hash, created_at, revoked_at, last_used_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    async fn tokens(&mut self) -> Result<Vec<TokenRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, role, token_hash AS hash, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY id",
        )
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn revoke_token(&mut self, id: i64, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(self.conn().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_tokens(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(self.conn().await?).await?)
    }

    async fn insert_sdk_key(&mut self, environment_id: i64, name: &str, hash: &str, at: i64) -> Result<SdkKeyRecord> {
        Ok(sqlx::query_as(concat!(
            "WITH k AS (
                 INSERT INTO sdk_keys (environment_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING id, environment_id, name, key_hash, created_at, revoked_at, last_used_at
             )
             SELECT ",
            sdk_key_columns!(),
            " FROM k JOIN environments e ON e.id = k.environment_id"
        ))
        .bind(environment_id)
        .bind(name)
        .bind(hash)
        .bind(at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn sdk_key_by_hash(&mut self, hash: &str) -> Result<Option<SdkKeyRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            sdk_key_columns!(),
            " FROM sdk_keys k JOIN environments e ON e.id = k.environment_id WHERE k.key_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    async fn sdk_keys(&mut self, environment_id: Option<i64>) -> Result<Vec<SdkKeyRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            sdk_key_columns!(),
            " FROM sdk_keys k JOIN environments e ON e.id = k.environment_id
             WHERE $1::bigint IS NULL OR k.environment_id = $1 ORDER BY k.id"
        ))
        .bind(environment_id)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn revoke_sdk_key(&mut self, id: i64, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE sdk_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(self.conn().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_credentials(&mut self, tokens: &[i64], keys: &[i64], at: i64, every_ms: i64) -> Result<()> {
        const TOKEN: &str =
            "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)";
        const KEY: &str =
            "UPDATE sdk_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)";
        for (sql, ids) in [(TOKEN, tokens), (KEY, keys)] {
            for id in ids {
                sqlx::query(sql).bind(id).bind(at).bind(at - every_ms).execute(self.conn().await?).await?;
            }
        }
        Ok(())
    }
}
