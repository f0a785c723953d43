//! The audit log: [`AuditQueries`], its entries and filters, and the flag
//! catalog's version read from it.

use std::future::Future;

use super::Result;

row! {
    /// An audit log entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AuditRecord {
        pub id: i64,
        pub at: i64,
        /// Who: `token:<name>` or `user:<name>`.
        pub actor: String,
        /// What: `flag.create`, `config.update`, `config.rollback`, ...
        pub action: String,
        /// `flag`, `config`, `segment`, `environment`, `token`, `sdk_key`.
        pub entity: String,
        pub key: String,
        pub environment: Option<String>,
        /// JSON before and after (absent for creations / deletions).
        pub before: Option<String>,
        pub after: Option<String>,
    }
}

/// An audit entry to record.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub key: &'a str,
    pub environment: Option<&'a str>,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// Audit log filters; newest first, `before_id` pages backwards.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries about this flag (its definition and its configurations).
    pub flag: Option<String>,
    pub actor: Option<String>,
    pub environment: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Audit log queries.
pub trait AuditQueries: Send {
    fn insert_audit(&mut self, entry: &NewAudit<'_>) -> impl Future<Output = Result<i64>> + Send;
    /// Newest first.
    fn audit(&mut self, query: &AuditQuery) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
    /// The newest audit id about flag definitions (0 if none): changes
    /// exactly when a flag is created, changed or deleted.
    fn catalog_version(&mut self) -> impl Future<Output = Result<i64>> + Send;
}
