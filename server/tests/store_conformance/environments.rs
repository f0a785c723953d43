//! Environments, and duplicate keys, on both backends.

use super::*;

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
