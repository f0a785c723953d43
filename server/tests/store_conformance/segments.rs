//! Segments, on both backends.

use super::*;

conformance_test!(segments_crud, |b| async move {
    let mut tx = b.write().await.unwrap();
    let internal = tx.insert_segment("internal", "Staff", r#"{"rules":[]}"#, 100).await.unwrap();
    assert_eq!(
        internal,
        SegmentRecord {
            id: internal.id,
            key: "internal".into(),
            description: "Staff".into(),
            definition: r#"{"rules":[]}"#.into(),
            revision: 1,
            created_at: 100,
            updated_at: 100,
        }
    );
    let beta = tx.insert_segment("beta", "", "{}", 200).await.unwrap();
    let upper = tx.insert_segment("Beta", "", "{}", 300).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.segments().await.unwrap(), vec![upper.clone(), beta.clone(), internal.clone()]);
    assert_eq!(tx.segment("beta").await.unwrap(), Some(beta.clone()));
    assert_eq!(tx.segment("missing").await.unwrap(), None);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let updated = SegmentRecord {
        key: "ignored".into(),
        created_at: 1,
        description: "Everyone in beta".into(),
        definition: r#"{"rules":[1]}"#.into(),
        revision: 2,
        updated_at: 500,
        ..beta.clone()
    };
    tx.update_segment(&updated).await.unwrap();
    tx.delete_segment(internal.id).await.unwrap();
    tx.delete_segment(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let expected = SegmentRecord { key: "beta".into(), created_at: 200, ..updated };
    assert_eq!(tx.segment("beta").await.unwrap(), Some(expected.clone()));
    assert_eq!(tx.segment("internal").await.unwrap(), None);
    assert_eq!(tx.segments().await.unwrap(), vec![upper, expected]);
});
