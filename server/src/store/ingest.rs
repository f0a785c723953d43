//! Storage for event ingest and attribution (`docs/experiments.md`): batch
//! idempotence, accepted-event counters, each unit's first exposure with its
//! metric aggregates, and the per-variant sufficient statistics.
//!
//! Bulk reads and writes take whole slices so a backend can run one
//! statement per slice (SQLite `json_each`, Postgres `UNNEST`).

use std::future::Future;

use super::Result;

row! {
    /// The answer recorded for a batch id.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BatchAnswer {
        /// Events accepted.
        pub accepted: i64,
        /// JSON array of `{"index": i, "reason": "..."}`.
        pub rejected: String,
    }
}

row! {
    /// A unit's first exposure in an experiment and its metric aggregates
    /// (decoded as a row where the backend has array columns).
    #[derive(Debug, Clone, PartialEq)]
    pub struct UnitRow {
        pub unit: String,
        pub variant: String,
        pub exposed_at: i64,
        /// Exposed to more than one variant: left out of every figure.
        pub excluded: bool,
        /// Per metric of the experiment (ordered by metric id): the unit's
        /// events since its exposure. Stored rows may be shorter (zeros).
        pub counts: Vec<i64>,
        /// Per metric: the sum of those events' values.
        pub totals: Vec<f64>,
    }
}

impl UnitRow {
    /// Pads the aggregates to `metrics` entries (missing ones are zero).
    pub fn pad(&mut self, metrics: usize) {
        if self.counts.len() < metrics {
            self.counts.resize(metrics, 0);
        }
        if self.totals.len() < metrics {
            self.totals.resize(metrics, 0.0);
        }
    }

    /// Checks that the row carries exactly `metrics` aggregates, as every
    /// row written must (a bulk write lays them out at that width).
    pub fn check_width(&self, metrics: usize) -> Result<()> {
        if self.counts.len() == metrics && self.totals.len() == metrics {
            return Ok(());
        }
        Err(super::StoreError::Corrupt(format!(
            "unit `{}` carries {} counts and {} totals for {metrics} metrics",
            self.unit,
            self.counts.len(),
            self.totals.len()
        )))
    }
}

row! {
    /// Units of one variant (or a change to them).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VariantUnitsRow {
        pub variant: String,
        pub units: i64,
        pub excluded: i64,
    }
}

row! {
    /// Sufficient statistics of one variant on one metric (or a change to them).
    #[derive(Debug, Clone, PartialEq)]
    pub struct VariantMetricRow {
        pub metric_id: i64,
        pub variant: String,
        pub n: i64,
        pub sum: f64,
        pub sum_sq: f64,
    }
}

row! {
    /// One row of a day's results snapshot: a variant's statistics on one
    /// metric, or with `metric_id` 0 its units (`n`) and excluded units (`sum`).
    #[derive(Debug, Clone, PartialEq)]
    pub struct SnapshotRow {
        pub day: i64,
        pub metric_id: i64,
        pub variant: String,
        pub n: i64,
        pub sum: f64,
        pub sum_sq: f64,
    }
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

    /// The stored rows of `units` (those that have one).
    fn units(&mut self, experiment_id: i64, units: &[&str]) -> impl Future<Output = Result<Vec<UnitRow>>> + Send;
    /// Inserts rows of units that have none (fails on a unit that has one:
    /// callers read the units first, under the ingest lock). Every row
    /// carries exactly `metrics` aggregates.
    fn insert_units(
        &mut self,
        experiment_id: i64,
        metrics: usize,
        rows: &[UnitRow],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Inserts or replaces rows, each carrying exactly `metrics` aggregates.
    fn put_units(
        &mut self,
        experiment_id: i64,
        metrics: usize,
        rows: &[UnitRow],
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
    /// Copies the experiment's per-variant units and statistics into its
    /// snapshot of `day` (replacing an earlier copy of the same day).
    fn snapshot_results(
        &mut self,
        experiment_id: i64,
        day: i64,
        taken_at: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The experiment's snapshots from `since_day` on, by day.
    fn result_snapshots(
        &mut self,
        experiment_id: i64,
        since_day: i64,
    ) -> impl Future<Output = Result<Vec<SnapshotRow>>> + Send;
}
