//! Experiments and their secondary and guardrail metrics:
//! [`ExperimentQueries`] and its records.

use std::future::Future;

use super::Result;

row! {
    /// An experiment, with the keys of what it references (joined on read).
    #[derive(Debug, Clone, PartialEq)]
    pub struct ExperimentRecord {
        pub id: i64,
        pub key: String,
        pub name: String,
        pub hypothesis: String,
        pub flag_id: i64,
        pub flag_key: String,
        pub environment_id: i64,
        pub environment_key: String,
        /// The id of the rule whose split allocates the experiment.
        pub rule_id: String,
        pub control_variant: String,
        pub primary_metric_id: i64,
        pub primary_metric_key: String,
        /// `frequentist`, `sequential` or `bayesian`.
        pub analysis: String,
        pub alpha: f64,
        pub minimum_detectable_effect: Option<f64>,
        /// `draft`, `running` or `stopped`.
        pub state: String,
        pub started_at: Option<i64>,
        pub stopped_at: Option<i64>,
        /// JSON of the split (weights and coverage) when the experiment started.
        pub split_snapshot: Option<String>,
        pub revision: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

row! {
    /// A secondary or guardrail metric of an experiment.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ExperimentMetricRecord {
        pub metric_id: i64,
        pub metric_key: String,
        /// `secondary` or `guardrail`.
        pub role: String,
    }
}

/// Experiment queries.
pub trait ExperimentQueries: Send {
    fn experiments(&mut self) -> impl Future<Output = Result<Vec<ExperimentRecord>>> + Send;
    fn experiment(&mut self, key: &str) -> impl Future<Output = Result<Option<ExperimentRecord>>> + Send;
    /// Experiments of a flag (in every environment), by key.
    fn experiments_of_flag(&mut self, flag_id: i64) -> impl Future<Output = Result<Vec<ExperimentRecord>>> + Send;
    /// Inserts `experiment` (id and joined keys ignored) with revision 1; returns the id.
    fn insert_experiment(&mut self, experiment: &ExperimentRecord) -> impl Future<Output = Result<i64>> + Send;
    /// Writes everything but key, created_at and the joined keys by id.
    fn update_experiment(&mut self, experiment: &ExperimentRecord) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the experiment and everything recorded for it, its units
    /// included (they have no foreign key: see migration 0007); on Postgres
    /// it also waits for, and then holds off, every ingest transaction.
    fn delete_experiment(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;
    /// Secondary and guardrail metrics, by role then metric key.
    fn experiment_metrics(
        &mut self,
        experiment_id: i64,
    ) -> impl Future<Output = Result<Vec<ExperimentMetricRecord>>> + Send;
    /// Replaces the experiment's secondary and guardrail metrics by `(metric id, role)`.
    fn set_experiment_metrics(
        &mut self,
        experiment_id: i64,
        metrics: &[(i64, String)],
    ) -> impl Future<Output = Result<()>> + Send;
}
