//! [`ExperimentQueries`] on Postgres.

use crate::store::{ExperimentMetricRecord, ExperimentQueries, ExperimentRecord, Result};

use super::PgTx;

/// The select of `ExperimentRecord`, joined with the keys it references (`x` is the experiment).
macro_rules! experiment_select {
    () => {
        "SELECT x.id, x.key, x.name, x.hypothesis, x.flag_id, f.key AS flag_key, x.environment_id,
                e.key AS environment_key, x.rule_id, x.control_variant, x.primary_metric_id,
                m.key AS primary_metric_key, x.analysis, x.alpha, x.minimum_detectable_effect, x.state,
                x.started_at, x.stopped_at, x.split_snapshot, x.revision, x.created_at, x.updated_at
         FROM experiments x JOIN flags f ON f.id = x.flag_id JOIN environments e ON e.id = x.environment_id
         JOIN metrics m ON m.id = x.primary_metric_id"
    };
}

impl ExperimentQueries for PgTx {
    async fn experiments(&mut self) -> Result<Vec<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " ORDER BY x.key")).fetch_all(self.conn().await?).await?)
    }

    async fn experiment(&mut self, key: &str) -> Result<Option<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " WHERE x.key = $1"))
            .bind(key)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn experiments_of_flag(&mut self, flag_id: i64) -> Result<Vec<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " WHERE x.flag_id = $1 ORDER BY x.key"))
            .bind(flag_id)
            .fetch_all(self.conn().await?)
            .await?)
    }

    async fn insert_experiment(&mut self, x: &ExperimentRecord) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO experiments (key, name, hypothesis, flag_id, environment_id, rule_id, control_variant,
                                      primary_metric_id, analysis, alpha, minimum_detectable_effect, state,
                                      started_at, stopped_at, split_snapshot, revision, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16) RETURNING id",
        )
        .bind(&x.key)
        .bind(&x.name)
        .bind(&x.hypothesis)
        .bind(x.flag_id)
        .bind(x.environment_id)
        .bind(&x.rule_id)
        .bind(&x.control_variant)
        .bind(x.primary_metric_id)
        .bind(&x.analysis)
        .bind(x.alpha)
        .bind(x.minimum_detectable_effect)
        .bind(&x.state)
        .bind(x.started_at)
        .bind(x.stopped_at)
        .bind(&x.split_snapshot)
        .bind(x.created_at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn update_experiment(&mut self, x: &ExperimentRecord) -> Result<()> {
        sqlx::query(
            "UPDATE experiments SET name = $2, hypothesis = $3, flag_id = $4, environment_id = $5, rule_id = $6,
                    control_variant = $7, primary_metric_id = $8, analysis = $9, alpha = $10,
                    minimum_detectable_effect = $11, state = $12, started_at = $13, stopped_at = $14,
                    split_snapshot = $15, revision = $16, updated_at = $17
             WHERE id = $1",
        )
        .bind(x.id)
        .bind(&x.name)
        .bind(&x.hypothesis)
        .bind(x.flag_id)
        .bind(x.environment_id)
        .bind(&x.rule_id)
        .bind(&x.control_variant)
        .bind(x.primary_metric_id)
        .bind(&x.analysis)
        .bind(x.alpha)
        .bind(x.minimum_detectable_effect)
        .bind(&x.state)
        .bind(x.started_at)
        .bind(x.stopped_at)
        .bind(&x.split_snapshot)
        .bind(x.revision)
        .bind(x.updated_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn delete_experiment(&mut self, id: i64) -> Result<()> {
        // Units have no foreign key (migration 0007): no ingest transaction
        // may run beside this one, or it could add units to a deleted
        // experiment. The ingest lock is held to this transaction's end.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(super::INGEST_LOCK).execute(self.conn().await?).await?;
        sqlx::query(
            "WITH units AS (DELETE FROM experiment_units WHERE experiment_id = $1)
             DELETE FROM experiments WHERE id = $1",
        )
        .bind(id)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn experiment_metrics(&mut self, experiment_id: i64) -> Result<Vec<ExperimentMetricRecord>> {
        Ok(sqlx::query_as(
            "SELECT em.metric_id, m.key AS metric_key, em.role FROM experiment_metrics em
             JOIN metrics m ON m.id = em.metric_id WHERE em.experiment_id = $1 ORDER BY em.role, m.key",
        )
        .bind(experiment_id)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn set_experiment_metrics(&mut self, experiment_id: i64, metrics: &[(i64, String)]) -> Result<()> {
        sqlx::query("DELETE FROM experiment_metrics WHERE experiment_id = $1")
            .bind(experiment_id)
            .execute(self.conn().await?)
            .await?;
        for (metric_id, role) in metrics {
            sqlx::query("INSERT INTO experiment_metrics (experiment_id, metric_id, role) VALUES ($1, $2, $3)")
                .bind(experiment_id)
                .bind(metric_id)
                .bind(role)
                .execute(self.conn().await?)
                .await?;
        }
        Ok(())
    }
}
