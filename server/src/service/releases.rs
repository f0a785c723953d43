//! Releases: named, reviewed sets of configuration changes across flags and
//! environments, applied at once.
//!
//! A release is drafted, previewed ([`preview_release`]: each part's diff,
//! validation with paths, the flags whose answers may change), then applied
//! ([`apply_release`]) or scheduled. Applying writes one new version per
//! environment carrying every part, with one change record (entity
//! `release`, so a stream sends all of it as one patch), all environments in
//! the caller's one transaction; any stale base revision, running-experiment
//! conflict or compile error refuses the whole release. One audit entry
//! records it with its parts. [`revert_release`] applies the inverse as a
//! new release.

use flagyard_eval::FlagConfig;
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::release_plan::{self, OnStale, Plan, ReleaseChange};
use super::{change_record, check_revision, now_ms, rfc3339};
use crate::store::{NewAudit, Queries, ReleaseRecord, Topic};

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 4_000;

/// A release's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    /// Being written: editable.
    Draft,
    /// Waiting for its instant.
    Scheduled,
    /// Applied.
    Applied,
    /// Applied, then undone by another release.
    Reverted,
    /// A scheduled apply refused (the reason is in `failure`); editable.
    Failed,
}

impl ReleaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Draft => "draft",
            ReleaseState::Scheduled => "scheduled",
            ReleaseState::Applied => "applied",
            ReleaseState::Reverted => "reverted",
            ReleaseState::Failed => "failed",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "draft" => ReleaseState::Draft,
            "scheduled" => ReleaseState::Scheduled,
            "applied" => ReleaseState::Applied,
            "reverted" => ReleaseState::Reverted,
            "failed" => ReleaseState::Failed,
            other => return Err(Error::corrupt(format!("release state `{other}`"))),
        })
    }

    pub(super) fn editable(self) -> bool {
        matches!(self, ReleaseState::Draft | ReleaseState::Failed)
    }
}

/// A release as written by a person (create and replace).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub changes: Vec<ReleaseChange>,
    /// For a replace: the release revision it is based on (or `If-Match`).
    #[serde(default)]
    pub base_revision: Option<i64>,
}

/// What applying a part did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartOutcome {
    pub flag: String,
    pub environment: String,
    pub revision_before: i64,
    /// Equal to `revisionBefore` when the part changed nothing.
    pub revision_after: i64,
    pub before: FlagConfig,
    pub after: FlagConfig,
}

/// What applying a release did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseOutcome {
    /// Each environment's new version (`environment` → version); an
    /// environment where nothing changed is absent.
    pub versions: std::collections::BTreeMap<String, i64>,
    pub parts: Vec<PartOutcome>,
}

/// A release.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub state: ReleaseState,
    pub changes: Vec<ReleaseChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReleaseOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `fail` or `apply`: what a scheduled apply does with a stale base revision.
    pub on_stale: String,
    /// How late a scheduled apply ran, in milliseconds (the server was down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_ms: Option<i64>,
    /// Send it back (`If-Match` or `baseRevision`) to replace safely.
    pub revision: i64,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_by: Option<String>,
}

impl ReleaseView {
    pub fn new(r: &ReleaseRecord) -> Result<Self, Error> {
        Ok(ReleaseView {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            state: ReleaseState::parse(&r.state)?,
            changes: changes_of(r)?,
            outcome: outcome_of(r)?,
            failure: r.failure.clone(),
            reverts: r.reverts,
            reverted_by: r.reverted_by,
            scheduled_at: r.scheduled_at.map(rfc3339),
            expires_at: r.expires_at.map(rfc3339),
            on_stale: r.on_stale.clone(),
            late_ms: r.late_ms,
            revision: r.revision,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by.clone(),
            updated_at: rfc3339(r.updated_at),
            updated_by: r.updated_by.clone(),
            applied_at: r.applied_at.map(rfc3339),
            applied_by: r.applied_by.clone(),
        })
    }
}

/// A release's parts.
pub(crate) fn changes_of(r: &ReleaseRecord) -> Result<Vec<ReleaseChange>, Error> {
    serde_json::from_str(&r.changes).map_err(|e| Error::corrupt(format!("release {}: {e}", r.id)))
}

/// The flags release `id` changes in `environment` (what its stream patch
/// carries); empty when the release is gone.
pub async fn release_flags<T: Queries>(tx: &mut T, id: i64, environment: &str) -> Result<Vec<String>, Error> {
    let Some(r) = tx.release(id).await? else { return Ok(Vec::new()) };
    Ok(changes_of(&r)?.into_iter().filter(|c| c.environment == environment).map(|c| c.flag).collect())
}

fn to_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(Error::corrupt)
}

/// What applying the release did, once it was applied.
fn outcome_of(r: &ReleaseRecord) -> Result<Option<ReleaseOutcome>, Error> {
    r.outcome.as_deref().map(serde_json::from_str).transpose().map_err(Error::corrupt)
}

