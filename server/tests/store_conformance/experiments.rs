//! Metrics and experiments, on both backends.

use super::*;

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
