//! Timed ramps and guarded rollouts: [`RampQueries`] and [`RampRecord`].

use std::future::Future;

use super::Result;

row! {
    /// A ramp as stored (see migration `0009_ramps`), with its flag's and
    /// environment's keys.
    #[derive(Debug, Clone, PartialEq)]
    pub struct RampRecord {
        pub id: i64,
        pub flag_id: i64,
        pub flag_key: String,
        pub environment_id: i64,
        pub environment_key: String,
        pub rule_id: String,
        pub canary_variant: String,
        pub control_variant: String,
        /// JSON array of steps (`service::StoredStep`).
        pub steps: String,
        /// JSON array of guardrails (`service::StoredGuardrail`).
        pub guardrails: String,
        pub alpha: f64,
        pub experiment_id: Option<i64>,
        /// `running`, `paused`, `completed`, `aborted` or `rolled_back`.
        pub state: String,
        pub step: i64,
        pub step_started_at: i64,
        pub next_at: Option<i64>,
        pub reason: Option<String>,
        /// JSON of the split rule before the plan.
        pub before_rule: String,
        /// JSON of the split rule as the plan last wrote it.
        pub rule: String,
        /// JSON object: variant → units first exposed when the step began.
        pub baseline: String,
        /// JSON array of guardrail evaluations (`service::GuardPoint`).
        pub history: String,
        pub revision: i64,
        pub created_at: i64,
        pub created_by: String,
        pub updated_at: i64,
        pub updated_by: String,
    }
}

/// Which ramps to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RampFilter<'a> {
    pub flag_id: Option<i64>,
    pub environment_id: Option<i64>,
    /// Only these states (all when empty).
    pub states: &'a [&'a str],
}

/// Ramp queries.
pub trait RampQueries: Send {
    /// Ramps, newest first, at most `limit`.
    fn ramps(&mut self, filter: RampFilter<'_>, limit: i64) -> impl Future<Output = Result<Vec<RampRecord>>> + Send;
    fn ramp(&mut self, id: i64) -> impl Future<Output = Result<Option<RampRecord>>> + Send;
    /// Inserts `ramp` (its id and keys ignored); returns the id.
    fn insert_ramp(&mut self, ramp: &RampRecord) -> impl Future<Output = Result<i64>> + Send;
    /// Writes every field but the id, the flag, the environment and creation.
    fn update_ramp(&mut self, ramp: &RampRecord) -> impl Future<Output = Result<()>> + Send;
    /// Running ramps due at `now` (next_at <= now), earliest first, at most
    /// `limit`. On Postgres the rows are locked (`FOR UPDATE SKIP LOCKED`).
    fn due_ramps(&mut self, now: i64, limit: i64) -> impl Future<Output = Result<Vec<RampRecord>>> + Send;
    /// The earliest instant a running ramp is due.
    fn next_ramp_at(&mut self) -> impl Future<Output = Result<Option<i64>>> + Send;
}
