//! [`ConfigQueries`] on Postgres: configurations, their history, and the joins with their flags.

use crate::store::{
    ChangeRecord, ConfigQueries, ConfigRecord, Environment, EnvironmentFlagRow, FlagAndConfig, FlagConfigRow,
    FlagRecord, NewAudit, Result, Topic,
};

use super::config_write;
use super::{PgQuery, PgTx};

/// Upserts the current configuration from [`bind_config`]'s `$1`–`$6`.
macro_rules! upsert_config {
    () => {
        concat!(
            "INSERT INTO flag_configs (flag_id, environment_id, config, revision, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
            config_on_conflict!()
        )
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
        // Does not wait for the held writes: it lays them over what it reads.
        config_write::env_flag_config(&mut self.0, &self.2, environment, flag).await
    }

    async fn flag_and_config(&mut self, key: &str, environment_id: i64) -> Result<Option<FlagAndConfig>> {
        let row: Option<FlagConfigRow> = sqlx::query_as(concat!(
            "SELECT ",
            flag_config_columns!("$2"),
            " FROM flags f LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = $2 WHERE f.key = $1"
        ))
        .bind(key)
        .bind(environment_id)
        .fetch_optional(self.conn().await?)
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
        .fetch_optional(self.conn().await?)
        .await?)
    }

    async fn configs_of_flag(&mut self, flag_id: i64) -> Result<Vec<ConfigRecord>> {
        Ok(sqlx::query_as(
            "SELECT flag_id, environment_id, config, revision, updated_at, updated_by FROM flag_configs
             WHERE flag_id = $1 ORDER BY environment_id",
        )
        .bind(flag_id)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn put_config(&mut self, c: &ConfigRecord) -> Result<()> {
        // One round trip: the current configuration and its history row.
        let query = sqlx::query(concat!("WITH current AS (", upsert_config!(), ") ", insert_history!()));
        bind_config(query, c).execute(self.conn().await?).await?;
        Ok(())
    }

    async fn put_config_logged(&mut self, c: &ConfigRecord, change: &ChangeRecord, a: &NewAudit<'_>) -> Result<()> {
        // Held back, to go with the batch's other writes (see `config_write`).
        if self.2.is_full() {
            self.conn().await?;
        }
        self.2.push(c, change, a);
        self.1.bumped(change.environment_id, change.version);
        self.1.hinted(Topic::Changes);
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
        .fetch_optional(self.conn().await?)
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
        .fetch_all(self.conn().await?)
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
        .fetch_all(self.conn().await?)
        .await?;
        Ok(rows.into_iter().map(EnvironmentFlagRow::split).collect())
    }

    async fn segment_conditions(&mut self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.key, c.config FROM flags f JOIN flag_configs c ON c.flag_id = f.id
             WHERE c.config LIKE '%segment\"%' ORDER BY f.key",
        )
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn split_configs(&mut self, environment_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.key, c.config FROM flags f JOIN flag_configs c ON c.flag_id = f.id
             WHERE c.environment_id = $1 AND NOT f.archived AND c.config LIKE '%\"split\"%' ORDER BY f.key",
        )
        .bind(environment_id)
        .fetch_all(self.conn().await?)
        .await?)
    }
}
