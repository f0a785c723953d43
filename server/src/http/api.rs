//! Handlers of the admin REST API under `/api/v1` (bearer admin token,
//! roles enforced per handler). Every write runs in one transaction. The
//! route table, which also generates the OpenAPI document, is `routes.rs`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Caller;
use super::cache::AnswerCache;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use crate::auth::Role;
use crate::service::{
    self, ConfigWrite, EnvironmentInput, FlagInput, FlagPatch, FlagQueryParams, SdkKeyInput, SegmentInput, TokenInput,
};
use crate::state::AppState;
use crate::store::{AuditQueries, AuditQuery, Backend, StoreError, Undo};

pub(super) type Answer = Result<Response, ApiError>;

pub(super) fn ok<T: serde::Serialize>(value: T) -> Answer {
    Ok(axum::Json(value).into_response())
}

pub(super) fn created<T: serde::Serialize>(value: T) -> Answer {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

/// The base revision from `If-Match` (`"3"` or `3`) and/or the body; they must agree.
pub(super) fn base_revision(headers: &HeaderMap, body: Option<i64>) -> Result<Option<i64>, ApiError> {
    let header = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => {
            let text = v.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
            Some(text.parse::<i64>().map_err(|_| ApiError::BadRequest("If-Match must hold a revision number".into()))?)
        }
    };
    match (header, body) {
        (Some(h), Some(b)) if h != b => Err(ApiError::BadRequest("If-Match and baseRevision disagree".into())),
        (h, b) => Ok(h.or(b)),
    }
}

/// A view with its revision as the `ETag`.
fn with_etag(view: service::ConfigView) -> Answer {
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.revision)).ok();
    let mut response = axum::Json(view).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

pub(super) async fn list_environments<B: Backend>(State(s): State<AppState<B>>, caller: Caller) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::list_environments(&mut tx).await?)
}

pub(super) async fn create_environment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<EnvironmentInput>,
) -> Answer {
    caller.require(Role::Admin)?;
    s.write(move |tx| Box::pin(async move { created(service::create_environment(tx, &caller.actor, body).await?) }))
        .await
}

pub(super) async fn list_flags<B: Backend>(
    State(s): State<AppState<B>>,
    Extension(flag_lists): Extension<Arc<AnswerCache>>,
    caller: Caller,
    uri: axum::http::Uri,
    Query(q): Query<FlagQueryParams>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    // The list depends only on flag definitions: serve it from the cache
    // while the catalog version (read in this transaction) is unchanged.
    let version = tx.catalog_version().await?;
    let key = uri.query().unwrap_or_default();
    let bytes = match flag_lists.get(key, version) {
        Some(bytes) => bytes,
        None => {
            let page = service::list_flags(&mut tx, &q).await?;
            let json = serde_json::to_vec(&page).map_err(|e| ApiError::Store(StoreError::Corrupt(e.to_string())))?;
            let bytes = axum::body::Bytes::from(json);
            flag_lists.put(key.to_owned(), version, bytes.clone());
            bytes
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

pub(super) async fn create_flag<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<FlagInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { created(service::create_flag(tx, &caller.actor, body).await?) })).await
}

pub(super) async fn get_flag<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::get_flag(&mut tx, &key).await?)
}

pub(super) async fn update_flag<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<FlagPatch>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    s.write(move |tx| Box::pin(async move { ok(service::update_flag(tx, &caller.actor, &key, body).await?) })).await
}

pub(super) async fn delete_flag<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| {
        Box::pin(async move {
            service::delete_flag(tx, &caller.actor, &key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}

pub(super) async fn get_config<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    with_etag(service::get_config(&mut tx, &key, &env).await?)
}

pub(super) async fn put_config<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(mut body): Json<ConfigWrite>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    // Every refusal of a configuration write comes before it writes.
    s.write_with(Undo::NothingWritten, move |tx| {
        Box::pin(async move { with_etag(service::put_config(tx, &caller.actor, &key, &env, body).await?) })
    })
    .await
}

pub(super) async fn patch_config<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(mut body): Json<ConfigWrite>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    // Every refusal of a configuration write comes before it writes.
    s.write_with(Undo::NothingWritten, move |tx| {
        Box::pin(async move { with_etag(service::patch_config(tx, &caller.actor, &key, &env, body).await?) })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CopyBody {
    from: String,
    to: String,
    base_revision: Option<i64>,
}

pub(super) async fn copy_config<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(body): Json<CopyBody>,
) -> Answer {
    caller.require(Role::Editor)?;
    let base = base_revision(&headers, body.base_revision)?;
    // Every refusal of a configuration write comes before it writes.
    s.write_with(Undo::NothingWritten, move |tx| {
        Box::pin(
            async move { with_etag(service::copy_config(tx, &caller.actor, &key, &body.from, &body.to, base).await?) },
        )
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryParams {
    limit: Option<i64>,
}

pub(super) async fn config_history<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
    Query(q): Query<HistoryParams>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let mut tx = s.store.read().await?;
    ok(service::config_history(&mut tx, &key, &env, limit).await?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RollbackBody {
    revision: i64,
    base_revision: Option<i64>,
}

pub(super) async fn rollback_config<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<RollbackBody>,
) -> Answer {
    caller.require(Role::Editor)?;
    let base = base_revision(&headers, body.base_revision)?;
    // Every refusal of a configuration write comes before it writes.
    s.write_with(Undo::NothingWritten, move |tx| {
        Box::pin(async move {
            with_etag(service::rollback_config(tx, &caller.actor, &key, &env, body.revision, base).await?)
        })
    })
    .await
}

pub(super) async fn list_segments<B: Backend>(State(s): State<AppState<B>>, caller: Caller) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::list_segments(&mut tx).await?)
}

pub(super) async fn create_segment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<SegmentInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| Box::pin(async move { created(service::create_segment(tx, &caller.actor, body).await?) })).await
}

pub(super) async fn get_segment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let mut tx = s.store.read().await?;
    ok(service::get_segment(&mut tx, &key).await?)
}

