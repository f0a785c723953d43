//! [`IngestQueries`] on SQLite: slices travel as one JSON parameter read
//! with `json_each`, so each bulk read or write is one cached statement.
//!
//! A unit's aggregates are stored as JSON arrays written by this module
//! (`serde_json`, which prints every `f64` so that it reads back exactly);
//! they travel inside the bulk parameter as strings so SQLite never
//! re-renders the numbers.

use serde_json::json;

use crate::store::{
    BatchAnswer, IngestQueries, Result, SnapshotRow, StoreError, UnitRow, VariantMetricRow, VariantUnitsRow,
};

use super::SqliteTx;

fn json_text(value: &serde_json::Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot encode a bulk parameter: {e}")))
}

/// Unit rows as one JSON parameter: `[unit, variant, exposed_at, excluded,
/// "counts", "totals"]` per row, each with exactly `metrics` aggregates.
fn unit_rows(metrics: usize, rows: &[UnitRow]) -> Result<String> {
    let mut data = Vec::with_capacity(rows.len());
    for r in rows {
        r.check_width(metrics)?;
        let (counts, totals) = (json_text(&json!(r.counts))?, json_text(&json!(r.totals))?);
        data.push(json!([r.unit, r.variant, r.exposed_at, i64::from(r.excluded), counts, totals]));
    }
    json_text(&serde_json::Value::Array(data))
}

impl IngestQueries for SqliteTx {
    async fn claim_batch(
        &mut self,
        environment_id: i64,
        batch_id: &str,
        received_at: i64,
        answer: &BatchAnswer,
    ) -> Result<Option<BatchAnswer>> {
        let inserted = sqlx::query(
            "INSERT INTO event_batches (environment_id, batch_id, received_at, accepted, rejected)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (environment_id, batch_id) DO NOTHING",
        )
        .bind(environment_id)
        .bind(batch_id)
        .bind(received_at)
        .bind(answer.accepted)
        .bind(&answer.rejected)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(None);
        }
        Ok(sqlx::query_as("SELECT accepted, rejected FROM event_batches WHERE environment_id = ?1 AND batch_id = ?2")
            .bind(environment_id)
            .bind(batch_id)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn prune_batches(&mut self, before: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM event_batches WHERE received_at < ?1").bind(before).execute(&mut *self.0).await?;
        Ok(done.rows_affected())
    }

    async fn add_event_count(&mut self, environment_id: i64, kind: &str, n: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO event_counts (environment_id, kind, accepted) VALUES (?1, ?2, ?3)
             ON CONFLICT (environment_id, kind) DO UPDATE SET accepted = accepted + excluded.accepted",
        )
        .bind(environment_id)
        .bind(kind)
        .bind(n)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn event_counts(&mut self, environment_id: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT kind, accepted FROM event_counts WHERE environment_id = ?1 ORDER BY kind")
            .bind(environment_id)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn units(&mut self, experiment_id: i64, units: &[&str]) -> Result<Vec<UnitRow>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, i64, bool, String, String)> = sqlx::query_as(
            "SELECT unit, variant, exposed_at, excluded, counts, totals FROM experiment_units
             WHERE experiment_id = ?1 AND unit IN (SELECT value FROM json_each(?2))",
        )
        .bind(experiment_id)
        .bind(json_text(&json!(units))?)
        .fetch_all(&mut *self.0)
        .await?;
        rows.into_iter()
            .map(|(unit, variant, exposed_at, excluded, counts, totals)| {
                let bad = |e: serde_json::Error| StoreError::Corrupt(format!("aggregates of unit `{unit}`: {e}"));
                let counts = serde_json::from_str(&counts).map_err(bad)?;
                let totals = serde_json::from_str(&totals).map_err(bad)?;
                Ok(UnitRow { unit, variant, exposed_at, excluded, counts, totals })
            })
            .collect()
    }

