//! The ramp panel of the flag page and its forms: start a plan, pause,
//! resume, abort. Each form posts, then redirects to the flag page's panel
//! with a flash message (post/redirect/get); a refused start shows the page
//! again with the form as posted and the reason (422). No JavaScript needed.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flagyard_web::{FlashKind, StartRampForm};
use serde::Deserialize;

use super::answer::{done, page};
use super::error::UiError;
use super::flag_detail::{Overrides, flag_page};
use super::request::{Posted, Signed, authorize, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::{self, Error as DomainError, GuardrailInput, RampAction, RampCommand, RampInput, StepInput};
use crate::state::AppState;
use crate::store::Backend;

/// The ramp forms.
pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/flags/{key}/environments/{env}/ramps", post(start::<B>))
        .route("/ramps/{id}/{command}", post(act::<B>))
}

fn flag_href(flag: &str, env: &str) -> String {
    format!("/flags/{flag}?env={}#ramp", super::answer::encode(env))
}

async fn start<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((key, env)): Path<(String, String)>,
    Posted(form): Posted<StartRampForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let back = flag_href(&key, &env);
    let steps = match form.parse_steps() {
        Ok(steps) => steps,
        Err(e) => return refused(&state, &user, &headers, (&key, &env), form, format!("{e}.")).await,
    };
    let weight = form.dimension == "weight";
    let parsed = form.parse_guardrails().and_then(|g| {
        let advance = form.parse_advance(!g.is_empty())?;
        Ok((g, advance))
    });
    let (guardrails, advance) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return refused(&state, &user, &headers, (&key, &env), form, format!("{e}.")).await,
    };
    let kept = form.clone();
    let input = RampInput {
        flag: key.clone(),
        environment: env.clone(),
        rule_id: form.rule.clone(),
        canary_variant: form.canary.clone(),
        control_variant: form.control.clone(),
        steps: steps
            .into_iter()
            .map(|(bp, hold)| StepInput {
                coverage: (!weight).then_some(bp),
                weight: weight.then_some(bp),
                hold,
                max_hold: advance.max_hold.clone(),
                min_units: advance.min_units,
                require_evidence: advance.require_evidence,
            })
            .collect(),
        guardrails: guardrails.into_iter().map(|(metric, tolerance)| GuardrailInput { metric, tolerance }).collect(),
        alpha: None,
    };
    let (actor, now) = (user.actor(), state.scheduler.now_ms());
    let outcome =
        write_value(&state, move |tx| Box::pin(async move { service::create_ramp(tx, &actor, input, now).await }))
            .await;
    state.scheduler.wake();
    match outcome {
        Ok(v) => Ok(done(&headers, &back, FlashKind::Success, &format!("Ramp {} started in {env}.", v.id))),
        Err(
            DomainError::Invalid { summary, .. }
            | DomainError::Conflict(summary)
            | DomainError::ConflictAt { message: summary, .. },
        ) => refused(&state, &user, &headers, (&key, &env), kept, summary).await,
        Err(e) => Err(e.into()),
    }
}

/// The flag page again (422) with the start form as posted and why it was refused.
async fn refused<B: Backend>(
    state: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    (key, env): (&str, &str),
    form: StartRampForm,
    why: String,
) -> Result<Response, UiError> {
    let overrides =
        Overrides { ramp_form: Some((form, format!("The ramp was not started: {why}"))), ..Overrides::default() };
    let view = flag_page(state, user, headers, key, env, overrides).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(user, &view)).into_response())
}

/// Fields of the pause, resume and abort forms.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActForm {
    csrf: String,
    to: Option<String>,
}

async fn act<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((id, command)): Path<(i64, String)>,
    Posted(form): Posted<ActForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let command = match command.as_str() {
        "pause" => RampCommand::Pause,
        "resume" => RampCommand::Resume,
        "abort" => RampCommand::Abort,
        other => return Err(DomainError::NotFound(format!("ramp action `{other}`")).into()),
    };
    let (actor, now) = (user.actor(), state.scheduler.now_ms());
    let input = RampAction { to: form.to, ..RampAction::default() };
    let mut tx = state.store.read().await?;
    let r = service::get_ramp(&mut tx, id, now).await?;
    drop(tx);
    let result = write_value(&state, move |tx| {
        Box::pin(async move { service::act_on_ramp(tx, &actor, id, command, input, now).await })
    })
    .await;
    state.scheduler.wake();
    let (flag, env) = (r.flag, r.environment);
    let back = flag_href(&flag, &env);
    Ok(match result {
        Ok(v) => done(&headers, &back, FlashKind::Success, &format!("Ramp {id} is {}.", v.state.as_str())),
        Err(
            DomainError::Invalid { summary, .. }
            | DomainError::Conflict(summary)
            | DomainError::ConflictAt { message: summary, .. },
        ) => done(&headers, &back, FlashKind::Error, &summary),
        Err(e) => return Err(e.into()),
    })
}
