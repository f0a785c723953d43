//! [`IngestQueries`] on Postgres: slices travel as arrays read with `UNNEST`,
//! so each bulk read or write is one prepared statement.
//!
//! Lookups join the array to the table rather than testing `= ANY($n)`: a
//! prepared statement's generic plan, made while the table was small or had
//! no statistics (autovacuum may be off), otherwise used only the leading
//! key columns and scanned every unit of the metric (seconds per batch at a
//! few hundred thousand units); the join probes the primary key per unit
//! whatever the statistics.

use super::Result;
use super::ingest::{BatchAnswer, IngestQueries, UnitMetricRow, UnitRow, VariantMetricRow, VariantUnitsRow};
use super::postgres::PgTx;

impl IngestQueries for PgTx {
    async fn claim_batch(
        &mut self,
        environment_id: i64,
        batch_id: &str,
        received_at: i64,
        answer: &BatchAnswer,
    ) -> Result<Option<BatchAnswer>> {
        let inserted = sqlx::query(
            "INSERT INTO event_batches (environment_id, batch_id, received_at, accepted, rejected)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (environment_id, batch_id) DO NOTHING",
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
        Ok(sqlx::query_as("SELECT accepted, rejected FROM event_batches WHERE environment_id = $1 AND batch_id = $2")
            .bind(environment_id)
            .bind(batch_id)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn prune_batches(&mut self, before: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM event_batches WHERE received_at < $1").bind(before).execute(&mut *self.0).await?;
        Ok(done.rows_affected())
    }

    async fn add_event_count(&mut self, environment_id: i64, kind: &str, n: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO event_counts (environment_id, kind, accepted) VALUES ($1, $2, $3)
             ON CONFLICT (environment_id, kind) DO UPDATE SET accepted = event_counts.accepted + excluded.accepted",
        )
        .bind(environment_id)
        .bind(kind)
        .bind(n)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn event_counts(&mut self, environment_id: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT kind, accepted FROM event_counts WHERE environment_id = $1 ORDER BY kind")
            .bind(environment_id)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn units(&mut self, experiment_id: i64, units: &[&str]) -> Result<Vec<UnitRow>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT e.unit, e.variant, e.exposed_at, e.excluded
             FROM UNNEST($2::text[]) AS u (unit)
             JOIN experiment_units e ON e.experiment_id = $1 AND e.unit = u.unit",
        )
        .bind(experiment_id)
        .bind(units)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn insert_units(&mut self, experiment_id: i64, rows: &[UnitRow]) -> Result<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let units: Vec<&str> = rows.iter().map(|r| r.unit.as_str()).collect();
        let variants: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.exposed_at).collect();
        let excluded: Vec<bool> = rows.iter().map(|r| r.excluded).collect();
        Ok(sqlx::query_scalar(
            "INSERT INTO experiment_units (experiment_id, unit, variant, exposed_at, excluded)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::boolean[])
             ON CONFLICT (experiment_id, unit) DO NOTHING RETURNING unit",
        )
        .bind(experiment_id)
        .bind(units)
        .bind(variants)
        .bind(at)
        .bind(excluded)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn put_units(&mut self, experiment_id: i64, rows: &[UnitRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let units: Vec<&str> = rows.iter().map(|r| r.unit.as_str()).collect();
        let variants: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.exposed_at).collect();
        let excluded: Vec<bool> = rows.iter().map(|r| r.excluded).collect();
        sqlx::query(
            "INSERT INTO experiment_units (experiment_id, unit, variant, exposed_at, excluded)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::boolean[])
             ON CONFLICT (experiment_id, unit) DO UPDATE
             SET variant = excluded.variant, exposed_at = excluded.exposed_at, excluded = excluded.excluded",
        )
        .bind(experiment_id)
        .bind(units)
        .bind(variants)
        .bind(at)
        .bind(excluded)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn unit_metrics(&mut self, experiment_id: i64, metric_id: i64, units: &[&str]) -> Result<Vec<UnitMetricRow>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT m.unit, m.count, m.total
             FROM UNNEST($3::text[]) AS u (unit)
             JOIN unit_metrics m ON m.experiment_id = $1 AND m.metric_id = $2 AND m.unit = u.unit",
        )
        .bind(experiment_id)
        .bind(metric_id)
        .bind(units)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn put_unit_metrics(&mut self, experiment_id: i64, metric_id: i64, rows: &[UnitMetricRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let units: Vec<&str> = rows.iter().map(|r| r.unit.as_str()).collect();
        let counts: Vec<i64> = rows.iter().map(|r| r.count).collect();
        let totals: Vec<f64> = rows.iter().map(|r| r.total).collect();
        sqlx::query(
            "INSERT INTO unit_metrics (experiment_id, metric_id, unit, count, total)
             SELECT $1, $2, * FROM UNNEST($3::text[], $4::bigint[], $5::float8[])
             ON CONFLICT (experiment_id, metric_id, unit) DO UPDATE SET count = excluded.count, total = excluded.total",
        )
        .bind(experiment_id)
        .bind(metric_id)
        .bind(units)
        .bind(counts)
        .bind(totals)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn add_variant_units(&mut self, experiment_id: i64, deltas: &[VariantUnitsRow]) -> Result<()> {
        for d in deltas {
            sqlx::query(
                "INSERT INTO variant_units (experiment_id, variant, units, excluded) VALUES ($1, $2, $3, $4)
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
                 VALUES ($1, $2, $3, $4, $5, $6)
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
            "SELECT variant, units, excluded FROM variant_units WHERE experiment_id = $1 ORDER BY variant",
        )
        .bind(experiment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn variant_metrics(&mut self, experiment_id: i64) -> Result<Vec<VariantMetricRow>> {
        Ok(sqlx::query_as(
            "SELECT metric_id, variant, n, sum, sum_sq FROM variant_metrics WHERE experiment_id = $1
             ORDER BY metric_id, variant",
        )
        .bind(experiment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }
}
