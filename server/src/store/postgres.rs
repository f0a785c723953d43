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
//! The queries mirror `sqlite.rs` statement for statement. Where the two SQL
//! dialects differ the Postgres text is written to give SQLite's results:
//! keys are `COLLATE "C"` in the schema (bytewise order and equality, like
//! SQLite's BINARY), the search folds case with `lower(x COLLATE "C")`
//! (ASCII only, like SQLite's built-in `lower`), and a negative `LIMIT` means
//! no limit and a negative `OFFSET` zero, as in SQLite (Postgres would reject
//! both). Optional parameters carry explicit casts: Postgres cannot infer the
//! type of a bare `$n IS NULL`.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres, Transaction};

use super::{
    AuditQuery, AuditRecord, Backend, ChangeRecord, ConfigRecord, Environment, EnvironmentFlagRow,
    ExperimentMetricRecord, ExperimentRecord, FlagAndConfig, FlagConfigRow, FlagQuery, FlagRecord, MetricRecord,
    NewAudit, NewFlag, PoolStats, Queries, Result, SdkKeyRecord, SegmentRecord, StoreError, TokenRecord, Topic,
    TxMarks,
};

/// How long a request waits for a pooled connection (or to open the first).
pub(super) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock key every writing transaction holds ("flagyard").
const WRITE_LOCK: i64 = 0x666c_6167_7961_7264;
/// The advisory lock every ingest transaction holds ("ingest").
const INGEST_LOCK: i64 = 0x0000_696e_6765_7374;

/// A Postgres pool.
#[derive(Clone, Debug)]
pub struct PgBackend {
    pool: PgPool,
    outage: Arc<super::pg_outage::Outage>,
    /// The server's TCP address (not for Unix sockets), to tell a busy pool
    /// from a database that refuses connections.
    address: Option<(String, u16)>,
}

impl PgBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// TLS as its `sslmode` says), opening one connection now so a bad URL
    /// fails at startup.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let host = options.get_host().to_owned();
        let address = (!host.starts_with('/')).then(|| (host, options.get_port()));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection whose transaction was left open by a failed
            // COMMIT or ROLLBACK is replaced, never handed out again.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
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

/// A Postgres transaction.
pub struct PgTx(pub(super) Transaction<'static, Postgres>, TxMarks);

impl Backend for PgBackend {
    type Tx = PgTx;
    const NAME: &'static str = "postgres";

    async fn read(&self) -> Result<PgTx> {
        let tx = self.guarded(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")).await?;
        Ok(PgTx(tx, TxMarks::default()))
    }

    async fn write(&self) -> Result<PgTx> {
        let mut tx = self.guarded(self.pool.begin()).await?;
        // One writing transaction at a time across all replicas: batches
        // (group commit) then never lock environments in conflicting orders,
        // so replicas cannot deadlock.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
        Ok(PgTx(tx, TxMarks::default()))
    }

    async fn ingest(&self) -> Result<PgTx> {
        let mut tx = self.guarded(self.pool.begin()).await?;
        // Ingest batches serialize among themselves (unit aggregates are
        // read, changed and written) but not with configuration writes.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INGEST_LOCK).execute(&mut *tx).await?;
        Ok(PgTx(tx, TxMarks::default()))
    }

    async fn commit(tx: PgTx) -> Result<()> {
        Ok(tx.0.commit().await?)
    }

    async fn migrate(&self) -> Result<()> {
        Ok(super::migrations::POSTGRES.run(&self.pool).await?)
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
        Ok(applied as usize >= super::migrations::POSTGRES.iter().count())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats { size: self.pool.size(), idle: self.pool.num_idle() as u32 }
    }

    async fn hints(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Topic>>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen_all([Topic::Changes.channel(), Topic::Keys.channel()]).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let topics: &[Topic] = match listener.try_recv().await {
                    Ok(Some(n)) if n.channel() == Topic::Keys.channel() => &[Topic::Keys],
                    Ok(Some(_)) => &[Topic::Changes],
                    // The connection dropped (sqlx reconnects on the next call): anything may have been missed.
                    Ok(None) => &[Topic::Changes, Topic::Keys],
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        &[Topic::Changes, Topic::Keys]
                    }
                };
                for t in topics {
                    // Full channel: a hint is already pending, which is as good.
                    if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = tx.try_send(*t) {
                        return;
                    }
                }
            }
        });
        Ok(Some(rx))
    }

    async fn close(&self) {
        self.pool.close().await;
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
        r#"WHERE ($1::text IS NULL OR strpos(lower(key COLLATE "C"), lower($1 COLLATE "C")) > 0
                OR strpos(lower(name COLLATE "C"), lower($1 COLLATE "C")) > 0
                OR strpos(lower(description COLLATE "C"), lower($1 COLLATE "C")) > 0)
           AND ($2::text IS NULL OR tags::jsonb ? $2)
           AND ($3::boolean IS NULL OR archived = $3)"#
    };
}