    async fn insert_units(&mut self, experiment_id: i64, metrics: usize, rows: &[UnitRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO experiment_units (experiment_id, unit, variant, exposed_at, excluded, counts, totals)
             SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
             FROM json_each(?2) AS j",
        )
        .bind(experiment_id)
        .bind(unit_rows(metrics, rows)?)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn put_units(&mut self, experiment_id: i64, metrics: usize, rows: &[UnitRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO experiment_units (experiment_id, unit, variant, exposed_at, excluded, counts, totals)
             SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5
             FROM json_each(?2) AS j WHERE true
             ON CONFLICT (experiment_id, unit) DO UPDATE
             SET variant = excluded.variant, exposed_at = excluded.exposed_at, excluded = excluded.excluded,
                 counts = excluded.counts, totals = excluded.totals",
        )
        .bind(experiment_id)
        .bind(unit_rows(metrics, rows)?)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn add_variant_units(&mut self, experiment_id: i64, deltas: &[VariantUnitsRow]) -> Result<()> {
        for d in deltas {
            sqlx::query(
                "INSERT INTO variant_units (experiment_id, variant, units, excluded) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (experiment_id, variant) DO UPDATE
                 SET units = variant_units.units + excluded.units, excluded = variant_units.excluded + excluded.excluded",
            )
            .bind(experiment_id)
            .bind(&d.variant)
            .bind(d.units)
            .bind(d.excluded)
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn add_variant_metrics(&mut self, experiment_id: i64, deltas: &[VariantMetricRow]) -> Result<()> {
        for d in deltas {
            sqlx::query(
                "INSERT INTO variant_metrics (experiment_id, metric_id, variant, n, sum, sum_sq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (experiment_id, metric_id, variant) DO UPDATE
                 SET n = variant_metrics.n + excluded.n, sum = variant_metrics.sum + excluded.sum,
                     sum_sq = variant_metrics.sum_sq + excluded.sum_sq",
            )
            .bind(experiment_id)
            .bind(d.metric_id)
            .bind(&d.variant)
            .bind(d.n)
            .bind(d.sum)
            .bind(d.sum_sq)
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn variant_units(&mut self, experiment_id: i64) -> Result<Vec<VariantUnitsRow>> {
        Ok(sqlx::query_as(
            "SELECT variant, units, excluded FROM variant_units WHERE experiment_id = ?1 ORDER BY variant",
        )
        .bind(experiment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn variant_metrics(&mut self, experiment_id: i64) -> Result<Vec<VariantMetricRow>> {
        Ok(sqlx::query_as(
            "SELECT metric_id, variant, n, sum, sum_sq FROM variant_metrics WHERE experiment_id = ?1
             ORDER BY metric_id, variant",
        )
        .bind(experiment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn snapshot_results(&mut self, experiment_id: i64, day: i64, taken_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO result_snapshots (experiment_id, day, metric_id, variant, n, sum, sum_sq, taken_at)
             SELECT experiment_id, ?2, 0, variant, units, variant_units.excluded, 0, ?3
             FROM variant_units WHERE experiment_id = ?1
             UNION ALL
             SELECT experiment_id, ?2, metric_id, variant, n, sum, sum_sq, ?3
             FROM variant_metrics WHERE experiment_id = ?1
             ON CONFLICT (experiment_id, day, metric_id, variant)
             DO UPDATE SET n = excluded.n, sum = excluded.sum, sum_sq = excluded.sum_sq, taken_at = excluded.taken_at",
        )
        .bind(experiment_id)
        .bind(day)
        .bind(taken_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn result_snapshots(&mut self, experiment_id: i64, since_day: i64) -> Result<Vec<SnapshotRow>> {
        Ok(sqlx::query_as(
            "SELECT day, metric_id, variant, n, sum, sum_sq FROM result_snapshots
             WHERE experiment_id = ?1 AND day >= ?2 ORDER BY day, metric_id, variant",
        )
        .bind(experiment_id)
        .bind(since_day)
        .fetch_all(&mut *self.0)
        .await?)
    }
}
