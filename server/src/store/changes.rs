//! Each environment's change log, what live SDK streams replay:
//! [`ChangeQueries`] and [`ChangeRecord`].

use std::future::Future;

use super::Result;

row! {
    /// One entry of an environment's change log: version `version` changed
    /// `entity` (`flag` or `segment`) `key` by `op` (`put` or `delete`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ChangeRecord {
        pub environment_id: i64,
        pub version: i64,
        pub entity: String,
        pub key: String,
        pub op: String,
        pub at: i64,
    }
}

/// Change log queries.
pub trait ChangeQueries: Send {
    fn insert_change(&mut self, change: &ChangeRecord) -> impl Future<Output = Result<()>> + Send;
    /// Changes with version > `after`, ascending, at most `limit`.
    fn changes_after(
        &mut self,
        environment_id: i64,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ChangeRecord>>> + Send;
}