pub(super) async fn update_segment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<SegmentInput>,
) -> Answer {
    caller.require(Role::Editor)?;
    body.base_revision = base_revision(&headers, body.base_revision)?;
    s.write(move |tx| Box::pin(async move { ok(service::update_segment(tx, &caller.actor, &key, body).await?) })).await
}

pub(super) async fn delete_segment<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(key): Path<String>,
) -> Answer {
    caller.require(Role::Editor)?;
    s.write(move |tx| {
        Box::pin(async move {
            service::delete_segment(tx, &caller.actor, &key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}

pub(super) async fn list_tokens<B: Backend>(State(s): State<AppState<B>>, caller: Caller) -> Answer {
    caller.require(Role::Admin)?;
    let mut tx = s.store.read().await?;
    ok(service::list_tokens(&mut tx).await?)
}

pub(super) async fn create_token<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<TokenInput>,
) -> Answer {
    caller.require(Role::Admin)?;
    s.write(move |tx| Box::pin(async move { created(service::create_token(tx, &caller.actor, body).await?) })).await
}

pub(super) async fn revoke_token<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer {
    caller.require(Role::Admin)?;
    let answer = s
        .write(move |tx| {
            Box::pin(async move {
                service::revoke_token(tx, &caller.actor, id).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        })
        .await;
    if answer.is_ok() {
        // Cached credentials go at once (other replicas hear the NOTIFY).
        s.hub.keys_changed();
    }
    answer
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SdkKeyParams {
    environment: Option<String>,
}

pub(super) async fn list_sdk_keys<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Query(q): Query<SdkKeyParams>,
) -> Answer {
    caller.require(Role::Admin)?;
    let mut tx = s.store.read().await?;
    ok(service::list_sdk_keys(&mut tx, q.environment.as_deref()).await?)
}

pub(super) async fn create_sdk_key<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(env): Path<String>,
    Json(body): Json<SdkKeyInput>,
) -> Answer {
    caller.require(Role::Admin)?;
    s.write(move |tx| Box::pin(async move { created(service::create_sdk_key(tx, &caller.actor, &env, body).await?) }))
        .await
}

pub(super) async fn revoke_sdk_key<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer {
    caller.require(Role::Admin)?;
    let answer = s
        .write(move |tx| {
            Box::pin(async move {
                service::revoke_sdk_key(tx, &caller.actor, id).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        })
        .await;
    if answer.is_ok() {
        s.hub.keys_changed();
    }
    answer
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    flag: Option<String>,
    actor: Option<String>,
    environment: Option<String>,
    /// RFC 3339 or epoch milliseconds.
    since: Option<String>,
    until: Option<String>,
    /// Page backwards: entries with a smaller id.
    before: Option<i64>,
    limit: Option<i64>,
}

fn instant(field: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|t| {
        t.parse::<i64>()
            .ok()
            .or_else(|| flagyard_eval::parse_rfc3339_millis(t))
            .ok_or_else(|| ApiError::invalid(field, "expected an RFC 3339 date-time or epoch milliseconds"))
    })
    .transpose()
}

pub(super) async fn audit<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Query(q): Query<AuditParams>,
) -> Answer {
    caller.require(Role::Viewer)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let query = AuditQuery {
        flag: q.flag,
        actor: q.actor,
        environment: q.environment,
        since: instant("since", q.since.as_deref())?,
        until: instant("until", q.until.as_deref())?,
        before_id: q.before,
        limit,
    };
    let mut tx = s.store.read().await?;
    ok(service::audit_log(&mut tx, &query).await?)
}
