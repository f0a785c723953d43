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

/// Writes `flag`'s configuration in `env` as the write path does: its read
/// (which must find revision `revision - 1`), then the logged write of
/// `revision` at the next version of the environment it read. Returns the
/// change record written.
async fn logged_write<B: Backend>(tx: &mut B::Tx, flag: &FlagRecord, env: &str, revision: i64) -> ChangeRecord {
    let (env, found) = tx.env_flag_config(env, &flag.key).await.unwrap().unwrap();
    let current = found.unwrap().config.unwrap();
    assert_eq!(current.revision, revision - 1, "`{}` in `{}`: the read sees the writes before it", flag.key, env.key);
    let next = config(flag, &env, revision);
    let change = ChangeRecord {
        environment_id: env.id,
        version: env.version + 1,
        entity: "flag".into(),
        key: flag.key.clone(),
        op: "put".into(),
        at: 100 + revision,
    };
    let audit = NewAudit {
        at: 100 + revision,
        actor: "user:a",
        action: "config.update",
        entity: "config",
        key: &flag.key,
        environment: Some(&env.key),
        before: Some(&current.config),
        after: Some(&next.config),
    };
    tx.put_config_logged(&next, &change, &audit).await.unwrap();
    change
}

// A batch of configuration writes in one transaction, as the writer runs
// them (on Postgres they are held back and sent together): each read sees
// the writes before it (the same flag twice, another flag, another
// environment), so does any other statement, and a job rolled back to its
// savepoint leaves none of its write.
conformance_test!(configuration_writes_in_one_transaction_see_each_other, |b| async move {
    let prod = create_env(&b, "production").await;
    let staging = create_env(&b, "staging").await;
    let f = create_flag(&b, "f", "F", "", "[]").await;
    let g = create_flag(&b, "g", "G", "", "[]").await;
    for (flag, env) in [(&f, &prod), (&g, &prod), (&f, &staging)] {
        put_config(&b, &config(flag, env, 1)).await;
    }
    let mut tx = b.write().await.unwrap();
    let mut changes = vec![
        logged_write::<B>(&mut tx, &f, "production", 2).await,
        logged_write::<B>(&mut tx, &f, "production", 3).await,
        logged_write::<B>(&mut tx, &g, "production", 2).await,
        logged_write::<B>(&mut tx, &f, "staging", 2).await,
    ];
    let versions: Vec<i64> = changes.iter().map(|c| c.version).collect();
    assert_eq!(versions, [prod.version + 1, prod.version + 2, prod.version + 3, staging.version + 1]);
    assert_eq!(tx.config(f.id, prod.id).await.unwrap(), Some(config(&f, &prod, 3)), "another statement sees them");
    assert_eq!(tx.environment("production").await.unwrap().unwrap().version, prod.version + 3);

    tx.begin_job(Undo::Savepoint).await.unwrap();
    logged_write::<B>(&mut tx, &g, "production", 3).await;
    tx.abort_job(Undo::Savepoint).await.unwrap();
    // Revision 3 of `g` again, at the version the rolled-back job had taken.
    changes.push(logged_write::<B>(&mut tx, &g, "production", 3).await);
    assert_eq!(changes[4].version, prod.version + 4);
    tx.begin_job(Undo::Savepoint).await.unwrap();
    changes.push(logged_write::<B>(&mut tx, &f, "production", 4).await);
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let envs = tx.environments().await.unwrap();
    let version = |id: i64| envs.iter().find(|e| e.id == id).unwrap().version;
    assert_eq!((version(prod.id), version(staging.id)), (prod.version + 5, staging.version + 1));
    assert_eq!(tx.config(f.id, prod.id).await.unwrap(), Some(config(&f, &prod, 4)));
    assert_eq!(tx.config(g.id, prod.id).await.unwrap(), Some(config(&g, &prod, 3)));
    assert_eq!(tx.config(f.id, staging.id).await.unwrap(), Some(config(&f, &staging, 2)));
    let revisions = |h: Vec<ConfigRecord>| h.iter().map(|c| c.revision).collect::<Vec<_>>();
    assert_eq!(revisions(tx.config_history(f.id, prod.id, 10).await.unwrap()), [4, 3, 2, 1]);
    assert_eq!(revisions(tx.config_history(g.id, prod.id, 10).await.unwrap()), [3, 2, 1]);
    assert_eq!(revisions(tx.config_history(f.id, staging.id, 10).await.unwrap()), [2, 1]);
    let logged = [
        tx.changes_after(prod.id, prod.version, 10).await.unwrap(),
        tx.changes_after(staging.id, staging.version, 10).await.unwrap(),
    ]
    .concat();
    let mut expected = changes.clone();
    expected.sort_by_key(|c| (c.environment_id != prod.id, c.version));
    assert_eq!(logged, expected, "one change-log entry per kept write");
    // The audit log, newest first, in the order of the kept writes.
    let audit = tx.audit(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    let entries: Vec<(&str, Option<&str>, i64)> =
        audit.iter().map(|a| (a.key.as_str(), a.environment.as_deref(), a.at)).collect();
    assert_eq!(
        entries,
        [
            ("f", Some("production"), 104),
            ("g", Some("production"), 103),
            ("f", Some("staging"), 102),
            ("g", Some("production"), 102),
            ("f", Some("production"), 103),
            ("f", Some("production"), 102),
        ]
    );
});
