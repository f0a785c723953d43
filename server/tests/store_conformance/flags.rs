//! Flags, on both backends.

use super::*;

conformance_test!(insert_and_get_flags, |b| async move {
    let mut tx = b.write().await.unwrap();
    let f = tx.insert_flag(&new_flag("checkout", "Checkout", "The new checkout", r#"["web"]"#, 1_234)).await.unwrap();
    assert_eq!(f.key, "checkout");
    assert_eq!(f.name, "Checkout");
    assert_eq!(f.description, "The new checkout");
    assert_eq!(f.kind, "boolean");
    assert_eq!(f.variants, r#"[{"key":"on","value":true},{"key":"off","value":false}]"#);
    assert_eq!(f.tags, r#"["web"]"#);
    assert!(!f.archived);
    assert_eq!(f.revision, 1);
    assert_eq!((f.created_at, f.updated_at), (1_234, 1_234));
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.flag("checkout").await.unwrap(), Some(f));
    assert_eq!(tx.flag("CHECKOUT").await.unwrap(), None);
    assert_eq!(tx.flag("missing").await.unwrap(), None);
});

/// Flags for the list tests, in insertion order. `gamma` is archived.
async fn seed_flags<B: Backend>(b: &B) {
    let mut tx = b.write().await.unwrap();
    let flags = [
        ("alpha-checkout", "Checkout Redesign", "", r#"["web","beta"]"#),
        ("beta-search", "Search v2", "Uses the NEW index", r#"["api"]"#),
        ("gamma", "Gamma", "checkout related", "[]"),
        ("Zeta", "zeta", "", r#"["web"]"#),
        ("alpha_b", "Café Crème", "", r#"["Web"]"#),
    ];
    for (key, name, description, tags) in flags {
        tx.insert_flag(&new_flag(key, name, description, tags, 5)).await.unwrap();
    }
    let mut gamma = tx.flag("gamma").await.unwrap().unwrap();
    gamma.archived = true;
    tx.update_flag(&gamma).await.unwrap();
    B::commit(tx).await.unwrap();
}

conformance_test!(flags_search_tag_and_archived_filters, |b| async move {
    seed_flags(&b).await;
    let mut tx = b.read().await.unwrap();
    let mut list = async |search: Option<&str>, tag: Option<&str>, archived: Option<bool>| {
        let (rows, total) = tx.flags(&flag_query(search, tag, archived)).await.unwrap();
        assert_eq!(rows.len() as i64, total, "one page holds everything here");
        rows.into_iter().map(|f| f.key).collect::<Vec<_>>()
    };

    // No filter: everything, by key, bytewise ('Z' < '_' < 'a', '-' < '_').
    assert_eq!(list(None, None, None).await, ["Zeta", "alpha-checkout", "alpha_b", "beta-search", "gamma"]);

    // Search: key, name or description, case-insensitive substring.
    assert_eq!(list(Some("CHECKOUT"), None, None).await, ["alpha-checkout", "gamma"]);
    assert_eq!(list(Some("new index"), None, None).await, ["beta-search"]);
    assert_eq!(list(Some("zET"), None, None).await, ["Zeta"]);
    assert_eq!(list(Some("v2"), None, None).await, ["beta-search"]);
    assert_eq!(list(Some("%"), None, None).await, Vec::<String>::new(), "not a LIKE pattern");
    assert_eq!(list(Some("_"), None, None).await, ["alpha_b"], "not a LIKE pattern");
    assert_eq!(list(Some(""), None, None).await.len(), 5, "the empty string matches everything");
    // Case folding is ASCII-only (SQLite's built-in lower()): the accented
    // letters must match exactly.
    assert_eq!(list(Some("CAFé"), None, None).await, ["alpha_b"]);
    assert_eq!(list(Some("CAFÉ"), None, None).await, Vec::<String>::new());

    // Tags: exact, case-sensitive membership.
    assert_eq!(list(None, Some("web"), None).await, ["Zeta", "alpha-checkout"]);
    assert_eq!(list(None, Some("Web"), None).await, ["alpha_b"]);
    assert_eq!(list(None, Some("we"), None).await, Vec::<String>::new());
    assert_eq!(list(None, Some("beta"), None).await, ["alpha-checkout"]);

    // Archived.
    assert_eq!(list(None, None, Some(true)).await, ["gamma"]);
    assert_eq!(list(None, None, Some(false)).await, ["Zeta", "alpha-checkout", "alpha_b", "beta-search"]);

    // Combined.
    assert_eq!(list(Some("checkout"), None, Some(false)).await, ["alpha-checkout"]);
    assert_eq!(list(Some("checkout"), Some("web"), Some(false)).await, ["alpha-checkout"]);
    assert_eq!(list(Some("search"), Some("web"), None).await, Vec::<String>::new());
});

conformance_test!(flags_paging_and_total, |b| async move {
    seed_flags(&b).await;
    let mut tx = b.read().await.unwrap();
    let mut page = async |limit: i64, offset: i64, archived: Option<bool>| {
        let query = FlagQuery { limit, offset, archived, ..FlagQuery::default() };
        let (rows, total) = tx.flags(&query).await.unwrap();
        (rows.into_iter().map(|f| f.key).collect::<Vec<_>>(), total)
    };
    assert_eq!(page(2, 0, None).await, (vec!["Zeta".into(), "alpha-checkout".into()], 5));
    assert_eq!(page(2, 2, None).await, (vec!["alpha_b".into(), "beta-search".into()], 5));
    assert_eq!(page(2, 4, None).await, (vec!["gamma".into()], 5));
    assert_eq!(page(2, 5, None).await, (vec![], 5));
    assert_eq!(page(0, 0, None).await, (vec![], 5));
    assert_eq!(page(1, 1, Some(false)).await, (vec!["alpha-checkout".into()], 4));
    // SQLite's rules, kept on Postgres: a negative limit is no limit, a
    // negative offset is zero.
    assert_eq!(page(-1, 3, None).await, (vec!["beta-search".into(), "gamma".into()], 5));
    assert_eq!(page(1, -3, None).await, (vec!["Zeta".into()], 5));
});

conformance_test!(flags_by_keys_returns_the_known_ones_by_key, |b| async move {
    seed_flags(&b).await;
    let mut tx = b.read().await.unwrap();
    let wanted = ["gamma", "missing", "Zeta", "alpha_b", "gamma"].map(String::from);
    let found = tx.flags_by_keys(&wanted).await.unwrap();
    assert_eq!(keys(&found), ["Zeta", "alpha_b", "gamma"]);
    assert_eq!(found[2], tx.flag("gamma").await.unwrap().unwrap());
    assert!(found[2].archived);
    assert!(tx.flags_by_keys(&[]).await.unwrap().is_empty());
    assert!(tx.flags_by_keys(&["zeta".into()]).await.unwrap().is_empty());
});

conformance_test!(update_flag_writes_the_mutable_fields_only, |b| async move {
    let f = create_flag(&b, "checkout", "Checkout", "old", "[]").await;
    let other = create_flag(&b, "other", "Other", "", "[]").await;
    let mut tx = b.write().await.unwrap();
    let changed = FlagRecord {
        id: f.id,
        key: "renamed".into(), // ignored
        kind: "string".into(), // ignored
        created_at: 99,        // ignored
        name: "Checkout v2".into(),
        description: "new".into(),
        variants: r#"[{"key":"a","value":"x"}]"#.into(),
        tags: r#"["web"]"#.into(),
        archived: true,
        revision: 2,
        updated_at: 9_000,
    };
    tx.update_flag(&changed).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    let got = tx.flag("checkout").await.unwrap().unwrap();
    assert_eq!(
        got,
        FlagRecord { key: "checkout".into(), kind: "boolean".into(), created_at: f.created_at, ..changed.clone() }
    );
    assert_eq!(tx.flag("renamed").await.unwrap(), None);
    assert_eq!(tx.flag("other").await.unwrap(), Some(other));
    drop(tx);

    // Un-archiving works too; an unknown id is a no-op.
    let mut tx = b.write().await.unwrap();
    tx.update_flag(&FlagRecord { archived: false, revision: 3, ..got.clone() }).await.unwrap();
    tx.update_flag(&FlagRecord { id: i64::MAX, ..got }).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    let got = tx.flag("checkout").await.unwrap().unwrap();
    assert!(!got.archived);
    assert_eq!(got.revision, 3);
});

conformance_test!(delete_flag_cascades_to_configs_and_history, |b| async move {
    let prod = create_env(&b, "prod").await;
    let dev = create_env(&b, "dev").await;
    let doomed = create_flag(&b, "doomed", "Doomed", "", "[]").await;
    let kept = create_flag(&b, "kept", "Kept", "", "[]").await;
    for c in [config(&doomed, &prod, 1), config(&doomed, &prod, 2), config(&doomed, &dev, 1), config(&kept, &prod, 1)] {
        put_config(&b, &c).await;
    }

    let mut tx = b.write().await.unwrap();
    tx.delete_flag(doomed.id).await.unwrap();
    tx.delete_flag(i64::MAX).await.unwrap();
    B::commit(tx).await.unwrap();

    let mut tx = b.read().await.unwrap();
    assert_eq!(tx.flag("doomed").await.unwrap(), None);
    assert_eq!(tx.config(doomed.id, prod.id).await.unwrap(), None);
    assert!(tx.configs_of_flag(doomed.id).await.unwrap().is_empty());
    assert!(tx.config_history(doomed.id, prod.id, 10).await.unwrap().is_empty());
    assert_eq!(tx.config_revision(doomed.id, prod.id, 1).await.unwrap(), None);
    assert_eq!(tx.config_revision(doomed.id, dev.id, 1).await.unwrap(), None);
    let env_flags = tx.environment_flags(prod.id).await.unwrap();
    assert_eq!(env_flags, vec![(kept.clone(), config(&kept, &prod, 1))]);
    assert_eq!(tx.config_history(kept.id, prod.id, 10).await.unwrap().len(), 1);
});
