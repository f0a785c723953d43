//! The SQLite backend: the embedded default.
//!
//! WAL journal, foreign keys on, a busy timeout, and `synchronous = FULL` so
//! an acknowledged write is on disk. Writes go through a pool of exactly one
//! connection (SQLite has one writer; queueing in the pool beats retrying on
//! `SQLITE_BUSY`), reads through a separate pool of read-only connections
//! that WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Sqlite, SqlitePool, Transaction};

use super::{
    AuditQuery, AuditRecord, Backend, ChangeRecord, ConfigRecord, Environment, EnvironmentFlagRow,
    ExperimentMetricRecord, ExperimentRecord, FlagAndConfig, FlagConfigRow, FlagQuery, FlagRecord, MetricRecord,
    NewAudit, NewFlag, PoolStats, Queries, Result, SdkKeyRecord, SegmentRecord, StoreError, TokenRecord, Topic,
    TxMarks,
};

/// SQLite pools.
#[derive(Clone, Debug)]
pub struct SqliteBackend {
    read: SqlitePool,
    write: SqlitePool,
    /// The database file and its identity when it was opened (not for
    /// in-memory databases): a file deleted or replaced under the running
    /// server is noticed instead of writing into an unlinked inode.
    file: Option<Arc<DbFile>>,
    /// Fault injection for tests: while set, every COMMIT of the writer
    /// fails (SQLite rolls the transaction back), as on a full disk.
    fail_commits: Arc<AtomicBool>,
}

/// The database file as opened.
#[derive(Debug)]
struct DbFile {
    path: PathBuf,
    identity: (u64, u64),
}

/// Below this much free space on the database's filesystem, `/readyz`
/// reports the disk as full (small writes may still fit in the space the
/// database holds; most do not).
const MIN_FREE_BYTES: u64 = 1 << 20;

/// Free bytes for unprivileged users on the filesystem of `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a zeroed struct
    // that statvfs fills.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return None;
        }
        st
    };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// A file's device and inode.
fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

impl SqliteBackend {
    /// Opens the database at `url` (`sqlite://path`), creating it when
    /// missing if `create` (and saying so on stdout); refuses otherwise.
    pub async fn connect(url: &str, read_connections: u32) -> Result<Self> {
        Self::open(url, read_connections, true).await
    }

    /// [`SqliteBackend::connect`] with the choice whether a missing database
    /// file may be created.
    pub async fn open(url: &str, read_connections: u32, create: bool) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let path = (!in_memory).then(|| options.get_filename().to_path_buf());
        let created = match &path {
            Some(p) if !p.exists() => {
                if !create {
                    return Err(StoreError::Unavailable(format!(
                        "no database at {} (FLAGYARD_CREATE_DATABASE=false: not creating one)",
                        p.display()
                    )));
                }
                true
            }
            _ => false,
        };
        let fail_commits = Arc::new(AtomicBool::new(false));
        let faults = fail_commits.clone();
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _| {
                let faults = faults.clone();
                Box::pin(async move {
                    conn.lock_handle().await?.set_commit_hook(move || !faults.load(Ordering::Relaxed));
                    Ok(())
                })
            })
            // A COMMIT that fails (disk full, I/O error) can leave the
            // connection's transaction bookkeeping open, and every later
            // `BEGIN` on it would fail: such a connection is replaced by a
            // fresh one instead of being handed out again. The ping lets a
            // rollback queued by the failed transaction's drop run first.
            .before_acquire(|conn, _| {
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(options.clone().create_if_missing(created))
            .await?;
        let read = if in_memory {
            // Each in-memory connection would be its own database.
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(read_connections.max(1))
                .connect_with(options.read_only(true))
                .await?
        };
        let file = match path {
            Some(path) => {
                if created {
                    let shown = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    println!("Flagyard created a new, empty database at {}", shown.display());
                    tracing::info!(path = %shown.display(), "created a new SQLite database");
                }
                let identity = identity(&path).map_err(|e| {
                    StoreError::Unavailable(format!("the database file {} cannot be read: {e}", path.display()))
                })?;
                Some(Arc::new(DbFile { path, identity }))
            }
            None => None,
        };
        Ok(SqliteBackend { read, write, file, fail_commits })
    }
}

