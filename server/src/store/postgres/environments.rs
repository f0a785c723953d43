//! [`EnvironmentQueries`] on Postgres.

use crate::store::{Environment, EnvironmentQueries, Result};

use super::PgTx;

impl EnvironmentQueries for PgTx {
    async fn environments(&mut self) -> Result<Vec<Environment>> {
        Ok(sqlx::query_as("SELECT id, key, name, version, created_at FROM environments ORDER BY id")
            .fetch_all(self.conn().await?)
            .await?)
    }

    async fn environment(&mut self, key: &str) -> Result<Option<Environment>> {
        Ok(sqlx::query_as("SELECT id, key, name, version, created_at FROM environments WHERE key = $1")
            .bind(key)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn insert_environment(&mut self, key: &str, name: &str, at: i64) -> Result<Environment> {
        Ok(sqlx::query_as(
            "INSERT INTO environments (key, name, version, created_at) VALUES ($1, $2, 0, $3)
             RETURNING id, key, name, version, created_at",
        )
        .bind(key)
        .bind(name)
        .bind(at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn bump_version(&mut self, environment_id: i64) -> Result<i64> {
        let version =
            sqlx::query_scalar("UPDATE environments SET version = version + 1 WHERE id = $1 RETURNING version")
                .bind(environment_id)
                .fetch_one(self.conn().await?)
                .await?;
        self.1.bumped(environment_id, version);
        Ok(version)
    }

    async fn bump_environment(&mut self, key: &str) -> Result<Option<Environment>> {
        let env: Option<Environment> = sqlx::query_as(
            "UPDATE environments SET version = version + 1 WHERE key = $1 RETURNING id, key, name, version, created_at",
        )
        .bind(key)
        .fetch_optional(self.conn().await?)
        .await?;
        if let Some(e) = &env {
            self.1.bumped(e.id, e.version);
        }
        Ok(env)
    }

    async fn lock_environment(&mut self, environment_id: i64) -> Result<()> {
        sqlx::query("SELECT id FROM environments WHERE id = $1 FOR UPDATE")
            .bind(environment_id)
            .fetch_optional(self.conn().await?)
            .await?;
        Ok(())
    }
}
