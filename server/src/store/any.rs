//! [`Database`]: the backend the configuration names, SQLite or Postgres,
//! behind one type.
//!
//! The server's code above the store (service, endpoints, the writer, the
//! hub) is generic over [`Backend`]. Run with [`Database`] it is compiled
//! once, with a two-armed `match` at each query, instead of once per backend:
//! that halves the largest unit of a release build (the server's code is
//! monomorphised in the binary) for a branch per statement that the database
//! round trip dwarfs. The backends themselves stay concrete types, so tests
//! and tools can still name one.

use super::*;
use crate::store::postgres::PgTx;
use crate::store::sqlite::SqliteTx;

/// The database the configuration names.
#[derive(Clone)]
pub enum Database {
    /// The embedded default.
    Sqlite(SqliteBackend),
    /// Production and several replicas.
    Postgres(PgBackend),
}

/// A transaction of a [`Database`].
pub enum DatabaseTx {
    Sqlite(SqliteTx),
    Postgres(PgTx),
}

impl Database {
    /// Opens the database `url` names: `postgres://` or `postgresql://` for
    /// Postgres (with at most `max_connections`), anything else for SQLite
    /// (with `max_connections` readers beside its one writer; the file is
    /// created when missing only if `create`).
    pub async fn open(url: &str, max_connections: u32, create: bool) -> Result<Self> {
        if is_postgres(url) {
            Ok(Database::Postgres(PgBackend::connect(url, max_connections).await?))
        } else {
            Ok(Database::Sqlite(SqliteBackend::open(url, max_connections, create).await?))
        }
    }
}

