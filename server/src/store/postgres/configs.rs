//! [`ConfigQueries`] on Postgres: configurations, their history, and the joins with their flags.

use sqlx::{FromRow, Row};

use crate::store::{
    ChangeRecord, ConfigQueries, ConfigRecord, Environment, EnvironmentFlagRow, FlagAndConfig, FlagConfigRow,
    FlagRecord, NewAudit, Result,
};

use super::audit::bind_audit;
use super::changes::bind_change;
use super::{PgQuery, PgTx};

/// The columns of a [`FlagConfigRow`] from `flags f`, `flag_configs c`,
/// with `$ENV` the environment's id.
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

/// Upserts the current configuration from [`bind_config`]'s `$1`–`$6`.
macro_rules! upsert_config {
    () => {
        "INSERT INTO flag_configs (flag_id, environment_id, config, revision, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (flag_id, environment_id) DO UPDATE SET config = excluded.config,
             revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by"
    };
}

/// Appends the configuration of [`bind_config`]'s `$1`–`$6` to the history.
macro_rules! insert_history {
    () => {
        "INSERT INTO flag_config_history (flag_id, environment_id, revision, config, updated_at, updated_by)
         VALUES ($1, $2, $4, $3, $5, $6)"
    };
}

/// Binds a configuration record's six columns as `$1`–`$6`.
fn bind_config<'q>(query: PgQuery<'q>, c: &'q ConfigRecord) -> PgQuery<'q> {
    query.bind(c.flag_id).bind(c.environment_id).bind(&c.config).bind(c.revision).bind(c.updated_at).bind(&c.updated_by)
}

impl ConfigQueries for PgTx {
    async fn env_flag_config(
        &mut self,
        environment: &str,
        flag: &str,
    ) -> Result<Option<(Environment, Option<FlagAndConfig>)>> {
        // One round trip instead of two.
        let row = sqlx::query(concat!(
            "WITH env AS (SELECT id, key, name, version, created_at FROM environments WHERE key = $1)
             SELECT env.id AS env_id, env.key AS env_key, env.name AS env_name, env.version AS env_version,
                    env.created_at AS env_created_at, ",
            flag_config_columns!("env.id"),
            " FROM env LEFT JOIN flags f ON f.key = $2
               LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = env.id"
        ))
        .bind(environment)
        .bind(flag)
        .fetch_optional(&mut *self.0)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let env = Environment {
            id: row.try_get("env_id")?,
            key: row.try_get("env_key")?,
            name: row.try_get("env_name")?,
            version: row.try_get("env_version")?,
            created_at: row.try_get("env_created_at")?,
        };
        // The flag's columns are NULL when no flag has that key.
        let found = match row.try_get::<Option<i64>, _>("id")? {
            Some(_) => Some(FlagConfigRow::from_row(&row)?.split()),
            None => None,
        };
        Ok(Some((env, found)))
    }

    async fn flag_and_config(&mut self, key: &str, environment_id: i64) -> Result<Option<FlagAndConfig>> {
        let row: Option<FlagConfigRow> = sqlx::query_as(concat!(
            "SELECT ",
            flag_config_columns!("$2"),
            " FROM flags f LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = $2 WHERE f.key = $1"
        ))
        .bind(key)
        .bind(environment_id)
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(row.map(FlagConfigRow::split))
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
        let query = sqlx::query(concat!("WITH current AS (", upsert_config!(), ") ", insert_history!()));
        bind_config(query, c).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn put_config_logged(&mut self, c: &ConfigRecord, change: &ChangeRecord, a: &NewAudit<'_>) -> Result<()> {
        // One round trip instead of four (see the trait).
        let query = sqlx::query(concat!(
            "WITH env AS (UPDATE environments SET version = $8 WHERE id = $7), current AS (",
            upsert_config!(),
            "), history AS (",
            insert_history!(),
            "), change AS (
                 INSERT INTO changes (environment_id, version, entity, key, op, at) VALUES ($7, $8, $9, $10, $11, $12)
             )
             INSERT INTO audit_log (at, actor, action, entity, key, environment, before, after)
             VALUES ($13, $14, $15, $16, $17, $18, $19, $20)"
        ));
        bind_audit(bind_change(bind_config(query, c), change), a).execute(&mut *self.0).await?;
        self.1.bumped(change.environment_id, change.version);
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

    async fn split_configs(&mut self, environment_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.key, c.config FROM flags f JOIN flag_configs c ON c.flag_id = f.id
             WHERE c.environment_id = $1 AND NOT f.archived AND c.config LIKE '%\"split\"%' ORDER BY f.key",
        )
        .bind(environment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }
}
