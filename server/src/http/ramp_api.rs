//! Handlers of ramps: start a plan, read it (with its guardrails evaluated
//! now), pause, resume, skip ahead and abort.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;

use super::api::{Answer, base_revision, created, ok};
use super::auth::Caller;
use super::extract::{Json, MaybeJson, Path, Query};
use crate::auth::Role;
use crate::service::{self, RampAction, RampCommand, RampInput, RampState};
use crate::state::AppState;
use crate::store::Backend;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RampParams {
    /// Only plans of this flag.
    flag: Option<String>,
    /// Only plans in this environment.
    environment: Option<String>,
    /// Only plans in this state.
    state: Option<RampState>,
}

pub(super) async fn list_ramps<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Query(q): Query<RampParams>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    let state = q.state.map(RampState::as_str);
    ok(service::list_ramps(&mut tx, q.flag.as_deref(), q.environment.as_deref(), state).await?)
}

pub(super) async fn create_ramp<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<RampInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    let now = s.scheduler.now_ms();
    let answer =
        s.write(move |tx| Box::pin(async move { created(service::create_ramp(tx, &caller.actor, body, now).await?) }));
    let answer = answer.await;
    if answer.is_ok() {
        s.scheduler.wake();
    }
    answer
}

pub(super) async fn get_ramp<B: Backend>(State(s): State<AppState<B>>, caller: Caller, Path(id): Path<i64>) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::get_ramp(&mut tx, id, s.scheduler.now_ms()).await?)
}

async fn act<B: Backend>(
    s: AppState<B>,
    caller: Caller,
    id: i64,
    command: RampCommand,
    headers: &HeaderMap,
    mut body: RampAction,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(headers, body.base_revision)?;
    let now = s.scheduler.now_ms();
    let answer = s
        .write(move |tx| {
            Box::pin(async move { ok(service::act_on_ramp(tx, &caller.actor, id, command, body, now).await?) })
        })
        .await;
    if answer.is_ok() {
        s.scheduler.wake();
    }
    answer
}

macro_rules! ramp_action {
    ($name:ident, $command:ident) => {
        pub(super) async fn $name<B: Backend>(
            State(s): State<AppState<B>>,
            caller: Caller,
            Path(id): Path<i64>,
            headers: HeaderMap,
            MaybeJson(body): MaybeJson<RampAction>,
        ) -> Answer {
            act(s, caller, id, RampCommand::$command, &headers, body).await
        }
    };
}

ramp_action!(pause_ramp, Pause);
ramp_action!(resume_ramp, Resume);
ramp_action!(skip_ramp, Skip);
ramp_action!(abort_ramp, Abort);
