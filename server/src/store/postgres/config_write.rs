//! The configuration write path on Postgres: its read
//! ([`ConfigQueries::env_flag_config`](crate::store::ConfigQueries::env_flag_config))
//! and its write
//! ([`ConfigQueries::put_config_logged`](crate::store::ConfigQueries::put_config_logged)),
//! with the writes of a batch sent as one statement.
//!
//! A batch of writes (the writer's group commit) is a chain of statements
//! on one connection, and every queued writer waits for all of it. One
//! write was five rows in five tables (the environment's version, the
//! configuration, its history, the change log with its hint, the audit
//! log): as one statement per write, most of Postgres's time went to
//! setting that statement up, not to the rows. So a write is held back
//! ([`HeldWrites`]) and the batch's writes go together, one row each per
//! table, in one statement ([`WRITE`]): before any other statement of the
//! transaction ([`PgTx::conn`](super::PgTx) sends them first, so nothing
//! reads around them, and a savepoint or its rollback comes after them) and
//! before the commit.
//!
//! The next write's read is the one statement that does not wait for them:
//! it reads the database and lays the held writes over what it found
//! ([`HeldWrites::overlay`]). That is exact because a configuration write
//! changes, of what the read returns, only the environment's version and
//! that flag's configuration in that environment, both of which the held
//! write carries.

use sqlx::{FromRow, PgConnection, Row};

use crate::store::{ChangeRecord, ConfigRecord, Environment, FlagAndConfig, FlagConfigRow, NewAudit, Result, Topic};

/// The most writes held at once; one more sends them first.
const MAX_HELD: usize = 256;

/// The read: environment `$1`, the flag `$2` and its configuration there.
const READ: &str = concat!(
    "WITH env AS (SELECT id, key, name, version, created_at FROM environments WHERE key = $1)
     SELECT env.id AS env_id, env.key AS env_key, env.name AS env_name, env.version AS env_version,
            env.created_at AS env_created_at, ",
    flag_config_columns!("env.id"),
    " FROM env LEFT JOIN flags f ON f.key = $2
       LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = env.id"
);

/// The held writes, one array element each (`$1`–`$19`, in order), and the
/// hint's channel (`$20`): each environment's version set to the last one
/// written, each configuration upserted to its last write, every write's
/// history row, change-log entry and audit entry (in the writes' order).
const WRITE: &str = concat!(
    "WITH w AS (
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
                              $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bigint[],
                              $12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
                              $18::text[], $19::text[])
             WITH ORDINALITY AS w(flag_id, environment_id, config, revision, updated_at, updated_by,
                                  version, entity, key, op, changed_at,
                                  audit_at, actor, action, audit_entity, audit_key, environment, before, after, n)
     ), bump AS (
         UPDATE environments e SET version = last.version
         FROM (SELECT environment_id, max(version) AS version FROM w GROUP BY environment_id) AS last
         WHERE e.id = last.environment_id
     ), current AS (
         INSERT INTO flag_configs (flag_id, environment_id, config, revision, updated_at, updated_by)
         SELECT * FROM (
             SELECT DISTINCT ON (flag_id, environment_id) flag_id, environment_id, config, revision, updated_at,
                    updated_by
             FROM w ORDER BY flag_id, environment_id, n DESC
         ) AS last",
    config_on_conflict!(),
    "
     ), history AS (
         INSERT INTO flag_config_history (flag_id, environment_id, revision, config, updated_at, updated_by)
         SELECT flag_id, environment_id, revision, config, updated_at, updated_by FROM w
     ), change AS (
         INSERT INTO changes (environment_id, version, entity, key, op, at)
         SELECT environment_id, version, entity, key, op, changed_at FROM w CROSS JOIN (SELECT pg_notify($20, '')) AS hint
     )
     INSERT INTO audit_log (at, actor, action, entity, key, environment, before, after)
     SELECT audit_at, actor, action, audit_entity, audit_key, environment, before, after FROM w ORDER BY n"
);

/// A configuration write not sent yet.
#[derive(Debug)]
struct Held {
    config: ConfigRecord,
    change: ChangeRecord,
    audit: Audit,
}

