//! Flag configurations per environment, on both backends.

use super::*;

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
