//! The change log and the audit log, on both backends.

use super::*;

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