/// SQLite's `LIMIT n`: a negative `n` means no limit.
macro_rules! limit {
    ($n:literal) => {
        concat!(" LIMIT CASE WHEN ", $n, "::bigint < 0 THEN NULL ELSE ", $n, "::bigint END")
    };
}

/// The columns of `SdkKeyRecord`, from `sdk_keys k JOIN environments e`.
macro_rules! sdk_key_columns {
    () => {
        "k.id, k.environment_id, e.key AS environment_key, k.name, k.key_hash AS hash, k.created_at, k.revoked_at"
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

impl Queries for PgTx {
    async fn environments(&mut self) -> Result<Vec<Environment>> {
        Ok(sqlx::query_as("SELECT id, key, name, version, created_at FROM environments ORDER BY id")
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn environment(&mut self, key: &str) -> Result<Option<Environment>> {
        Ok(sqlx::query_as("SELECT id, key, name, version, created_at FROM environments WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn insert_environment(&mut self, key: &str, name: &str, at: i64) -> Result<Environment> {
        Ok(sqlx::query_as(
            "INSERT INTO environments (key, name, version, created_at) VALUES ($1, $2, 0, $3)
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
            sqlx::query_scalar("UPDATE environments SET version = version + 1 WHERE id = $1 RETURNING version")
                .bind(environment_id)
                .fetch_one(&mut *self.0)
                .await?;
        self.1.bumped(environment_id, version);
        Ok(version)
    }

    async fn bump_environment(&mut self, key: &str) -> Result<Option<Environment>> {
        let env: Option<Environment> = sqlx::query_as(
            "UPDATE environments SET version = version + 1 WHERE key = $1 RETURNING id, key, name, version, created_at",
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
                    EXISTS (SELECT 1 FROM experiments x WHERE x.flag_id = f.id AND x.environment_id = $2
                            AND x.state = 'running') AS experiment_running
             FROM flags f LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = $2 WHERE f.key = $1",
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
            " ORDER BY key",
            limit!("$4"),
            " OFFSET GREATEST($5::bigint, 0)"
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
        Ok(sqlx::query_as(concat!("SELECT ", flag_columns!(), " FROM flags WHERE key = $1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn flags_by_keys(&mut self, keys: &[String]) -> Result<Vec<FlagRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", flag_columns!(), " FROM flags WHERE key = ANY($1) ORDER BY key"))
            .bind(keys)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn insert_flag(&mut self, f: &NewFlag<'_>) -> Result<FlagRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO flags (key, name, description, kind, variants, tags, archived, revision, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, FALSE, 1, $7, $7) RETURNING ",
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
            "UPDATE flags SET name = $2, description = $3, variants = $4, tags = $5, archived = $6, revision = $7,
                              updated_at = $8 WHERE id = $1",
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
        sqlx::query("DELETE FROM flags WHERE id = $1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn config(&mut self, flag_id: i64, environment_id: i64) -> Result<Option<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_configs
             WHERE flag_id = $1 AND environment_id = $2",
        )
        .bind(flag_id)
        .bind(environment_id)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn configs_of_flag(&mut self, flag_id: i64) -> Result<Vec<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_configs
             WHERE flag_id = $1 ORDER BY environment_id",
        )
        .bind(flag_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn put_config(&mut self, c: &ConfigRecord) -> Result<()> {
        // One round trip: the current configuration and its history row.
        sqlx::query(
            "WITH current AS (
                 INSERT INTO flag_configs (flag_id, environment_id, config, revision, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (flag_id, environment_id) DO UPDATE SET config = excluded.config,
                     revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by
             )
             INSERT INTO flag_config_history (flag_id, environment_id, revision, config, updated_at, updated_by)
             VALUES ($1, $2, $4, $3, $5, $6)",
        )
        .bind(c.flag_id)
        .bind(c.environment_id)
        .bind(&c.config)
        .bind(c.revision)
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
             WHERE flag_id = $1 AND environment_id = $2 AND revision = $3",
        )
        .bind(flag_id)
        .bind(environment_id)
        .bind(revision)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn config_history(&mut self, flag_id: i64, environment_id: i64, limit: i64) -> Result<Vec<ConfigRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_config_history
             WHERE flag_id = $1 AND environment_id = $2 ORDER BY revision DESC",
            limit!("$3")
        ))
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
             FROM flags f JOIN flag_configs c ON c.flag_id = f.id WHERE c.environment_id = $1 ORDER BY f.key",
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
            "SELECT id, key, description, definition, revision, created_at, updated_at FROM segments WHERE key = $1",
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
             VALUES ($1, $2, $3, 1, $4, $4)
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
            "UPDATE segments SET description = $2, definition = $3, revision = $4, updated_at = $5 WHERE id = $1",
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
        sqlx::query("DELETE FROM segments WHERE id = $1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn lock_environment(&mut self, environment_id: i64) -> Result<()> {
        sqlx::query("SELECT id FROM environments WHERE id = $1 FOR UPDATE")
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
        Ok(sqlx::query_as(concat!("SELECT ", metric_columns!(), " FROM metrics WHERE key = $1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn insert_metric(&mut self, m: &MetricRecord) -> Result<MetricRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO metrics (key, name, description, event, kind, good_direction, guardrail, revision,
                                  created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING ",
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
            "UPDATE metrics SET name = $2, description = $3, event = $4, kind = $5, good_direction = $6,
                                guardrail = $7, revision = $8, updated_at = $9 WHERE id = $1",
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
        sqlx::query("DELETE FROM metrics WHERE id = $1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn metric_users(&mut self, id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT key FROM experiments WHERE primary_metric_id = $1
                OR id IN (SELECT experiment_id FROM experiment_metrics WHERE metric_id = $1)
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
        Ok(sqlx::query_as(concat!(experiment_select!(), " WHERE x.key = $1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn experiments_of_flag(&mut self, flag_id: i64) -> Result<Vec<ExperimentRecord>> {
        Ok(sqlx::query_as(concat!(experiment_select!(), " WHERE x.flag_id = $1 ORDER BY x.key"))
            .bind(flag_id)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn insert_experiment(&mut self, x: &ExperimentRecord) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO experiments (key, name, hypothesis, flag_id, environment_id, rule_id, control_variant,
                                      primary_metric_id, analysis, alpha, minimum_detectable_effect, state,
                                      started_at, stopped_at, split_snapshot, revision, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16) RETURNING id",
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
            "UPDATE experiments SET name = $2, hypothesis = $3, flag_id = $4, environment_id = $5, rule_id = $6,
                    control_variant = $7, primary_metric_id = $8, analysis = $9, alpha = $10,
                    minimum_detectable_effect = $11, state = $12, started_at = $13, stopped_at = $14,
                    split_snapshot = $15, revision = $16, updated_at = $17
             WHERE id = $1",
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
        sqlx::query("DELETE FROM experiments WHERE id = $1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn experiment_metrics(&mut self, experiment_id: i64) -> Result<Vec<ExperimentMetricRecord>> {
        Ok(sqlx::query_as(
            "SELECT em.metric_id, m.key AS metric_key, em.role FROM experiment_metrics em
             JOIN metrics m ON m.id = em.metric_id WHERE em.experiment_id = $1 ORDER BY em.role, m.key",
        )
        .bind(experiment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn set_experiment_metrics(&mut self, experiment_id: i64, metrics: &[(i64, String)]) -> Result<()> {
        sqlx::query("DELETE FROM experiment_metrics WHERE experiment_id = $1")
            .bind(experiment_id)
            .execute(&mut *self.0)
            .await?;
        for (metric_id, role) in metrics {
            sqlx::query("INSERT INTO experiment_metrics (experiment_id, metric_id, role) VALUES ($1, $2, $3)")
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
            "INSERT INTO changes (environment_id, version, entity, key, op, at) VALUES ($1, $2, $3, $4, $5, $6)",
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
        Ok(sqlx::query_as(concat!(
            "SELECT environment_id, version, entity, key, op, at FROM changes
             WHERE environment_id = $1 AND version > $2 ORDER BY version",
            limit!("$3")
        ))
        .bind(environment_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn insert_audit(&mut self, a: &NewAudit<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor, action, entity, key, environment, before, after)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
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
        Ok(sqlx::query_as(concat!(
            "SELECT id, at, actor, action, entity, key, environment, before, after FROM audit_log
             WHERE ($1::text IS NULL OR (key = $1 AND entity IN ('flag', 'config')))
               AND ($2::text IS NULL OR actor = $2)
               AND ($3::text IS NULL OR environment = $3)
               AND ($4::bigint IS NULL OR at >= $4)
               AND ($5::bigint IS NULL OR at < $5)
               AND ($6::bigint IS NULL OR id < $6)
             ORDER BY id DESC",
            limit!("$7")
        ))
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
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)
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
            "SELECT id, name, role, token_hash AS hash, created_at, revoked_at FROM api_tokens WHERE token_hash = $1",
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
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
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
        Ok(sqlx::query_as(concat!(
            "WITH k AS (
                 INSERT INTO sdk_keys (environment_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING id, environment_id, name, key_hash, created_at, revoked_at
             )
             SELECT ",
            sdk_key_columns!(),
            " FROM k JOIN environments e ON e.id = k.environment_id"
        ))
        .bind(environment_id)
        .bind(name)
        .bind(hash)
        .bind(at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn sdk_key_by_hash(&mut self, hash: &str) -> Result<Option<SdkKeyRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            sdk_key_columns!(),
            " FROM sdk_keys k JOIN environments e ON e.id = k.environment_id WHERE k.key_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn sdk_keys(&mut self, environment_id: Option<i64>) -> Result<Vec<SdkKeyRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            sdk_key_columns!(),
            " FROM sdk_keys k JOIN environments e ON e.id = k.environment_id
             WHERE $1::bigint IS NULL OR k.environment_id = $1 ORDER BY k.id"
        ))
        .bind(environment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn revoke_sdk_key(&mut self, id: i64, at: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE sdk_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
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
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::bigint FROM audit_log WHERE entity = 'flag'")
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn notify(&mut self, topic: Topic) -> Result<()> {
        // Delivered at commit, and only if the transaction commits; once per
        // topic and transaction is enough (Postgres would fold duplicates anyway).
        let sent = &mut self.1.notified[topic as usize];
        if !*sent {
            sqlx::query("SELECT pg_notify($1, '')").bind(topic.channel()).execute(&mut *self.0).await?;
            *sent = true;
        }
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
