//! The flags list's catalog, kept between requests.
//!
//! Every write the list shows bumps an environment's version in the same
//! transaction and appends one change record per version (`entity`, `key`).
//! So the environments' versions are an exact key: while they are unchanged
//! a page costs one query. When they moved, the kept catalog is brought up
//! to date from the change log, re-reading only the flags named there (a
//! toggle: one change, two queries); an environment created, a trimmed log
//! or a long gap falls back to a full load. Versions are read before rows,
//! so a catalog is never older than its key.
//!
//! One catalog is kept per server: the UI router carries it as a request
//! extension.

use std::collections::BTreeSet;
use std::sync::Arc;

use moka::sync::Cache;

use super::flag_rows::{self, Catalog};
use crate::http::ApiError;
use crate::state::AppState;
use crate::store::{Backend, Environment, EnvironmentQueries, Queries};

/// More changes than this since the kept catalog: load it all again.
const PATCH_LIMIT: i64 = 200;

/// Environment ids and versions, in environment order.
type Key = Vec<(i64, i64)>;

/// The catalog kept between requests, with the key it was read at (one per
/// server, in its state): a cache of one entry, the last catalog loaded,
/// which the next load either serves (same key) or brings up to date.
pub struct CatalogCache(Cache<(), (Key, Arc<Catalog>)>);

impl Default for CatalogCache {
    fn default() -> Self {
        CatalogCache(Cache::new(1))
    }
}

impl CatalogCache {
    fn get(&self) -> Option<(Key, Arc<Catalog>)> {
        self.0.get(&())
    }

    fn put(&self, key: Key, catalog: Arc<Catalog>) {
        self.0.insert((), (key, catalog));
    }
}

/// The current catalog: kept, brought up to date, or loaded.
pub async fn load<B: Backend>(state: &AppState<B>, kept: &CatalogCache) -> Result<Arc<Catalog>, ApiError> {
    let mut tx = state.store.read().await?;
    let environments = tx.environments().await?;
    let key: Key = environments.iter().map(|e| (e.id, e.version)).collect();
    let old = kept.get();
    if let Some((old_key, catalog)) = &old
        && *old_key == key
    {
        return Ok(catalog.clone());
    }
    let patched = match &old {
        Some((old_key, catalog)) => patch(&mut tx, catalog, old_key, &environments).await?,
        None => None,
    };
    let catalog = match patched {
        Some(c) => c,
        None => flag_rows::build(&mut tx, &environments).await?,
    };
    drop(tx);
    let catalog = Arc::new(catalog);
    kept.put(key, catalog.clone());
    Ok(catalog)
}

/// `old` (at `old_key`) brought up to `environments` from the change log, or
/// `None` when a full load is needed.
async fn patch<T: Queries>(
    tx: &mut T,
    old: &Catalog,
    old_key: &[(i64, i64)],
    environments: &[Environment],
) -> Result<Option<Catalog>, ApiError> {
    if old_key.len() != environments.len() {
        return Ok(None);
    }
    let mut changed = BTreeSet::new();
    for (env, &(id, was)) in environments.iter().zip(old_key) {
        let behind = env.version - was;
        if env.id != id || !(0..=PATCH_LIMIT).contains(&behind) {
            return Ok(None);
        }
        if behind == 0 {
            continue;
        }
        let changes = tx.changes_after(env.id, was, behind).await?;
        // Fewer records than versions: the log was trimmed.
        if i64::try_from(changes.len()).unwrap_or(0) < behind {
            return Ok(None);
        }
        for change in changes {
            match change.entity.as_str() {
                "flag" => {
                    changed.insert(change.key);
                }
                "release" => {
                    let Ok(id) = change.key.parse::<i64>() else { return Ok(None) };
                    changed.extend(crate::service::release_flags(tx, id, &env.key).await?);
                }
                "segment" => {}
                _ => return Ok(None),
            }
        }
    }
    let (mut rows, mut meta) = (old.rows.clone(), old.meta.clone());
    for key in changed {
        let at = rows.binary_search_by(|r| r.key.as_str().cmp(key.as_str()));
        match (flag_rows::row_of(tx, &key, environments).await?, at) {
            (Some((row, m)), Ok(i)) => (rows[i], meta[i]) = (row, m),
            (Some((row, m)), Err(i)) => {
                rows.insert(i, row);
                meta.insert(i, m);
            }
            (None, Ok(i)) => {
                rows.remove(i);
                meta.remove(i);
            }
            (None, Err(_)) => {}
        }
    }
    let tags = flag_rows::tags_of(&rows);
    let version = flag_rows::list_version(environments);
    Ok(Some(Catalog { columns: flag_rows::columns(environments), rows, meta, tags, version }))
}
