//! The flags list's data: every flag with its state in every environment,
//! loaded in one query per environment (no query per flag), then searched
//! and filtered in memory.
//!
//! The list's version is the sum of the environments' versions: every write
//! that changes what the list shows (a toggle, a rule, a flag created,
//! changed or deleted) bumps at least one of them, so it only grows. The
//! live-update stream (`/ui/events`) announces the same number.
//!
//! `catalog_cache.rs` keeps the loaded catalog between requests.
//!
//! A flag is *stale* when nothing about it varies any more (no rules and no
//! prerequisites in any environment) and nothing changed for
//! [`STALE_AFTER_DAYS`] days: a candidate for removal from the code.

use std::collections::{BTreeSet, HashMap};

use flagyard_web::{EnvColumn, EnvState, FlagRow, FlagsFilter};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::request::is_production;
use crate::http::ApiError;
use crate::service::Error as DomainError;
use crate::service::now_ms;
use crate::state::AppState;
use crate::store::{Backend, ConfigRecord, Environment, FlagRecord, Queries, RampFilter, RampQueries, StoreError};

/// Unchanged this long (and without rules) = stale.
pub const STALE_AFTER_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// The whole list before filtering.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// One column per environment, in environment order.
    pub columns: Vec<EnvColumn>,
    /// Every flag, by key (`stale` and `updated` are filled when shown).
    pub rows: Vec<FlagRow>,
    /// Per row: when it last changed and whether it has rules.
    pub(super) meta: Vec<Meta>,
    /// Every tag in use, sorted.
    pub tags: Vec<String>,
    /// Sum of the environments' versions.
    pub version: u64,
}

/// What a row's time-dependent parts are computed from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Meta {
    last_change: i64,
    varies: bool,
}

