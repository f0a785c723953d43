//! Storage: one set of queries ([`Queries`]) implemented for SQLite and for
//! Postgres, behind a [`Backend`] that hands out transactions.
//!
//! The domain logic (validation, versioning, audit) lives in `crate::service`
//! and is written once, generic over the backend; the backends only run SQL.
//! Timestamps are epoch milliseconds; JSON documents are stored as text.

#[macro_use]
mod row;

mod accounts;
mod ingest;
pub mod migrations;
mod pg_outage;
mod postgres;
mod postgres_accounts;
mod postgres_ingest;
#[allow(unused)]
mod sqlite;
mod sqlite_accounts;
mod sqlite_ingest;

use std::future::Future;

pub use accounts::{AccountQueries, NewUser, SessionRecord, SessionUser, UserRecord};
pub use ingest::{BatchAnswer, IngestQueries, UnitRow, VariantMetricRow, VariantUnitsRow};
pub use postgres::PgBackend;
pub use sqlite::SqliteBackend;

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

row! {
    /// A flag's definition (shared by all environments).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FlagRecord {
        pub id: i64,
        pub key: String,
        pub name: String,
        pub description: String,
        /// `boolean`, `string`, `number` or `json`.
        pub kind: String,
        /// JSON array of `{key, value}`.
        pub variants: String,
        /// JSON array of strings.
        pub tags: String,
        pub archived: bool,
        /// +1 on every update of the definition.
        pub revision: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

row! {
    /// A flag joined with its configuration in one environment (one row of
    /// `Queries::environment_flags`).
    #[derive(Debug)]
    pub(crate) struct EnvironmentFlagRow {
        #[flatten]
        flag: FlagRecord,
        environment_id: i64,
        config: String,
        config_revision: i64,
        config_updated_at: i64,
        updated_by: String,
    }
}

/// What [`Queries::flag_and_config`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagAndConfig {
    pub flag: FlagRecord,
    /// Absent when the flag has no configuration in that environment.
    pub config: Option<ConfigRecord>,
    /// Whether a running experiment is bound to the flag in that environment.
    pub experiment_running: bool,
}

row! {
    /// A flag left-joined with its configuration in one environment.
    #[derive(Debug)]
    pub(crate) struct FlagConfigRow {
        #[flatten]
        flag: FlagRecord,
        environment_id: Option<i64>,
        config: Option<String>,
        config_revision: Option<i64>,
        config_updated_at: Option<i64>,
        updated_by: Option<String>,
        experiment_running: bool,
    }
}

impl FlagConfigRow {
    pub(crate) fn split(self) -> FlagAndConfig {
        let config =
            match (self.environment_id, self.config, self.config_revision, self.config_updated_at, self.updated_by) {
                (Some(environment_id), Some(config), Some(revision), Some(updated_at), Some(updated_by)) => {
                    Some(ConfigRecord {
                        flag_id: self.flag.id,
                        environment_id,
                        config,
                        revision,
                        updated_at,
                        updated_by,
                    })
                }
                _ => None,
            };
        FlagAndConfig { flag: self.flag, config, experiment_running: self.experiment_running }
    }
}

impl EnvironmentFlagRow {
    pub(crate) fn split(self) -> (FlagRecord, ConfigRecord) {
        let config = ConfigRecord {
            flag_id: self.flag.id,
            environment_id: self.environment_id,
            config: self.config,
            revision: self.config_revision,
            updated_at: self.config_updated_at,
            updated_by: self.updated_by,
        };
        (self.flag, config)
    }
}

/// What a new flag row holds (ids and revisions are assigned by the store).
#[derive(Debug, Clone)]
pub struct NewFlag<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub kind: &'a str,
    pub variants: &'a str,
    pub tags: &'a str,
    pub at: i64,
}

row! {
    /// A flag's configuration in one environment, at one revision.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConfigRecord {
        pub flag_id: i64,
        pub environment_id: i64,
        /// JSON of `flagyard_eval::FlagConfig`.
        pub config: String,
        /// 1 for the first configuration, +1 on every update.
        pub revision: i64,
        pub updated_at: i64,
        pub updated_by: String,
    }
}

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

row! {
    /// An admin API token (the secret itself is never stored).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TokenRecord {
        pub id: i64,
        pub name: String,
        /// `viewer`, `editor` or `admin`.
        pub role: String,
        /// SHA-256 (hex) of the secret.
        pub hash: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
    }
}

row! {
    /// An SDK key, scoped to one environment.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SdkKeyRecord {
        pub id: i64,
        pub environment_id: i64,
        pub environment_key: String,
        pub name: String,
        /// SHA-256 (hex) of the secret.
        pub hash: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
    }
}

