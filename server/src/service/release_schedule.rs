//! Scheduled releases: schedule, reschedule and cancel ([`schedule_release`],
//! [`unschedule_release`]), and the scheduler's step ([`run_due_release`]):
//! claim the earliest due release and apply it, or fail it with a reason
//! that the release, the audit log and the UI show.
//!
//! Exactly once: the step runs in a write transaction, and writing
//! transactions are one at a time (the single writer; on Postgres also its
//! advisory lock across replicas), and the due row is taken `FOR UPDATE
//! SKIP LOCKED`: a second replica finds the release applied, or skips it.
//! Across restarts nothing is lost: a release whose instant passed while the
//! server was down is due at start, applied and marked late by how late,
//! unless its expiry passed too.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::release_plan::{self, OnStale, ReleaseChange};
use super::releases::{
    ReleaseInput, ReleaseState, ReleaseView, audit_release, changes_of, create_release, release_of, save, write_plan,
};
use super::{check_revision, now_ms, rfc3339};
use crate::store::{Queries, ReleaseRecord};

/// When and how to apply a release later.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleInput {
    /// RFC 3339 with an offset, e.g. `2026-12-24T18:00:00+01:00`.
    pub at: String,
    /// RFC 3339: when the server was down at `at` and comes back after this
    /// instant, the release is not applied (it fails as expired). Without
    /// it, an overdue release is applied at start and marked late.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `fail` (default): a part whose base revision no longer matches fails
    /// the release; `apply`: applied on top of the newer configuration.
    #[serde(default)]
    pub on_stale: Option<String>,
    /// The release revision this is based on (or `If-Match`).
    #[serde(default)]
    pub base_revision: Option<i64>,
}

fn instant(field: &str, text: &str) -> Result<i64, Error> {
    flagyard_eval::parse_rfc3339_millis(text)
        .ok_or_else(|| Error::invalid(field, format!("`{text}` is not an RFC 3339 instant with an offset")))
}

/// Schedules a draft (or reschedules a scheduled release) for `input.at`.
pub async fn schedule_release<T: Queries>(
    tx: &mut T,
    actor: &str,
    id: i64,
    input: ScheduleInput,
) -> Result<ReleaseView, Error> {
    let at = instant("at", &input.at)?;
    let expires = input.expires_at.as_deref().map(|e| instant("expiresAt", e)).transpose()?;
    if expires.is_some_and(|e| e < at) {
        return Err(Error::invalid("expiresAt", "must not be before `at`"));
    }
    let on_stale = match input.on_stale.as_deref() {
        None => OnStale::Fail,
        Some(s) => OnStale::parse(s).ok_or_else(|| Error::invalid("onStale", format!("`{s}`: `fail` or `apply`")))?,
    };
    let mut r = release_of(tx, id).await?;
    check_revision("the release", input.base_revision, r.revision)?;
    let state = ReleaseState::parse(&r.state)?;
    if !(state.editable() || state == ReleaseState::Scheduled) {
        return Err(Error::Conflict(format!("release {id} is {}: it cannot be scheduled", state.as_str())));
    }
    let changes = changes_of(&r)?;
    if changes.is_empty() {
        return Err(Error::invalid("changes", "the release has no changes"));
    }
    // What would fail now is refused now: a schedule is a promise.
    release_plan::plan(tx, &changes, on_stale, false).await?.check()?;
    r.state = ReleaseState::Scheduled.as_str().into();
    r.scheduled_at = Some(at);
    r.expires_at = expires;
    r.on_stale = on_stale.as_str().into();
    r.failure = None;
    r.late_ms = None;
    save(tx, &mut r, actor, now_ms()).await?;
    let after = serde_json::json!({"scheduledAt": rfc3339(at), "expiresAt": expires.map(rfc3339), "onStale": on_stale.as_str()});
    audit_release(tx, actor, "release.schedule", &r, None, Some(&after.to_string())).await?;
    ReleaseView::new(&r)
}

/// One configuration change to schedule: the fields of a `PATCH` (or all of
/// a `PUT`) and when.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduledChangeInput {
    /// RFC 3339 with an offset.
    pub at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `fail` (default) or `apply`.
    #[serde(default)]
    pub on_stale: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub off_variant: Option<String>,
    #[serde(default)]
    pub default_variant: Option<String>,
    #[serde(default)]
    pub prerequisites: Option<Vec<flagyard_eval::Prerequisite>>,
    #[serde(default)]
    pub rules: Option<Vec<flagyard_eval::Rule>>,
    /// The configuration revision the change is based on.
    #[serde(default)]
    pub base_revision: Option<i64>,
}

