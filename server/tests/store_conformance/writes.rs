//! Single-statement helpers of the write path, and batched writes, on both backends.

use super::*;

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
    tx.begin_job(Undo::Savepoint).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.begin_job(Undo::Savepoint).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.insert_environment("staging", "S", 1).await.unwrap();
    tx.abort_job(Undo::Savepoint).await.unwrap();
    tx.begin_job(Undo::Savepoint).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    let envs = tx.environments().await.unwrap();
    assert_eq!(envs.len(), 1, "the aborted job's insert is gone");
    assert_eq!(envs[0].version, prod.version + 2, "the two kept jobs' bumps remain");
});

// Jobs that refuse only before writing run without a savepoint of their own,
// between jobs that have one; a refusal keeps the batch, and a failed
// statement in such a job makes the refusal fail on Postgres (the
// transaction is spoiled), never a commit that silently rolls back.
conformance_test!(jobs_without_savepoints_mix_with_jobs_with_them, |b| async move {
    let prod = create_env(&b, "production").await;
    let mut tx = b.write().await.unwrap();
    tx.begin_job(Undo::NothingWritten).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.begin_job(Undo::Savepoint).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.begin_job(Undo::NothingWritten).await.unwrap();
    assert!(tx.environment("production").await.unwrap().is_some(), "a read, then a refusal");
    tx.abort_job(Undo::NothingWritten).await.unwrap();
    tx.begin_job(Undo::Savepoint).await.unwrap();
    tx.insert_environment("staging", "S", 1).await.unwrap();
    tx.abort_job(Undo::Savepoint).await.unwrap();
    tx.begin_job(Undo::NothingWritten).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    assert_eq!(tx.marks().versions().len(), 3);
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    let envs = tx.environments().await.unwrap();
    assert_eq!(envs.len(), 1, "the aborted job's insert is gone");
    assert_eq!(envs[0].version, prod.version + 3, "the kept jobs' bumps remain");
    drop(tx);

    let mut tx = b.write().await.unwrap();
    tx.begin_job(Undo::Savepoint).await.unwrap();
    tx.bump_version(prod.id).await.unwrap();
    tx.begin_job(Undo::NothingWritten).await.unwrap();
    assert_duplicate(tx.insert_environment("production", "again", 1).await);
    let aborted = tx.abort_job(Undo::NothingWritten).await;
    if b.name() == "postgres" {
        assert!(aborted.is_err(), "the failed statement spoiled the transaction, and the abort says so");
    } else {
        // SQLite sets a savepoint for every job (it costs no round trip): the
        // failed statement is undone alone.
        aborted.unwrap();
        B::commit(tx).await.unwrap();
    }
});

conformance_test!(a_configuration_write_reads_then_writes_once, |b| async move {
    let prod = create_env(&b, "production").await;
    let flag = create_flag(&b, "f", "F", "", "[]").await;
    put_config(&b, &config(&flag, &prod, 1)).await;
    let mut tx = b.write().await.unwrap();
    let (env, found) = tx.env_flag_config("production", "f").await.unwrap().unwrap();
    assert_eq!(env, prod, "reading bumps nothing");
    let found = found.unwrap();
    assert_eq!((found.flag, found.config), (flag.clone(), Some(config(&flag, &prod, 1))));
    assert!(tx.env_flag_config("production", "g").await.unwrap().unwrap().1.is_none());
    assert!(tx.env_flag_config("nowhere", "f").await.unwrap().is_none());
    assert!(tx.marks().versions().is_empty());

    let next = config(&flag, &prod, 2);
    let change = ChangeRecord {
        environment_id: prod.id,
        version: prod.version + 1,
        entity: "flag".into(),
        key: "f".into(),
        op: "put".into(),
        at: 77,
    };
    let audit = NewAudit {
        at: 77,
        actor: "user:a",
        action: "config.update",
        entity: "config",
        key: "f",
        environment: Some("production"),
        before: Some("{}"),
        after: Some(&next.config),
    };
    tx.put_config_logged(&next, &change, &audit).await.unwrap();
    assert_eq!(tx.marks().versions(), [(prod.id, prod.version + 1)]);
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.environment("production").await.unwrap().unwrap().version, prod.version + 1);
    assert_eq!(tx.config(flag.id, prod.id).await.unwrap(), Some(next.clone()));
    let next_config = next.config.clone();
    assert_eq!(tx.config_history(flag.id, prod.id, 10).await.unwrap(), vec![next, config(&flag, &prod, 1)]);
    assert_eq!(tx.changes_after(prod.id, prod.version, 10).await.unwrap(), vec![change]);
    let audit = tx.audit(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].action.as_str(), audit[0].after.as_deref()), ("config.update", Some(next_config.as_str())));
});
