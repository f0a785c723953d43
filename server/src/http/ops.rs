//! Operations: health, readiness, Prometheus metrics, and the per-request
//! log line and metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
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

/// Middleware: a request id (`X-Request-Id`, kept if the client sent a sane
/// one), one log line per request, request count and latency histogram by
/// route template and status.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Labels come from fixed sets only: a known method (else `other`), the
    // matched route template (never the raw path), the status code.
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let method_label = method_label(&method);
    let client = super::client_addr::client_ip(request.extensions(), request.headers());
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
    let labels = [("method", method_label.to_owned()), ("route", route), ("status", status.to_string())];
    metrics::counter!("flagyard_http_requests_total", &labels).increment(1);
    metrics::histogram!("flagyard_http_request_duration_seconds", &labels).record(latency.as_secs_f64());
    // The method as sent is logged (bounded by the request-line limit).
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        client = client.map(tracing::field::display),
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// Longest query string accepted (a longer one is answered `414`).
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// The Content-Security-Policy of UI pages: scripts, styles and everything
/// else only from this origin (the UI has no inline script or style), no
/// framing, no plugins, forms only to this origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware: refuses an over-long query string (`414`, problem body)
/// before any handler runs, and sets security headers: `nosniff` on every
/// answer, and on HTML pages a restrictive CSP, `X-Frame-Options: DENY` and
/// `Referrer-Policy: same-origin`.
pub async fn guard(request: Request, next: Next) -> Response {
    if request.uri().query().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
        return super::ApiError::UriTooLong.into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let html =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    response
}

/// The metrics label of a method: the standard ones by name, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

fn new_request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}
