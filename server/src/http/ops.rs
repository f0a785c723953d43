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
/// one), one log line per request (when `info` is enabled), request count
/// and latency histogram by route template and status.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Labels come from fixed sets only: a known method (else `other`), the
    // matched route template (never the raw path), the status code.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method_label = method_label(request.method());
    // What only the log line needs is taken only when it will be written.
    let logged = tracing::enabled!(tracing::Level::INFO).then(|| {
        let client = super::client_addr::client_ip(request.extensions(), request.headers());
        (request.method().clone(), request.uri().path().to_owned(), client)
    });
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_owned);
    let mut response = if logged.is_some() {
        let span = tracing::info_span!("request", request_id = %request_id);
        tracing::Instrument::instrument(next.run(request), span).await
    } else {
        next.run(request).await
    };
    let status = response.status().as_u16();
    let latency = started.elapsed();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let route = route.as_ref().map_or("unmatched", |m| m.as_str());
    record_request(route, method_label, status, latency.as_secs_f64());
    if let Some((method, path, client)) = logged {
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
    }
    response
}

/// The request counter and latency histogram of one label set.
type RequestSeries = (&'static str, u16, metrics::Counter, metrics::Histogram);

/// Registered series by route template, then method and status: looked up
/// without building label strings or asking the recorder's registry on
/// every request. Bounded as the labels are (routes x methods x statuses).
static REQUEST_SERIES: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<String, Vec<RequestSeries>>>> =
    std::sync::LazyLock::new(Default::default);

/// Counts one request and records its latency.
fn record_request(route: &str, method: &'static str, status: u16, seconds: f64) {
    {
        let series = REQUEST_SERIES.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, count, latency)) =
            series.get(route).and_then(|v| v.iter().find(|(m, s, _, _)| *m == method && *s == status))
        {
            count.increment(1);
            latency.record(seconds);
            return;
        }
    }
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    let count = metrics::counter!("flagyard_http_requests_total", &labels);
    let latency = metrics::histogram!("flagyard_http_request_duration_seconds", &labels);
    count.increment(1);
    latency.record(seconds);
    let mut series = REQUEST_SERIES.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = series.entry(route.to_owned()).or_default();
    if !entry.iter().any(|(m, s, _, _)| *m == method && *s == status) {
        entry.push((method, status, count, latency));
    }
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
    crate::auth::lower_hex(&b)
}
