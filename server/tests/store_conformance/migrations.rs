//! Migration 6: each unit's per-metric rows fold into its exposure row, on both backends.

use super::*;

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

/// On a fresh database at `$url`: migrations 1–5 over a connection of type
/// `$conn`, an experiment and old-layout rows, then migration 6 by `$backend`
/// (connected to the same database), and the check.
macro_rules! fold_unit_metrics {
    ($backend:expr, $conn:ty, $url:expr, $migrations:expr) => {{
        let backend = $backend;
        let mut conn = <$conn>::connect($url).await.unwrap();
        $migrations.run_to(5, &mut conn).await.unwrap();
        let (x, m) = experiment_before_6(&backend).await;
        sqlx::raw_sql(AssertSqlSafe(old_unit_rows(x, m))).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        backend.migrate().await.unwrap();
        check_unit_aggregates(&backend, x).await;
        backend.close().await;
    }};
}

#[tokio::test]
async fn migration_6_folds_unit_metrics_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let backend = SqliteBackend::connect(&db.url, 4).await.unwrap();
    fold_unit_metrics!(backend, SqliteConnection, &db.url, flagyard_server::store::migrations::SQLITE);
}

#[tokio::test]
async fn migration_6_folds_unit_metrics_postgres() {
    let Some(db) = support::db::PgTestDb::create("migration_6_folds_unit_metrics_postgres").await else { return };
    let backend = PgBackend::connect(&db.url, 4).await.unwrap();
    fold_unit_metrics!(backend, PgConnection, &db.url, flagyard_server::store::migrations::POSTGRES);
}
