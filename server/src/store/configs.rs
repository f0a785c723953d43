//! A flag's configuration per environment and its history:
//! [`ConfigQueries`], with the joins of a flag and its configurations.

use std::future::Future;

use super::Result;
use super::audit::NewAudit;
use super::changes::ChangeRecord;
use super::environments::Environment;
#[cfg(doc)]
use super::environments::EnvironmentQueries;
use super::flags::FlagRecord;

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

/// What [`ConfigQueries::flag_and_config`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagAndConfig {
    pub flag: FlagRecord,
    /// Absent when the flag has no configuration in that environment.
    pub config: Option<ConfigRecord>,
    /// Whether a running experiment is bound to the flag in that environment.
    pub experiment_running: bool,
    /// Whether a ramp runs on the flag in that environment (an edit by
    /// anyone else pauses it).
    pub ramp_running: bool,
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
        ramp_running: bool,
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
        FlagAndConfig {
            flag: self.flag,
            config,
            experiment_running: self.experiment_running,
            ramp_running: self.ramp_running,
        }
    }
}

row! {
    /// A flag joined with its configuration in one environment (one row of
    /// `ConfigQueries::environment_flags`).
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

/// Configuration queries.
pub trait ConfigQueries: Send {
    /// A flag, its configuration in one environment, and whether an
    /// experiment runs on it there: the configuration write path's reads in
    /// one statement.
    fn flag_and_config(
        &mut self,
        key: &str,
        environment_id: i64,
    ) -> impl Future<Output = Result<Option<FlagAndConfig>>> + Send;
    /// The configuration write path's read: the environment and
    /// [`flag_and_config`](Self::flag_and_config) in it, at once (on Postgres
    /// one statement). Nothing is locked: writing transactions are one at a
    /// time (the writer's batch per process, and on Postgres its advisory
    /// lock across replicas), so what this reads stays true to the commit.
    /// `None` when the environment does not exist; the flag part `None` when
    /// the flag does not.
    fn env_flag_config(
        &mut self,
        environment: &str,
        flag: &str,
    ) -> impl Future<Output = Result<Option<(Environment, Option<FlagAndConfig>)>>> + Send;
    fn config(
        &mut self,
        flag_id: i64,
        environment_id: i64,
    ) -> impl Future<Output = Result<Option<ConfigRecord>>> + Send;
    fn configs_of_flag(&mut self, flag_id: i64) -> impl Future<Output = Result<Vec<ConfigRecord>>> + Send;
    /// Upserts the current configuration and appends it to the history.
    fn put_config(&mut self, config: &ConfigRecord) -> impl Future<Output = Result<()>> + Send;
    /// The configuration write path's one write: the environment's version
    /// set to `change.version` (the version read in this transaction plus
    /// one, which writes being one at a time keep exact), then
    /// [`put_config`](Self::put_config), the change-log entry and the audit
    /// entry, at once (a refusal before it leaves nothing to undo). On
    /// Postgres the write is held back and sent with the batch's other
    /// configuration writes as one statement, before any other statement
    /// and before the commit; [`env_flag_config`](Self::env_flag_config)
    /// sees it all the same (see `postgres/config_write.rs`).
    fn put_config_logged(
        &mut self,
        config: &ConfigRecord,
        change: &ChangeRecord,
        audit: &NewAudit<'_>,
    ) -> impl Future<Output = Result<()>> + Send;
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
    /// `(flag key, configuration JSON)` of the live (not archived) flags
    /// whose configuration in the environment mentions a split (a superset:
    /// callers parse what they get), by flag key.
    fn split_configs(&mut self, environment_id: i64) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
}