/// What the list needs of a stored configuration (skips the rest unparsed).
#[derive(Deserialize)]
struct Light {
    enabled: bool,
    #[serde(default)]
    rules: Vec<IgnoredAny>,
    #[serde(default)]
    prerequisites: Vec<IgnoredAny>,
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> DomainError {
    DomainError::Store(StoreError::Corrupt(format!("flag `{key}`: {e}")))
}

/// The list version of `environments`: the sum of their versions.
pub fn list_version(environments: &[Environment]) -> u64 {
    environments.iter().map(|e| u64::try_from(e.version).unwrap_or(0)).sum()
}

/// The columns of `environments`.
pub fn columns(environments: &[Environment]) -> Vec<EnvColumn> {
    environments.iter().map(|e| EnvColumn { key: e.key.clone(), production: is_production(&e.key) }).collect()
}

/// A row being assembled: the flag and, per column, its configuration.
struct Building {
    row: FlagRow,
    last_change: i64,
    varies: bool,
}

fn start(flag: &FlagRecord, width: usize) -> Result<Building, ApiError> {
    let tags: Vec<String> = serde_json::from_str(&flag.tags).map_err(|e| corrupt(&flag.key, e))?;
    Ok(Building {
        row: FlagRow {
            key: flag.key.clone(),
            name: if flag.name == flag.key { String::new() } else { flag.name.clone() },
            description: flag.description.clone(),
            value_type: flag.kind.clone(),
            tags,
            stale: false,
            ramp: String::new(),
            archived: flag.archived,
            environments: Vec::with_capacity(width),
            updated: String::new(),
        },
        last_change: flag.updated_at,
        varies: false,
    })
}

fn add(b: &mut Building, env: &Environment, config: &ConfigRecord) -> Result<(), ApiError> {
    let light: Light = serde_json::from_str(&config.config).map_err(|e| corrupt(&b.row.key, e))?;
    b.varies |= !light.rules.is_empty() || !light.prerequisites.is_empty();
    b.last_change = b.last_change.max(config.updated_at);
    b.row.environments.push(EnvState {
        environment: env.key.clone(),
        enabled: light.enabled,
        production: is_production(&env.key),
        revision: u64::try_from(config.revision).unwrap_or(0),
    });
    Ok(())
}

/// Fills the time-dependent parts of a row.
fn finish(row: &mut FlagRow, meta: Meta, now: i64) {
    row.stale = !row.archived && !meta.varies && now - meta.last_change > STALE_AFTER_DAYS * DAY_MS;
    row.updated = ago(meta.last_change, now);
}

/// Every flag with its state in every environment: one query per environment.
pub(super) async fn build<T: Queries>(tx: &mut T, environments: &[Environment]) -> Result<Catalog, ApiError> {
    let width = environments.len();
    let mut building: Vec<Building> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for env in environments {
        for (flag, config) in tx.environment_flags(env.id).await? {
            let i = match index.get(&flag.id) {
                Some(&i) => i,
                None => {
                    building.push(start(&flag, width)?);
                    index.insert(flag.id, building.len() - 1);
                    building.len() - 1
                }
            };
            add(&mut building[i], env, &config)?;
        }
    }
    building.sort_unstable_by(|a, b| a.row.key.cmp(&b.row.key));
    let meta = building.iter().map(|b| Meta { last_change: b.last_change, varies: b.varies }).collect();
    let rows: Vec<FlagRow> = building.into_iter().map(|b| b.row).collect();
    let tags = tags_of(&rows);
    Ok(Catalog { columns: columns(environments), rows, meta, tags, version: list_version(environments) })
}

/// One flag's row and its meta, or `None` if there is no such flag.
pub(super) async fn row_of<T: Queries>(
    tx: &mut T,
    key: &str,
    environments: &[Environment],
) -> Result<Option<(FlagRow, Meta)>, ApiError> {
    let Some(flag) = tx.flag(key).await? else { return Ok(None) };
    let configs = tx.configs_of_flag(flag.id).await?;
    let mut b = start(&flag, environments.len())?;
    for env in environments {
        if let Some(config) = configs.iter().find(|c| c.environment_id == env.id) {
            add(&mut b, env, config)?;
        }
    }
    let meta = Meta { last_change: b.last_change, varies: b.varies };
    Ok(Some((b.row, meta)))
}

/// One flag's row as shown now (after a toggle), or 404.
pub async fn load_row<T: Queries>(tx: &mut T, key: &str) -> Result<FlagRow, ApiError> {
    let environments = tx.environments().await?;
    let (mut row, meta) =
        row_of(tx, key, &environments).await?.ok_or_else(|| DomainError::NotFound(format!("flag `{key}`")))?;
    finish(&mut row, meta, now_ms());
    Ok(row)
}

/// Every tag of `rows`, sorted, once each.
pub(super) fn tags_of(rows: &[FlagRow]) -> Vec<String> {
    let tags: BTreeSet<&String> = rows.iter().flat_map(|r| r.tags.iter()).collect();
    tags.into_iter().cloned().collect()
}

/// Whether `hay` contains `needle` (already lowercase), ignoring case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

/// Whether `row` passes `filter` (`columns` gives the environment positions).
fn keep(row: &FlagRow, filter: &FlagsFilter, needle: &str, column: Option<usize>) -> bool {
    let text = contains_ci(&row.key, needle) || contains_ci(&row.name, needle) || contains_ci(&row.description, needle);
    let tag = filter.tag.is_empty() || row.tags.contains(&filter.tag);
    let want = match filter.state.as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    };
    let state = match (want, column) {
        (None, _) => true,
        (Some(w), Some(c)) => row.environments.get(c).is_some_and(|e| e.enabled == w),
        (Some(w), None) => row.environments.iter().any(|e| e.enabled == w),
    };
    text && tag && state
}

/// The rows of `catalog` that pass `filter` at time `now`, in key order.
pub fn filter(catalog: &Catalog, filter: &FlagsFilter, now: i64) -> Vec<FlagRow> {
    let needle = filter.q.trim().to_lowercase();
    // An unknown environment matches nothing rather than everything.
    let column = catalog.columns.iter().position(|c| c.key == filter.env);
    if !filter.env.is_empty() && column.is_none() {
        return Vec::new();
    }
    let mut rows = Vec::new();
    for (row, meta) in catalog.rows.iter().zip(&catalog.meta) {
        let stale = !row.archived && !meta.varies && now - meta.last_change > STALE_AFTER_DAYS * DAY_MS;
        if filter.stale && !stale {
            continue;
        }
        if keep(row, filter, &needle, column) {
            let mut row = row.clone();
            finish(&mut row, *meta, now);
            rows.push(row);
        }
    }
    rows
}

