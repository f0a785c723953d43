//! The SQLite backend: the embedded default.
//!
//! WAL journal, foreign keys on, a busy timeout, and `synchronous = FULL` so
//! an acknowledged write is on disk. Writes go through a pool of exactly one
//! connection (SQLite has one writer; queueing in the pool beats retrying on
//! `SQLITE_BUSY`), reads through a separate pool of read-only connections
//! that WAL lets run beside the writer.
//!
//! This file holds the pools, opening and checking the database file, and
//! [`Backend`]; the statements are in one file per domain, each with that
//! domain's `impl XxxQueries for SqliteTx`.

mod audit;
mod changes;
mod configs;
mod credentials;
mod environments;
mod experiments;
mod flags;
mod ingest;
mod metrics;
mod ramps;
mod releases;
mod segments;
mod tx;
mod users;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Sqlite, SqlitePool, Transaction};

use crate::store::{Backend, PoolStats, Result, StoreError, Topic, TxMarks};

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
pub struct SqliteTx(Transaction<'static, Sqlite>, TxMarks);

impl Backend for SqliteBackend {
    type Tx = SqliteTx;

    fn name(&self) -> &'static str {
        "sqlite"
    }

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
        Ok(crate::store::migrations::SQLITE.run(&self.write).await?)
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
        Ok(applied as usize >= crate::store::migrations::SQLITE.iter().count())
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
