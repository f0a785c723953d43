//! [`SegmentQueries`] on Postgres.

use crate::store::{Result, SegmentQueries, SegmentRecord};

use super::PgTx;

impl SegmentQueries for PgTx {
    async fn segments(&mut self) -> Result<Vec<SegmentRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, key, description, definition, revision, created_at, updated_at FROM segments ORDER BY key",
        )
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn segment(&mut self, key: &str) -> Result<Option<SegmentRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, key, description, definition, revision, created_at, updated_at FROM segments WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    async fn insert_segment(
        &mut self,
        key: &str,
        description: &str,
        definition: &str,
        at: i64,
    ) -> Result<SegmentRecord> {
        Ok(sqlx::query_as(
            "INSERT INTO segments (key, description, definition, revision, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $4)
             RETURNING id, key, description, definition, revision, created_at, updated_at",
        )
        .bind(key)
        .bind(description)
        .bind(definition)
        .bind(at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn update_segment(&mut self, s: &SegmentRecord) -> Result<()> {
        sqlx::query(
            "UPDATE segments SET description = $2, definition = $3, revision = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(s.id)
        .bind(&s.description)
        .bind(&s.definition)
        .bind(s.revision)
        .bind(s.updated_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn delete_segment(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM segments WHERE id = $1").bind(id).execute(self.conn().await?).await?;
        Ok(())
    }
}
