//! [`ReleaseQueries`] on Postgres.

use sqlx::Row;

use crate::store::{ReleaseQueries, ReleaseRecord, Result};

use super::PgTx;

/// The columns of `ReleaseRecord`.
macro_rules! release_columns {
    () => {
        "id, name, description, state, changes, outcome, failure, reverts, reverted_by, scheduled_at, expires_at,
         on_stale, late_ms, revision, created_at, created_by, updated_at, updated_by, applied_at, applied_by"
    };
}

/// The columns every write sets, in the order [`bind_release`] binds them.
macro_rules! release_fields {
    () => {
        "name, description, state, changes, outcome, failure, reverts, reverted_by, scheduled_at, expires_at,
         on_stale, late_ms, revision, updated_at, updated_by, applied_at, applied_by"
    };
}

/// Binds `release_fields!()` of `r` as the statement's first parameters.
fn bind_release<'q>(q: super::PgQuery<'q>, r: &'q ReleaseRecord) -> super::PgQuery<'q> {
    q.bind(&r.name)
        .bind(&r.description)
        .bind(&r.state)
        .bind(&r.changes)
        .bind(&r.outcome)
        .bind(&r.failure)
        .bind(r.reverts)
        .bind(r.reverted_by)
        .bind(r.scheduled_at)
        .bind(r.expires_at)
        .bind(&r.on_stale)
        .bind(r.late_ms)
        .bind(r.revision)
        .bind(r.updated_at)
        .bind(&r.updated_by)
        .bind(r.applied_at)
        .bind(&r.applied_by)
}

impl ReleaseQueries for PgTx {
    async fn releases(&mut self, state: Option<&str>, limit: i64) -> Result<Vec<ReleaseRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            release_columns!(),
            " FROM releases WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
        ))
        .bind(state)
        .bind(limit)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn release(&mut self, id: i64) -> Result<Option<ReleaseRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", release_columns!(), " FROM releases WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn insert_release(&mut self, r: &ReleaseRecord) -> Result<i64> {
        let row = bind_release(
            sqlx::query(concat!(
                "INSERT INTO releases (",
                release_fields!(),
                ", created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             RETURNING id"
            )),
            r,
        )
        .bind(r.created_at)
        .bind(&r.created_by)
        .fetch_one(self.conn().await?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn update_release(&mut self, r: &ReleaseRecord) -> Result<()> {
        bind_release(
            sqlx::query(concat!(
                "UPDATE releases SET (",
                release_fields!(),
                ") = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             WHERE id = $18"
            )),
            r,
        )
        .bind(r.id)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn delete_release(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM releases WHERE id = $1").bind(id).execute(self.conn().await?).await?;
        Ok(())
    }

    async fn due_releases(&mut self, now: i64, limit: i64) -> Result<Vec<ReleaseRecord>> {
        // Replicas racing for the same due rows: each takes the ones no other holds.
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            release_columns!(),
            " FROM releases WHERE state = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at, id LIMIT $2
             FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn next_scheduled(&mut self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT min(scheduled_at) FROM releases WHERE state = 'scheduled'")
            .fetch_one(self.conn().await?)
            .await?)
    }
}
