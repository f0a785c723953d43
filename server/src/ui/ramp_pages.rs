//! The ramp panel of the flag page and its forms: start a plan, pause,
//! resume, abort. Each form posts, then redirects to the flag page's panel
//! with a flash message (post/redirect/get); a refused start shows the page
//! again with the form as posted and the reason (422). No JavaScript needed.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flagyard_eval::{FlagConfig, Serve};
use flagyard_web::{
    AutomaticAction, FlashKind, GuardMetricView, GuardPointView, GuardView, RampCard, RampPanel, RampableRule,
    StartRampForm, StepView, guard_chart,
};
use serde::Deserialize;

use super::answer::{done, page};
use super::error::UiError;
use super::flag_detail::{Overrides, flag_page};
use super::request::{Posted, Signed, authorize, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::{
    self, Error as DomainError, GuardrailInput, RampAction, RampCommand, RampInput, RampView, StepInput,
};
use crate::state::AppState;
use crate::store::{AuditQuery, Backend, IngestQueries, Queries, RampFilter};

/// The ramp forms.
pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/flags/{key}/environments/{env}/ramps", post(start::<B>))
        .route("/ramps/{id}/{command}", post(act::<B>))
}

fn percent(bp: u32) -> String {
    let p = f64::from(bp) / 100.0;
    if p.fract() == 0.0 { format!("{p:.0} %") } else { format!("{p} %") }
}

fn hold(ms: i64) -> String {
    match ms {
        0 => "no hold".into(),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms => format!("{}s", ms / 1000),
    }
}

/// The card of plan `v`.
fn card(v: &RampView) -> RampCard {
    let steps = v
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let label = match (s.coverage, s.weight) {
                (Some(c), _) => format!("coverage {}", percent(c)),
                (_, Some(w)) => format!("weight {}", percent(w)),
                _ => String::new(),
            };
            let i = i64::try_from(i).unwrap_or(i64::MAX);
            let finished = v.state == service::RampState::Completed;
            StepView { label, hold: hold(s.hold_ms), done: i < v.step || finished, current: i == v.step && !finished }
        })
        .collect();
    let first = v.guardrails.first();
    let guard = v.guard.as_ref().map(|g| GuardView {
        verdict: serde_json::to_value(g.verdict).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default(),
        summary: g.summary.clone(),
        canary_units: g.units.canary,
        control_units: g.units.control,
        metrics: g
            .metrics
            .iter()
            .map(|m| GuardMetricView {
                metric: m.metric.clone(),
                good_direction: m.good_direction.clone(),
                tolerance: m.tolerance,
                lift: m.lift,
                lower: m.lower,
                upper: m.upper,
                verdict: m.verdict.to_owned(),
            })
            .collect(),
    });
    let chart = first.filter(|_| !v.history.is_empty()).map(|g| {
        let points: Vec<GuardPointView> = v
            .history
            .iter()
            .map(|p| GuardPointView { at: p.at, interval: p.intervals.first().copied().flatten() })
            .collect();
        let tolerance = if g.good_direction == "decrease" { g.tolerance } else { -g.tolerance };
        guard_chart(&g.metric, &points, tolerance, 640)
    });
    RampCard {
        id: v.id,
        state: v.state.as_str().to_owned(),
        rule_id: v.rule_id.clone(),
        canary: v.canary_variant.clone(),
        control: v.control_variant.clone(),
        steps,
        next_at: v.next_at.clone(),
        reason: v.reason.clone(),
        updated_at: v.updated_at.clone(),
        guard,
        chart,
    }
}

/// The ramp panel of `flag` in `env` (whose configuration is `config`).
pub(super) async fn panel<T: Queries + IngestQueries>(
    tx: &mut T,
    user: &UiUser,
    flag: (i64, &str),
    env: (i64, &str),
    config: &FlagConfig,
    now: i64,
) -> Result<RampPanel, DomainError> {
    let filter = RampFilter { flag_id: Some(flag.0), environment_id: Some(env.0), states: &[] };
    let latest = match tx.ramps(filter, 1).await?.first() {
        Some(r) => Some(card(&service::get_ramp(tx, r.id, now).await?)),
        None => None,
    };
    let rules = config
        .rules
        .iter()
        .filter_map(|r| match (&r.id, &r.serve) {
            (Some(id), Serve::Split(s)) => {
                Some(RampableRule { id: id.clone(), variants: s.variants.iter().map(|v| v.variant.clone()).collect() })
            }
            _ => None,
        })
        .collect();
    let metrics = tx.metrics().await?.into_iter().map(|m| m.key).collect();
    let query = AuditQuery {
        flag: Some(flag.1.to_owned()),
        environment: Some(env.1.to_owned()),
        limit: 200,
        ..AuditQuery::default()
    };
    let recent = tx
        .audit(&query)
        .await?
        .into_iter()
        .filter(|a| a.actor.starts_with("ramp:") || a.actor == "scheduler")
        .take(10)
        .map(|a| AutomaticAction { at: service::rfc3339(a.at), actor: a.actor, action: a.action })
        .collect();
    Ok(RampPanel {
        csrf: user.csrf.clone(),
        flag: flag.1.to_owned(),
        environment: env.1.to_owned(),
        can_edit: user.role >= Role::Editor,
        latest,
        rules,
        metrics,
        recent,
        form: StartRampForm::default(),
        error: None,
    })
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
    let tolerance = if form.tolerance.trim().is_empty() { Ok(0.0) } else { form.tolerance.trim().parse::<f64>() };
    let Ok(tolerance) = tolerance.map(|t| t / 100.0) else {
        return refused(&state, &user, &headers, (&key, &env), form, "the tolerance is not a number.".into()).await;
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
                max_hold: None,
                min_units: None,
                require_evidence: false,
            })
            .collect(),
        guardrails: if form.guardrail.is_empty() {
            Vec::new()
        } else {
            vec![GuardrailInput { metric: form.guardrail.clone(), tolerance }]
        },
        alpha: None,
    };
    let (actor, now) = (user.actor(), state.scheduler.now_ms());
    let outcome =
        write_value(&state, move |tx| Box::pin(async move { service::create_ramp(tx, &actor, input, now).await }))
            .await;
    state.scheduler.wake();
    match outcome {
        Ok(v) => Ok(done(&headers, &back, FlashKind::Success, &format!("Ramp {} started in {env}.", v.id))),
        Err(DomainError::Invalid { summary, .. } | DomainError::Conflict(summary)) => {
            refused(&state, &user, &headers, (&key, &env), kept, summary).await
        }
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
        Err(DomainError::Invalid { summary, .. } | DomainError::Conflict(summary)) => {
            done(&headers, &back, FlashKind::Error, &summary)
        }
        Err(e) => return Err(e.into()),
    })
}
