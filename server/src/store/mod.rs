//! Storage: the queries the domain needs, split by domain into traits
//! (`environments.rs`, `flags.rs`, `configs.rs`, ... each with its records)
//! and gathered in [`Queries`]; each is implemented for SQLite (`sqlite/`) and
//! for Postgres (`postgres/`), one file per domain, behind a [`Backend`] that
//! hands out transactions. This file is the facade: the rest of the crate
//! names everything as `crate::store::...`.
//!
//! The domain logic (validation, versioning, audit) lives in `crate::service`
//! and is written once, generic over the backend; the backends only run SQL.
//! Timestamps are epoch milliseconds; JSON documents are stored as text.

#[macro_use]
mod row;

mod any;
mod audit;
mod changes;
mod configs;
mod credentials;
mod environments;
mod experiments;
mod flags;
mod ingest;
mod metrics;
pub mod migrations;
mod postgres;
mod ramps;
mod releases;
mod segments;
mod sqlite;
mod tx;
mod users;

use std::future::Future;

pub use any::{Database, DatabaseTx, is_postgres};
pub use audit::{AuditQueries, AuditQuery, AuditRecord, NewAudit};
pub use changes::{ChangeQueries, ChangeRecord};
pub use configs::{ConfigQueries, ConfigRecord, FlagAndConfig};
pub(crate) use configs::{EnvironmentFlagRow, FlagConfigRow};
pub use credentials::{CredentialQueries, SdkKeyRecord, TokenRecord};
pub use environments::{Environment, EnvironmentQueries};
pub use experiments::{ExperimentMetricRecord, ExperimentQueries, ExperimentRecord};
pub use flags::{FlagQueries, FlagQuery, FlagRecord, NewFlag};
pub use ingest::{BatchAnswer, IngestQueries, SnapshotRow, UnitRow, VariantMetricRow, VariantUnitsRow};
pub use metrics::{MetricQueries, MetricRecord};
pub use postgres::PgBackend;
pub use ramps::{RampFilter, RampQueries, RampRecord};
pub use releases::{ReleaseQueries, ReleaseRecord};
pub use segments::{SegmentQueries, SegmentRecord};
pub use sqlite::SqliteBackend;
pub use tx::{Announced, Topic, TxMarks, TxQueries, Undo};
pub use users::{NewUser, SessionRecord, SessionUser, UserQueries, UserRecord};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. a duplicate key).
    #[error("already exists")]
    Duplicate,
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored document that no longer parses (written by hand, or by a newer version).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database cannot be reached, or cannot write right now (down,
    /// restarting, disk full, a read-only or missing file): worth a retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
            _ if is_unavailable(&e) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// The same failure, for one more waiter (a batch answers each of its
    /// writes with the error of its one commit).
    pub fn for_waiter(&self) -> StoreError {
        match self {
            StoreError::Duplicate => StoreError::Duplicate,
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            other => StoreError::Corrupt(other.to_string()),
        }
    }

    /// Whether this is [`StoreError::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Whether `e` says the database is out of reach or cannot write now,
/// rather than that the request was wrong.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes: BUSY, READONLY, IOERR, FULL, CANTOPEN, NOTADB.
                let code: i32 = d.code().and_then(|c| c.parse().ok()).unwrap_or(0);
                matches!(code & 0xff, 5 | 8 | 10 | 13 | 14 | 26)
            } else {
                // SQLSTATE: connection exceptions, insufficient resources (disk
                // full), operator intervention (shutdown, starting up), system
                // errors, a read-only transaction (a standby).
                let code = d.code().unwrap_or_default();
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57P")
                    || code.starts_with("58")
                    || code == "25006"
            }
        }
        _ => false,
    }
}

/// Shorthand for query results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Connection pool figures for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// The queries the service layer needs, run inside one transaction: every
/// domain's trait at once (implemented for any type that implements them
/// all). Users and sessions ([`UserQueries`]) and event ingest
/// ([`IngestQueries`]) stay apart, as the callers that need them say so.
///
/// Every method is a plain statement (or two); none decides anything. List
/// methods return rows ordered by key (flags, segments, environments) or by
/// id/version ascending unless stated.
pub trait Queries:
    EnvironmentQueries
    + FlagQueries
    + ConfigQueries
    + SegmentQueries
    + MetricQueries
    + ExperimentQueries
    + ChangeQueries
    + AuditQueries
    + CredentialQueries
    + ReleaseQueries
    + RampQueries
    + IngestQueries
    + TxQueries
{
}

impl<T> Queries for T where
    T: EnvironmentQueries
        + FlagQueries
        + ConfigQueries
        + SegmentQueries
        + MetricQueries
        + ExperimentQueries
        + ChangeQueries
        + AuditQueries
        + CredentialQueries
        + ReleaseQueries
        + RampQueries
        + IngestQueries
        + TxQueries
{
}

/// A database: hands out transactions, applies migrations, reports health.
pub trait Backend: Clone + Send + Sync + 'static {
    /// A transaction.
    type Tx: Queries + UserQueries + IngestQueries + Send + 'static;
    /// The backend's name for logs and metrics (`sqlite`, `postgres`).
    fn name(&self) -> &'static str;

    /// A transaction for reads.
    fn read(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
    /// A transaction for writes (on SQLite, the single writer's `BEGIN IMMEDIATE`).
    fn write(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
    /// A transaction for event ingest: a write transaction that, where the
    /// database allows, does not wait for configuration writes.
    fn ingest(&self) -> impl Future<Output = Result<Self::Tx>> + Send {
        self.write()
    }
    /// Commits; dropping a transaction instead rolls it back.
    fn commit(tx: Self::Tx) -> impl Future<Output = Result<()>> + Send;
    /// Applies pending migrations.
    fn migrate(&self) -> impl Future<Output = Result<()>> + Send;
    /// Whether the database answers and every known migration is applied.
    fn ready(&self) -> impl Future<Output = Result<bool>> + Send;
    /// A problem with the database's storage that the database itself does
    /// not report (SQLite: the file deleted or replaced under the server).
    fn storage_problem(&self) -> Option<String> {
        None
    }
    /// Pool figures.
    fn pool_stats(&self) -> PoolStats;
    /// Closes the pools.
    fn close(&self) -> impl Future<Output = ()> + Send;
    /// Cross-replica hints as they arrive (Postgres `LISTEN`); `None` where
    /// there is only one process (SQLite). After a lost connection both
    /// topics are sent, since notifications may have been missed.
    fn hints(&self) -> impl Future<Output = Result<Option<tokio::sync::mpsc::Receiver<Topic>>>> + Send;
}
