//! One suite of storage tests run against both backends: whatever the
//! service layer can observe through `Queries` and `Backend` must be the same
//! on SQLite and on Postgres.
//!
//! Each `conformance_test!` expands to `<name>::sqlite` and `<name>::postgres`
//! on a fresh database. Postgres tests are skipped (with a line on stderr)
//! when no server answers, unless `FLAGYARD_REQUIRE_POSTGRES=1`.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use flagyard_server::store::{
    AuditQuery, Backend, ChangeRecord, ConfigRecord, Environment, ExperimentMetricRecord, ExperimentRecord, FlagQuery,
    FlagRecord, IngestQueries, MetricRecord, NewAudit, NewFlag, PgBackend, Queries, SegmentRecord, SqliteBackend,
    StoreError, UnitRow,
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

// ---------------------------------------------------------------------------
// Backend.

conformance_test!(migrate_is_idempotent_and_ready_reports_it, |b| async move {
    assert!(b.ready().await.unwrap());
    b.migrate().await.unwrap();
    assert!(b.ready().await.unwrap());
    let stats = b.pool_stats();
    assert!(stats.idle <= stats.size, "{stats:?}");
    b.close().await;
    assert!(!b.ready().await.unwrap(), "a closed backend is not ready");
});

#[tokio::test]
async fn ready_is_false_before_migrate_sqlite() {
    let db = support::SqliteTestDb::new();
    let b = flagyard_server::store::SqliteBackend::connect(&db.url, 2).await.unwrap();
    assert!(!b.ready().await.unwrap());
    b.migrate().await.unwrap();
    assert!(b.ready().await.unwrap());
    b.close().await;
}

#[tokio::test]
async fn ready_is_false_before_migrate_postgres() {
    let Some(db) = support::PgTestDb::create(concat!(module_path!(), "::ready_is_false_before_migrate_postgres")).await
    else {
        return;
    };
    let b = flagyard_server::store::PgBackend::connect(&db.url, 2).await.unwrap();
    assert!(!b.ready().await.unwrap());
    b.migrate().await.unwrap();
    assert!(b.ready().await.unwrap());
    b.close().await;
}

conformance_test!(commit_persists_and_drop_rolls_back, |b| async move {
    let prod = create_env(&b, "prod").await;

    let mut tx = b.write().await.unwrap();
    tx.insert_environment("staging", "Staging", 5).await.unwrap();
    tx.insert_flag(&new_flag("f", "F", "", "[]", 5)).await.unwrap();
    assert_eq!(tx.bump_version(prod.id).await.unwrap(), 1);
    assert!(tx.environment("staging").await.unwrap().is_some(), "a transaction sees its own writes");
    drop(tx);

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.environments().await.unwrap(), vec![prod.clone()]);
    assert_eq!(tx.flag("f").await.unwrap(), None);
    assert_eq!(tx.environment("prod").await.unwrap().unwrap().version, 0);
    drop(tx);

    // The pool is usable after the rollback.
    let mut tx = b.write().await.unwrap();
    assert_eq!(tx.bump_version(prod.id).await.unwrap(), 1);
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.environment("prod").await.unwrap().unwrap().version, 1);
});

conformance_test!(read_transactions_are_snapshots_and_read_only, |b| async move {
    let prod = create_env(&b, "prod").await;

    let mut read = b.read().await.unwrap();
    assert_eq!(read.environment("prod").await.unwrap().unwrap().version, 0);
    let mut tx = b.write().await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.insert_environment("dev", "Dev", 7).await.unwrap();
    B::commit(tx).await.unwrap();
    // Still the snapshot of its first read.
    assert_eq!(read.environment("prod").await.unwrap().unwrap().version, 0);
    assert_eq!(read.environments().await.unwrap().len(), 1);
    assert!(read.insert_environment("qa", "QA", 8).await.is_err(), "a read transaction cannot write");
    drop(read);

    let mut read = b.read().await.unwrap();
    assert_eq!(read.environment("prod").await.unwrap().unwrap().version, 1);
    assert_eq!(read.environments().await.unwrap().len(), 2);
});

// ---------------------------------------------------------------------------
// Environments.

conformance_test!(environments_insert_and_read, |b| async move {
    let mut tx = b.write().await.unwrap();
    let prod = tx.insert_environment("production", "Production", 1_700_000_000_123).await.unwrap();
    assert_eq!(prod.key, "production");
    assert_eq!(prod.name, "Production");
    assert_eq!(prod.version, 0);
    assert_eq!(prod.created_at, 1_700_000_000_123);
    let dev = tx.insert_environment("development", "Development", 2).await.unwrap();
    assert_ne!(prod.id, dev.id);
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    // By id (insertion order), as sqlite.rs does.
    assert_eq!(tx.environments().await.unwrap(), vec![prod.clone(), dev.clone()]);
    assert_eq!(tx.environment("development").await.unwrap(), Some(dev));
    assert_eq!(tx.environment("Development").await.unwrap(), None, "keys are case-sensitive");
    assert_eq!(tx.environment("staging").await.unwrap(), None);
});

conformance_test!(bump_version_increments_and_returns_the_new_version, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let mut tx = b.write().await.unwrap();
    assert_eq!(tx.bump_version(prod.id).await.unwrap(), 1);
    assert_eq!(tx.bump_version(prod.id).await.unwrap(), 2);
    assert_eq!(tx.bump_version(dev.id).await.unwrap(), 1);
    B::commit(tx).await.unwrap();
    let mut tx = b.write().await.unwrap();
    assert_eq!(tx.bump_version(prod.id).await.unwrap(), 3);
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.environment("prod").await.unwrap().unwrap().version, 3);
    assert_eq!(tx.environment("dev").await.unwrap().unwrap().version, 1);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    assert!(tx.bump_version(i64::MAX).await.is_err(), "no such environment");
});

