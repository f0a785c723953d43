//! [`IngestQueries`] on Postgres: slices travel as arrays read with `UNNEST`,
//! so each bulk read or write is one prepared statement.
//!
//! The unit lookup probes the primary key once per unit under any plan: a
//! `LATERAL` subquery with `LIMIT 1` per array element. A prepared
//! statement's generic plan is made while the table is small or has no
//! statistics (autovacuum may be off); `unit = ANY($n)` then used only the
//! leading key columns and a plain join may hash the whole table, either
//! costing time that grows with the table.
//!
//! Unit rows are written with plain `INSERT`s: attribution reads every unit
//! it touches first, under the ingest lock, so it knows which are new.

use sqlx::AssertSqlSafe;

use crate::store::{BatchAnswer, IngestQueries, Result, SnapshotRow, UnitRow, VariantMetricRow, VariantUnitsRow};

use super::PgTx;

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
        .execute(self.conn().await?)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(None);
        }
        Ok(sqlx::query_as("SELECT accepted, rejected FROM event_batches WHERE environment_id = $1 AND batch_id = $2")
            .bind(environment_id)
            .bind(batch_id)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn prune_batches(&mut self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM event_batches WHERE received_at < $1")
            .bind(before)
            .execute(self.conn().await?)
            .await?;
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
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn event_counts(&mut self, environment_id: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT kind, accepted FROM event_counts WHERE environment_id = $1 ORDER BY kind")
            .bind(environment_id)
            .fetch_all(self.conn().await?)
            .await?)
    }

    async fn units(&mut self, experiment_id: i64, units: &[&str]) -> Result<Vec<UnitRow>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT e.unit, e.variant, e.exposed_at, e.excluded, e.counts, e.totals
             FROM UNNEST($2::text[]) AS u (unit)
             CROSS JOIN LATERAL (
                 SELECT * FROM experiment_units e WHERE e.experiment_id = $1 AND e.unit = u.unit LIMIT 1
             ) AS e",
        )
        .bind(experiment_id)
        .bind(units)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn insert_units(&mut self, experiment_id: i64, metrics: usize, rows: &[UnitRow]) -> Result<()> {
        write_units(self, experiment_id, metrics, rows, "").await
    }

    async fn put_units(&mut self, experiment_id: i64, metrics: usize, rows: &[UnitRow]) -> Result<()> {
        let upsert = "ON CONFLICT (experiment_id, unit) DO UPDATE
             SET variant = excluded.variant, exposed_at = excluded.exposed_at, excluded = excluded.excluded,
                 counts = excluded.counts, totals = excluded.totals";
        write_units(self, experiment_id, metrics, rows, upsert).await
    }

    async fn add_variant_units(&mut self, experiment_id: i64, deltas: &[VariantUnitsRow]) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let variants: Vec<&str> = deltas.iter().map(|d| d.variant.as_str()).collect();
        let units: Vec<i64> = deltas.iter().map(|d| d.units).collect();
        let excluded: Vec<i64> = deltas.iter().map(|d| d.excluded).collect();
        sqlx::query(
            "INSERT INTO variant_units (experiment_id, variant, units, excluded)
             SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[])
             ON CONFLICT (experiment_id, variant) DO UPDATE
             SET units = variant_units.units + excluded.units, excluded = variant_units.excluded + excluded.excluded",
        )
        .bind(experiment_id)
        .bind(variants)
        .bind(units)
        .bind(excluded)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn add_variant_metrics(&mut self, experiment_id: i64, deltas: &[VariantMetricRow]) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let metric_ids: Vec<i64> = deltas.iter().map(|d| d.metric_id).collect();
        let variants: Vec<&str> = deltas.iter().map(|d| d.variant.as_str()).collect();
        let n: Vec<i64> = deltas.iter().map(|d| d.n).collect();
        let sum: Vec<f64> = deltas.iter().map(|d| d.sum).collect();
        let sum_sq: Vec<f64> = deltas.iter().map(|d| d.sum_sq).collect();
        sqlx::query(
            "INSERT INTO variant_metrics (experiment_id, metric_id, variant, n, sum, sum_sq)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::float8[], $6::float8[])
             ON CONFLICT (experiment_id, metric_id, variant) DO UPDATE
             SET n = variant_metrics.n + excluded.n, sum = variant_metrics.sum + excluded.sum,
                 sum_sq = variant_metrics.sum_sq + excluded.sum_sq",
        )
        .bind(experiment_id)
        .bind(metric_ids)
        .bind(variants)
        .bind(n)
        .bind(sum)
        .bind(sum_sq)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn variant_units(&mut self, experiment_id: i64) -> Result<Vec<VariantUnitsRow>> {
        Ok(sqlx::query_as(
            "SELECT variant, units, excluded FROM variant_units WHERE experiment_id = $1 ORDER BY variant",
        )
        .bind(experiment_id)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn variant_metrics(&mut self, experiment_id: i64) -> Result<Vec<VariantMetricRow>> {
        Ok(sqlx::query_as(
            "SELECT metric_id, variant, n, sum, sum_sq FROM variant_metrics WHERE experiment_id = $1
             ORDER BY metric_id, variant",
        )
        .bind(experiment_id)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn snapshot_results(&mut self, experiment_id: i64, day: i64, taken_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO result_snapshots (experiment_id, day, metric_id, variant, n, sum, sum_sq, taken_at)
             SELECT experiment_id, $2, 0, variant, units, variant_units.excluded, 0, $3
             FROM variant_units WHERE experiment_id = $1
             UNION ALL
             SELECT experiment_id, $2, metric_id, variant, n, sum, sum_sq, $3
             FROM variant_metrics WHERE experiment_id = $1
             ON CONFLICT (experiment_id, day, metric_id, variant)
             DO UPDATE SET n = excluded.n, sum = excluded.sum, sum_sq = excluded.sum_sq, taken_at = excluded.taken_at",
        )
        .bind(experiment_id)
        .bind(day)
        .bind(taken_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn result_snapshots(&mut self, experiment_id: i64, since_day: i64) -> Result<Vec<SnapshotRow>> {
        Ok(sqlx::query_as(
            "SELECT day, metric_id, variant, n, sum, sum_sq FROM result_snapshots
             WHERE experiment_id = $1 AND day >= $2 ORDER BY day, metric_id, variant",
        )
        .bind(experiment_id)
        .bind(since_day)
        .fetch_all(self.conn().await?)
        .await?)
    }
}

/// Writes unit rows in one statement, `tail` appended (an `ON CONFLICT`
/// clause or nothing).
///
/// Every column travels as one array, each metric's counts and totals too
/// (`metrics` columns each, so the statement's text depends on the width):
/// the rows' arrays are built from them by `ARRAY[…]`, which costs a third
/// of slicing one flat array per row.
async fn write_units(tx: &mut PgTx, experiment_id: i64, metrics: usize, rows: &[UnitRow], tail: &str) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    for r in rows {
        r.check_width(metrics)?;
    }
    let param = |i: usize| format!("${}", i + 6);
    let counts: Vec<String> = (0..metrics).map(|m| format!("{}::bigint[]", param(m))).collect();
    let totals: Vec<String> = (0..metrics).map(|m| format!("{}::float8[]", param(metrics + m))).collect();
    let names = |prefix: &str| (0..metrics).map(|m| format!("{prefix}{m}")).collect::<Vec<_>>();
    let (count_names, total_names) = (names("c"), names("t"));
    let sql = format!(
        "INSERT INTO experiment_units (experiment_id, unit, variant, exposed_at, excluded, counts, totals)
         SELECT $1, u.unit, u.variant, u.exposed_at, u.excluded, ARRAY[{}]::bigint[], ARRAY[{}]::float8[]
         FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::boolean[]{}{})
              AS u (unit, variant, exposed_at, excluded{}{})
         {tail}",
        prefixed("u.", &count_names, ", "),
        prefixed("u.", &total_names, ", "),
        prefixed(", ", &counts, ""),
        prefixed(", ", &totals, ""),
        prefixed(", ", &count_names, ""),
        prefixed(", ", &total_names, ""),
    );
    // Built from integers and the fixed clauses above only.
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(experiment_id)
        .bind(rows.iter().map(|r| r.unit.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.variant.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.exposed_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.excluded).collect::<Vec<_>>());
    for m in 0..metrics {
        query = query.bind(rows.iter().map(|r| r.counts[m]).collect::<Vec<_>>());
    }
    for m in 0..metrics {
        query = query.bind(rows.iter().map(|r| r.totals[m]).collect::<Vec<_>>());
    }
    query.execute(tx.conn().await?).await?;
    Ok(())
}

/// Each item with `prefix` before it, joined by `separator`.
fn prefixed(prefix: &str, items: &[String], separator: &str) -> String {
    items.iter().map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join(separator)
}
