//! The releases pages: list and create, one release with its changes, its
//! preview (diffs, problems, affected flags) and its actions (apply,
//! schedule, cancel the schedule, revert). Plain forms with CSRF tokens;
//! each post redirects back with a flash message (post/redirect/get).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use flagyard_web::{
    ChangePreviewView, ChangeRow, EnvironmentPreviewView, FlashKind, NewReleaseForm, ReleaseChangeForm, ReleasePage,
    ReleaseRow, ReleasesPage, ScheduleForm, Section, line_diff,
};
use serde::Deserialize;

use super::answer::{done, frame, page};
use super::error::UiError;
use super::request::{Posted, Signed, authorize, write_value};
use crate::auth::Role;
use crate::service::{self, Error as DomainError, ReleaseInput, ReleaseState, ReleaseView, ScheduleInput};
use crate::state::AppState;
use crate::store::{Backend, EnvironmentQueries, FlagQueries, FlagQuery};

/// The releases routes.
pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/releases", get(list::<B>).post(create::<B>))
        .route("/releases/{id}", get(show::<B>))
        .route("/releases/{id}/changes", post(add_change::<B>))
        .route("/releases/{id}/changes/{index}/remove", post(remove_change::<B>))
        .route("/releases/{id}/{action}", post(act::<B>))
}

/// Flags offered in the add-a-change form.
const PICKER_FLAGS: i64 = 1_000;

async fn list<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let mut tx = state.store.read().await?;
    let releases = service::list_releases(&mut tx, None, 200).await?;
    drop(tx);
    let rows = releases
        .into_iter()
        .map(|r| ReleaseRow {
            id: r.id,
            changes: r.changes.len(),
            when: r.applied_at.clone().or(r.scheduled_at.clone()).unwrap_or_default(),
            name: r.name,
            state: r.state.as_str().to_owned(),
            by: r.created_by,
        })
        .collect();
    let view = ReleasesPage { layout: frame(&user, &headers, "Releases", Section::Releases), releases: rows };
    Ok(page(&user, &view))
}

async fn create<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<NewReleaseForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let actor = user.actor();
    let input =
        ReleaseInput { name: form.name, description: form.description, changes: Vec::new(), base_revision: None };
    let outcome =
        write_value(&state, move |tx| Box::pin(async move { service::create_release(tx, &actor, input).await })).await;
    Ok(match outcome {
        Ok(r) => done(&headers, &format!("/releases/{}", r.id), FlashKind::Success, "Draft created: add its changes."),
        Err(DomainError::Invalid { summary, .. }) => done(&headers, "/releases", FlashKind::Error, &summary),
        Err(e) => return Err(e.into()),
    })
}

/// What a change sets, for people.
fn summary(c: &service::ReleaseChange) -> String {
    let mut parts = Vec::new();
    if let Some(e) = c.enabled {
        parts.push(format!("switch {}", if e { "on" } else { "off" }));
    }
    if let Some(v) = &c.default_variant {
        parts.push(format!("default variant {v}"));
    }
    if let Some(v) = &c.off_variant {
        parts.push(format!("off variant {v}"));
    }
    if let Some(p) = &c.prerequisites {
        parts.push(format!("{} prerequisites", p.len()));
    }
    if let Some(r) = &c.rules {
        parts.push(format!("{} rules", r.len()));
    }
    if parts.is_empty() { "nothing".into() } else { parts.join("; ") }
}

fn pretty(config: &flagyard_eval::FlagConfig) -> String {
    serde_json::to_string_pretty(config).unwrap_or_default()
}

async fn show<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, UiError> {
    let mut tx = state.store.read().await?;
    let r = service::get_release(&mut tx, id).await?;
    let pending = matches!(r.state, ReleaseState::Draft | ReleaseState::Failed | ReleaseState::Scheduled);
    let preview =
        if pending && !r.changes.is_empty() { Some(service::preview_release(&mut tx, id).await?) } else { None };
    let query = FlagQuery { search: None, tag: None, archived: None, limit: PICKER_FLAGS, offset: 0 };
    let flags: Vec<String> = tx.flags(&query).await?.0.into_iter().map(|f| f.key).collect();
    let environments: Vec<String> = tx.environments().await?.into_iter().map(|e| e.key).collect();
    drop(tx);
    let problems = preview
        .as_ref()
        .map(|p| p.conflicts.iter().chain(&p.errors).map(|e| format!("{}: {}", e.path, e.message)).collect())
        .unwrap_or_default();
    let preview = preview.map(|p| {
        p.environments
            .into_iter()
            .map(|e| EnvironmentPreviewView {
                environment: e.environment,
                next_version: e.version + 1,
                affected_flags: e.affected_flags,
                changes: e
                    .changes
                    .into_iter()
                    .map(|c| ChangePreviewView {
                        diff: line_diff(&pretty(&c.before), &pretty(&c.after)),
                        flag: c.flag,
                        fields: c.fields,
                        stale: c.stale,
                    })
                    .collect(),
            })
            .collect()
    });
    let versions = r.outcome.as_ref().map(|o| o.versions.clone().into_iter().collect()).unwrap_or_default();
    let view = ReleasePage {
        layout: frame(&user, &headers, r.name.clone(), Section::Releases),
        id: r.id,
        changes: r
            .changes
            .iter()
            .map(|c| ChangeRow { flag: c.flag.clone(), environment: c.environment.clone(), summary: summary(c) })
            .collect(),
        name: r.name,
        description: r.description,
        state: r.state.as_str().to_owned(),
        preview,
        problems,
        versions,
        scheduled_at: r.scheduled_at,
        failure: r.failure,
        reverts: r.reverts,
        reverted_by: r.reverted_by,
        flags,
        environments,
    };
    Ok(page(&user, &view))
}