conformance_test!(concurrent_writers_get_distinct_versions, |b| async move {
    let prod = create_env(&b, "prod").await;
    let mut tasks = Vec::new();
    for i in 0..2 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = b.write().await.unwrap();
            let version = tx.bump_version(prod.id).await.unwrap();
            // Hold the transaction open so the other writer has to wait.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let change = ChangeRecord {
                environment_id: prod.id,
                version,
                entity: "flag".into(),
                key: format!("writer{i}"),
                op: "put".into(),
                at: 1,
            };
            tx.insert_change(&change).await.unwrap();
            B::commit(tx).await.unwrap();
            version
        }));
    }
    let mut versions = BTreeSet::new();
    for task in tasks {
        versions.insert(task.await.unwrap());
    }
    assert_eq!(versions, BTreeSet::from([1, 2]));

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.environment("prod").await.unwrap().unwrap().version, 2);
    let changes = tx.changes_after(prod.id, 0, 10).await.unwrap();
    assert_eq!(changes.iter().map(|c| c.version).collect::<Vec<_>>(), vec![1, 2]);
});

// ---------------------------------------------------------------------------
// Duplicates.

conformance_test!(duplicate_keys_are_reported_as_duplicate, |b| async move {
    let prod = create_env(&b, "prod").await;
    create_flag(&b, "checkout", "Checkout", "", "[]").await;
    let mut tx = b.write().await.unwrap();
    tx.insert_segment("beta-users", "", "{}", 1).await.unwrap();
    tx.insert_token("ci", "admin", "hash-1", 1).await.unwrap();
    tx.insert_sdk_key(prod.id, "server", "sdk-hash-1", 1).await.unwrap();
    B::commit(tx).await.unwrap();

    // One attempt per transaction: on Postgres a failed statement aborts the
    // transaction it ran in. (Each is dropped before the next: SQLite has one
    // writer.)
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_environment("prod", "Other", 2).await);
    drop(tx);
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_flag(&new_flag("checkout", "Other", "", "[]", 2)).await);
    drop(tx);
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_segment("beta-users", "other", "{}", 2).await);
    drop(tx);
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_token("other", "viewer", "hash-1", 2).await);
    drop(tx);
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_sdk_key(prod.id, "other", "sdk-hash-1", 2).await);
    drop(tx);
    let mut tx = b.write().await.unwrap();
    let change = ChangeRecord {
        environment_id: prod.id,
        version: 1,
        entity: "flag".into(),
        key: "a".into(),
        op: "put".into(),
        at: 1,
    };
    tx.insert_change(&change).await.unwrap();
    assert_duplicate(tx.insert_change(&change).await);
    drop(tx);

    // Keys differing only in case are distinct.
    let mut tx = b.write().await.unwrap();
    tx.insert_environment("PROD", "Upper", 3).await.unwrap();
    tx.insert_flag(&new_flag("Checkout", "Upper", "", "[]", 3)).await.unwrap();
    B::commit(tx).await.unwrap();

    // A missing environment is a database error, not a duplicate.
    let mut tx = b.write().await.unwrap();
    match tx.insert_sdk_key(i64::MAX, "orphan", "sdk-hash-2", 1).await {
        Err(StoreError::Database(_)) => {}
        other => panic!("expected a database error, got {other:?}"),
    }
});

// ---------------------------------------------------------------------------
// Flags.

