//! [`ConfigQueries`] on SQLite: configurations, their history, and the joins with their flags.

use crate::store::{
    AuditQueries, ChangeQueries, ChangeRecord, ConfigQueries, ConfigRecord, Environment, EnvironmentFlagRow,
    EnvironmentQueries, FlagAndConfig, FlagConfigRow, FlagRecord, NewAudit, Result,
};

use super::SqliteTx;

impl ConfigQueries for SqliteTx {
    async fn flag_and_config(&mut self, key: &str, environment_id: i64) -> Result<Option<FlagAndConfig>> {
        let row: Option<FlagConfigRow> = sqlx::query_as(
            "SELECT f.id, f.key, f.name, f.description, f.kind, f.variants, f.tags, f.archived, f.revision,
                    f.created_at, f.updated_at, c.environment_id, c.config, c.revision AS config_revision,
                    c.updated_at AS config_updated_at, c.updated_by,
                    EXISTS (SELECT 1 FROM experiments x WHERE x.flag_id = f.id AND x.environment_id = ?2
                            AND x.state = 'running') AS experiment_running,
                    EXISTS (SELECT 1 FROM ramps r WHERE r.flag_id = f.id AND r.environment_id = ?2
                            AND r.state = 'running') AS ramp_running
             FROM flags f LEFT JOIN flag_configs c ON c.flag_id = f.id AND c.environment_id = ?2 WHERE f.key = ?1",
        )
        .bind(key)
        .bind(environment_id)
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(row.map(FlagConfigRow::split))
    }

    async fn env_flag_config(
        &mut self,
        environment: &str,
        flag: &str,
    ) -> Result<Option<(Environment, Option<FlagAndConfig>)>> {
        // In process: two statements cost no round trips.
        let Some(env) = self.environment(environment).await? else {
            return Ok(None);
        };
        let found = self.flag_and_config(flag, env.id).await?;
        Ok(Some((env, found)))
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

    async fn put_config_logged(&mut self, c: &ConfigRecord, change: &ChangeRecord, audit: &NewAudit<'_>) -> Result<()> {
        // In process: four statements cost no round trips.
        sqlx::query("UPDATE environments SET version = ?2 WHERE id = ?1")
            .bind(change.environment_id)
            .bind(change.version)
            .execute(&mut *self.0)
            .await?;
        self.1.bumped(change.environment_id, change.version);
        self.put_config(c).await?;
        self.insert_change(change).await?;
        self.insert_audit(audit).await?;
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

    async fn split_configs(&mut self, environment_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.key, c.config FROM flags f JOIN flag_configs c ON c.flag_id = f.id
             WHERE c.environment_id = ?1 AND NOT f.archived AND c.config LIKE '%\"split\"%' ORDER BY f.key",
        )
        .bind(environment_id)
        .fetch_all(&mut *self.0)
        .await?)
    }
}