/// Marks the rows whose flag has a ramp running or paused (`ramping`), or
/// whose newest ramp in an environment was rolled back (`rolled back`,
/// which wins): one query over the newest ramps, per request (a ramp's
/// state is not in the cached catalog).
pub(super) async fn mark_ramps<B: Backend>(state: &AppState<B>, rows: &mut [FlagRow]) -> Result<(), ApiError> {
    let mut tx = state.store.read().await?;
    let ramps = tx.ramps(RampFilter::default(), 500).await?;
    drop(tx);
    let mut newest: HashMap<(&str, i64), &str> = HashMap::new();
    for r in &ramps {
        newest.entry((r.flag_key.as_str(), r.environment_id)).or_insert(r.state.as_str());
    }
    let mut badge: HashMap<&str, &str> = HashMap::new();
    for ((flag, _), state) in newest {
        let b = match state {
            "rolled_back" => "rolled back",
            "running" | "paused" => "ramping",
            _ => continue,
        };
        let slot = badge.entry(flag).or_insert(b);
        if b == "rolled back" {
            *slot = b;
        }
    }
    for row in rows.iter_mut() {
        if let Some(b) = badge.get(row.key.as_str()) {
            (*b).clone_into(&mut row.ramp);
        }
    }
    Ok(())
}

/// "just now", "5 min ago", "3 h ago", "12 d ago", "4 mo ago", "2 y ago".
pub fn ago(at: i64, now: i64) -> String {
    let secs = (now - at).max(0) / 1000;
    match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        86_400..5_184_000 => format!("{} d ago", secs / 86_400),
        5_184_000..63_072_000 => format!("{} mo ago", secs / 2_592_000),
        _ => format!("{} y ago", secs / 31_536_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, name: &str, tags: &[&str], on: &[bool]) -> FlagRow {
        FlagRow {
            key: key.into(),
            name: name.into(),
            description: String::new(),
            value_type: "boolean".into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            stale: false,
            ramp: String::new(),
            archived: false,
            environments: on
                .iter()
                .zip(["dev", "prod"])
                .map(|(e, k)| EnvState { environment: k.into(), enabled: *e, production: k == "prod", revision: 1 })
                .collect(),
            updated: String::new(),
        }
    }

    fn catalog() -> Catalog {
        Catalog {
            columns: ["dev", "prod"].map(|k| EnvColumn { key: k.into(), production: k == "prod" }).to_vec(),
            rows: vec![
                row("checkout", "New Checkout", &["pay"], &[true, false]),
                row("search", "Süßer Suche", &[], &[false, false]),
            ],
            meta: vec![Meta { last_change: NOW, varies: true }, Meta { last_change: NOW - 40 * DAY_MS, varies: false }],
            tags: vec!["pay".into()],
            version: 7,
        }
    }

    const NOW: i64 = 1_738_324_800_000;

    fn keys(f: FlagsFilter) -> Vec<String> {
        filter(&catalog(), &f, NOW).into_iter().map(|r| r.key).collect()
    }

    #[test]
    fn filters() {
        assert_eq!(keys(FlagsFilter::default()), ["checkout", "search"]);
        assert_eq!(keys(FlagsFilter { q: "CHECK".into(), ..FlagsFilter::default() }), ["checkout"]);
        assert_eq!(keys(FlagsFilter { q: "süSSER".into(), ..FlagsFilter::default() }), Vec::<String>::new());
        assert_eq!(keys(FlagsFilter { q: "SÜß".into(), ..FlagsFilter::default() }), ["search"]);
        assert_eq!(keys(FlagsFilter { tag: "pay".into(), ..FlagsFilter::default() }), ["checkout"]);
        let on_dev = FlagsFilter { env: "dev".into(), state: "on".into(), ..FlagsFilter::default() };
        assert_eq!(keys(on_dev), ["checkout"]);
        let off_prod = FlagsFilter { env: "prod".into(), state: "off".into(), ..FlagsFilter::default() };
        assert_eq!(keys(off_prod), ["checkout", "search"]);
        assert_eq!(keys(FlagsFilter { state: "on".into(), ..FlagsFilter::default() }), ["checkout"]);
        assert_eq!(keys(FlagsFilter { stale: true, ..FlagsFilter::default() }), ["search"]);
        assert!(keys(FlagsFilter { env: "nope".into(), ..FlagsFilter::default() }).is_empty());
        let shown = filter(&catalog(), &FlagsFilter::default(), NOW);
        assert_eq!((shown[1].stale, shown[1].updated.as_str()), (true, "40 d ago"));
    }

    #[test]
    fn ages() {
        let now = NOW;
        assert_eq!(ago(now - 5_000, now), "just now");
        assert_eq!(ago(now - 300_000, now), "5 min ago");
        assert_eq!(ago(now - 3 * 3_600_000, now), "3 h ago");
        assert_eq!(ago(now - 12 * DAY_MS, now), "12 d ago");
        assert_eq!(ago(now - 90 * DAY_MS, now), "3 mo ago");
        assert_eq!(ago(now - 800 * DAY_MS, now), "2 y ago");
    }
}