fn check_input(input: &ReleaseInput) -> Result<(), Error> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(Error::invalid("name", format!("1 to {MAX_NAME} characters")));
    }
    if input.description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid("description", format!("at most {MAX_DESCRIPTION} characters")));
    }
    release_plan::check_parts(&input.changes)
}

/// Writes `r` as changed by `actor` at `at`: one more revision.
pub(super) async fn save<T: Queries>(tx: &mut T, r: &mut ReleaseRecord, actor: &str, at: i64) -> Result<(), Error> {
    r.revision += 1;
    r.updated_at = at;
    r.updated_by = actor.to_owned();
    tx.update_release(r).await?;
    Ok(())
}

pub(crate) async fn release_of<T: Queries>(tx: &mut T, id: i64) -> Result<ReleaseRecord, Error> {
    tx.release(id).await?.ok_or_else(|| Error::NotFound(format!("release {id}")))
}

/// Releases, newest first (optionally in one state).
pub async fn list_releases<T: Queries>(
    tx: &mut T,
    state: Option<ReleaseState>,
    limit: i64,
) -> Result<Vec<ReleaseView>, Error> {
    let rows = tx.releases(state.map(ReleaseState::as_str), limit.clamp(1, 1_000)).await?;
    rows.iter().map(ReleaseView::new).collect()
}

pub async fn get_release<T: Queries>(tx: &mut T, id: i64) -> Result<ReleaseView, Error> {
    ReleaseView::new(&release_of(tx, id).await?)
}

