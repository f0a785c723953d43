//! One suite of storage tests run against both backends: whatever the
//! service layer can observe through `Queries` and `Backend` must be the same
//! on SQLite and on Postgres.
//!
//! Each `conformance_test!` expands to `<name>::sqlite` and `<name>::postgres`
//! on a fresh database. Postgres tests are skipped (with a line on stderr)
//! when no server answers, unless `FLAGYARD_REQUIRE_POSTGRES=1`.

#[path = "../support/mod.rs"]
mod support;

mod backend;
mod configs;
mod credentials;
mod environments;
mod experiments;
mod flags;
mod logs;
mod migrations;
mod segments;
mod writes;

use std::collections::BTreeSet;
use std::time::Duration;

use flagyard_server::store::{
    AuditQueries, AuditQuery, Backend, ChangeQueries, ChangeRecord, ConfigQueries, ConfigRecord, CredentialQueries,
    Environment, EnvironmentQueries, ExperimentMetricRecord, ExperimentQueries, ExperimentRecord, FlagQueries,
    FlagQuery, FlagRecord, IngestQueries, MetricQueries, MetricRecord, NewAudit, NewFlag, PgBackend, SegmentQueries,
    SegmentRecord, SqliteBackend, StoreError, TxQueries, Undo, UnitRow,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

// ---------------------------------------------------------------------------
// Helpers.

/// Inserts an environment in its own committed transaction.
async fn create_env<B: Backend>(b: &B, key: &str) -> Environment {
    let mut tx = b.write().await.unwrap();
    let env = tx.insert_environment(key, &format!("{key} name"), 1_000).await.unwrap();
    B::commit(tx).await.unwrap();
    env
}

fn new_flag<'a>(key: &'a str, name: &'a str, description: &'a str, tags: &'a str, at: i64) -> NewFlag<'a> {
    NewFlag {
        key,
        name,
        description,
        kind: "boolean",
        variants: r#"[{"key":"on","value":true},{"key":"off","value":false}]"#,
        tags,
        at,
    }
}

/// Inserts a flag in its own committed transaction.
async fn create_flag<B: Backend>(b: &B, key: &str, name: &str, description: &str, tags: &str) -> FlagRecord {
    let mut tx = b.write().await.unwrap();
    let flag = tx.insert_flag(&new_flag(key, name, description, tags, 2_000)).await.unwrap();
    B::commit(tx).await.unwrap();
    flag
}

fn config(flag: &FlagRecord, env: &Environment, revision: i64) -> ConfigRecord {
    ConfigRecord {
        flag_id: flag.id,
        environment_id: env.id,
        config: format!(r#"{{"enabled":true,"rev":{revision},"env":"{}"}}"#, env.key),
        revision,
        updated_at: 10_000 + revision,
        updated_by: format!("user:rev{revision}"),
    }
}

async fn put_config<B: Backend>(b: &B, c: &ConfigRecord) {
    let mut tx = b.write().await.unwrap();
    tx.put_config(c).await.unwrap();
    B::commit(tx).await.unwrap();
}

#[track_caller]
fn assert_duplicate<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Duplicate) => {}
        other => panic!("expected StoreError::Duplicate, got {other:?}"),
    }
}

fn keys(flags: &[FlagRecord]) -> Vec<&str> {
    flags.iter().map(|f| f.key.as_str()).collect()
}

/// A flag query with a large page.
fn flag_query(search: Option<&str>, tag: Option<&str>, archived: Option<bool>) -> FlagQuery {
    FlagQuery { search: search.map(Into::into), tag: tag.map(Into::into), archived, limit: 100, offset: 0 }
}

fn metric(key: &str, at: i64) -> MetricRecord {
    MetricRecord {
        id: 0,
        key: key.into(),
        name: format!("{key} name"),
        description: String::new(),
        event: format!("{key}-event"),
        kind: "conversion".into(),
        good_direction: "increase".into(),
        guardrail: false,
        revision: 1,
        created_at: at,
        updated_at: at,
    }
}

fn experiment(key: &str, flag: &FlagRecord, env: &Environment, primary: &MetricRecord) -> ExperimentRecord {
    ExperimentRecord {
        id: 0,
        key: key.into(),
        name: format!("{key} name"),
        hypothesis: "better".into(),
        flag_id: flag.id,
        flag_key: flag.key.clone(),
        environment_id: env.id,
        environment_key: env.key.clone(),
        rule_id: "exp".into(),
        control_variant: "off".into(),
        primary_metric_id: primary.id,
        primary_metric_key: primary.key.clone(),
        analysis: "frequentist".into(),
        alpha: 0.05,
        minimum_detectable_effect: None,
        state: "draft".into(),
        started_at: None,
        stopped_at: None,
        split_snapshot: None,
        revision: 1,
        created_at: 700,
        updated_at: 700,
    }
}
