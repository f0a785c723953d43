//! Releases: named sets of configuration changes applied at once, now or at
//! a scheduled instant: [`ReleaseQueries`] and [`ReleaseRecord`].

use std::future::Future;

use super::Result;

row! {
    /// A release as stored (see migration `0008_releases`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ReleaseRecord {
        pub id: i64,
        pub name: String,
        pub description: String,
        /// `draft`, `scheduled`, `applied`, `reverted`, `failed` or `cancelled`.
        pub state: String,
        /// JSON array of the parts (`service::ReleaseChange`).
        pub changes: String,
        /// JSON of what applying did (`service::ReleaseOutcome`).
        pub outcome: Option<String>,
        pub failure: Option<String>,
        pub reverts: Option<i64>,
        pub reverted_by: Option<i64>,
        pub scheduled_at: Option<i64>,
        pub expires_at: Option<i64>,
        /// `fail` or `apply`.
        pub on_stale: String,
        pub late_ms: Option<i64>,
        pub revision: i64,
        pub created_at: i64,
        pub created_by: String,
        pub updated_at: i64,
        pub updated_by: String,
        pub applied_at: Option<i64>,
        pub applied_by: Option<String>,
    }
}

/// Release queries.
pub trait ReleaseQueries: Send {
    /// Releases, newest first, at most `limit`, optionally in one state.
    fn releases(&mut self, state: Option<&str>, limit: i64) -> impl Future<Output = Result<Vec<ReleaseRecord>>> + Send;
    fn release(&mut self, id: i64) -> impl Future<Output = Result<Option<ReleaseRecord>>> + Send;
    /// Inserts `release` (its id ignored); returns the id.
    fn insert_release(&mut self, release: &ReleaseRecord) -> impl Future<Output = Result<i64>> + Send;
    /// Writes every field but id, created_at and created_by.
    fn update_release(&mut self, release: &ReleaseRecord) -> impl Future<Output = Result<()>> + Send;
    fn delete_release(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;
    /// Scheduled releases due at `now` (scheduled_at <= now), earliest first,
    /// at most `limit`. On Postgres the rows are locked (`FOR UPDATE SKIP
    /// LOCKED`): a replica racing for the same rows skips them.
    fn due_releases(&mut self, now: i64, limit: i64) -> impl Future<Output = Result<Vec<ReleaseRecord>>> + Send;
    /// The earliest scheduled instant of a scheduled release, if any.
    fn next_scheduled(&mut self) -> impl Future<Output = Result<Option<i64>>> + Send;
}