pub(super) async fn audit_release<T: Queries>(
    tx: &mut T,
    actor: &str,
    action: &str,
    r: &ReleaseRecord,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<(), Error> {
    let key = r.id.to_string();
    let entry =
        NewAudit { at: r.updated_at, actor, action, entity: "release", key: &key, environment: None, before, after };
    tx.insert_audit(&entry).await?;
    Ok(())
}

/// Creates a draft.
pub async fn create_release<T: Queries>(tx: &mut T, actor: &str, input: ReleaseInput) -> Result<ReleaseView, Error> {
    ReleaseView::new(&insert_draft(tx, actor, input).await?)
}

/// Checks and inserts a draft, with its audit entry; the stored record.
async fn insert_draft<T: Queries>(tx: &mut T, actor: &str, input: ReleaseInput) -> Result<ReleaseRecord, Error> {
    check_input(&input)?;
    let at = now_ms();
    let mut r = ReleaseRecord {
        id: 0,
        name: input.name.trim().to_owned(),
        description: input.description,
        state: ReleaseState::Draft.as_str().into(),
        changes: to_json(&input.changes)?,
        outcome: None,
        failure: None,
        reverts: None,
        reverted_by: None,
        scheduled_at: None,
        expires_at: None,
        on_stale: "fail".into(),
        late_ms: None,
        revision: 1,
        created_at: at,
        created_by: actor.to_owned(),
        updated_at: at,
        updated_by: actor.to_owned(),
        applied_at: None,
        applied_by: None,
    };
    r.id = tx.insert_release(&r).await?;
    audit_release(tx, actor, "release.create", &r, None, Some(&r.changes)).await?;
    Ok(r)
}

/// Replaces a draft's (or a failed release's, which becomes a draft again)
/// name, description and parts.
pub async fn update_release<T: Queries>(
    tx: &mut T,
    actor: &str,
    id: i64,
    input: ReleaseInput,
) -> Result<ReleaseView, Error> {
    check_input(&input)?;
    let mut r = release_of(tx, id).await?;
    check_revision("the release", input.base_revision, r.revision)?;
    let state = ReleaseState::parse(&r.state)?;
    if !state.editable() {
        return Err(Error::Conflict(format!("release {id} is {}: only drafts can change", state.as_str())));
    }
    let before = r.changes.clone();
    r.name = input.name.trim().to_owned();
    r.description = input.description;
    r.changes = to_json(&input.changes)?;
    r.state = ReleaseState::Draft.as_str().into();
    r.failure = None;
    save(tx, &mut r, actor, now_ms()).await?;
    audit_release(tx, actor, "release.update", &r, Some(&before), Some(&r.changes)).await?;
    ReleaseView::new(&r)
}

/// Deletes a release that was never applied.
pub async fn delete_release<T: Queries>(tx: &mut T, actor: &str, id: i64) -> Result<(), Error> {
    let r = release_of(tx, id).await?;
    let state = ReleaseState::parse(&r.state)?;
    if matches!(state, ReleaseState::Applied | ReleaseState::Reverted) {
        return Err(Error::Conflict(format!("release {id} was applied: it stays in the record (revert it instead)")));
    }
    tx.delete_release(id).await?;
    audit_release(tx, actor, "release.delete", &r, Some(&r.changes), None).await
}

/// Applies `r`'s `plan` (already checked): one new version per environment
/// where something changes, each part's configuration, one change record
/// per environment, the outcome on the release, one audit entry.
pub(super) async fn write_plan<T: Queries>(
    tx: &mut T,
    actor: &str,
    r: &mut ReleaseRecord,
    plan: Plan,
    action: &str,
    at: i64,
) -> Result<ReleaseOutcome, Error> {
    let key = r.id.to_string();
    let mut outcome = ReleaseOutcome::default();
    for planned in plan.envs {
        let changed = planned.parts.iter().any(|p| p.after != p.before);
        let mut env = planned.env;
        if changed {
            env.version = tx.bump_version(env.id).await?;
        }
        for p in planned.parts {
            let revision_after = if p.after == p.before {
                p.current.revision
            } else {
                let record = crate::store::ConfigRecord {
                    config: to_json(&p.after)?,
                    revision: p.current.revision + 1,
                    updated_at: at,
                    updated_by: actor.to_owned(),
                    ..p.current.clone()
                };
                tx.put_config(&record).await?;
                if p.ramp_running {
                    super::ramp_edits::on_edit(tx, actor, &p.flag, &env, &p.after, record.revision).await?;
                }
                record.revision
            };
            outcome.parts.push(PartOutcome {
                flag: p.flag.key,
                environment: env.key.clone(),
                revision_before: p.current.revision,
                revision_after,
                before: p.before,
                after: p.after,
            });
        }
        if changed {
            tx.insert_change(&change_record(&env, "release", &key, "put", at)).await?;
            outcome.versions.insert(env.key.clone(), env.version);
        }
    }
    if !outcome.versions.is_empty() {
        tx.notify(Topic::Changes).await?;
    }
    r.state = ReleaseState::Applied.as_str().into();
    r.outcome = Some(to_json(&outcome)?);
    r.failure = None;
    r.applied_at = Some(at);
    r.applied_by = Some(actor.to_owned());
    save(tx, r, actor, at).await?;
    let parts = to_json(&outcome.parts)?;
    audit_release(tx, actor, action, r, Some(&r.changes), Some(&parts)).await?;
    Ok(outcome)
}

/// Applies a draft (or a scheduled or failed release) now, all or nothing.
pub async fn apply_release<T: Queries>(
    tx: &mut T,
    actor: &str,
    id: i64,
    base_revision: Option<i64>,
) -> Result<ReleaseView, Error> {
    let mut r = release_of(tx, id).await?;
    check_revision("the release", base_revision, r.revision)?;
    let state = ReleaseState::parse(&r.state)?;
    if matches!(state, ReleaseState::Applied | ReleaseState::Reverted) {
        return Err(Error::Conflict(format!("release {id} is already {}", state.as_str())));
    }
    let changes = changes_of(&r)?;
    if changes.is_empty() {
        return Err(Error::invalid("changes", "the release has no changes"));
    }
    let plan = release_plan::plan(tx, &changes, OnStale::Fail, false).await?;
    plan.check()?;
    r.scheduled_at = None;
    write_plan(tx, actor, &mut r, plan, "release.apply", now_ms()).await?;
    ReleaseView::new(&r)
}

/// Reverts an applied release: a new release that puts back every changed
/// part's configuration as it was before, based on the revision the release
/// left (so an edit made since is a conflict, not overwritten), applied now.
pub async fn revert_release<T: Queries>(tx: &mut T, actor: &str, id: i64) -> Result<ReleaseView, Error> {
    let mut original = release_of(tx, id).await?;
    let state = ReleaseState::parse(&original.state)?;
    if state != ReleaseState::Applied {
        return Err(Error::Conflict(format!(
            "release {id} is {}: only an applied release can be reverted",
            state.as_str()
        )));
    }
    let outcome = outcome_of(&original)?.unwrap_or_default();
    let changes: Vec<ReleaseChange> = outcome
        .parts
        .into_iter()
        .filter(|p| p.revision_after != p.revision_before)
        .map(|p| ReleaseChange::restoring(&p.flag, &p.environment, p.before, p.revision_after))
        .collect();
    let name: String = format!("Revert #{id}: {}", original.name).chars().take(MAX_NAME).collect();
    let input = ReleaseInput {
        name,
        description: format!("Puts back what release {id} changed."),
        changes,
        base_revision: None,
    };
    let plan = release_plan::plan(tx, &input.changes, OnStale::Fail, false).await?;
    plan.check()?;
    let mut revert = insert_draft(tx, actor, input).await?;
    revert.reverts = Some(id);
    write_plan(tx, actor, &mut revert, plan, "release.revert", now_ms()).await?;
    original.state = ReleaseState::Reverted.as_str().into();
    original.reverted_by = Some(revert.id);
    save(tx, &mut original, actor, revert.updated_at).await?;
    ReleaseView::new(&revert)
}

/// What applying release `id` now would do.
pub async fn preview_release<T: Queries>(tx: &mut T, id: i64) -> Result<release_plan::ReleasePreview, Error> {
    let r = release_of(tx, id).await?;
    release_plan::preview(tx, id, &changes_of(&r)?).await
}
