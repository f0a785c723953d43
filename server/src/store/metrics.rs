//! Metric definitions, what experiments measure: [`MetricQueries`] and
//! [`MetricRecord`].

use std::future::Future;

use super::Result;

row! {
    /// A metric definition: what an experiment measures, from one track event.
    #[derive(Debug, Clone, PartialEq)]
    pub struct MetricRecord {
        pub id: i64,
        pub key: String,
        pub name: String,
        pub description: String,
        /// The track event key the metric reads.
        pub event: String,
        /// `conversion`, `count`, `sum` or `mean`.
        pub kind: String,
        /// `increase` or `decrease`.
        pub good_direction: String,
        pub guardrail: bool,
        pub revision: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

/// Metric queries.
pub trait MetricQueries: Send {
    fn metrics(&mut self) -> impl Future<Output = Result<Vec<MetricRecord>>> + Send;
    fn metric(&mut self, key: &str) -> impl Future<Output = Result<Option<MetricRecord>>> + Send;
    /// Inserts `metric` (its id is ignored) with revision 1.
    fn insert_metric(&mut self, metric: &MetricRecord) -> impl Future<Output = Result<MetricRecord>> + Send;
    /// Writes everything but key and created_at by id.
    fn update_metric(&mut self, metric: &MetricRecord) -> impl Future<Output = Result<()>> + Send;
    fn delete_metric(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;
    /// Keys of the experiments using the metric (primary, secondary or guardrail).
    fn metric_users(&mut self, id: i64) -> impl Future<Output = Result<Vec<String>>> + Send;
}
