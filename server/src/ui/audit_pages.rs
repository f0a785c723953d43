//! The audit log page: who changed what, when, with a readable line diff of
//! the state before and after (a flag configuration in the rules editor's words, anything else as indented JSON), filters, paging, and
//! `POST /audit/{id}/rollback`, which restores the flag configuration an
//! entry recorded as a new revision through the service the admin API's
//! rollback uses.
//!
//! An audit entry does not store the revision it produced: it is found in
//! the configuration's history by the entry's time (and text). The page
//! reads one history per flag/environment pair shown (at most one per
//! entry of a page), whatever the size of the database.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use flagyard_web::{AuditEntry, AuditFilter, AuditPage, ConfirmPage, FlashKind, RollbackTarget, Section};

use super::answer::{done, encode, frame, page, when};
use super::error::UiError;
use super::request::{Pairs, Params, Posted, Signed, authorize, confirmed, field, is_production, write_value};
use crate::auth::Role;
use crate::service;
use crate::service::Error as DomainError;
use crate::state::AppState;
use crate::store::{AuditQueries, AuditQuery, AuditRecord, Backend, ConfigRecord, Queries};

/// Entries per page.
const PAGE: i64 = 50;
/// Revisions of one configuration searched for the entries of a page.
const HISTORY: i64 = 500;

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new().route("/audit", get(audit::<B>)).route("/audit/{id}/rollback", post(rollback::<B>))
}

/// JSON text pretty-printed (as stored when it is not JSON).
/// A recorded state as the audit log shows it: a flag configuration in the
/// rules editor's words (`config_words`), anything else as indented JSON.
fn readable(entity: &str, text: Option<&str>) -> String {
    match text {
        Some(json) if entity == "config" => super::config_words::config_text(json).unwrap_or_else(|| pretty(text)),
        _ => pretty(text),
    }
}

