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

/// Inserts experiment `key` on a fresh flag of that key with one metric.
async fn experiment_with_metric<B: Backend>(b: &B, env: &Environment, key: &str) -> i64 {
    let flag = create_flag(b, key, key, "", "[]").await;
    let mut tx = b.write().await.unwrap();
    let m = tx.insert_metric(&metric(&format!("{key}-metric"), 100)).await.unwrap();
    let x = tx.insert_experiment(&experiment(key, &flag, env, &m)).await.unwrap();
    B::commit(tx).await.unwrap();
    x
}

fn unit(key: &str) -> UnitRow {
    UnitRow {
        unit: key.into(),
        variant: "on".into(),
        exposed_at: 5,
        excluded: false,
        counts: vec![1],
        totals: vec![2.0],
    }
}

// Units have no foreign key to their experiment (migration 7): the delete
// takes them along, and a later experiment (SQLite may reuse the id) starts
// with none.
conformance_test!(deleting_an_experiment_deletes_its_units, |b| async move {
    let env = create_env(&b, "production").await;
    let x = experiment_with_metric(&b, &env, "gone").await;
    let kept = experiment_with_metric(&b, &env, "kept").await;
    let mut tx = b.ingest().await.unwrap();
    tx.insert_units(x, 1, &[unit("a"), unit("b")]).await.unwrap();
    tx.insert_units(kept, 1, &[unit("a")]).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.write().await.unwrap();
    tx.delete_experiment(x).await.unwrap();
    B::commit(tx).await.unwrap();
    let next = experiment_with_metric(&b, &env, "next").await;
    let mut tx = b.ingest().await.unwrap();
    assert!(tx.units(x, &["a", "b"]).await.unwrap().is_empty(), "the deleted experiment's units are gone");
    assert!(tx.units(next, &["a", "b"]).await.unwrap().is_empty(), "a new experiment inherits no units");
    assert_eq!(tx.units(kept, &["a"]).await.unwrap(), vec![unit("a")], "other experiments keep theirs");
});

/// On Postgres, deleting an experiment waits for the ingest transaction in
/// progress (which could otherwise add units to it after the delete) and
/// holds off the next one until it commits.
#[tokio::test]
async fn deleting_an_experiment_excludes_ingest_postgres() {
    let Some(t) = support::db::pg_backend("deleting_an_experiment_excludes_ingest_postgres").await else { return };
    let b = t.backend.clone();
    let env = create_env(&b, "production").await;
    let x = experiment_with_metric(&b, &env, "gone").await;

    let mut ingest = b.ingest().await.unwrap();
    ingest.insert_units(x, 1, &[unit("late")]).await.unwrap();
    let deleter = {
        let b = b.clone();
        tokio::spawn(async move {
            let mut tx = b.write().await.unwrap();
            tx.delete_experiment(x).await.unwrap();
            PgBackend::commit(tx).await.unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!deleter.is_finished(), "the delete waits for the ingest transaction");
    PgBackend::commit(ingest).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), deleter).await.expect("the delete went on").unwrap();
    let mut tx = b.ingest().await.unwrap();
    assert!(tx.units(x, &["late"]).await.unwrap().is_empty(), "the unit written before the delete went with it");
    drop(tx);
    b.close().await;
}
