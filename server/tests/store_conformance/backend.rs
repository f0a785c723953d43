//! Migrations and readiness, on both backends.

use super::*;

conformance_test!(migrate_is_idempotent_and_ready_reports_it, |b| async move {
    assert!(b.ready().await.unwrap());
    b.migrate().await.unwrap();
    assert!(b.ready().await.unwrap());
    let stats = b.pool_stats();
    assert!(stats.idle <= stats.size, "{stats:?}");
    b.close().await;
    // Not ready, and said as unreachable rather than "migrations pending".
    let closed = b.ready().await;
    assert!(matches!(closed, Err(StoreError::Unavailable(_))), "a closed backend is unreachable: {closed:?}");
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