/// Replaces release `id`'s changes by what `edit` makes of them (on the
/// revision read), as `actor`.
async fn edit_changes<B: Backend>(
    state: &AppState<B>,
    actor: String,
    id: i64,
    edit: impl FnOnce(&mut Vec<service::ReleaseChange>) -> Result<(), DomainError> + Send + 'static,
) -> Result<ReleaseView, DomainError> {
    write_value(state, move |tx| {
        Box::pin(async move {
            let r = service::get_release(tx, id).await?;
            let mut changes = r.changes;
            edit(&mut changes)?;
            let input =
                ReleaseInput { name: r.name, description: r.description, changes, base_revision: Some(r.revision) };
            service::update_release(tx, &actor, id, input).await
        })
    })
    .await
}

fn text(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

async fn add_change<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Posted(form): Posted<ReleaseChangeForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let change = service::ReleaseChange {
        flag: form.flag.trim().to_owned(),
        environment: form.environment.trim().to_owned(),
        enabled: match form.enabled.as_str() {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        },
        off_variant: text(&form.off_variant),
        default_variant: text(&form.default_variant),
        prerequisites: None,
        rules: None,
        base_revision: None,
    };
    let outcome = edit_changes(&state, user.actor(), id, move |changes| {
        changes.push(change);
        Ok(())
    })
    .await;
    answer(&headers, id, outcome.map(|_| "Change added.".to_owned()))
}

async fn remove_change<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((id, index)): Path<(i64, usize)>,
    Posted(form): Posted<ScheduleForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let outcome = edit_changes(&state, user.actor(), id, move |changes| {
        if index >= changes.len() {
            return Err(DomainError::NotFound(format!("change {index} of release {id}")));
        }
        changes.remove(index);
        Ok(())
    })
    .await;
    answer(&headers, id, outcome.map(|_| "Change removed.".to_owned()))
}

/// The redirect back to release `id` after a post, with what happened.
fn answer(headers: &HeaderMap, id: i64, outcome: Result<String, DomainError>) -> Result<Response, UiError> {
    let back = format!("/releases/{id}");
    Ok(match outcome {
        Ok(message) => done(headers, &back, FlashKind::Success, &message),
        Err(
            DomainError::Invalid { summary, .. }
            | DomainError::Conflict(summary)
            | DomainError::ConflictAt { message: summary, .. },
        ) => done(headers, &back, FlashKind::Error, &summary),
        Err(e) => return Err(e.into()),
    })
}

/// Fields of the apply, schedule, unschedule and revert forms.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActForm {
    csrf: String,
    at: String,
}

async fn act<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    Posted(form): Posted<ActForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let actor = user.actor();
    let outcome = match action.as_str() {
        "apply" => {
            write_value(&state, move |tx| {
                Box::pin(async move {
                    let r = service::apply_release(tx, &actor, id, None).await?;
                    let versions: Vec<String> = r
                        .outcome
                        .map(|o| o.versions.into_iter().map(|(e, v)| format!("{e} version {v}")).collect())
                        .unwrap_or_default();
                    Ok(format!("Applied: {}.", versions.join(", ")))
                })
            })
            .await
        }
        "schedule" => {
            let input = ScheduleInput { at: form.at, expires_at: None, on_stale: None, base_revision: None };
            let r = write_value(&state, move |tx| {
                Box::pin(async move { service::schedule_release(tx, &actor, id, input).await })
            })
            .await;
            state.scheduler.wake();
            r.map(|r| format!("Scheduled for {}.", r.scheduled_at.unwrap_or_default()))
        }
        "unschedule" => write_value(&state, move |tx| {
            Box::pin(async move { service::unschedule_release(tx, &actor, id, None).await })
        })
        .await
        .map(|_| "The schedule is cancelled: the release is a draft again.".to_owned()),
        "revert" => {
            write_value(&state, move |tx| Box::pin(async move { service::revert_release(tx, &actor, id).await }))
                .await
                .map(|r| format!("Reverted by release {}.", r.id))
        }
        other => return Err(DomainError::NotFound(format!("release action `{other}`")).into()),
    };
    answer(&headers, id, outcome)
}