impl SqliteBackend {
    /// The database file deleted or replaced under the server (writes are
    /// refused then: they would go to an unlinked file).
    fn file_problem(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        match identity(&file.path) {
            Ok(id) if id == file.identity => None,
            Ok(_) => Some(format!(
                "the database file {} was replaced while the server ran; restart it to use the new file",
                file.path.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(format!(
                "the database file {} was deleted while the server ran; writes are refused (restore the file and restart)",
                file.path.display()
            )),
            Err(e) => Some(format!("the database file {} cannot be checked: {e}", file.path.display())),
        }
    }

    /// Fault injection (tests): while `on`, every commit of a write fails
    /// and is rolled back by SQLite, as when the disk is full.
    #[doc(hidden)]
    pub fn fail_commits(&self, on: bool) {
        self.fail_commits.store(on, Ordering::Relaxed);
    }
}

/// A SQLite transaction.
pub struct SqliteTx(pub(super) Transaction<'static, Sqlite>, TxMarks);

impl Backend for SqliteBackend {
    type Tx = SqliteTx;
    const NAME: &'static str = "sqlite";

    async fn read(&self) -> Result<SqliteTx> {
        Ok(SqliteTx(self.read.begin().await?, TxMarks::default()))
    }

    async fn write(&self) -> Result<SqliteTx> {
        if let Some(problem) = self.file_problem() {
            return Err(StoreError::Unavailable(problem));
        }
        Ok(SqliteTx(self.write.begin_with("BEGIN IMMEDIATE").await?, TxMarks::default()))
    }

    async fn commit(tx: SqliteTx) -> Result<()> {
        Ok(tx.0.commit().await?)
    }

    async fn migrate(&self) -> Result<()> {
        Ok(super::migrations::SQLITE.run(&self.write).await?)
    }

    async fn ready(&self) -> Result<bool> {
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.read)
            .await
            .or_else(|e| match &e {
                // Not migrated at all yet.
                sqlx::Error::Database(d) if d.message().contains("no such table") => Ok(0),
                _ => Err(e),
            })?;
        Ok(applied as usize >= super::migrations::SQLITE.iter().count())
    }

    fn storage_problem(&self) -> Option<String> {
        self.file_problem().or_else(|| {
            let file = self.file.as_ref()?;
            let free = free_bytes(&file.path)?;
            (free < MIN_FREE_BYTES)
                .then(|| format!("the disk holding {} is full ({} KiB free)", file.path.display(), free / 1024))
        })
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.read.size() + self.write.size(),
            idle: (self.read.num_idle() + self.write.num_idle()) as u32,
        }
    }

    async fn hints(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Topic>>> {
        Ok(None)
    }

    async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// The columns of `FlagRecord`, for `concat!` into static SQL.
macro_rules! flag_columns {
    () => {
        "id, key, name, description, kind, variants, tags, archived, revision, created_at, updated_at"
    };
}

/// The shared filter of the flag list and its count.
macro_rules! flag_filter {
    () => {
        "WHERE (?1 IS NULL OR instr(lower(key), lower(?1)) > 0 OR instr(lower(name), lower(?1)) > 0
                OR instr(lower(description), lower(?1)) > 0)
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(flags.tags) WHERE json_each.value = ?2))
           AND (?3 IS NULL OR archived = ?3)"
    };
}

/// The columns of `MetricRecord`.
macro_rules! metric_columns {
    () => {
        "id, key, name, description, event, kind, good_direction, guardrail, revision, created_at, updated_at"
    };
}

/// The select of `ExperimentRecord`, joined with the keys it references (`x` is the experiment).
macro_rules! experiment_select {
    () => {
        "SELECT x.id, x.key, x.name, x.hypothesis, x.flag_id, f.key AS flag_key, x.environment_id,
                e.key AS environment_key, x.rule_id, x.control_variant, x.primary_metric_id,
                m.key AS primary_metric_key, x.analysis, x.alpha, x.minimum_detectable_effect, x.state,
                x.started_at, x.stopped_at, x.split_snapshot, x.revision, x.created_at, x.updated_at
         FROM experiments x JOIN flags f ON f.id = x.flag_id JOIN environments e ON e.id = x.environment_id
         JOIN metrics m ON m.id = x.primary_metric_id"
    };
}

