//! Handlers of the experiment definitions: metrics and experiments.

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;

use super::api::{Answer, base_revision, created, ok};
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use crate::auth::Role;
use crate::service::{self, ExperimentInput, MetricInput};
use crate::state::AppState;
use crate::store::Backend;

pub(super) async fn list_metrics<B: Backend>(State(s): State<AppState<B>>, caller: Caller) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::list_metrics(&mut tx).await?)
}

pub(super) async fn create_metric<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<MetricInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { created(service::create_metric(tx, &caller.actor, body).await?) })).await
}

pub(super) async fn get_metric<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::get_metric(&mut tx, &key).await?)
}

pub(super) async fn update_metric<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<MetricInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    s.write(move |tx| Box::pin(async move { ok(service::update_metric(tx, &caller.actor, &key, body).await?) })).await
}

pub(super) async fn delete_metric<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| {
        Box::pin(async move {
            service::delete_metric(tx, &caller.actor, &key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}

pub(super) async fn list_experiments<B: Backend>(State(s): State<AppState<B>>, caller: Caller) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::list_experiments(&mut tx).await?)
}

pub(super) async fn create_experiment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<ExperimentInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { created(service::create_experiment(tx, &caller.actor, body).await?) }))
        .await
}

pub(super) async fn get_experiment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::get_experiment(&mut tx, &key).await?)
}

pub(super) async fn update_experiment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<ExperimentInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    s.write(move |tx| Box::pin(async move { ok(service::update_experiment(tx, &caller.actor, &key, body).await?) }))
        .await
}

pub(super) async fn delete_experiment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| {
        Box::pin(async move {
            service::delete_experiment(tx, &caller.actor, &key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}

pub(super) async fn start_experiment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { ok(service::transition_experiment(tx, &caller.actor, &key, true).await?) }))
        .await
}

pub(super) async fn stop_experiment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| {
        Box::pin(async move { ok(service::transition_experiment(tx, &caller.actor, &key, false).await?) })
    })
    .await
}

pub(super) async fn experiment_history<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let now = s.scheduler.now_ms();
    let mut tx = s.store.read().await?;
    ok(service::experiment_history(&mut tx, &key, now, service::HISTORY_DAYS).await?)
}

/// `?format=` of the results.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResultsParams {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

pub(super) async fn experiment_results<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
    Query(params): Query<ResultsParams>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    let results = service::experiment_results(&mut tx, &key).await?;
    drop(tx);
    match params.format.as_deref() {
        None | Some("json") => ok(results),
        Some("csv") => {
            let disposition = format!("attachment; filename=\"{}-results.csv\"", results.experiment);
            let mut response =
                ([(CONTENT_TYPE, "text/csv; charset=utf-8")], service::results_csv(&results)).into_response();
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(CONTENT_DISPOSITION, value);
            }
            Ok(response)
        }
        Some(other) => Err(ApiError::BadRequest(format!("format: expected `json` or `csv`, not `{other}`"))),
    }
}

pub(super) async fn event_counts<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(env): Path<String>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::event_counts(&mut tx, &env).await?)
}