/// Schedules one change of `flag` in `environment`: a release of that one
/// change, scheduled (listed, rescheduled and cancelled as releases are).
pub async fn schedule_change<T: Queries>(
    tx: &mut T,
    actor: &str,
    flag: &str,
    environment: &str,
    input: ScheduledChangeInput,
) -> Result<ReleaseView, Error> {
    let change = ReleaseChange {
        flag: flag.to_owned(),
        environment: environment.to_owned(),
        enabled: input.enabled,
        off_variant: input.off_variant,
        default_variant: input.default_variant,
        prerequisites: input.prerequisites,
        rules: input.rules,
        base_revision: input.base_revision,
    };
    let release = ReleaseInput {
        name: format!("Scheduled change of `{flag}` in `{environment}`"),
        description: String::new(),
        changes: vec![change],
        base_revision: None,
    };
    let created = create_release(tx, actor, release).await?;
    let when =
        ScheduleInput { at: input.at, expires_at: input.expires_at, on_stale: input.on_stale, base_revision: None };
    schedule_release(tx, actor, created.id, when).await
}

/// Cancels a scheduled release: it is a draft again.
pub async fn unschedule_release<T: Queries>(
    tx: &mut T,
    actor: &str,
    id: i64,
    base_revision: Option<i64>,
) -> Result<ReleaseView, Error> {
    let mut r = release_of(tx, id).await?;
    check_revision("the release", base_revision, r.revision)?;
    if r.state != ReleaseState::Scheduled.as_str() {
        return Err(Error::Conflict(format!("release {id} is {}: it is not scheduled", r.state)));
    }
    let was = serde_json::json!({"scheduledAt": r.scheduled_at.map(rfc3339)}).to_string();
    r.state = ReleaseState::Draft.as_str().into();
    r.scheduled_at = None;
    r.expires_at = None;
    save(tx, &mut r, actor, now_ms()).await?;
    audit_release(tx, actor, "release.unschedule", &r, Some(&was), None).await?;
    ReleaseView::new(&r)
}

/// A scheduled apply later than this counts as late (the server was down or
/// stopped); below it, the scheduler merely woke up a little after the instant.
pub const LATE_AFTER_MS: i64 = 10_000;

/// What the scheduler did with one due release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduledOutcome {
    /// Applied on time.
    Applied,
    /// Applied, later than [`LATE_AFTER_MS`] after its instant.
    Late,
    /// Refused (stale base revision, validation): nothing applied.
    Failed,
    /// Its expiry passed before it could run: nothing applied.
    Expired,
}

impl ScheduledOutcome {
    /// The label of `flagyard_scheduled_changes_total{outcome}`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduledOutcome::Applied => "applied",
            ScheduledOutcome::Late => "late",
            ScheduledOutcome::Failed => "failed",
            ScheduledOutcome::Expired => "expired",
        }
    }
}

/// The actor the scheduler writes as.
pub const SCHEDULER: &str = "scheduler";

/// One scheduler step at `now` (epoch ms): the earliest due release applied
/// or failed; `None` when nothing is due.
pub async fn run_due_release<T: Queries>(tx: &mut T, now: i64) -> Result<Option<(i64, ScheduledOutcome)>, Error> {
    let Some(mut r) = tx.due_releases(now, 1).await?.into_iter().next() else { return Ok(None) };
    let scheduled = r.scheduled_at.unwrap_or(now);
    let late = (now - scheduled).max(0);
    if let Some(expiry) = r.expires_at.filter(|e| *e < now) {
        let why = format!(
            "expired: scheduled for {}, not applied by its expiry {} (the scheduler ran at {})",
            rfc3339(scheduled),
            rfc3339(expiry),
            rfc3339(now)
        );
        fail(tx, &mut r, why, late, now, "release.expire").await?;
        return Ok(Some((r.id, ScheduledOutcome::Expired)));
    }
    let on_stale = OnStale::parse(&r.on_stale).unwrap_or(OnStale::Fail);
    let changes = changes_of(&r)?;
    let plan = release_plan::plan(tx, &changes, on_stale, false).await?;
    if let Err(e) = plan.check() {
        let why = match &e {
            Error::Invalid { errors, .. } => {
                errors.iter().map(|f| format!("{}: {}", f.path, f.message)).collect::<Vec<_>>().join("; ")
            }
            other => other.to_string(),
        };
        fail(tx, &mut r, why, late, now, "release.fail").await?;
        return Ok(Some((r.id, ScheduledOutcome::Failed)));
    }
    r.late_ms = Some(late);
    write_plan(tx, SCHEDULER, &mut r, plan, "release.apply", now).await?;
    Ok(Some((r.id, if late > LATE_AFTER_MS { ScheduledOutcome::Late } else { ScheduledOutcome::Applied })))
}

/// Marks a due release failed (nothing of it applied), with the reason, and
/// records it in the audit log as the scheduler.
async fn fail<T: Queries>(
    tx: &mut T,
    r: &mut ReleaseRecord,
    why: String,
    late: i64,
    now: i64,
    action: &str,
) -> Result<(), Error> {
    let after = serde_json::json!({"failure": why, "lateMs": late}).to_string();
    r.state = ReleaseState::Failed.as_str().into();
    r.failure = Some(why);
    r.late_ms = Some(late);
    save(tx, r, SCHEDULER, now).await?;
    audit_release(tx, SCHEDULER, action, r, None, Some(&after)).await
}

/// The earliest instant a release is scheduled for.
pub async fn next_scheduled<T: Queries>(tx: &mut T) -> Result<Option<i64>, Error> {
    Ok(tx.next_scheduled().await?)
}