/// Whether `url` names Postgres. A Postgres URL also makes sure TLS has its
/// crypto provider (ring, the one the workspace builds rustls with; chosen
/// explicitly so that a second provider linked in by another crate cannot
/// leave rustls without a default when `sslmode=require` connects).
pub fn is_postgres(url: &str) -> bool {
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if postgres {
        // Fails only when a provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    postgres
}

/// Runs `$call` on whichever backend `$on` holds (bound as `$b`).
macro_rules! either {
    ($on:expr, $b:ident => $call:expr) => {
        match $on {
            Database::Sqlite($b) => $call,
            Database::Postgres($b) => $call,
        }
    };
}

impl Backend for Database {
    type Tx = DatabaseTx;

    fn name(&self) -> &'static str {
        either!(self, b => b.name())
    }

    async fn read(&self) -> Result<DatabaseTx> {
        match self {
            Database::Sqlite(b) => b.read().await.map(DatabaseTx::Sqlite),
            Database::Postgres(b) => b.read().await.map(DatabaseTx::Postgres),
        }
    }

    async fn write(&self) -> Result<DatabaseTx> {
        match self {
            Database::Sqlite(b) => b.write().await.map(DatabaseTx::Sqlite),
            Database::Postgres(b) => b.write().await.map(DatabaseTx::Postgres),
        }
    }

    async fn ingest(&self) -> Result<DatabaseTx> {
        match self {
            Database::Sqlite(b) => b.ingest().await.map(DatabaseTx::Sqlite),
            Database::Postgres(b) => b.ingest().await.map(DatabaseTx::Postgres),
        }
    }

    async fn commit(tx: DatabaseTx) -> Result<()> {
        match tx {
            DatabaseTx::Sqlite(tx) => SqliteBackend::commit(tx).await,
            DatabaseTx::Postgres(tx) => PgBackend::commit(tx).await,
        }
    }

    async fn migrate(&self) -> Result<()> {
        either!(self, b => b.migrate().await)
    }

    async fn ready(&self) -> Result<bool> {
        either!(self, b => b.ready().await)
    }

    fn storage_problem(&self) -> Option<String> {
        either!(self, b => b.storage_problem())
    }

    fn pool_stats(&self) -> PoolStats {
        either!(self, b => b.pool_stats())
    }

    async fn close(&self) {
        either!(self, b => b.close().await)
    }

    async fn hints(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Topic>>> {
        either!(self, b => b.hints().await)
    }
}

/// Implements query traits for [`DatabaseTx`], each method passed to the
/// transaction's backend.
macro_rules! delegate {
    ($($trait:ident { $(fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* })*) => {$(
        impl $trait for DatabaseTx {
            $(async fn $name(&mut self $(, $arg: $ty)*) -> $ret {
                match self {
                    DatabaseTx::Sqlite(tx) => tx.$name($($arg),*).await,
                    DatabaseTx::Postgres(tx) => tx.$name($($arg),*).await,
                }
            })*
        }
    )*};
}

impl TxQueries for DatabaseTx {
    async fn begin_job(&mut self, undo: Undo) -> Result<()> {
        match self {
            DatabaseTx::Sqlite(tx) => tx.begin_job(undo).await,
            DatabaseTx::Postgres(tx) => tx.begin_job(undo).await,
        }
    }
    async fn abort_job(&mut self, undo: Undo) -> Result<()> {
        match self {
            DatabaseTx::Sqlite(tx) => tx.abort_job(undo).await,
            DatabaseTx::Postgres(tx) => tx.abort_job(undo).await,
        }
    }
    async fn notify(&mut self, topic: Topic) -> Result<()> {
        match self {
            DatabaseTx::Sqlite(tx) => tx.notify(topic).await,
            DatabaseTx::Postgres(tx) => tx.notify(topic).await,
        }
    }
    async fn probe_write(&mut self) -> Result<()> {
        match self {
            DatabaseTx::Sqlite(tx) => tx.probe_write().await,
            DatabaseTx::Postgres(tx) => tx.probe_write().await,
        }
    }
    fn marks(&self) -> &TxMarks {
        match self {
            DatabaseTx::Sqlite(tx) => tx.marks(),
            DatabaseTx::Postgres(tx) => tx.marks(),
        }
    }
    fn marks_mut(&mut self) -> &mut TxMarks {
        match self {
            DatabaseTx::Sqlite(tx) => tx.marks_mut(),
            DatabaseTx::Postgres(tx) => tx.marks_mut(),
        }
    }
}

delegate! {
    EnvironmentQueries {
        fn environments(&mut self) -> Result<Vec<Environment>>;
        fn environment(&mut self, key: &str) -> Result<Option<Environment>>;
        fn insert_environment(&mut self, key: &str, name: &str, at: i64) -> Result<Environment>;
        fn bump_version(&mut self, environment_id: i64) -> Result<i64>;
        fn bump_environment(&mut self, key: &str) -> Result<Option<Environment>>;
        fn lock_environment(&mut self, environment_id: i64) -> Result<()>;
    }
    FlagQueries {
        fn flags(&mut self, query: &FlagQuery) -> Result<(Vec<FlagRecord>, i64)>;
        fn flag(&mut self, key: &str) -> Result<Option<FlagRecord>>;
        fn flags_by_keys(&mut self, keys: &[String]) -> Result<Vec<FlagRecord>>;
        fn insert_flag(&mut self, flag: &NewFlag<'_>) -> Result<FlagRecord>;
        fn update_flag(&mut self, flag: &FlagRecord) -> Result<()>;
        fn delete_flag(&mut self, id: i64) -> Result<()>;
    }
    ConfigQueries {
        fn flag_and_config(&mut self, key: &str, environment_id: i64) -> Result<Option<FlagAndConfig>>;
        fn env_flag_config(&mut self, environment: &str, flag: &str) -> Result<Option<(Environment, Option<FlagAndConfig>)>>;
        fn config(&mut self, flag_id: i64, environment_id: i64) -> Result<Option<ConfigRecord>>;
        fn configs_of_flag(&mut self, flag_id: i64) -> Result<Vec<ConfigRecord>>;
        fn put_config(&mut self, config: &ConfigRecord) -> Result<()>;
        fn put_config_logged(&mut self, config: &ConfigRecord, change: &ChangeRecord, audit: &NewAudit<'_>) -> Result<()>;
        fn config_revision(&mut self, flag_id: i64, environment_id: i64, revision: i64) -> Result<Option<ConfigRecord>>;
        fn config_history(&mut self, flag_id: i64, environment_id: i64, limit: i64) -> Result<Vec<ConfigRecord>>;
        fn environment_flags(&mut self, environment_id: i64) -> Result<Vec<(FlagRecord, ConfigRecord)>>;
        fn segment_conditions(&mut self) -> Result<Vec<(String, String)>>;
        fn split_configs(&mut self, environment_id: i64) -> Result<Vec<(String, String)>>;
    }
    SegmentQueries {
        fn segments(&mut self) -> Result<Vec<SegmentRecord>>;
        fn segment(&mut self, key: &str) -> Result<Option<SegmentRecord>>;
        fn insert_segment(&mut self, key: &str, description: &str, definition: &str, at: i64) -> Result<SegmentRecord>;
        fn update_segment(&mut self, segment: &SegmentRecord) -> Result<()>;
        fn delete_segment(&mut self, id: i64) -> Result<()>;
    }
    MetricQueries {
        fn metrics(&mut self) -> Result<Vec<MetricRecord>>;
        fn metric(&mut self, key: &str) -> Result<Option<MetricRecord>>;
        fn insert_metric(&mut self, metric: &MetricRecord) -> Result<MetricRecord>;
        fn update_metric(&mut self, metric: &MetricRecord) -> Result<()>;
        fn delete_metric(&mut self, id: i64) -> Result<()>;
        fn metric_users(&mut self, id: i64) -> Result<Vec<String>>;
    }
    ExperimentQueries {
        fn experiments(&mut self) -> Result<Vec<ExperimentRecord>>;
        fn experiment(&mut self, key: &str) -> Result<Option<ExperimentRecord>>;
        fn experiments_of_flag(&mut self, flag_id: i64) -> Result<Vec<ExperimentRecord>>;
        fn insert_experiment(&mut self, experiment: &ExperimentRecord) -> Result<i64>;
        fn update_experiment(&mut self, experiment: &ExperimentRecord) -> Result<()>;
        fn delete_experiment(&mut self, id: i64) -> Result<()>;
        fn experiment_metrics(&mut self, experiment_id: i64) -> Result<Vec<ExperimentMetricRecord>>;
        fn set_experiment_metrics(&mut self, experiment_id: i64, metrics: &[(i64, String)]) -> Result<()>;
    }
    ChangeQueries {
        fn insert_change(&mut self, change: &ChangeRecord) -> Result<()>;
        fn changes_after(&mut self, environment_id: i64, after: i64, limit: i64) -> Result<Vec<ChangeRecord>>;
    }
    AuditQueries {
        fn insert_audit(&mut self, entry: &NewAudit<'_>) -> Result<i64>;
        fn audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
        fn catalog_version(&mut self) -> Result<i64>;
    }
    CredentialQueries {
        fn insert_token(&mut self, name: &str, role: &str, hash: &str, at: i64) -> Result<TokenRecord>;
        fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenRecord>>;
        fn tokens(&mut self) -> Result<Vec<TokenRecord>>;
        fn revoke_token(&mut self, id: i64, at: i64) -> Result<bool>;
        fn count_tokens(&mut self) -> Result<i64>;
        fn insert_sdk_key(&mut self, environment_id: i64, name: &str, hash: &str, at: i64) -> Result<SdkKeyRecord>;
        fn sdk_key_by_hash(&mut self, hash: &str) -> Result<Option<SdkKeyRecord>>;
        fn sdk_keys(&mut self, environment_id: Option<i64>) -> Result<Vec<SdkKeyRecord>>;
        fn revoke_sdk_key(&mut self, id: i64, at: i64) -> Result<bool>;
        fn touch_credentials(&mut self, tokens: &[i64], keys: &[i64], at: i64, every_ms: i64) -> Result<()>;
    }
    ReleaseQueries {
        fn releases(&mut self, state: Option<&str>, limit: i64) -> Result<Vec<ReleaseRecord>>;
        fn release(&mut self, id: i64) -> Result<Option<ReleaseRecord>>;
        fn insert_release(&mut self, release: &ReleaseRecord) -> Result<i64>;
        fn update_release(&mut self, release: &ReleaseRecord) -> Result<()>;
        fn delete_release(&mut self, id: i64) -> Result<()>;
        fn due_releases(&mut self, now: i64, limit: i64) -> Result<Vec<ReleaseRecord>>;
        fn next_scheduled(&mut self) -> Result<Option<i64>>;
    }
    RampQueries {
        fn ramps(&mut self, filter: RampFilter<'_>, limit: i64) -> Result<Vec<RampRecord>>;
        fn ramp(&mut self, id: i64) -> Result<Option<RampRecord>>;
        fn insert_ramp(&mut self, ramp: &RampRecord) -> Result<i64>;
        fn update_ramp(&mut self, ramp: &RampRecord) -> Result<()>;
        fn due_ramps(&mut self, now: i64, limit: i64) -> Result<Vec<RampRecord>>;
        fn next_ramp_at(&mut self) -> Result<Option<i64>>;
    }
    UserQueries {
        fn users(&mut self) -> Result<Vec<UserRecord>>;
        fn user(&mut self, username: &str) -> Result<Option<UserRecord>>;
        fn insert_user(&mut self, user: &NewUser<'_>) -> Result<UserRecord>;
        fn update_user(&mut self, user: &UserRecord) -> Result<()>;
        fn touch_login(&mut self, user_id: i64, at: i64) -> Result<()>;
        fn delete_user(&mut self, user_id: i64) -> Result<bool>;
        fn count_users(&mut self) -> Result<i64>;
        fn count_active_admins(&mut self) -> Result<i64>;
        fn insert_session(&mut self, session: &SessionRecord) -> Result<()>;
        fn session(&mut self, id: &str) -> Result<Option<SessionUser>>;
        fn touch_session(&mut self, id: &str, last_seen_at: i64, expires_at: i64) -> Result<bool>;
        fn delete_session(&mut self, id: &str) -> Result<bool>;
        fn delete_user_sessions(&mut self, user_id: i64) -> Result<u64>;
        fn delete_expired_sessions(&mut self, now: i64) -> Result<u64>;
    }
    IngestQueries {
        fn claim_batch(&mut self, environment_id: i64, batch_id: &str, received_at: i64, answer: &BatchAnswer) -> Result<Option<BatchAnswer>>;
        fn prune_batches(&mut self, before: i64) -> Result<u64>;
        fn add_event_count(&mut self, environment_id: i64, kind: &str, n: i64) -> Result<()>;
        fn event_counts(&mut self, environment_id: i64) -> Result<Vec<(String, i64)>>;
        fn units(&mut self, experiment_id: i64, units: &[&str]) -> Result<Vec<UnitRow>>;
        fn insert_units(&mut self, experiment_id: i64, metrics: usize, rows: &[UnitRow]) -> Result<()>;
        fn put_units(&mut self, experiment_id: i64, metrics: usize, rows: &[UnitRow]) -> Result<()>;
        fn add_variant_units(&mut self, experiment_id: i64, deltas: &[VariantUnitsRow]) -> Result<()>;
        fn add_variant_metrics(&mut self, experiment_id: i64, deltas: &[VariantMetricRow]) -> Result<()>;
        fn variant_units(&mut self, experiment_id: i64) -> Result<Vec<VariantUnitsRow>>;
        fn variant_metrics(&mut self, experiment_id: i64) -> Result<Vec<VariantMetricRow>>;
        fn snapshot_results(&mut self, experiment_id: i64, day: i64, taken_at: i64) -> Result<()>;
        fn result_snapshots(&mut self, experiment_id: i64, since_day: i64) -> Result<Vec<SnapshotRow>>;
    }
}
