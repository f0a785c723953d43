//! Handlers of releases: drafts, preview, apply, revert and schedules.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::api::{Answer, base_revision, created, ok};
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use crate::auth::Role;
use crate::service::{self, ReleaseInput, ReleaseState, ScheduleInput, ScheduledChangeInput};
use crate::state::AppState;
use crate::store::Backend;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReleaseParams {
    /// Only releases in this state.
    state: Option<ReleaseState>,
    /// At most this many, newest first (1 to 1000, default 100).
    limit: Option<i64>,
}

pub(super) async fn list_releases<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Query(q): Query<ReleaseParams>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let mut tx = s.store.read().await?;
    ok(service::list_releases(&mut tx, q.state, limit).await?)
}

pub(super) async fn create_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<ReleaseInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { created(service::create_release(tx, &caller.actor, body).await?) })).await
}

pub(super) async fn get_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::get_release(&mut tx, id).await?)
}

pub(super) async fn update_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(mut body): Json<ReleaseInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    s.write(move |tx| Box::pin(async move { ok(service::update_release(tx, &caller.actor, id, body).await?) })).await
}

pub(super) async fn delete_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| {
        Box::pin(async move {
            service::delete_release(tx, &caller.actor, id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}

pub(super) async fn preview_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::preview_release(&mut tx, id).await?)
}

pub(super) async fn apply_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Answer {
    caller.require(Role::Editor)?;
    let base = base_revision(&headers, None)?;
    s.write(move |tx| Box::pin(async move { ok(service::apply_release(tx, &caller.actor, id, base).await?) })).await
}

pub(super) async fn revert_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { created(service::revert_release(tx, &caller.actor, id).await?) })).await
}

pub(super) async fn schedule_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Json(mut body): Json<ScheduleInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    let answer =
        s.write(move |tx| Box::pin(async move { ok(service::schedule_release(tx, &caller.actor, id, body).await?) }));
    let answer = answer.await;
    if answer.is_ok() {
        s.scheduler.wake();
    }
    answer
}

pub(super) async fn schedule_change<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(mut body): Json<ScheduledChangeInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    let answer = s
        .write(move |tx| {
            Box::pin(async move { created(service::schedule_change(tx, &caller.actor, &key, &env, body).await?) })
        })
        .await;
    if answer.is_ok() {
        s.scheduler.wake();
    }
    answer
}

pub(super) async fn unschedule_release<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Answer {
    caller.require(Role::Editor)?;
    let base = base_revision(&headers, None)?;
    s.write(move |tx| Box::pin(async move { ok(service::unschedule_release(tx, &caller.actor, id, base).await?) }))
        .await
}

/// `POST /api/v1/test/clock` (debug builds with `FLAGYARD_TEST_CLOCK` only):
/// moves the scheduler's test clock and runs what became due before
/// answering, so that a test sees the effect at once.
#[cfg(debug_assertions)]
pub fn test_clock_router<B: Backend>() -> axum::Router<AppState<B>> {
    axum::Router::new().route(
        "/api/v1/test/clock",
        axum::routing::post(set_test_clock::<B>).layer(axum::Extension(super::auth::RequiredRole(Role::Admin))),
    )
}

#[cfg(debug_assertions)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    /// RFC 3339.
    now: String,
}

#[cfg(debug_assertions)]
async fn set_test_clock<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<ClockBody>,
) -> Answer {
    caller.require(Role::Admin)?;
    let at = flagyard_eval::parse_rfc3339_millis(&body.now)
        .ok_or_else(|| ApiError::invalid("now", "expected an RFC 3339 instant"))?;
    if !s.scheduler.set_test_clock(at) {
        return Err(ApiError::NotFound("route `/api/v1/test/clock` (the server runs on the system clock)".into()));
    }
    let ran = crate::state::run_due_releases(&s).await;
    crate::state::snapshot_results_if_due(&s).await;
    ok(serde_json::json!({ "now": service::rfc3339(at), "ran": ran }))
}
