//! The Postgres backend: for several server replicas sharing one database.
//!
//! One pool. Writes run in ordinary (`READ COMMITTED`) transactions; the
//! service bumps the environment's version first, and the row lock that
//! `UPDATE ... RETURNING` takes serialises writers per environment until
//! commit. Reads run in `REPEATABLE READ, READ ONLY` transactions: one
//! snapshot for the whole transaction and no writes, like SQLite's read-only
//! WAL readers (a read-only repeatable-read transaction never fails to
//! serialise).
//!
//! The queries mirror `sqlite/` statement for statement. Where the two SQL
//! dialects differ the Postgres text is written to give SQLite's results:
//! keys are `COLLATE "C"` in the schema (bytewise order and equality, like
//! SQLite's BINARY), the search folds case with `lower(x COLLATE "C")`
//! (ASCII only, like SQLite's built-in `lower`), and a negative `LIMIT` means
//! no limit and a negative `OFFSET` zero, as in SQLite (Postgres would reject
//! both). Optional parameters carry explicit casts: Postgres cannot infer the
//! type of a bare `$n IS NULL`.
//!
//! This file holds the pool, the write and ingest locks and [`Backend`];
//! `outage.rs` fails fast while the database is down, `listen.rs` receives
//! cross-replica hints, and the statements are in one file per domain, each
//! with that domain's `impl XxxQueries for PgTx`. Every statement reaches the
//! connection through [`PgTx::conn`], which first sends the configuration
//! writes the transaction holds back (`config_write.rs`: a batch's writes
//! go as one statement).

/// SQLite's `LIMIT n`: a negative `n` means no limit. Defined before the
/// domain modules, which use it.
macro_rules! limit {
    ($n:literal) => {
        concat!(" LIMIT CASE WHEN ", $n, "::bigint < 0 THEN NULL ELSE ", $n, "::bigint END")
    };
}

