//! Operations: health, readiness and Prometheus metrics (the per-request
//! log line and metrics are the middleware's).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;
use crate::store::{Backend, TxQueries};

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

/// Ready: not stopping, the database answers, every migration is applied,
/// its storage is sound, and the writer can write (after a failed write
/// transaction, a probe write through the writer must succeed first).
/// Otherwise `503` with the reason as text.
async fn readyz<B: Backend>(State(state): State<AppState<B>>) -> Response {
    let unready = |reason: String| (StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    if state.shutdown.is_shutdown() {
        return unready("shutting down".into());
    }
    match state.store.ready().await {
        Ok(true) => {}
        Ok(false) => return unready("migrations pending".into()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            return unready(format!("database unreachable: {e}"));
        }
    }
    if let Some(problem) = state.store.storage_problem() {
        return unready(problem);
    }
    if let Some(failing) = state.writer.health().failing() {
        let probe = state.write(|tx| Box::pin(async move { tx.probe_write().await }));
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return unready(format!("the database cannot be written to: {e}")),
            Err(_) => {
                return unready(format!("the database cannot be written to (probe timed out; last error: {failing})"));
            }
        }
    }
    "ready".into_response()
}

/// How long `/readyz` waits for its probe write.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Prometheus text format.
async fn metrics<B: Backend>(State(state): State<AppState<B>>) -> Response {
    let pool = state.store.pool_stats();
    metrics::gauge!("flagyard_db_pool_connections", "backend" => state.store.name()).set(f64::from(pool.size));
    metrics::gauge!("flagyard_db_pool_idle_connections", "backend" => state.store.name()).set(f64::from(pool.idle));
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
