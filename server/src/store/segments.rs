//! Reusable segments: [`SegmentQueries`] and [`SegmentRecord`].

use std::future::Future;

use super::Result;

row! {
    /// A reusable segment.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SegmentRecord {
        pub id: i64,
        pub key: String,
        pub description: String,
        /// JSON of `flagyard_eval::Segment`.
        pub definition: String,
        pub revision: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

/// Segment queries.
pub trait SegmentQueries: Send {
    fn segments(&mut self) -> impl Future<Output = Result<Vec<SegmentRecord>>> + Send;
    fn segment(&mut self, key: &str) -> impl Future<Output = Result<Option<SegmentRecord>>> + Send;
    fn insert_segment(
        &mut self,
        key: &str,
        description: &str,
        definition: &str,
        at: i64,
    ) -> impl Future<Output = Result<SegmentRecord>> + Send;
    /// Writes description, definition, revision and updated_at by id.
    fn update_segment(&mut self, segment: &SegmentRecord) -> impl Future<Output = Result<()>> + Send;
    fn delete_segment(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;
}