/// The columns of a [`FlagConfigRow`](crate::store::FlagConfigRow) from
/// `flags f`, `flag_configs c`, with `$ENV` the environment's id (used by
/// `configs.rs` and `config_write.rs`).
macro_rules! flag_config_columns {
    ($env:literal) => {
        concat!(
            "f.id, f.key, f.name, f.description, f.kind, f.variants, f.tags, f.archived, f.revision,
             f.created_at, f.updated_at, c.environment_id, c.config, c.revision AS config_revision,
             c.updated_at AS config_updated_at, c.updated_by,
             EXISTS (SELECT 1 FROM experiments x WHERE x.flag_id = f.id AND x.environment_id = ",
            $env,
            " AND x.state = 'running') AS experiment_running,
             EXISTS (SELECT 1 FROM ramps r WHERE r.flag_id = f.id AND r.environment_id = ",
            $env,
            " AND r.state = 'running') AS ramp_running"
        )
    };
}

/// How a configuration upsert replaces the current row of its flag and
/// environment (used by `configs.rs` and `config_write.rs`).
macro_rules! config_on_conflict {
    () => {
        " ON CONFLICT (flag_id, environment_id) DO UPDATE SET config = excluded.config,
             revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by"
    };
}

mod audit;
mod changes;
mod config_write;
mod configs;
mod credentials;
mod environments;
mod experiments;
mod flags;
mod ingest;
mod listen;
mod metrics;
mod nodelay;
mod outage;
mod ramps;
mod releases;
mod segments;
mod tx;
mod users;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use crate::store::{Backend, PoolStats, Result, StoreError, Topic, TxMarks};

/// A statement being bound (the type the per-record `bind_*` helpers take and give back).
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// How long a request waits for a pooled connection (or to open the first).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection idle for longer than this is pinged before it is
/// handed out (a shorter-idle one is not: see `connect`).
const PING_WHEN_IDLE: Duration = Duration::from_millis(500);

/// The advisory lock every ingest transaction holds ("ingest").
const INGEST_LOCK: i64 = 0x0000_696e_6765_7374;
/// Begins a writing transaction and takes the advisory lock every one holds
/// (the key is "flagyard" as a big-endian integer, as the test checks): one
/// round trip for both, as a simple query.
const BEGIN_WRITE: &str = "BEGIN; SELECT pg_advisory_xact_lock(7380380986399355492)";
/// Begins an ingest transaction and takes [`INGEST_LOCK`].
const BEGIN_INGEST: &str = "BEGIN; SELECT pg_advisory_xact_lock(115922902020980)";

/// A Postgres pool.
#[derive(Clone, Debug)]
pub struct PgBackend {
    pool: PgPool,
    outage: Arc<outage::Outage>,
    /// The server's TCP address (not for Unix sockets), to tell a busy pool
    /// from a database that refuses connections.
    address: Option<(String, u16)>,
}

impl PgBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// TLS as its `sslmode` says), opening one connection now so a bad URL
    /// fails at startup, and the rest of the pool in the background, all at
    /// once: the whole pool stays open.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let host = options.get_host().to_owned();
        let address = (!host.starts_with('/')).then(|| (host, options.get_port()));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            // Every connection kept open while idle (and replaced in the
            // background when one ends): a connection opened for a request
            // cost that request ~90 ms on the benchmark machine, the one slow
            // request of the UI benchmark's Postgres runs.
            .min_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx pings every connection it hands out: a round trip before
            // every transaction, a third of a one-job write batch's fixed
            // cost. Only a connection idle for a while is pinged (as
            // HikariCP does); one back from a request a moment ago was alive.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    // A connection whose transaction was left open by a failed
                    // COMMIT or ROLLBACK is replaced, never handed out again.
                    if conn.is_in_transaction() {
                        return Ok(false);
                    }
                    // An error closes it (and the pool tries another).
                    if meta.idle_for > PING_WHEN_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            // sqlx 0.9.0 leaves Nagle's algorithm on (see `nodelay`).
            .after_connect(|_, _| {
                Box::pin(async move {
                    let _ = tokio::task::spawn_blocking(nodelay::set_on_tcp_sockets).await;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        drop(pool.acquire().await?);
        // `connect_with` would open the pool one connection after the other
        // before answering; opened together in the background, they cost the
        // start nothing.
        let warm = pool.clone();
        tokio::spawn(async move {
            let mut opening = tokio::task::JoinSet::new();
            for _ in 0..warm.options().get_min_connections() {
                let pool = warm.clone();
                opening.spawn(async move { pool.acquire().await });
            }
            // Each is held until all are open, so they are distinct.
            let held: Vec<_> = opening.join_all().await;
            drop(held);
        });
        Ok(PgBackend { pool, outage: Arc::default(), address })
    }

    /// Runs `acquire` (something that takes a connection from the pool)
    /// within the time the outage state allows, and records its outcome.
    async fn guarded<T>(&self, acquire: impl Future<Output = sqlx::Result<T>>) -> Result<T> {
        let Some(budget) = self.outage.budget() else {
            return Err(StoreError::Unavailable("the database was unreachable a moment ago".into()));
        };
        let acquired = tokio::select! {
            acquired = tokio::time::timeout(budget, acquire) => acquired,
            () = self.outage.refused(self.address.as_ref()) => {
                self.outage.failed();
                return Err(StoreError::Unavailable("the database refuses connections".into()));
            }
        };
        match acquired {
            Ok(Ok(value)) => {
                self.outage.reached();
                Ok(value)
            }
            Ok(Err(e)) => {
                let e = StoreError::from(e);
                if e.is_unavailable() {
                    self.outage.failed();
                }
                Err(e)
            }
            Err(_) => {
                self.outage.failed();
                Err(StoreError::Unavailable(format!("no database connection within {} ms", budget.as_millis())))
            }
        }
    }
}

/// A Postgres transaction: the connection's transaction, the marks it
/// made, and the configuration writes it holds back
/// ([`config_write::HeldWrites`]). Every statement goes through
/// [`PgTx::conn`], which sends them first, so no statement can miss them.
pub struct PgTx(Transaction<'static, Postgres>, TxMarks, config_write::HeldWrites);

impl PgTx {
    fn new(tx: Transaction<'static, Postgres>) -> PgTx {
        PgTx(tx, TxMarks::default(), config_write::HeldWrites::default())
    }

    /// The connection, once the held writes (if any) are sent.
    async fn conn(&mut self) -> Result<&mut PgConnection> {
        self.2.send(&mut self.0).await?;
        Ok(&mut *self.0)
    }
}

impl Backend for PgBackend {
    type Tx = PgTx;

    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn read(&self) -> Result<PgTx> {
        let tx = self.guarded(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")).await?;
        Ok(PgTx::new(tx))
    }

    async fn write(&self) -> Result<PgTx> {
        // One writing transaction at a time across all replicas: batches
        // (group commit) then never lock environments in conflicting orders,
        // so replicas cannot deadlock.
        let tx = self.guarded(self.pool.begin_with(BEGIN_WRITE)).await?;
        Ok(PgTx::new(tx))
    }

    async fn ingest(&self) -> Result<PgTx> {
        // Ingest batches serialize among themselves (unit aggregates are
        // read, changed and written) but not with configuration writes.
        let tx = self.guarded(self.pool.begin_with(BEGIN_INGEST)).await?;
        Ok(PgTx::new(tx))
    }

    async fn commit(mut tx: PgTx) -> Result<()> {
        tx.conn().await?;
        Ok(tx.0.commit().await?)
    }

    async fn migrate(&self) -> Result<()> {
        Ok(crate::store::migrations::POSTGRES.run(&self.pool).await?)
    }

    async fn ready(&self) -> Result<bool> {
        // Ask whether the table exists first: selecting from a missing table
        // is an error (and a line in the server's log) on every probe. An
        // unreachable database is an error, not "not migrated".
        let exists: bool = self
            .guarded(sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&self.pool))
            .await?;
        if !exists {
            return Ok(false);
        }
        let applied: i64 = self
            .guarded(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool))
            .await?;
        Ok(applied as usize >= crate::store::migrations::POSTGRES.iter().count())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats { size: self.pool.size(), idle: self.pool.num_idle() as u32 }
    }

    async fn hints(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Topic>>> {
        listen::hints(&self.pool).await.map(Some)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_begin_statements_take_the_locks_they_name() {
        let write_lock = i64::from_be_bytes(*b"flagyard");
        assert_eq!(BEGIN_WRITE, format!("BEGIN; SELECT pg_advisory_xact_lock({write_lock})"));
        assert_eq!(BEGIN_INGEST, format!("BEGIN; SELECT pg_advisory_xact_lock({INGEST_LOCK})"));
    }
}
