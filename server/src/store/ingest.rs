//! Storage for event ingest and attribution (`docs/experiments.md`): batch
//! idempotence, accepted-event counters, each unit's first exposure, per-unit
//! metric aggregates and the per-variant sufficient statistics.
//!
//! Bulk reads and writes take whole slices so a backend can run one
//! statement per slice (SQLite `json_each`, Postgres `UNNEST`).

use std::future::Future;

use super::Result;

/// The answer recorded for a batch id.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BatchAnswer {
    /// Events accepted.
    pub accepted: i64,
    /// JSON array of `{"index": i, "reason": "..."}`.
    pub rejected: String,
}

/// A unit's first exposure in an experiment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UnitRow {
    pub unit: String,
    pub variant: String,
    pub exposed_at: i64,
    /// Exposed to more than one variant: left out of every figure.
    pub excluded: bool,
}

/// A unit's events for one metric since its exposure.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UnitMetricRow {
    pub unit: String,
    pub count: i64,
    pub total: f64,
}

/// Units of one variant (or a change to them).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VariantUnitsRow {
    pub variant: String,
    pub units: i64,
    pub excluded: i64,
}

/// Sufficient statistics of one variant on one metric (or a change to them).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct VariantMetricRow {
    pub metric_id: i64,
    pub variant: String,
    pub n: i64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// Ingest and attribution queries.
pub trait IngestQueries: Send {
    /// Records `batch_id` of the environment with `answer`. If the batch was
    /// recorded before, records nothing and returns the stored answer.
    fn claim_batch(
        &mut self,
        environment_id: i64,
        batch_id: &str,
        received_at: i64,
        answer: &BatchAnswer,
    ) -> impl Future<Output = Result<Option<BatchAnswer>>> + Send;
    /// Forgets batch ids received before `before` (a retry after that would count again).
    fn prune_batches(&mut self, before: i64) -> impl Future<Output = Result<u64>> + Send;
    /// Adds `n` to the accepted events of `kind` in the environment.
    fn add_event_count(&mut self, environment_id: i64, kind: &str, n: i64) -> impl Future<Output = Result<()>> + Send;
    /// Accepted events per kind in the environment.
    fn event_counts(&mut self, environment_id: i64) -> impl Future<Output = Result<Vec<(String, i64)>>> + Send;

    /// The stored exposures of `units` (those that have one).
    fn units(&mut self, experiment_id: i64, units: &[&str]) -> impl Future<Output = Result<Vec<UnitRow>>> + Send;
    /// Inserts the exposures of units that have none yet; returns the units
    /// inserted (the others already had one and are left as they were).
    fn insert_units(
        &mut self,
        experiment_id: i64,
        rows: &[UnitRow],
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Inserts or replaces exposures.
    fn put_units(&mut self, experiment_id: i64, rows: &[UnitRow]) -> impl Future<Output = Result<()>> + Send;
    /// The stored aggregates of `units` for one metric (those that have one).
    fn unit_metrics(
        &mut self,
        experiment_id: i64,
        metric_id: i64,
        units: &[&str],
    ) -> impl Future<Output = Result<Vec<UnitMetricRow>>> + Send;
    /// Inserts or replaces aggregates for one metric.
    fn put_unit_metrics(
        &mut self,
        experiment_id: i64,
        metric_id: i64,
        rows: &[UnitMetricRow],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Adds the given changes to the per-variant unit counts.
    fn add_variant_units(
        &mut self,
        experiment_id: i64,
        deltas: &[VariantUnitsRow],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Adds the given changes to the per-variant metric statistics.
    fn add_variant_metrics(
        &mut self,
        experiment_id: i64,
        deltas: &[VariantMetricRow],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Per-variant unit counts.
    fn variant_units(&mut self, experiment_id: i64) -> impl Future<Output = Result<Vec<VariantUnitsRow>>> + Send;
    /// Per-variant metric statistics.
    fn variant_metrics(&mut self, experiment_id: i64) -> impl Future<Output = Result<Vec<VariantMetricRow>>> + Send;
}