/// Flag list filters. `search` matches key, name or description
/// (case-insensitive substring); `tag` an exact tag.
#[derive(Debug, Clone, Default)]
pub struct FlagQuery {
    pub search: Option<String>,
    pub tag: Option<String>,
    pub archived: Option<bool>,
    pub limit: i64,
    pub offset: i64,
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

/// Connection pool figures for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// The queries the service layer needs, run inside one transaction.
///
/// Every method is a plain statement (or two); none decides anything. List
/// methods return rows ordered by key (flags, segments, environments) or by
/// id/version ascending unless stated.
#[allow(clippy::too_many_arguments)]
pub trait Queries: Send {
    // Environments.
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

    /// [`Queries::bump_version`] by environment key, in one statement:
    /// the environment with its new version, or `None` if there is none.
    fn bump_environment(&mut self, key: &str) -> impl Future<Output = Result<Option<Environment>>> + Send;

    // Flags.
    /// A flag, its configuration in one environment, and whether an
    /// experiment runs on it there: the configuration write path's reads in
    /// one statement.
    fn flag_and_config(
        &mut self,
        key: &str,
        environment_id: i64,
    ) -> impl Future<Output = Result<Option<FlagAndConfig>>> + Send;
    /// A page of flags and the total count matching the filters.
    fn flags(&mut self, query: &FlagQuery) -> impl Future<Output = Result<(Vec<FlagRecord>, i64)>> + Send;
    fn flag(&mut self, key: &str) -> impl Future<Output = Result<Option<FlagRecord>>> + Send;
    fn flags_by_keys(&mut self, keys: &[String]) -> impl Future<Output = Result<Vec<FlagRecord>>> + Send;
    fn insert_flag(&mut self, flag: &NewFlag<'_>) -> impl Future<Output = Result<FlagRecord>> + Send;
    /// Writes name, description, variants, tags, archived, revision and updated_at by id.
    fn update_flag(&mut self, flag: &FlagRecord) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the flag, its configurations and their history.
    fn delete_flag(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;

    // Configurations.
    fn config(
        &mut self,
        flag_id: i64,
        environment_id: i64,
    ) -> impl Future<Output = Result<Option<ConfigRecord>>> + Send;
    fn configs_of_flag(&mut self, flag_id: i64) -> impl Future<Output = Result<Vec<ConfigRecord>>> + Send;
    /// Upserts the current configuration and appends it to the history.
    fn put_config(&mut self, config: &ConfigRecord) -> impl Future<Output = Result<()>> + Send;
    /// One recorded revision of a configuration.
    fn config_revision(
        &mut self,
        flag_id: i64,
        environment_id: i64,
        revision: i64,
    ) -> impl Future<Output = Result<Option<ConfigRecord>>> + Send;
    /// Recorded revisions, newest first.
    fn config_history(
        &mut self,
        flag_id: i64,
        environment_id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ConfigRecord>>> + Send;
    /// Every flag with its configuration in the environment, by flag key.
    fn environment_flags(
        &mut self,
        environment_id: i64,
    ) -> impl Future<Output = Result<Vec<(FlagRecord, ConfigRecord)>>> + Send;

    /// `(flag key, configuration JSON)` of every configuration, in any
    /// environment, whose text mentions a segment condition (a superset:
    /// callers parse what they get).
    fn segment_conditions(&mut self) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;

    // Segments.
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

    /// Locks the environment row until the transaction ends (Postgres `FOR
    /// UPDATE`; SQLite's single writer already serialises), without bumping
    /// its version: for writes that read configurations but change none.
    fn lock_environment(&mut self, environment_id: i64) -> impl Future<Output = Result<()>> + Send;

    // Metrics.
    fn metrics(&mut self) -> impl Future<Output = Result<Vec<MetricRecord>>> + Send;
    fn metric(&mut self, key: &str) -> impl Future<Output = Result<Option<MetricRecord>>> + Send;
    /// Inserts `metric` (its id is ignored) with revision 1.
    fn insert_metric(&mut self, metric: &MetricRecord) -> impl Future<Output = Result<MetricRecord>> + Send;
    /// Writes everything but key and created_at by id.
    fn update_metric(&mut self, metric: &MetricRecord) -> impl Future<Output = Result<()>> + Send;
    fn delete_metric(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;
    /// Keys of the experiments using the metric (primary, secondary or guardrail).
    fn metric_users(&mut self, id: i64) -> impl Future<Output = Result<Vec<String>>> + Send;

    // Experiments.
    fn experiments(&mut self) -> impl Future<Output = Result<Vec<ExperimentRecord>>> + Send;
    fn experiment(&mut self, key: &str) -> impl Future<Output = Result<Option<ExperimentRecord>>> + Send;
    /// Experiments of a flag (in every environment), by key.
    fn experiments_of_flag(&mut self, flag_id: i64) -> impl Future<Output = Result<Vec<ExperimentRecord>>> + Send;
    /// Inserts `experiment` (id and joined keys ignored) with revision 1; returns the id.
    fn insert_experiment(&mut self, experiment: &ExperimentRecord) -> impl Future<Output = Result<i64>> + Send;
    /// Writes everything but key, created_at and the joined keys by id.
    fn update_experiment(&mut self, experiment: &ExperimentRecord) -> impl Future<Output = Result<()>> + Send;
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

    // Change log.
    fn insert_change(&mut self, change: &ChangeRecord) -> impl Future<Output = Result<()>> + Send;
    /// Changes with version > `after`, ascending, at most `limit`.
    fn changes_after(
        &mut self,
        environment_id: i64,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ChangeRecord>>> + Send;

    // Audit log.
    fn insert_audit(&mut self, entry: &NewAudit<'_>) -> impl Future<Output = Result<i64>> + Send;
    /// Newest first.
    fn audit(&mut self, query: &AuditQuery) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;

    // Admin tokens (by SHA-256 hex of the secret).
    fn insert_token(
        &mut self,
        name: &str,
        role: &str,
        hash: &str,
        at: i64,
    ) -> impl Future<Output = Result<TokenRecord>> + Send;
    /// The token with this hash, revoked or not.
    fn token_by_hash(&mut self, hash: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;
    fn tokens(&mut self) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;
    /// Marks the token revoked; false if there is no such unrevoked token.
    fn revoke_token(&mut self, id: i64, at: i64) -> impl Future<Output = Result<bool>> + Send;
    fn count_tokens(&mut self) -> impl Future<Output = Result<i64>> + Send;

    // SDK keys (by SHA-256 hex of the secret).
    fn insert_sdk_key(
        &mut self,
        environment_id: i64,
        name: &str,
        hash: &str,
        at: i64,
    ) -> impl Future<Output = Result<SdkKeyRecord>> + Send;
    /// The key with this hash, revoked or not, with its environment's key.
    fn sdk_key_by_hash(&mut self, hash: &str) -> impl Future<Output = Result<Option<SdkKeyRecord>>> + Send;
    /// Keys of one environment, or of all.
    fn sdk_keys(&mut self, environment_id: Option<i64>) -> impl Future<Output = Result<Vec<SdkKeyRecord>>> + Send;
    fn revoke_sdk_key(&mut self, id: i64, at: i64) -> impl Future<Output = Result<bool>> + Send;

    /// Marks the start of one write of a batch: `SAVEPOINT job` for the
    /// first, else `RELEASE SAVEPOINT job; SAVEPOINT job` in one round trip
    /// (the previous write's work is kept). Commit releases the last one.
    fn begin_job(&mut self, first: bool) -> impl Future<Output = Result<()>> + Send;
    /// Undoes everything since the current write began (`ROLLBACK TO SAVEPOINT job`).
    fn abort_job(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// The newest audit id about flag definitions (0 if none): changes
    /// exactly when a flag is created, changed or deleted.
    fn catalog_version(&mut self) -> impl Future<Output = Result<i64>> + Send;

    // Cross-replica hints.
    /// Tells other replicas, when this transaction commits, that `topic`
    /// changed (Postgres `NOTIFY`; a no-op on SQLite, which has one process).
    fn notify(&mut self, topic: Topic) -> impl Future<Output = Result<()>> + Send;
    /// A real write that changes nothing (rewrites the first environment's
    /// row as it is): proves, once committed, that the database can write.
    fn probe_write(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// What this transaction did that this process acts on right after
    /// commit, without a round trip through the database.
    fn marks(&self) -> &TxMarks;
}

/// What a write transaction announced and which environment versions it
/// created, minus what rolled back with a refused write's savepoint.
#[derive(Debug, Clone, Default)]
pub struct TxMarks {
    pub(crate) notified: [bool; 2],
    bumped: Vec<(i64, i64)>,
    at_job_start: ([bool; 2], usize),
}

impl TxMarks {
    /// Whether `topic` was announced.
    pub fn notified(&self, topic: Topic) -> bool {
        self.notified[topic as usize]
    }

    /// The `(environment id, version)` pairs created.
    pub fn versions(&self) -> &[(i64, i64)] {
        &self.bumped
    }

    fn bumped(&mut self, environment_id: i64, version: i64) {
        self.bumped.push((environment_id, version));
    }

    fn begin_job(&mut self) {
        self.at_job_start = (self.notified, self.bumped.len());
    }

    fn abort_job(&mut self) {
        self.notified = self.at_job_start.0;
        self.bumped.truncate(self.at_job_start.1);
    }
}

/// What a cross-replica notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// New change records exist (the payload names no version: the change
    /// log is the truth; the hint only says "look").
    Changes,
    /// Credentials changed: an SDK key revoked, a session ended, a user's
    /// password changed, disabled or deleted.
    Keys,
}

impl Topic {
    /// The Postgres channel name.
    pub fn channel(self) -> &'static str {
        match self {
            Topic::Changes => "flagyard_changes",
            Topic::Keys => "flagyard_keys",
        }
    }
}

/// A database: hands out transactions, applies migrations, reports health.
pub trait Backend: Clone + Send + Sync + 'static {
    /// A transaction.
    type Tx: Queries + AccountQueries + IngestQueries + Send + 'static;
    /// The backend's name for logs and metrics (`sqlite`, `postgres`).
    const NAME: &'static str;

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
