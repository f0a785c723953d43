//! Environments (`development`, `staging`, `production`...) and their versions:
//! [`EnvironmentQueries`] and [`Environment`].

use std::future::Future;

use super::Result;

row! {
    /// An environment (`development`, `staging`, `production`...).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Environment {
        pub id: i64,
        pub key: String,
        pub name: String,
        /// +1 on every change that affects the environment's rules.
        pub version: i64,
        pub created_at: i64,
    }
}

/// Environment queries, run inside one transaction like every `*Queries` trait.
pub trait EnvironmentQueries: Send {
    fn environments(&mut self) -> impl Future<Output = Result<Vec<Environment>>> + Send;
    fn environment(&mut self, key: &str) -> impl Future<Output = Result<Option<Environment>>> + Send;
    fn insert_environment(
        &mut self,
        key: &str,
        name: &str,
        at: i64,
    ) -> impl Future<Output = Result<Environment>> + Send;
    /// Increments the environment's version and returns the new one. On
    /// Postgres this locks the environment row until the transaction ends,
    /// which serialises writers per environment.
    fn bump_version(&mut self, environment_id: i64) -> impl Future<Output = Result<i64>> + Send;
    /// [`EnvironmentQueries::bump_version`] by environment key, in one statement:
    /// the environment with its new version, or `None` if there is none.
    fn bump_environment(&mut self, key: &str) -> impl Future<Output = Result<Option<Environment>>> + Send;
    /// Locks the environment row until the transaction ends (Postgres `FOR
    /// UPDATE`; SQLite's single writer already serialises), without bumping
    /// its version: for writes that read configurations but change none.
    fn lock_environment(&mut self, environment_id: i64) -> impl Future<Output = Result<()>> + Send;
}
