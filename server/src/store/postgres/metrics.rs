//! [`MetricQueries`] on Postgres.

use crate::store::{MetricQueries, MetricRecord, Result};

use super::PgTx;

/// The columns of `MetricRecord`.
macro_rules! metric_columns {
    () => {
        "id, key, name, description, event, kind, good_direction, guardrail, revision, created_at, updated_at"
    };
}

impl MetricQueries for PgTx {
    async fn metrics(&mut self) -> Result<Vec<MetricRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", metric_columns!(), " FROM metrics ORDER BY key"))
            .fetch_all(self.conn().await?)
            .await?)
    }

    async fn metric(&mut self, key: &str) -> Result<Option<MetricRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", metric_columns!(), " FROM metrics WHERE key = $1"))
            .bind(key)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn insert_metric(&mut self, m: &MetricRecord) -> Result<MetricRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO metrics (key, name, description, event, kind, good_direction, guardrail, revision,
                                  created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING ",
            metric_columns!()
        ))
        .bind(&m.key)
        .bind(&m.name)
        .bind(&m.description)
        .bind(&m.event)
        .bind(&m.kind)
        .bind(&m.good_direction)
        .bind(m.guardrail)
        .bind(m.created_at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn update_metric(&mut self, m: &MetricRecord) -> Result<()> {
        sqlx::query(
            "UPDATE metrics SET name = $2, description = $3, event = $4, kind = $5, good_direction = $6,
                                guardrail = $7, revision = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(m.id)
        .bind(&m.name)
        .bind(&m.description)
        .bind(&m.event)
        .bind(&m.kind)
        .bind(&m.good_direction)
        .bind(m.guardrail)
        .bind(m.revision)
        .bind(m.updated_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn delete_metric(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM metrics WHERE id = $1").bind(id).execute(self.conn().await?).await?;
        Ok(())
    }

    async fn metric_users(&mut self, id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM experiments WHERE primary_metric_id = $1
                OR id IN (SELECT experiment_id FROM experiment_metrics WHERE metric_id = $1)
             ORDER BY key",
        )
        .bind(id)
        .fetch_all(self.conn().await?)
        .await?)
    }
}
