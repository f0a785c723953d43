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