conformance_test!(insert_and_get_flags, |b| async move {
    let mut tx = b.write().await.unwrap();
    let f = tx.insert_flag(&new_flag("checkout", "Checkout", "The new checkout", r#"["web"]"#, 1_234)).await.unwrap();
    assert_eq!(f.key, "checkout");
    assert_eq!(f.name, "Checkout");
    assert_eq!(f.description, "The new checkout");
    assert_eq!(f.kind, "boolean");
    assert_eq!(f.variants, r#"[{"key":"on","value":true},{"key":"off","value":false}]"#);
    assert_eq!(f.tags, r#"["web"]"#);
    assert!(!f.archived);
    assert_eq!(f.revision, 1);
    assert_eq!((f.created_at, f.updated_at), (1_234, 1_234));
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.flag("checkout").await.unwrap(), Some(f));
    assert_eq!(tx.flag("CHECKOUT").await.unwrap(), None);
    assert_eq!(tx.flag("missing").await.unwrap(), None);
});

/// Flags for the list tests, in insertion order. `gamma` is archived.
async fn seed_flags<B: Backend>(b: &B) {
    let mut tx = b.write().await.unwrap();
    let flags = [
        ("alpha-checkout", "Checkout Redesign", "", r#"["web","beta"]"#),
        ("beta-search", "Search v2", "Uses the NEW index", r#"["api"]"#),
        ("gamma", "Gamma", "checkout related", "[]"),
        ("Zeta", "zeta", "", r#"["web"]"#),
        ("alpha_b", "Café Crème", "", r#"["Web"]"#),
    ];
    for (key, name, description, tags) in flags {
        tx.insert_flag(&new_flag(key, name, description, tags, 5)).await.unwrap();
    }
    let mut gamma = tx.flag("gamma").await.unwrap().unwrap();
    gamma.archived = true;
    tx.update_flag(&gamma).await.unwrap();
    B::commit(tx).await.unwrap();
}

conformance_test!(flags_search_tag_and_archived_filters, |b| async move {
    seed_flags(&b).await;
    let mut tx = b.read().await.unwrap();
    let mut list = async |search: Option<&str>, tag: Option<&str>, archived: Option<bool>| {
        let (rows, total) = tx.flags(&flag_query(search, tag, archived)).await.unwrap();
        assert_eq!(rows.len() as i64, total, "one page holds everything here");
        rows.into_iter().map(|f| f.key).collect::<Vec<_>>()
    };

    // No filter: everything, by key, bytewise ('Z' < '_' < 'a', '-' < '_').
    assert_eq!(list(None, None, None).await, ["Zeta", "alpha-checkout", "alpha_b", "beta-search", "gamma"]);

    // Search: key, name or description, case-insensitive substring.
    assert_eq!(list(Some("CHECKOUT"), None, None).await, ["alpha-checkout", "gamma"]);
    assert_eq!(list(Some("new index"), None, None).await, ["beta-search"]);
    assert_eq!(list(Some("zET"), None, None).await, ["Zeta"]);
    assert_eq!(list(Some("v2"), None, None).await, ["beta-search"]);
    assert_eq!(list(Some("%"), None, None).await, Vec::<String>::new(), "not a LIKE pattern");
    assert_eq!(list(Some("_"), None, None).await, ["alpha_b"], "not a LIKE pattern");
    assert_eq!(list(Some(""), None, None).await.len(), 5, "the empty string matches everything");
    // Case folding is ASCII-only (SQLite's built-in lower()): the accented
    // letters must match exactly.
    assert_eq!(list(Some("CAFé"), None, None).await, ["alpha_b"]);
    assert_eq!(list(Some("CAFÉ"), None, None).await, Vec::<String>::new());

    // Tags: exact, case-sensitive membership.
    assert_eq!(list(None, Some("web"), None).await, ["Zeta", "alpha-checkout"]);
    assert_eq!(list(None, Some("Web"), None).await, ["alpha_b"]);
    assert_eq!(list(None, Some("we"), None).await, Vec::<String>::new());
    assert_eq!(list(None, Some("beta"), None).await, ["alpha-checkout"]);

    // Archived.
    assert_eq!(list(None, None, Some(true)).await, ["gamma"]);
    assert_eq!(list(None, None, Some(false)).await, ["Zeta", "alpha-checkout", "alpha_b", "beta-search"]);

    // Combined.
    assert_eq!(list(Some("checkout"), None, Some(false)).await, ["alpha-checkout"]);
    assert_eq!(list(Some("checkout"), Some("web"), Some(false)).await, ["alpha-checkout"]);
    assert_eq!(list(Some("search"), Some("web"), None).await, Vec::<String>::new());
});

conformance_test!(flags_paging_and_total, |b| async move {
    seed_flags(&b).await;
    let mut tx = b.read().await.unwrap();
    let mut page = async |limit: i64, offset: i64, archived: Option<bool>| {
        let query = FlagQuery { limit, offset, archived, ..FlagQuery::default() };
        let (rows, total) = tx.flags(&query).await.unwrap();
        (rows.into_iter().map(|f| f.key).collect::<Vec<_>>(), total)
    };
    assert_eq!(page(2, 0, None).await, (vec!["Zeta".into(), "alpha-checkout".into()], 5));
    assert_eq!(page(2, 2, None).await, (vec!["alpha_b".into(), "beta-search".into()], 5));
    assert_eq!(page(2, 4, None).await, (vec!["gamma".into()], 5));
    assert_eq!(page(2, 5, None).await, (vec![], 5));
    assert_eq!(page(0, 0, None).await, (vec![], 5));
    assert_eq!(page(1, 1, Some(false)).await, (vec!["alpha-checkout".into()], 4));
    // SQLite's rules, kept on Postgres: a negative limit is no limit, a
    // negative offset is zero.
    assert_eq!(page(-1, 3, None).await, (vec!["beta-search".into(), "gamma".into()], 5));
    assert_eq!(page(1, -3, None).await, (vec!["Zeta".into()], 5));
});

conformance_test!(flags_by_keys_returns_the_known_ones_by_key, |b| async move {
    seed_flags(&b).await;
    let mut tx = b.read().await.unwrap();
    let wanted = ["gamma", "missing", "Zeta", "alpha_b", "gamma"].map(String::from);
    let found = tx.flags_by_keys(&wanted).await.unwrap();
    assert_eq!(keys(&found), ["Zeta", "alpha_b", "gamma"]);
    assert_eq!(found[2], tx.flag("gamma").await.unwrap().unwrap());
    assert!(found[2].archived);
    assert!(tx.flags_by_keys(&[]).await.unwrap().is_empty());
    assert!(tx.flags_by_keys(&["zeta".into()]).await.unwrap().is_empty());
});

conformance_test!(update_flag_writes_the_mutable_fields_only, |b| async move {
    let f = create_flag(&b, "checkout", "Checkout", "old", "[]").await;
    let other = create_flag(&b, "other", "Other", "", "[]").await;
    let mut tx = b.write().await.unwrap();
    let changed = FlagRecord {
        id: f.id,
        key: "renamed".into(), // ignored
        kind: "string".into(), // ignored
        created_at: 99,        // ignored
        name: "Checkout v2".into(),
        description: "new".into(),
        variants: r#"[{"key":"a","value":"x"}]"#.into(),
        tags: r#"["web"]"#.into(),
        archived: true,
        revision: 2,
        updated_at: 9_000,
    };
    tx.update_flag(&changed).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let got = tx.flag("checkout").await.unwrap().unwrap();
    assert_eq!(
        got,
        FlagRecord { key: "checkout".into(), kind: "boolean".into(), created_at: f.created_at, ..changed.clone() }
    );
    assert_eq!(tx.flag("renamed").await.unwrap(), None);
    assert_eq!(tx.flag("other").await.unwrap(), Some(other));
    drop(tx);

    // Un-archiving works too; an unknown id is a no-op.
    let mut tx = b.write().await.unwrap();
    tx.update_flag(&FlagRecord { archived: false, revision: 3, ..got.clone() }).await.unwrap();
    tx.update_flag(&FlagRecord { id: i64::MAX, ..got }).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    let got = tx.flag("checkout").await.unwrap().unwrap();
    assert!(!got.archived);
    assert_eq!(got.revision, 3);
});

conformance_test!(delete_flag_cascades_to_configs_and_history, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let doomed = create_flag(&b, "doomed", "Doomed", "", "[]").await;
    let kept = create_flag(&b, "kept", "Kept", "", "[]").await;
    for c in [config(&doomed, &prod, 1), config(&doomed, &prod, 2), config(&doomed, &dev, 1), config(&kept, &prod, 1)] {
        put_config(&b, &c).await;
    }

    let mut tx = b.write().await.unwrap();
    tx.delete_flag(doomed.id).await.unwrap();
    tx.delete_flag(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.flag("doomed").await.unwrap(), None);
    assert_eq!(tx.config(doomed.id, prod.id).await.unwrap(), None);
    assert!(tx.configs_of_flag(doomed.id).await.unwrap().is_empty());
    assert!(tx.config_history(doomed.id, prod.id, 10).await.unwrap().is_empty());
    assert_eq!(tx.config_revision(doomed.id, prod.id, 1).await.unwrap(), None);
    assert_eq!(tx.config_revision(doomed.id, dev.id, 1).await.unwrap(), None);
    let env_flags = tx.environment_flags(prod.id).await.unwrap();
    assert_eq!(env_flags, vec![(kept.clone(), config(&kept, &prod, 1))]);
    assert_eq!(tx.config_history(kept.id, prod.id, 10).await.unwrap().len(), 1);
});

// ---------------------------------------------------------------------------
// Configurations.

conformance_test!(put_config_upserts_and_appends_history, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let f = create_flag(&b, "checkout", "Checkout", "", "[]").await;
    let (p1, p2, p3, d1) = (config(&f, &prod, 1), config(&f, &prod, 2), config(&f, &prod, 3), config(&f, &dev, 1));

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.config(f.id, prod.id).await.unwrap(), None);
    assert!(tx.configs_of_flag(f.id).await.unwrap().is_empty());
    drop(tx);

    // Dev first: configs_of_flag orders by environment id, not insertion.
    for c in [&d1, &p1, &p2] {
        put_config(&b, c).await;
    }
    let mut tx = b.write().await.unwrap();
    tx.put_config(&p3).await.unwrap();
    assert_eq!(tx.config(f.id, prod.id).await.unwrap(), Some(p3.clone()));
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.config(f.id, prod.id).await.unwrap(), Some(p3.clone()));
    assert_eq!(tx.config(f.id, dev.id).await.unwrap(), Some(d1.clone()));
    assert_eq!(tx.configs_of_flag(f.id).await.unwrap(), vec![p3.clone(), d1.clone()]);

    assert_eq!(tx.config_revision(f.id, prod.id, 1).await.unwrap(), Some(p1.clone()));
    assert_eq!(tx.config_revision(f.id, prod.id, 2).await.unwrap(), Some(p2.clone()));
    assert_eq!(tx.config_revision(f.id, prod.id, 4).await.unwrap(), None);
    assert_eq!(tx.config_revision(f.id, dev.id, 2).await.unwrap(), None);

    assert_eq!(tx.config_history(f.id, prod.id, 10).await.unwrap(), vec![p3.clone(), p2.clone(), p1.clone()]);
    assert_eq!(tx.config_history(f.id, prod.id, 2).await.unwrap(), vec![p3.clone(), p2.clone()]);
    assert_eq!(tx.config_history(f.id, prod.id, 0).await.unwrap(), vec![]);
    assert_eq!(tx.config_history(f.id, prod.id, -1).await.unwrap().len(), 3, "negative: no limit");
    assert_eq!(tx.config_history(f.id, dev.id, 10).await.unwrap(), vec![d1.clone()]);
    drop(tx);

    // A revision is recorded once.
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.put_config(&ConfigRecord { config: "{}".into(), ..p2.clone() }).await);
});

conformance_test!(environment_flags_pairs_each_flag_with_its_config_there, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let fb = create_flag(&b, "b", "B", "", "[]").await;
    let fa = create_flag(&b, "a", "A", "", r#"["x"]"#).await;
    let fc = create_flag(&b, "c", "C", "", "[]").await;
    create_flag(&b, "unconfigured", "U", "", "[]").await;
    for c in [
        config(&fb, &prod, 1),
        config(&fa, &prod, 1),
        config(&fa, &prod, 2),
        config(&fa, &dev, 1),
        config(&fc, &dev, 1),
    ] {
        put_config(&b, &c).await;
    }
    let mut tx = b.write().await.unwrap();
    let mut archived = tx.flag("b").await.unwrap().unwrap();
    archived.archived = true;
    tx.update_flag(&archived).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(
        tx.environment_flags(prod.id).await.unwrap(),
        vec![(fa.clone(), config(&fa, &prod, 2)), (archived.clone(), config(&fb, &prod, 1))]
    );
    assert_eq!(
        tx.environment_flags(dev.id).await.unwrap(),
        vec![(fa.clone(), config(&fa, &dev, 1)), (fc.clone(), config(&fc, &dev, 1))]
    );
    assert!(tx.environment_flags(i64::MAX).await.unwrap().is_empty());
});

// ---------------------------------------------------------------------------
// Segments.

conformance_test!(segments_crud, |b| async move {
    let mut tx = b.write().await.unwrap();
    let internal = tx.insert_segment("internal", "Staff", r#"{"rules":[]}"#, 100).await.unwrap();
    assert_eq!(
        internal,
        SegmentRecord {
            id: internal.id,
            key: "internal".into(),
            description: "Staff".into(),
            definition: r#"{"rules":[]}"#.into(),
            revision: 1,
            created_at: 100,
            updated_at: 100,
        }
    );
    let beta = tx.insert_segment("beta", "", "{}", 200).await.unwrap();
    let upper = tx.insert_segment("Beta", "", "{}", 300).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.segments().await.unwrap(), vec![upper.clone(), beta.clone(), internal.clone()]);
    assert_eq!(tx.segment("beta").await.unwrap(), Some(beta.clone()));
    assert_eq!(tx.segment("missing").await.unwrap(), None);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let updated = SegmentRecord {
        key: "ignored".into(),
        created_at: 1,
        description: "Everyone in beta".into(),
        definition: r#"{"rules":[1]}"#.into(),
        revision: 2,
        updated_at: 500,
        ..beta.clone()
    };
    tx.update_segment(&updated).await.unwrap();
    tx.delete_segment(internal.id).await.unwrap();
    tx.delete_segment(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let expected = SegmentRecord { key: "beta".into(), created_at: 200, ..updated };
    assert_eq!(tx.segment("beta").await.unwrap(), Some(expected.clone()));
    assert_eq!(tx.segment("internal").await.unwrap(), None);
    assert_eq!(tx.segments().await.unwrap(), vec![upper, expected]);
});

// ---------------------------------------------------------------------------
// Metrics and experiments.

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

conformance_test!(lock_environment_keeps_the_version, |b| async move {
    let env = create_env(&b, "production").await;
    let mut tx = b.write().await.unwrap();
    tx.lock_environment(env.id).await.unwrap();
    tx.lock_environment(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.environment("production").await.unwrap(), Some(env));
});

conformance_test!(metrics_crud, |b| async move {
    let mut tx = b.write().await.unwrap();
    let purchase = tx.insert_metric(&MetricRecord { id: 99, revision: 7, ..metric("purchase", 100) }).await.unwrap();
    assert_eq!(purchase, MetricRecord { id: purchase.id, ..metric("purchase", 100) });
    let latency = MetricRecord {
        kind: "mean".into(),
        good_direction: "decrease".into(),
        guardrail: true,
        ..metric("latency", 200)
    };
    let latency = tx.insert_metric(&latency).await.unwrap();
    assert!(latency.guardrail);
    B::commit(tx).await.unwrap();
    // (On Postgres a failed statement spoils its transaction: duplicates get their own.)
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_metric(&metric("purchase", 300)).await);
    drop(tx);

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.metrics().await.unwrap(), vec![latency.clone(), purchase.clone()]);
    assert_eq!(tx.metric("purchase").await.unwrap(), Some(purchase.clone()));
    assert_eq!(tx.metric("missing").await.unwrap(), None);
    assert_eq!(tx.metric_users(purchase.id).await.unwrap(), Vec::<String>::new());
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let updated = MetricRecord {
        key: "ignored".into(),
        created_at: 1,
        name: "Purchases".into(),
        description: "Orders placed".into(),
        event: "order".into(),
        kind: "count".into(),
        good_direction: "decrease".into(),
        guardrail: true,
        revision: 2,
        updated_at: 500,
        ..purchase.clone()
    };
    tx.update_metric(&updated).await.unwrap();
    tx.delete_metric(latency.id).await.unwrap();
    tx.delete_metric(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let expected = MetricRecord { key: "purchase".into(), created_at: 100, ..updated };
    assert_eq!(tx.metrics().await.unwrap(), vec![expected]);
});

conformance_test!(experiments_crud_metrics_and_users, |b| async move {
    let env = create_env(&b, "production").await;
    let flag = create_flag(&b, "checkout", "Checkout", "", "[]").await;
    let other = create_flag(&b, "other", "Other", "", "[]").await;
    let mut tx = b.write().await.unwrap();
    let purchase = tx.insert_metric(&metric("purchase", 100)).await.unwrap();
    let revenue = tx.insert_metric(&metric("revenue", 100)).await.unwrap();
    let latency = tx.insert_metric(&metric("latency", 100)).await.unwrap();
    let new =
        ExperimentRecord { minimum_detectable_effect: Some(0.02), ..experiment("b-test", &flag, &env, &purchase) };
    let id = tx.insert_experiment(&new).await.unwrap();
    tx.set_experiment_metrics(id, &[(revenue.id, "secondary".into()), (latency.id, "guardrail".into())]).await.unwrap();
    let a = tx.insert_experiment(&experiment("a-test", &flag, &env, &revenue)).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.write().await.unwrap();
    assert_duplicate(tx.insert_experiment(&experiment("a-test", &flag, &env, &revenue)).await);
    drop(tx);

    let mut tx = b.read().await.unwrap();
    let got = tx.experiment("b-test").await.unwrap().expect("stored");
    assert_eq!(got, ExperimentRecord { id, ..new.clone() });
    assert_eq!(tx.experiment("missing").await.unwrap(), None);
    let keys = |xs: Vec<ExperimentRecord>| xs.into_iter().map(|x| x.key).collect::<Vec<_>>();
    assert_eq!(keys(tx.experiments().await.unwrap()), ["a-test", "b-test"]);
    assert_eq!(keys(tx.experiments_of_flag(flag.id).await.unwrap()), ["a-test", "b-test"]);
    assert!(tx.experiments_of_flag(other.id).await.unwrap().is_empty());
    assert_eq!(
        tx.experiment_metrics(id).await.unwrap(),
        vec![
            ExperimentMetricRecord { metric_id: latency.id, metric_key: "latency".into(), role: "guardrail".into() },
            ExperimentMetricRecord { metric_id: revenue.id, metric_key: "revenue".into(), role: "secondary".into() },
        ]
    );
    assert_eq!(tx.metric_users(purchase.id).await.unwrap(), ["b-test"]);
    assert_eq!(tx.metric_users(revenue.id).await.unwrap(), ["a-test", "b-test"]);
    assert_eq!(tx.metric_users(latency.id).await.unwrap(), ["b-test"]);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let started = ExperimentRecord {
        key: "ignored".into(),
        created_at: 1,
        state: "running".into(),
        started_at: Some(900),
        split_snapshot: Some(r#"{"variants":[],"coverage":10000}"#.into()),
        alpha: 0.01,
        control_variant: "on".into(),
        primary_metric_id: revenue.id,
        revision: 2,
        updated_at: 900,
        ..got.clone()
    };
    tx.update_experiment(&started).await.unwrap();
    tx.set_experiment_metrics(id, &[(purchase.id, "secondary".into())]).await.unwrap();
    tx.delete_experiment(a).await.unwrap();
    tx.delete_experiment(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let expected =
        ExperimentRecord { key: "b-test".into(), created_at: 700, primary_metric_key: "revenue".into(), ..started };
    assert_eq!(tx.experiments().await.unwrap(), vec![expected]);
    assert_eq!(tx.experiment_metrics(id).await.unwrap().len(), 1);
    assert_eq!(tx.metric_users(latency.id).await.unwrap(), Vec::<String>::new());
    assert_eq!(tx.metric_users(purchase.id).await.unwrap(), ["b-test"]);
    drop(tx);

    // Deleting an experiment removes its metric links.
    let mut tx = b.write().await.unwrap();
    tx.delete_experiment(id).await.unwrap();
    tx.delete_metric(purchase.id).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.metrics().await.unwrap().len(), 2);
});

// ---------------------------------------------------------------------------
// Change log.

conformance_test!(changes_after_is_ascending_and_limited, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let change = |env: &Environment, version: i64| ChangeRecord {
        environment_id: env.id,
        version,
        entity: if version % 2 == 0 { "segment".into() } else { "flag".into() },
        key: format!("k{version}"),
        op: if version == 3 { "delete".into() } else { "put".into() },
        at: 1_000 * version,
    };
    let mut tx = b.write().await.unwrap();
    for version in [3, 1, 5, 2, 4] {
        tx.insert_change(&change(&prod, version)).await.unwrap();
    }
    for version in [1, 2] {
        tx.insert_change(&change(&dev, version)).await.unwrap();
    }
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let versions = |changes: Vec<ChangeRecord>| changes.into_iter().map(|c| c.version).collect::<Vec<_>>();
    let all = tx.changes_after(prod.id, 0, 100).await.unwrap();
    assert_eq!(all, (1..=5).map(|v| change(&prod, v)).collect::<Vec<_>>());
    assert_eq!(versions(tx.changes_after(prod.id, 2, 100).await.unwrap()), [3, 4, 5]);
    assert_eq!(versions(tx.changes_after(prod.id, 2, 2).await.unwrap()), [3, 4]);
    assert_eq!(versions(tx.changes_after(prod.id, 5, 100).await.unwrap()), Vec::<i64>::new());
    assert_eq!(versions(tx.changes_after(prod.id, 0, 0).await.unwrap()), Vec::<i64>::new());
    assert_eq!(versions(tx.changes_after(prod.id, 3, -1).await.unwrap()), [4, 5], "negative: no limit");
    assert_eq!(versions(tx.changes_after(dev.id, 0, 100).await.unwrap()), [1, 2]);
    assert_eq!(versions(tx.changes_after(i64::MAX, 0, 100).await.unwrap()), Vec::<i64>::new());
});

// ---------------------------------------------------------------------------
// Audit log.

conformance_test!(audit_insert_and_every_filter, |b| async move {
    let entries = [
        NewAudit {
            at: 1_000,
            actor: "user:ann",
            action: "flag.create",
            entity: "flag",
            key: "checkout",
            environment: None,
            before: None,
            after: Some(r#"{"key":"checkout"}"#),
        },
        NewAudit {
            at: 2_000,
            actor: "token:ci",
            action: "config.update",
            entity: "config",
            key: "checkout",
            environment: Some("prod"),
            before: Some(r#"{"enabled":false}"#),
            after: Some(r#"{"enabled":true}"#),
        },
        // Same key, but a segment: not "about the flag".
        NewAudit {
            at: 3_000,
            actor: "user:ann",
            action: "segment.create",
            entity: "segment",
            key: "checkout",
            environment: None,
            before: None,
            after: Some("{}"),
        },
        NewAudit {
            at: 4_000,
            actor: "user:bob",
            action: "config.update",
            entity: "config",
            key: "search",
            environment: Some("dev"),
            before: Some("{}"),
            after: Some("{}"),
        },
        NewAudit {
            at: 5_000,
            actor: "user:ann",
            action: "flag.delete",
            entity: "flag",
            key: "search",
            environment: None,
            before: Some("{}"),
            after: None,
        },
    ];
    let mut tx = b.write().await.unwrap();
    let mut ids = Vec::new();
    for entry in &entries {
        ids.push(tx.insert_audit(entry).await.unwrap());
    }
    B::commit(tx).await.unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    let mut tx = b.read().await.unwrap();
    let all = tx.audit(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap();
    let expected: Vec<_> = entries
        .iter()
        .zip(&ids)
        .rev()
        .map(|(e, &id)| flagyard_server::store::AuditRecord {
            id,
            at: e.at,
            actor: e.actor.into(),
            action: e.action.into(),
            entity: e.entity.into(),
            key: e.key.into(),
            environment: e.environment.map(Into::into),
            before: e.before.map(Into::into),
            after: e.after.map(Into::into),
        })
        .collect();
    assert_eq!(all, expected, "every field round-trips, newest first");

    // Entry n (1-based) of `entries` has id ids[n - 1].
    let mut query = async |q: AuditQuery| -> Vec<usize> {
        let rows = tx.audit(&AuditQuery { limit: if q.limit == 0 { 100 } else { q.limit }, ..q }).await.unwrap();
        rows.iter().map(|r| ids.iter().position(|&id| id == r.id).unwrap() + 1).collect()
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(query(AuditQuery { flag: s("checkout"), ..Default::default() }).await, [2, 1]);
    assert_eq!(query(AuditQuery { flag: s("search"), ..Default::default() }).await, [5, 4]);
    assert_eq!(query(AuditQuery { flag: s("Checkout"), ..Default::default() }).await, Vec::<usize>::new());
    assert_eq!(query(AuditQuery { actor: s("user:ann"), ..Default::default() }).await, [5, 3, 1]);
    assert_eq!(query(AuditQuery { environment: s("prod"), ..Default::default() }).await, [2]);
    assert_eq!(query(AuditQuery { since: Some(2_000), ..Default::default() }).await, [5, 4, 3, 2]);
    assert_eq!(query(AuditQuery { until: Some(4_000), ..Default::default() }).await, [3, 2, 1], "until is exclusive");
    assert_eq!(query(AuditQuery { since: Some(2_000), until: Some(4_000), ..Default::default() }).await, [3, 2]);
    assert_eq!(query(AuditQuery { before_id: Some(ids[2]), ..Default::default() }).await, [2, 1]);
    assert_eq!(query(AuditQuery { before_id: Some(ids[2]), limit: 1, ..Default::default() }).await, [2]);
    assert_eq!(query(AuditQuery { limit: 2, ..Default::default() }).await, [5, 4]);
    assert_eq!(query(AuditQuery { limit: -1, ..Default::default() }).await.len(), 5, "negative: no limit");
    assert_eq!(query(AuditQuery { flag: s("checkout"), actor: s("user:ann"), ..Default::default() }).await, [1]);
    assert_eq!(
        query(AuditQuery { actor: s("user:ann"), since: Some(2_000), before_id: Some(ids[4]), ..Default::default() })
            .await,
        [3]
    );
    assert_eq!(query(AuditQuery { actor: s("nobody"), ..Default::default() }).await, Vec::<usize>::new());
});

// ---------------------------------------------------------------------------
// Admin tokens.

conformance_test!(tokens_insert_lookup_list_revoke_count, |b| async move {
    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.count_tokens().await.unwrap(), 0);
    assert!(tx.tokens().await.unwrap().is_empty());
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let ci = tx.insert_token("ci", "admin", "hash-ci", 100).await.unwrap();
    assert_eq!((ci.name.as_str(), ci.role.as_str(), ci.created_at, ci.revoked_at), ("ci", "admin", 100, None));
    let ann = tx.insert_token("ann", "viewer", "hash-ann", 200).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.token_by_hash("hash-ann").await.unwrap(), Some(ann.clone()));
    assert_eq!(tx.token_by_hash("hash-nobody").await.unwrap(), None);
    assert_eq!(tx.tokens().await.unwrap(), vec![ci.clone(), ann.clone()]);
    assert_eq!(tx.count_tokens().await.unwrap(), 2);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    assert!(tx.revoke_token(ci.id, 300).await.unwrap());
    assert!(!tx.revoke_token(ci.id, 400).await.unwrap(), "already revoked");
    assert!(!tx.revoke_token(i64::MAX, 400).await.unwrap(), "no such token");
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let revoked = flagyard_server::store::TokenRecord { revoked_at: Some(300), ..ci };
    assert_eq!(tx.token_by_hash("hash-ci").await.unwrap(), Some(revoked.clone()), "revoked tokens are still found");
    assert_eq!(tx.tokens().await.unwrap(), vec![revoked, ann]);
    assert_eq!(tx.count_tokens().await.unwrap(), 2, "revoked tokens still count");
});

// ---------------------------------------------------------------------------
// SDK keys.

conformance_test!(sdk_keys_insert_lookup_list_revoke, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let mut tx = b.write().await.unwrap();
    let server = tx.insert_sdk_key(prod.id, "server", "sdk-1", 100).await.unwrap();
    assert_eq!(server.environment_id, prod.id);
    assert_eq!(server.environment_key, "prod");
    assert_eq!((server.name.as_str(), server.created_at, server.revoked_at), ("server", 100, None));
    let mobile = tx.insert_sdk_key(dev.id, "mobile", "sdk-2", 200).await.unwrap();
    assert_eq!(mobile.environment_key, "dev");
    let web = tx.insert_sdk_key(prod.id, "web", "sdk-3", 300).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.sdk_key_by_hash("sdk-2").await.unwrap(), Some(mobile.clone()));
    assert_eq!(tx.sdk_key_by_hash("sdk-9").await.unwrap(), None);
    assert_eq!(tx.sdk_keys(Some(prod.id)).await.unwrap(), vec![server.clone(), web.clone()]);
    assert_eq!(tx.sdk_keys(Some(dev.id)).await.unwrap(), vec![mobile.clone()]);
    assert_eq!(tx.sdk_keys(Some(i64::MAX)).await.unwrap(), vec![]);
    assert_eq!(tx.sdk_keys(None).await.unwrap(), vec![server.clone(), mobile.clone(), web.clone()]);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    assert!(tx.revoke_sdk_key(server.id, 500).await.unwrap());
    assert!(!tx.revoke_sdk_key(server.id, 600).await.unwrap(), "already revoked");
    assert!(!tx.revoke_sdk_key(i64::MAX, 600).await.unwrap(), "no such key");
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let revoked = flagyard_server::store::SdkKeyRecord { revoked_at: Some(500), ..server };
    assert_eq!(tx.sdk_key_by_hash("sdk-1").await.unwrap(), Some(revoked.clone()), "revoked keys are still found");
    assert_eq!(tx.sdk_keys(Some(prod.id)).await.unwrap(), vec![revoked, web]);
});

// ---------------------------------------------------------------------------
// Single-statement helpers of the write path, and batched writes.

conformance_test!(bump_environment_and_flag_and_config, |b| async move {
    let prod = create_env(&b, "production").await;
    let staging = create_env(&b, "staging").await;
    let flag = create_flag(&b, "f", "F", "", "[]").await;
    put_config(&b, &config(&flag, &prod, 1)).await;
    let mut tx = b.write().await.unwrap();
    let bumped = tx.bump_environment("production").await.unwrap().unwrap();
    assert_eq!((bumped.id, bumped.key.as_str(), bumped.version), (prod.id, "production", prod.version + 1));
    assert_eq!(tx.bump_environment("nowhere").await.unwrap(), None);
    let found = tx.flag_and_config("f", prod.id).await.unwrap().unwrap();
    assert_eq!(found.flag, flag);
    assert_eq!(found.config, Some(config(&flag, &prod, 1)));
    assert!(!found.experiment_running);
    let found = tx.flag_and_config("f", staging.id).await.unwrap().unwrap();
    assert_eq!(found.config, None, "no configuration in that environment");
    assert!(tx.flag_and_config("g", prod.id).await.unwrap().is_none());
    B::commit(tx).await.unwrap();
});

conformance_test!(jobs_in_one_transaction_roll_back_alone, |b| async move {
    let prod = create_env(&b, "production").await;
    let mut tx = b.write().await.unwrap();
    tx.begin_job(true).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.begin_job(false).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.insert_environment("staging", "S", 1).await.unwrap();
    tx.abort_job().await.unwrap();
    tx.begin_job(false).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    let envs = tx.environments().await.unwrap();
    assert_eq!(envs.len(), 1, "the aborted job's insert is gone");
    assert_eq!(envs[0].version, prod.version + 2, "the two kept jobs' bumps remain");
});

// ---------------------------------------------------------------------------
// Migration 6: each unit's per-metric rows fold into its exposure row.

/// Old-layout rows (migrations 1–5) for experiment `x` with metrics `m`
/// (ascending ids; `m[1]` is the primary): unit `a` has rows for two of the
/// three metrics, `b` for none, `c` (excluded) for one.
fn old_unit_rows(x: i64, m: [i64; 3]) -> String {
    format!(
        "INSERT INTO experiment_units (experiment_id, unit, variant, exposed_at, excluded) VALUES
             ({x}, 'a', 'on', 5, false), ({x}, 'b', 'off', 6, false), ({x}, 'c', 'on', 7, true);
         INSERT INTO unit_metrics (experiment_id, metric_id, unit, count, total) VALUES
             ({x}, {m2}, 'a', 3, 0.1), ({x}, {m0}, 'a', 2, 12.5), ({x}, {m1}, 'c', 1, 4.25);",
        m0 = m[0],
        m1 = m[1],
        m2 = m[2],
    )
}

/// An experiment with three metrics (the primary in the middle by id) on a
/// backend migrated up to migration 5; returns its id and metric ids.
async fn experiment_before_6<B: Backend>(b: &B) -> (i64, [i64; 3]) {
    let env = create_env(b, "production").await;
    let flag = create_flag(b, "checkout", "Checkout", "", "").await;
    let mut tx = b.write().await.unwrap();
    let mut m = [0; 3];
    for (i, key) in ["first", "second", "third"].into_iter().enumerate() {
        m[i] = tx.insert_metric(&metric(key, 100)).await.unwrap().id;
    }
    let primary = MetricRecord { id: m[1], ..metric("second", 100) };
    let x = tx.insert_experiment(&experiment("x", &flag, &env, &primary)).await.unwrap();
    tx.set_experiment_metrics(x, &[(m[2], "secondary".into()), (m[0], "guardrail".into())]).await.unwrap();
    B::commit(tx).await.unwrap();
    (x, m)
}

/// After migration 6 the units read back with their aggregates in metric-id
/// order, zeros where a unit had no row.
async fn check_unit_aggregates<B: Backend>(b: &B, x: i64) {
    let mut tx = b.ingest().await.unwrap();
    let mut rows = tx.units(x, &["a", "b", "c", "d"]).await.unwrap();
    rows.sort_by(|p, q| p.unit.cmp(&q.unit));
    for r in &mut rows {
        r.pad(3);
    }
    let row = |unit: &str, variant: &str, exposed_at, excluded, counts: Vec<i64>, totals: Vec<f64>| UnitRow {
        unit: unit.into(),
        variant: variant.into(),
        exposed_at,
        excluded,
        counts,
        totals,
    };
    assert_eq!(
        rows,
        vec![
            row("a", "on", 5, false, vec![2, 0, 3], vec![12.5, 0.0, 0.1]),
            row("b", "off", 6, false, vec![0, 0, 0], vec![0.0, 0.0, 0.0]),
            row("c", "on", 7, true, vec![0, 1, 0], vec![0.0, 4.25, 0.0]),
        ]
    );
    // Written rows read back exactly, at the experiment's width.
    let exact = row("d", "off", 8, false, vec![1, 2, 3], vec![0.1 + 0.2, 1e-300, -7.75]);
    tx.insert_units(x, 3, std::slice::from_ref(&exact)).await.unwrap();
    assert!(tx.insert_units(x, 2, std::slice::from_ref(&exact)).await.is_err(), "a row wider than the metrics");
    B::commit(tx).await.unwrap();
    let mut tx = b.ingest().await.unwrap();
    assert!(tx.insert_units(x, 3, std::slice::from_ref(&exact)).await.is_err(), "the unit has a row");
    drop(tx);
    let mut tx = b.ingest().await.unwrap();
    assert_eq!(tx.units(x, &["d"]).await.unwrap(), vec![exact.clone()]);
    let moved = UnitRow { exposed_at: 4, counts: vec![0, 0, 9], ..exact };
    tx.put_units(x, 3, std::slice::from_ref(&moved)).await.unwrap();
    assert_eq!(tx.units(x, &["d", "e"]).await.unwrap(), vec![moved]);
}

#[tokio::test]
async fn migration_6_folds_unit_metrics_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let mut before = sqlx::migrate!("../migrations/sqlite");
    before.migrations = before.migrations.iter().filter(|m| m.version < 6).cloned().collect::<Vec<_>>().into();
    let backend = SqliteBackend::connect(&db.url, 4).await.unwrap();
    let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
    before.run(&mut conn).await.unwrap();
    let (x, m) = experiment_before_6(&backend).await;
    sqlx::raw_sql(AssertSqlSafe(old_unit_rows(x, m))).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    backend.migrate().await.unwrap();
    check_unit_aggregates(&backend, x).await;
}

#[tokio::test]
async fn migration_6_folds_unit_metrics_postgres() {
    let Some(db) = support::db::PgTestDb::create("migration_6_folds_unit_metrics_postgres").await else { return };
    let mut before = sqlx::migrate!("../migrations/postgres");
    before.migrations = before.migrations.iter().filter(|m| m.version < 6).cloned().collect::<Vec<_>>().into();
    let backend = PgBackend::connect(&db.url, 4).await.unwrap();
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    before.run(&mut conn).await.unwrap();
    let (x, m) = experiment_before_6(&backend).await;
    sqlx::raw_sql(AssertSqlSafe(old_unit_rows(x, m))).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    backend.migrate().await.unwrap();
    check_unit_aggregates(&backend, x).await;
    backend.close().await;
}
