//! Handlers of the experiment definitions: metrics and experiments.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::api::{Answer, base_revision, created, ok};
use super::auth::{Caller, Role};
use super::extract::{Json, Path};
use crate::app::AppState;
use crate::service::{self, ExperimentInput, MetricInput};
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