/// An owned [`NewAudit`].
#[derive(Debug)]
struct Audit {
    at: i64,
    actor: String,
    action: String,
    entity: String,
    key: String,
    environment: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

/// The configuration writes of a transaction not sent yet, in order.
#[derive(Debug, Default)]
pub(super) struct HeldWrites(Vec<Held>);

impl HeldWrites {
    /// Whether one more write must send these first.
    pub(super) fn is_full(&self) -> bool {
        self.0.len() >= MAX_HELD
    }

    /// Holds a write.
    pub(super) fn push(&mut self, config: &ConfigRecord, change: &ChangeRecord, a: &NewAudit<'_>) {
        let audit = Audit {
            at: a.at,
            actor: a.actor.to_owned(),
            action: a.action.to_owned(),
            entity: a.entity.to_owned(),
            key: a.key.to_owned(),
            environment: a.environment.map(str::to_owned),
            before: a.before.map(str::to_owned),
            after: a.after.map(str::to_owned),
        };
        self.0.push(Held { config: config.clone(), change: change.clone(), audit });
    }

    /// Sends every held write in one statement (none are held after, also
    /// when it fails: the transaction cannot commit then).
    pub(super) async fn send(&mut self, conn: &mut PgConnection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.0);
        let ints = |f: fn(&Held) -> i64| held.iter().map(f).collect::<Vec<i64>>();
        let texts = |f: for<'h> fn(&'h Held) -> &'h str| held.iter().map(f).collect::<Vec<&str>>();
        let optional = |f: for<'h> fn(&'h Held) -> Option<&'h str>| held.iter().map(f).collect::<Vec<_>>();
        sqlx::query(WRITE)
            .bind(ints(|h| h.config.flag_id))
            .bind(ints(|h| h.config.environment_id))
            .bind(texts(|h| &h.config.config))
            .bind(ints(|h| h.config.revision))
            .bind(ints(|h| h.config.updated_at))
            .bind(texts(|h| &h.config.updated_by))
            .bind(ints(|h| h.change.version))
            .bind(texts(|h| &h.change.entity))
            .bind(texts(|h| &h.change.key))
            .bind(texts(|h| &h.change.op))
            .bind(ints(|h| h.change.at))
            .bind(ints(|h| h.audit.at))
            .bind(texts(|h| &h.audit.actor))
            .bind(texts(|h| &h.audit.action))
            .bind(texts(|h| &h.audit.entity))
            .bind(texts(|h| &h.audit.key))
            .bind(optional(|h| h.audit.environment.as_deref()))
            .bind(optional(|h| h.audit.before.as_deref()))
            .bind(optional(|h| h.audit.after.as_deref()))
            .bind(Topic::Changes.channel())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// `env` and `found` (what [`READ`] found) as the held writes leave
    /// them: the environment's last written version, the flag's last
    /// written configuration there.
    fn overlay(&self, env: &mut Environment, found: Option<&mut FlagAndConfig>) {
        if let Some(last) = self.0.iter().rev().find(|h| h.change.environment_id == env.id) {
            env.version = last.change.version;
        }
        if let Some(found) = found
            && let Some(last) =
                self.0.iter().rev().find(|h| h.config.environment_id == env.id && h.config.flag_id == found.flag.id)
        {
            found.config = Some(last.config.clone());
        }
    }
}

/// The read, as the held writes leave the database (without waiting for them).
pub(super) async fn env_flag_config(
    conn: &mut PgConnection,
    held: &HeldWrites,
    environment: &str,
    flag: &str,
) -> Result<Option<(Environment, Option<FlagAndConfig>)>> {
    let Some(row) = sqlx::query(READ).bind(environment).bind(flag).fetch_optional(conn).await? else {
        return Ok(None);
    };
    let mut env = Environment {
        id: row.try_get("env_id")?,
        key: row.try_get("env_key")?,
        name: row.try_get("env_name")?,
        version: row.try_get("env_version")?,
        created_at: row.try_get("env_created_at")?,
    };
    // The flag's columns are NULL when no flag has that key.
    let mut found = match row.try_get::<Option<i64>, _>("id")? {
        Some(_) => Some(FlagConfigRow::from_row(&row)?.split()),
        None => None,
    };
    held.overlay(&mut env, found.as_mut());
    Ok(Some((env, found)))
}
