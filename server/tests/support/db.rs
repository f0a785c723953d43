//! Fresh databases per test, and backends migrated on them.
//!
//! - SQLite: a file in a new directory under the system temp dir, removed
//!   when the guard drops.
//! - Postgres: a new database `flagyard_t_<unique>` on the server at
//!   `FLAGYARD_TEST_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`), dropped `WITH (FORCE)`
//!   when the guard drops. If that server cannot be reached the test prints
//!   `SKIPPED (no Postgres at <url>): <test>` to stderr and does nothing,
//!   unless `FLAGYARD_REQUIRE_POSTGRES=1`, in which case it panics.
//!
//! [`conformance_test!`](crate::conformance_test) runs one test body on both.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flagyard_server::store::{Backend, PgBackend, SqliteBackend};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The Postgres server used when `FLAGYARD_TEST_POSTGRES_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long to wait for the Postgres server before skipping.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A name no other test (in this process or another) is using:
/// `<pid>_<counter>_<nanos>`.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}_{n}_{nanos}", std::process::id())
}

/// A SQLite database file in its own temporary directory, deleted on drop.
#[derive(Debug)]
pub struct SqliteTestDb {
    pub dir: PathBuf,
    pub path: PathBuf,
    /// `sqlite://<path>`.
    pub url: String,
}

impl SqliteTestDb {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("flagyard_t_{}", unique_suffix()));
        std::fs::create_dir_all(&dir).expect("create the test database directory");
        let path = dir.join("flagyard.db");
        let url = format!("sqlite://{}", path.display());
        SqliteTestDb { dir, path, url }
    }
}

impl Default for SqliteTestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SqliteTestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server URL for test databases.
pub fn postgres_server_url() -> String {
    std::env::var("FLAGYARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.into())
}

/// Whether `FLAGYARD_REQUIRE_POSTGRES=1`: Postgres tests fail instead of skipping.
pub fn postgres_required() -> bool {
    std::env::var("FLAGYARD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// `url` with its database name replaced by `database` (query kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

async fn connect_admin(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// A fresh Postgres database, dropped (`WITH (FORCE)`) on drop.
#[derive(Debug)]
pub struct PgTestDb {
    /// The database's name (`flagyard_t_...`).
    pub name: String,
    /// A URL to it.
    pub url: String,
    /// The server URL it was created from.
    admin_url: String,
}

impl PgTestDb {
    /// Creates the database, or returns `None` (after saying so on stderr)
    /// when Postgres is unreachable and not required. `test` names the test
    /// in that message.
    pub async fn create(test: &str) -> Option<Self> {
        let admin_url = postgres_server_url();
        let mut conn = match connect_admin(&admin_url).await {
            Ok(conn) => conn,
            Err(e) if postgres_required() => {
                panic!("FLAGYARD_REQUIRE_POSTGRES=1 but Postgres at {admin_url} is unreachable ({e}): {test}")
            }
            Err(e) => {
                // Straight to the file descriptor: the test harness captures
                // `eprintln!` of passing tests, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "SKIPPED (no Postgres at {admin_url}): {test} [{e}]");
                return None;
            }
        };
        let name = format!("flagyard_t_{}", unique_suffix());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        Some(PgTestDb { name, url, admin_url })
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // Drop may run inside a Tokio runtime (which cannot block on another
        // future): use a small runtime of our own on another thread.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = connect_admin(&admin_url).await?;
                conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: could not drop test database {}: the dropping thread panicked", self.name),
        }
    }
}

/// A migrated backend and the guard of its database. Fields drop in order:
/// the backend's pools before the database.
pub struct TestBackend<B, G> {
    pub backend: B,
    pub db: G,
}

/// A migrated SQLite backend on a fresh file.
pub async fn sqlite_backend() -> TestBackend<SqliteBackend, SqliteTestDb> {
    let db = SqliteTestDb::new();
    let backend = SqliteBackend::connect(&db.url, 4).await.expect("open the SQLite test database");
    backend.migrate().await.expect("migrate the SQLite test database");
    TestBackend { backend, db }
}

/// A migrated Postgres backend on a fresh database, or `None` when
/// Postgres is unreachable (and not required).
pub async fn pg_backend(test: &str) -> Option<TestBackend<PgBackend, PgTestDb>> {
    let db = PgTestDb::create(test).await?;
    let backend = PgBackend::connect(&db.url, 8).await.expect("connect to the Postgres test database");
    backend.migrate().await.expect("migrate the Postgres test database");
    Some(TestBackend { backend, db })
}

/// One async test body run on both backends:
///
/// ```ignore
/// conformance_test!(inserts_environments, |b| async move {
///     let mut tx = b.write().await.unwrap(); // b: B where B: Backend
///     ...
/// });
/// ```
///
/// expands to `mod inserts_environments { fn sqlite(), fn postgres() }`, two
/// `#[tokio::test]`s (multi-threaded runtime, 2 workers) calling the body,
/// which is a generic `async fn run<B: Backend>(b: B)`. The body sees the
/// items of the enclosing module (`use super::*`).
#[macro_export]
macro_rules! conformance_test {
    ($name:ident, |$b:ident| async move $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run<B: ::flagyard_server::store::Backend>($b: B) $body

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::support::db::sqlite_backend().await;
                run(t.backend.clone()).await;
                ::flagyard_server::store::Backend::close(&t.backend).await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = concat!(module_path!(), "::postgres");
                let Some(t) = $crate::support::db::pg_backend(test).await else { return };
                run(t.backend.clone()).await;
                ::flagyard_server::store::Backend::close(&t.backend).await;
            }
        }
    };
}
