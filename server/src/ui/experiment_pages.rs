//! Experiment pages: the list, the create form, and the experiment page
//! (status, allocation, dates, and results with verdicts, SRM banner,
//! progress and forest plots; a draft shows its allocation only), start and
//! stop, and the results as CSV — over the same services as the admin API.
//! The figures' mapping is in `experiment_view.rs`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flagyard_eval::{FlagConfig, Serve};
use flagyard_web::{ConfirmPage, ExperimentPage, ExperimentRow, ExperimentsPage, FlashKind, Section};

use super::answer::{done, frame, page, when};
use super::deletion::{Deletion, delete_confirmed, refused_as_is};
use super::error::UiError;
use super::experiment_form;
use super::experiment_view::{analysis, draft_allocation, figures, with_trends};
use super::request::{Pairs, Posted, Signed, authorize, confirmed, field, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service;
use crate::service::Error as DomainError;
use crate::state::AppState;
use crate::store::{Backend, ExperimentQueries};

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/experiments", get(list::<B>).post(experiment_form::create::<B>))
        .route("/experiments/new", get(experiment_form::new::<B>).post(experiment_form::refresh::<B>))
        .route("/experiments/{key}", get(show::<B>))
        .route("/experiments/{key}/start", post(start::<B>))
        .route("/experiments/{key}/stop", post(stop::<B>))
        .route("/experiments/{key}/delete", post(delete::<B>))
        .route("/experiments/{key}/results.csv", get(results_csv::<B>))
}

async fn list<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let records = tx.experiments().await?;
    drop(tx);
    let experiments = records
        .into_iter()
        .map(|x| ExperimentRow {
            key: x.key,
            name: x.name,
            flag: x.flag_key,
            environment: x.environment_key,
            state: x.state,
            primary_metric: x.primary_metric_key,
            started: x.started_at.map(when),
        })
        .collect();
    let layout = frame(&user, &headers, "Experiments", Section::Experiments);
    Ok(page(&user, &ExperimentsPage { layout, experiments }))
}

/// The split of rule `rule_id` in `config`: variants and coverage.
fn split_of(config: &FlagConfig, rule_id: &str) -> Option<(Vec<flagyard_eval::WeightedVariant>, u32)> {
    let rule = config.rules.iter().find(|r| r.id.as_deref() == Some(rule_id))?;
    match &rule.serve {
        Serve::Split(split) => Some((split.variants.clone(), split.coverage)),
        Serve::Variant(_) => None,
    }
}

/// The days of results over time the page draws.
const PAGE_DAYS: i64 = 92;

async fn show<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let x = service::get_experiment(&mut tx, &key).await?;
    let (allocation, coverage_bp, results) = if x.state == "draft" {
        // Not started: the split as configured now, and no results.
        let config = service::get_config(&mut tx, &x.flag, &x.environment).await?;
        let (split, coverage) = split_of(&config.config, &x.rule_id).unwrap_or_default();
        (draft_allocation(&x, &split), coverage, None)
    } else {
        let results = service::experiment_results(&mut tx, &key).await?;
        let history = service::experiment_history(&mut tx, &key, s.scheduler.now_ms(), PAGE_DAYS).await?;
        let mut f = figures(&results);
        with_trends(&mut f.metrics, &history);
        (f.allocation.clone(), x.split.as_ref().map_or(10_000, |s| s.coverage), Some((f, results.computed_at)))
    };
    drop(tx);
    let (srm, srm_basis, progress, metrics, computed_at, correction, decision_rule) = match results {
        Some((f, at)) => (f.srm, f.srm_basis, f.progress, f.metrics, Some(at), f.correction, Some(f.decision_rule)),
        None => (None, None, None, Vec::new(), None, None, None),
    };
    let title = if x.name.is_empty() { x.key.clone() } else { x.name.clone() };
    let view = ExperimentPage {
        layout: frame(&user, &headers, title, Section::Experiments),
        analysis: analysis(&x.analysis),
        key: x.key,
        name: x.name,
        hypothesis: x.hypothesis,
        flag: x.flag,
        environment: x.environment,
        rule_id: x.rule_id,
        state: x.state,
        alpha: x.alpha,
        started_at: x.started_at,
        stopped_at: x.stopped_at,
        coverage_bp,
        allocation,
        srm,
        srm_basis,
        progress,
        metrics,
        computed_at,
        correction,
        decision_rule,
    };
    Ok(page(&user, &view))
}

async fn transition<B: Backend>(
    s: AppState<B>,
    user: UiUser,
    headers: HeaderMap,
    key: String,
    pairs: Pairs,
    start: bool,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    if !start && !confirmed(&pairs) {
        let view = ConfirmPage {
            layout: frame(&user, &headers, "Confirm", Section::Experiments),
            question: format!("Stop {key}?"),
            detail: "Exposures and events are no longer counted, and a stopped experiment cannot be started \
                     again; its results stay readable."
                .into(),
            action: format!("/experiments/{key}/stop"),
            confirm_label: "Stop the experiment".into(),
            cancel_href: format!("/experiments/{key}"),
            fields: Vec::new(),
        };
        return Ok(page(&user, &view));
    }
    let (actor, path) = (user.actor(), format!("/experiments/{key}"));
    let changed = write_value(&s, move |tx| {
        Box::pin(async move { service::transition_experiment(tx, &actor, &key, start).await })
    })
    .await;
    match changed {
        Ok(x) => {
            let message = if start { format!("{} started.", x.key) } else { format!("{} stopped.", x.key) };
            Ok(done(&headers, &path, FlashKind::Success, &message))
        }
        Err(e @ (DomainError::Conflict(_) | DomainError::ConflictAt { .. } | DomainError::Invalid { .. })) => {
            Ok(done(&headers, &path, FlashKind::Error, &e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn start<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    transition(s, user, headers, key, pairs, true).await
}

async fn stop<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    transition(s, user, headers, key, pairs, false).await
}

async fn results_csv<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    Path(key): Path<String>,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let results = service::experiment_results(&mut tx, &key).await?;
    drop(tx);
    let disposition = format!("attachment; filename=\"{}-results.csv\"", results.experiment);
    let mut response = ([(CONTENT_TYPE, "text/csv; charset=utf-8")], service::results_csv(&results)).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    if let Some([(name, value)]) = user.cookie_renewal() {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// `POST /experiments/{key}/delete` (a draft or stopped one): asks first.
async fn delete<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    let d = Deletion {
        question: format!("Delete {key}?"),
        detail: "Its definition and its counted units and events go; this cannot be undone.",
        confirm_label: "Delete the experiment",
        item: format!("/experiments/{key}"),
        action: format!("/experiments/{key}/delete"),
        list: "/experiments",
        deleted: format!("Experiment {key} deleted."),
        section: Section::Experiments,
    };
    let actor = user.actor();
    delete_confirmed(&s, &user, &headers, &pairs, d, refused_as_is, move |tx| {
        Box::pin(async move { service::delete_experiment(tx, &actor, &key).await })
    })
    .await
}
