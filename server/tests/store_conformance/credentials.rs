//! Admin tokens and SDK keys, on both backends.

use super::*;

conformance_test!(tokens_insert_lookup_list_revoke_count, |b| async move {
    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.count_tokens().await.unwrap(), 0);
    assert!(tx.tokens().await.unwrap().is_empty());
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let ci = tx.insert_token("ci", "admin", "hash-ci", 100).await.unwrap();
    assert_eq!((ci.name.as_str(), ci.role.as_str(), ci.created_at, ci.revoked_at), ("ci", "admin", 100, None));
    let ann = tx.insert_token("ann", "viewer", "hash-ann", 200).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.token_by_hash("hash-ann").await.unwrap(), Some(ann.clone()));
    assert_eq!(tx.token_by_hash("hash-nobody").await.unwrap(), None);
    assert_eq!(tx.tokens().await.unwrap(), vec![ci.clone(), ann.clone()]);
    assert_eq!(tx.count_tokens().await.unwrap(), 2);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    assert!(tx.revoke_token(ci.id, 300).await.unwrap());
    assert!(!tx.revoke_token(ci.id, 400).await.unwrap(), "already revoked");
    assert!(!tx.revoke_token(i64::MAX, 400).await.unwrap(), "no such token");
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let revoked = flagyard_server::store::TokenRecord { revoked_at: Some(300), ..ci };
    assert_eq!(tx.token_by_hash("hash-ci").await.unwrap(), Some(revoked.clone()), "revoked tokens are still found");
    assert_eq!(tx.tokens().await.unwrap(), vec![revoked, ann]);
    assert_eq!(tx.count_tokens().await.unwrap(), 2, "revoked tokens still count");
});

// ---------------------------------------------------------------------------
// SDK keys.

conformance_test!(sdk_keys_insert_lookup_list_revoke, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let mut tx = b.write().await.unwrap();
    let server = tx.insert_sdk_key(prod.id, "server", "sdk-1", 100).await.unwrap();
    assert_eq!(server.environment_id, prod.id);
    assert_eq!(server.environment_key, "prod");
    assert_eq!((server.name.as_str(), server.created_at, server.revoked_at), ("server", 100, None));
    let mobile = tx.insert_sdk_key(dev.id, "mobile", "sdk-2", 200).await.unwrap();
    assert_eq!(mobile.environment_key, "dev");
    let web = tx.insert_sdk_key(prod.id, "web", "sdk-3", 300).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.sdk_key_by_hash("sdk-2").await.unwrap(), Some(mobile.clone()));
    assert_eq!(tx.sdk_key_by_hash("sdk-9").await.unwrap(), None);
    assert_eq!(tx.sdk_keys(Some(prod.id)).await.unwrap(), vec![server.clone(), web.clone()]);
    assert_eq!(tx.sdk_keys(Some(dev.id)).await.unwrap(), vec![mobile.clone()]);
    assert_eq!(tx.sdk_keys(Some(i64::MAX)).await.unwrap(), vec![]);
    assert_eq!(tx.sdk_keys(None).await.unwrap(), vec![server.clone(), mobile.clone(), web.clone()]);
    drop(tx);

    let mut tx = b.write().await.unwrap();
    assert!(tx.revoke_sdk_key(server.id, 500).await.unwrap());
    assert!(!tx.revoke_sdk_key(server.id, 600).await.unwrap(), "already revoked");
    assert!(!tx.revoke_sdk_key(i64::MAX, 600).await.unwrap(), "no such key");
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let revoked = flagyard_server::store::SdkKeyRecord { revoked_at: Some(500), ..server };
    assert_eq!(tx.sdk_key_by_hash("sdk-1").await.unwrap(), Some(revoked.clone()), "revoked keys are still found");
    assert_eq!(tx.sdk_keys(Some(prod.id)).await.unwrap(), vec![revoked, web]);
});

conformance_test!(last_use_is_recorded_at_most_once_per_period, |b| async move {
    let prod = create_env(&b, "prod").await;
    let mut tx = b.write().await.unwrap();
    let token = tx.insert_token("ci", "admin", "hash-ci", 100).await.unwrap();
    let key = tx.insert_sdk_key(prod.id, "server", "sdk-1", 100).await.unwrap();
    let other = tx.insert_sdk_key(prod.id, "web", "sdk-2", 100).await.unwrap();
    assert_eq!((token.last_used_at, key.last_used_at), (None, None), "unused");
    tx.touch_credentials(&[token.id], &[key.id], 10_000, 60_000).await.unwrap();
    B::commit(tx).await.unwrap();
    let used = |b: B| async move {
        let mut tx = b.read().await.unwrap();
        let t = tx.token_by_hash("hash-ci").await.unwrap().unwrap().last_used_at;
        let k = tx.sdk_key_by_hash("sdk-1").await.unwrap().unwrap().last_used_at;
        let o = tx.sdk_keys(None).await.unwrap()[1].last_used_at;
        (t, k, o)
    };
    assert_eq!(used(b.clone()).await, (Some(10_000), Some(10_000), None));
    // Within the period: unchanged; past it: moved; unknown ids: nothing.
    let mut tx = b.write().await.unwrap();
    tx.touch_credentials(&[token.id], &[key.id, other.id, i64::MAX], 69_999, 60_000).await.unwrap();
    B::commit(tx).await.unwrap();
    assert_eq!(used(b.clone()).await, (Some(10_000), Some(10_000), Some(69_999)));
    let mut tx = b.write().await.unwrap();
    tx.touch_credentials(&[token.id], &[key.id], 70_000, 60_000).await.unwrap();
    B::commit(tx).await.unwrap();
    assert_eq!(used(b.clone()).await, (Some(70_000), Some(70_000), Some(69_999)));
});