impl Queries for SqliteTx {
    async fn environments(&mut self) -> Result<Vec<Environment>> {
        Ok(sqlx::query_as("SELECT id, key, name, version, created_at FROM environments ORDER BY id")
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn environment(&mut self, key: &str) -> Result<Option<Environment>> {
        Ok(sqlx::query_as("SELECT id, key, name, version, created_at FROM environments WHERE key = ?1")
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn insert_environment(&mut self, key: &str, name: &str, at: i64) -> Result<Environment> {
        Ok(sqlx::query_as(
            "INSERT INTO environments (key, name, version, created_at) VALUES (?1, ?2, 0, ?3)
             RETURNING id, key, name, version, created_at",
        )
        .bind(key)
        .bind(name)
        .bind(at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn bump_version(&mut self, environment_id: i64) -> Result<i64> {
        let version =
            sqlx::query_scalar("UPDATE environments SET version = version + 1 WHERE id = ?1 RETURNING version")
                .bind(environment_id)
                .fetch_one(&mut *self.0)
                .await?;
        self.1.bumped(environment_id, version);
        Ok(version)
    }

    async fn bump_environment(&mut self, key: &str) -> Result<Option<Environment>> {
        let env: Option<Environment> = sqlx::query_as(
            "UPDATE environments SET version = version + 1 WHERE key = ?1 RETURNING id, key, name, version, created_at",
        )
        .bind(key)
        .fetch_optional(&mut *self.0)
        .await?;
        if let Some(e) = &env {
            self.1.bumped(e.id, e.version);
        }
        Ok(env)
    }

    async fn flag_and_config(&mut self, key: &str, environment_id: i64) -> Result<Option<FlagAndConfig>> {
        let row: Option<FlagConfigRow> = sqlx::query_as(
            "SELECT f.id, f.key, f.name, f.description, f.kind, f.variants, f.tags, f.archived, f.revision,
                    f.created_at, f.updated_at, c.environment_id, c.config, c.revision AS config_revision,
                    c.updated_at AS config_updated_at, c.updated_by,
                    EXISTS (SELECT 1 FROM experiments x WHERE x.flag_id = f.id AND x.environment_id = ?2
                            AND x.state = 'running') AS experiment_running
             FROM flags f LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = ?2 WHERE f.key = ?1",
        )
        .bind(key)
        .bind(environment_id)
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(row.map(FlagConfigRow::split))
    }

    async fn flags(&mut self, q: &FlagQuery) -> Result<(Vec<FlagRecord>, i64)> {
        let rows = sqlx::query_as(concat!(
            "SELECT ",
            flag_columns!(),
            " FROM flags ",
            flag_filter!(),
            " ORDER BY key LIMIT ?4 OFFSET ?5"
        ))
        .bind(&q.search)
        .bind(&q.tag)
        .bind(q.archived)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&mut *self.0)
        .await?;
        let total = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM flags ", flag_filter!()))
            .bind(&q.search)
            .bind(&q.tag)
            .bind(q.archived)
            .fetch_one(&mut *self.0)
            .await?;
        Ok((rows, total))
    }

    async fn flag(&mut self, key: &str) -> Result<Option<FlagRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", flag_columns!(), " FROM flags WHERE key = ?1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn flags_by_keys(&mut self, keys: &[String]) -> Result<Vec<FlagRecord>> {
        let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            flag_columns!(),
            " FROM flags WHERE key IN (SELECT value FROM json_each(?1)) ORDER BY key"
        ))
        .bind(keys)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn insert_flag(&mut self, f: &NewFlag<'_>) -> Result<FlagRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO flags (key, name, description, kind, variants, tags, archived, revision, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 1, ?7, ?7) RETURNING ",
            flag_columns!()
        ))
        .bind(f.key)
        .bind(f.name)
        .bind(f.description)
        .bind(f.kind)
        .bind(f.variants)
        .bind(f.tags)
        .bind(f.at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn update_flag(&mut self, f: &FlagRecord) -> Result<()> {
        sqlx::query(
            "UPDATE flags SET name = ?2, description = ?3, variants = ?4, tags = ?5, archived = ?6, revision = ?7,
                              updated_at = ?8 WHERE id = ?1",
        )
        .bind(f.id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.variants)
        .bind(&f.tags)
        .bind(f.archived)
        .bind(f.revision)
        .bind(f.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_flag(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM flags WHERE id = ?1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn config(&mut self, flag_id: i64, environment_id: i64) -> Result<Option<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_configs
             WHERE flag_id = ?1 AND environment_id = ?2",
        )
        .bind(flag_id)
        .bind(environment_id)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn configs_of_flag(&mut self, flag_id: i64) -> Result<Vec<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_configs
             WHERE flag_id = ?1 ORDER BY environment_id",
        )
        .bind(flag_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn put_config(&mut self, c: &ConfigRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO flag_configs (flag_id, environment_id, config, revision, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (flag_id, environment_id) DO UPDATE SET config = excluded.config,
                 revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(c.flag_id)
        .bind(c.environment_id)
        .bind(&c.config)
        .bind(c.revision)
        .bind(c.updated_at)
        .bind(&c.updated_by)
        .execute(&mut *self.0)
        .await?;
        sqlx::query(
            "INSERT INTO flag_config_history (flag_id, environment_id, revision, config, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(c.flag_id)
        .bind(c.environment_id)
        .bind(c.revision)
        .bind(&c.config)
        .bind(c.updated_at)
        .bind(&c.updated_by)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn config_revision(
        &mut self,
        flag_id: i64,
        environment_id: i64,
        revision: i64,
    ) -> Result<Option<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_config_history
             WHERE flag_id = ?1 AND environment_id = ?2 AND revision = ?3",
        )
        .bind(flag_id)
        .bind(environment_id)
        .bind(revision)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn config_history(&mut self, flag_id: i64, environment_id: i64, limit: i64) -> Result<Vec<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_config_history
             WHERE flag_id = ?1 AND environment_id = ?2 ORDER BY revision DESC LIMIT ?3",
        )
        .bind(flag_id)
        .bind(environment_id)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn environment_flags(&mut self, environment_id: i64) -> Result<Vec<(FlagRecord, ConfigRecord)>> {
        let rows: Vec<EnvironmentFlagRow> = sqlx::query_as(
            "SELECT f.id, f.key, f.name, f.description, f.kind, f.variants, f.tags, f.archived, f.revision,
                    f.created_at, f.updated_at, c.environment_id, c.config, c.revision AS config_revision,
                    c.updated_at AS config_updated_at, c.updated_by
             FROM flags f JOIN flag_configs c ON c.flag_id = f.id WHERE c.environment_id = ?1 ORDER BY f.key",
        )
        .bind(environment_id)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows.into_iter().map(EnvironmentFlagRow::split).collect())
    }

    async fn segment_conditions(&mut self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.key, c.config FROM flags f JOIN flag_configs c ON c.flag_id = f.id
             WHERE c.config LIKE '%segment\"%' ORDER BY f.key",
        )
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn segments(&mut self) -> Result<Vec<SegmentRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, key, description, definition, revision, created_at, updated_at FROM segments ORDER BY key",
        )
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn segment(&mut self, key: &str) -> Result<Option<SegmentRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, key, description, definition, revision, created_at, updated_at FROM segments WHERE key = ?1",
        )
        .bind(key)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn insert_segment(
        &mut self,
        key: &str,
        description: &str,
        definition: &str,
        at: i64,
    ) -> Result<SegmentRecord> {
        Ok(sqlx::query_as(
            "INSERT INTO segments (key, description, definition, revision, created_at, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?4)
             RETURNING id, key, description, definition, revision, created_at, updated_at",
        )
        .bind(key)
        .bind(description)
        .bind(definition)
        .bind(at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn update_segment(&mut self, s: &SegmentRecord) -> Result<()> {
        sqlx::query(
            "UPDATE segments SET description = ?2, definition = ?3, revision = ?4, updated_at = ?5 WHERE id = ?1",
        )
        .bind(s.id)
        .bind(&s.description)
        .bind(&s.definition)
        .bind(s.revision)
        .bind(s.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_segment(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM segments WHERE id = ?1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn lock_environment(&mut self, environment_id: i64) -> Result<()> {
        sqlx::query("SELECT id FROM environments WHERE id = ?1")
            .bind(environment_id)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn metrics(&mut self) -> Result<Vec<MetricRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", metric_columns!(), " FROM metrics ORDER BY key"))
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn metric(&mut self, key: &str) -> Result<Option<MetricRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", metric_columns!(), " FROM metrics WHERE key = ?1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn insert_metric(&mut self, m: &MetricRecord) -> Result<MetricRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO metrics (key, name, description, event, kind, good_direction, guardrail, revision,
                                  created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8) RETURNING ",
            metric_columns!()
        ))
        .bind(&m.key)
        .bind(&m.name)
        .bind(&m.description)
        .bind(&m.event)
        .bind(&m.kind)
        .bind(&m.good_direction)
        .bind(m.guardrail)
        .bind(m.created_at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn update_metric(&mut self, m: &MetricRecord) -> Result<()> {
        sqlx::query(
            "UPDATE metrics SET name = ?2, description = ?3, event = ?4, kind = ?5, good_direction = ?6,
                                guardrail = ?7, revision = ?8, updated_at = ?9 WHERE id = ?1",
        )
        .bind(m.id)
        .bind(&m.name)
        .bind(&m.description)
        .bind(&m.event)
        .bind(&m.kind)
        .bind(&m.good_direction)
        .bind(m.guardrail)
        .bind(m.revision)
        .bind(m.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_metric(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM metrics WHERE id = ?1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn metric_users(&mut self, id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM experiments WHERE primary_metric_id = ?1
                OR id IN (SELECT experiment_id FROM experiment_metrics WHERE metric_id = ?1)
             ORDER BY key",
        )
        .bind(id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn experiments(&mut self) -> Result<Vec<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " ORDER BY x.key")).fetch_all(&mut *self.0).await?)
    }

    async fn experiment(&mut self, key: &str) -> Result<Option<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " WHERE x.key = ?1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn experiments_of_flag(&mut self, flag_id: i64) -> Result<Vec<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " WHERE x.flag_id = ?1 ORDER BY x.key"))
            .bind(flag_id)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn insert_experiment(&mut self, x: &ExperimentRecord) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO experiments (key, name, hypothesis, flag_id, environment_id, rule_id, control_variant,
                                      primary_metric_id, analysis, alpha, minimum_detectable_effect, state,
                                      started_at, stopped_at, split_snapshot, revision, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1, ?16, ?16) RETURNING id",
        )
        .bind(&x.key)
        .bind(&x.name)
        .bind(&x.hypothesis)
        .bind(x.flag_id)
        .bind(x.environment_id)
        .bind(&x.rule_id)
        .bind(&x.control_variant)
        .bind(x.primary_metric_id)
        .bind(&x.analysis)
        .bind(x.alpha)
        .bind(x.minimum_detectable_effect)
        .bind(&x.state)
        .bind(x.started_at)
        .bind(x.stopped_at)
        .bind(&x.split_snapshot)
        .bind(x.created_at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn update_experiment(&mut self, x: &ExperimentRecord) -> Result<()> {
        sqlx::query(
            "UPDATE experiments SET name = ?2, hypothesis = ?3, flag_id = ?4, environment_id = ?5, rule_id = ?6,
                    control_variant = ?7, primary_metric_id = ?8, analysis = ?9, alpha = ?10,
                    minimum_detectable_effect = ?11, state = ?12, started_at = ?13, stopped_at = ?14,
                    split_snapshot = ?15, revision = ?16, updated_at = ?17
             WHERE id = ?1",
        )
        .bind(x.id)
        .bind(&x.name)
        .bind(&x.hypothesis)
        .bind(x.flag_id)
        .bind(x.environment_id)
        .bind(&x.rule_id)
        .bind(&x.control_variant)
        .bind(x.primary_metric_id)
        .bind(&x.analysis)
        .bind(x.alpha)
        .bind(x.minimum_detectable_effect)
        .bind(&x.state)
        .bind(x.started_at)
        .bind(x.stopped_at)
        .bind(&x.split_snapshot)
        .bind(x.revision)
        .bind(x.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_experiment(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM experiments WHERE id = ?1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn experiment_metrics(&mut self, experiment_id: i64) -> Result<Vec<ExperimentMetricRecord>> {
        Ok(sqlx::query_as(
            "SELECT em.metric_id, m.key AS metric_key, em.role FROM experiment_metrics em
             JOIN metrics m ON m.id = em.metric_id WHERE em.experiment_id = ?1 ORDER BY em.role, m.key",
        )
        .bind(experiment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn set_experiment_metrics(&mut self, experiment_id: i64, metrics: &[(i64, String)]) -> Result<()> {
        sqlx::query("DELETE FROM experiment_metrics WHERE experiment_id = ?1")
            .bind(experiment_id)
            .execute(&mut *self.0)
            .await?;
        for (metric_id, role) in metrics {
            sqlx::query("INSERT INTO experiment_metrics (experiment_id, metric_id, role) VALUES (?1, ?2, ?3)")
                .bind(experiment_id)
                .bind(metric_id)
                .bind(role)
                .execute(&mut *self.0)
                .await?;
        }
        Ok(())
    }

    async fn insert_change(&mut self, c: &ChangeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO changes (environment_id, version, entity, key, op, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(c.environment_id)
        .bind(c.version)
        .bind(&c.entity)
        .bind(&c.key)
        .bind(&c.op)
        .bind(c.at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn changes_after(&mut self, environment_id: i64, after: i64, limit: i64) -> Result<Vec<ChangeRecord>> {
        Ok(sqlx::query_as(
            "SELECT environment_id, version, entity, key, op, at FROM changes
             WHERE environment_id = ?1 AND version > ?2 ORDER BY version LIMIT ?3",
        )
        .bind(environment_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn insert_audit(&mut self, a: &NewAudit<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor, action, entity, key, environment, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(a.at)
        .bind(a.actor)
        .bind(a.action)
        .bind(a.entity)
        .bind(a.key)
        .bind(a.environment)
        .bind(a.before)
        .bind(a.after)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn audit(&mut self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor, action, entity, key, environment, before, after FROM audit_log
             WHERE (?1 IS NULL OR (key = ?1 AND entity IN ('flag', 'config')))
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR environment = ?3)
               AND (?4 IS NULL OR at >= ?4)
               AND (?5 IS NULL OR at < ?5)
               AND (?6 IS NULL OR id < ?6)
             ORDER BY id DESC LIMIT ?7",
        )
        .bind(&q.flag)
        .bind(&q.actor)
        .bind(&q.environment)
        .bind(q.since)
        .bind(q.until)
        .bind(q.before_id)
        .bind(q.limit)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn insert_token(&mut self, name: &str, role: &str, hash: &str, at: i64) -> Result<TokenRecord> {
        Ok(sqlx::query_as(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             RETURNING id, name, role, token_hash AS hash, created_at, revoked_at",
        )
        .bind(name)
        .bind(role)
        .bind(hash)
        .bind(at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, role, token_hash AS hash, created_at, revoked_at FROM api_tokens WHERE token_hash = ?1",
        )
        .bind(hash)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn tokens(&mut self) -> Result<Vec<TokenRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, name, role, token_hash AS hash, created_at, revoked_at FROM api_tokens ORDER BY id",
        )
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn revoke_token(&mut self, id: i64, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_tokens(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(&mut *self.0).await?)
    }

    async fn insert_sdk_key(&mut self, environment_id: i64, name: &str, hash: &str, at: i64) -> Result<SdkKeyRecord> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sdk_keys (environment_id, name, key_hash, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .bind(environment_id)
        .bind(name)
        .bind(hash)
        .bind(at)
        .fetch_one(&mut *self.0)
        .await?;
        Ok(sqlx::query_as(
            "SELECT k.id, k.environment_id, e.key AS environment_key, k.name, k.key_hash AS hash, k.created_at, k.revoked_at
             FROM sdk_keys k JOIN environments e ON e.id = k.environment_id WHERE k.id = ?1",
        )
        .bind(id)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn sdk_key_by_hash(&mut self, hash: &str) -> Result<Option<SdkKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT k.id, k.environment_id, e.key AS environment_key, k.name, k.key_hash AS hash, k.created_at, k.revoked_at
             FROM sdk_keys k JOIN environments e ON e.id = k.environment_id WHERE k.key_hash = ?1",
        )
        .bind(hash)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn sdk_keys(&mut self, environment_id: Option<i64>) -> Result<Vec<SdkKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT k.id, k.environment_id, e.key AS environment_key, k.name, k.key_hash AS hash, k.created_at, k.revoked_at
             FROM sdk_keys k JOIN environments e ON e.id = k.environment_id
             WHERE ?1 IS NULL OR k.environment_id = ?1 ORDER BY k.id",
        )
        .bind(environment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn revoke_sdk_key(&mut self, id: i64, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE sdk_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn begin_job(&mut self, first: bool) -> Result<()> {
        let sql = if first { "SAVEPOINT job" } else { "RELEASE SAVEPOINT job; SAVEPOINT job" };
        sqlx::raw_sql(sql).execute(&mut *self.0).await?;
        self.1.begin_job();
        Ok(())
    }

    async fn abort_job(&mut self) -> Result<()> {
        sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *self.0).await?;
        self.1.abort_job();
        Ok(())
    }

    async fn catalog_version(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE entity = 'flag'")
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn notify(&mut self, topic: Topic) -> Result<()> {
        // One process: the writer tells the hub in-process after commit.
        self.1.notified[topic as usize] = true;
        Ok(())
    }

    async fn probe_write(&mut self) -> Result<()> {
        sqlx::query("UPDATE environments SET version = version WHERE id = (SELECT MIN(id) FROM environments)")
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    fn marks(&self) -> &TxMarks {
        &self.1
    }
}