fn pretty(text: Option<&str>) -> String {
    let Some(text) = text else { return String::new() };
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// Whether `a` records a flag configuration (something to restore).
fn config_entry(a: &AuditRecord) -> Option<(&str, &str)> {
    match (a.entity.as_str(), a.environment.as_deref(), a.after.as_deref()) {
        ("config", Some(env), Some(_)) => Some((a.key.as_str(), env)),
        _ => None,
    }
}

/// The revision `entry` produced, among `history` (newest first).
fn revision_of(entry: &AuditRecord, history: &[ConfigRecord]) -> Option<i64> {
    let at = history.iter().filter(|c| c.updated_at == entry.at);
    let mut candidates = at.clone();
    candidates
        .find(|c| Some(c.config.as_str()) == entry.after.as_deref())
        .or_else(|| at.clone().next())
        .map(|c| c.revision)
}

/// Histories (newest first) of the configurations the entries record, by (flag, environment).
async fn histories<T: Queries>(
    tx: &mut T,
    entries: &[AuditRecord],
    limit: i64,
) -> Result<HashMap<(String, String), Vec<ConfigRecord>>, DomainError> {
    let pairs: HashSet<(String, String)> =
        entries.iter().filter_map(config_entry).map(|(f, e)| (f.to_owned(), e.to_owned())).collect();
    let mut out = HashMap::new();
    if pairs.is_empty() {
        return Ok(out);
    }
    let keys: Vec<String> = pairs.iter().map(|(f, _)| f.clone()).collect::<HashSet<_>>().into_iter().collect();
    let flags: HashMap<String, i64> = tx.flags_by_keys(&keys).await?.into_iter().map(|f| (f.key, f.id)).collect();
    let envs: HashMap<String, i64> = tx.environments().await?.into_iter().map(|e| (e.key, e.id)).collect();
    for (flag, env) in pairs {
        if let (Some(&flag_id), Some(&env_id)) = (flags.get(&flag), envs.get(&env)) {
            let history = tx.config_history(flag_id, env_id, limit).await?;
            out.insert((flag, env), history);
        }
    }
    Ok(out)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

async fn audit<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Params(filter): Params<AuditFilter>,
) -> Result<Response, UiError> {
    user.require(Role::Viewer)?;
    let query = AuditQuery {
        flag: non_empty(&filter.flag),
        actor: non_empty(&filter.actor),
        environment: non_empty(&filter.environment),
        since: None,
        until: None,
        before_id: filter.before.trim().parse().ok(),
        limit: PAGE + 1,
    };
    let mut tx = s.store.read().await?;
    let mut records = tx.audit(&query).await?;
    let more = records.len() > PAGE as usize;
    records.truncate(PAGE as usize);
    let histories = histories(&mut tx, &records, HISTORY).await?;
    drop(tx);
    let next_before = if more { records.last().map(|a| a.id.to_string()) } else { None };
    let entries = records
        .iter()
        .map(|a| {
            let rollback = config_entry(a).and_then(|(flag, env)| {
                let history = histories.get(&(flag.to_owned(), env.to_owned()))?;
                let revision = revision_of(a, history)?;
                // The current revision needs no restoring.
                let current = history.first().map(|c| c.revision);
                (current != Some(revision)).then(|| RollbackTarget {
                    flag: flag.to_owned(),
                    environment: env.to_owned(),
                    revision: u64::try_from(revision).unwrap_or_default(),
                })
            });
            let target = match &a.environment {
                Some(env) => format!("{} / {env}", a.key),
                None => format!("{} {}", a.entity, a.key),
            };
            AuditEntry {
                id: a.id.to_string(),
                at: when(a.at),
                actor: a.actor.clone(),
                action: a.action.clone(),
                target,
                before: readable(&a.entity, a.before.as_deref()),
                after: readable(&a.entity, a.after.as_deref()),
                rollback,
            }
        })
        .collect();
    let layout = frame(&user, &headers, "Audit log", Section::Audit);
    Ok(page(&user, &AuditPage { layout, filter, entries, next_before }))
}

/// What a rollback restored.
struct Restored {
    flag: String,
    environment: String,
    from: i64,
    revision: i64,
}

/// The flag, environment and revision audit entry `id` recorded.
async fn restorable<T: Queries + AuditQueries>(tx: &mut T, id: i64) -> Result<(String, String, i64), DomainError> {
    let query = AuditQuery { before_id: id.checked_add(1), limit: 1, ..AuditQuery::default() };
    let entry = tx.audit(&query).await?.into_iter().find(|a| a.id == id);
    let entry = entry.ok_or_else(|| DomainError::NotFound(format!("audit entry {id}")))?;
    let (flag, env) = config_entry(&entry)
        .map(|(f, e)| (f.to_owned(), e.to_owned()))
        .ok_or_else(|| DomainError::Conflict("this entry records no flag configuration to restore".into()))?;
    let history = histories(tx, std::slice::from_ref(&entry), i64::MAX).await?;
    let revision = history.get(&(flag.clone(), env.clone())).and_then(|h| revision_of(&entry, h)).ok_or_else(|| {
        DomainError::NotFound(format!("the revision entry {id} recorded of flag `{flag}` in `{env}`"))
    })?;
    Ok((flag, env, revision))
}

async fn restore<T: Queries>(tx: &mut T, actor: &str, id: i64) -> Result<Restored, DomainError> {
    let (flag, env, revision) = restorable(tx, id).await?;
    let view = service::rollback_config(tx, actor, &flag, &env, revision, None).await?;
    Ok(Restored { flag, environment: env, from: revision, revision: view.revision })
}

async fn rollback<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let id: i64 = id.parse().map_err(|_| DomainError::NotFound(format!("audit entry `{id}`")))?;
    if !confirmed(&pairs) {
        let mut tx = s.store.read().await?;
        let found = restorable(&mut tx, id).await;
        drop(tx);
        let (flag, env, revision) = match found {
            Ok(found) => found,
            Err(e @ (DomainError::Conflict(_) | DomainError::ConflictAt { .. } | DomainError::NotFound(_))) => {
                return Ok(done(&headers, "/audit", FlashKind::Error, &format!("Nothing was restored: {e}")));
            }
            Err(e) => return Err(e.into()),
        };
        let production = if is_production(&env) { " This is production." } else { "" };
        let view = ConfirmPage {
            layout: frame(&user, &headers, "Confirm", Section::Audit),
            question: format!("Restore revision {revision} of {flag} in {env}?"),
            detail: format!(
                "Its configuration becomes a new revision, in force at once for every SDK in {env}; \
                 the current one stays in the history.{production}"
            ),
            action: format!("/audit/{id}/rollback"),
            confirm_label: format!("Restore revision {revision}"),
            cancel_href: format!("/audit?flag={}", encode(&flag)),
            fields: Vec::new(),
        };
        return Ok(page(&user, &view));
    }
    let actor = user.actor();
    match write_value(&s, move |tx| Box::pin(async move { restore(tx, &actor, id).await })).await {
        Ok(r) => {
            let message =
                format!("Restored revision {} of {} in {} as revision {}.", r.from, r.flag, r.environment, r.revision);
            Ok(done(&headers, &format!("/audit?flag={}", encode(&r.flag)), FlashKind::Success, &message))
        }
        Err(e @ (DomainError::Conflict(_) | DomainError::ConflictAt { .. } | DomainError::Invalid { .. })) => {
            Ok(done(&headers, "/audit", FlashKind::Error, &format!("Nothing was restored: {e}")))
        }
        Err(e) => Err(e.into()),
    }
}
