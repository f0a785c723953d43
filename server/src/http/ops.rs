//! Operations: health, readiness, Prometheus metrics, and the per-request
//! log line and metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::store::Backend;

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<B>))
        .route("/metrics", get(metrics::<B>))
}

/// The process is alive.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and every migration is applied.
async fn readyz<B: Backend>(State(state): State<AppState<B>>) -> Response {
    match state.store.ready().await {
        Ok(true) if !state.shutdown.is_shutdown() => "ready".into_response(),
        Ok(true) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Prometheus text format.
async fn metrics<B: Backend>(State(state): State<AppState<B>>) -> Response {
    let pool = state.store.pool_stats();
    metrics::gauge!("flagyard_db_pool_connections", "backend" => B::NAME).set(f64::from(pool.size));
    metrics::gauge!("flagyard_db_pool_idle_connections", "backend" => B::NAME).set(f64::from(pool.idle));
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Middleware: a request id (`X-Request-Id`, kept if the client sent a sane
/// one), one log line per request, request count and latency histogram by
/// route template and status.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_owned);
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    let status = response.status().as_u16();
    let latency = started.elapsed();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let labels = [("method", method.to_string()), ("route", route), ("status", status.to_string())];
    metrics::counter!("flagyard_http_requests_total", &labels).increment(1);
    metrics::histogram!("flagyard_http_request_duration_seconds", &labels).record(latency.as_secs_f64());
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

fn new_request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}
