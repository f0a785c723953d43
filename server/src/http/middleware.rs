//! The middleware every request passes: [`Observe`], the router's one route
//! layer, a tower service with a concrete future (nothing is boxed or cloned
//! per request beyond what the router itself does for a route layer). It
//! runs after routing, so it knows the matched route template:
//!
//! * it refuses an over-long query string (`414`, problem body) before any
//!   handler runs;
//! * it puts the body limit and the trusted proxies in the request's
//!   extensions (for [`super::read_body`] and [`super::client_ip`]);
//! * it gives every answer a request id (`X-Request-Id`, kept if the client
//!   sent a sane one) and the security headers;
//! * it writes one log line per request when `info` is on, and counts the
//!   request and its latency by route template, method and status.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{ApiError, BodyLimit, TrustedProxies};

/// Longest query string accepted (a longer one is answered `414`).
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// The Content-Security-Policy of UI pages: scripts, styles and everything
/// else only from this origin (the UI has no inline script or style), no
/// framing, no plugins, forms only to this origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `nosniff` on every answer; on HTML pages a restrictive CSP,
/// `X-Frame-Options: DENY` and `Referrer-Policy: same-origin`.
fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
}

/// The route layer that makes [`Observe`], with what it puts in every request.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    body_limit: BodyLimit,
    proxies: TrustedProxies,
}

impl ObserveLayer {
    pub fn new(body_limit: usize, proxies: TrustedProxies) -> ObserveLayer {
        ObserveLayer { body_limit: BodyLimit(body_limit), proxies }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner, body_limit: self.body_limit, proxies: self.proxies.clone() }
    }
}

/// The middleware (see the module docs).
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    body_limit: BodyLimit,
    proxies: TrustedProxies,
}

/// What only the log line needs, taken only when it will be written.
struct Logged {
    span: tracing::Span,
    method: Method,
    path: String,
    client: Option<std::net::IpAddr>,
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let extensions = request.extensions_mut();
        extensions.insert(self.body_limit);
        extensions.insert(self.proxies.clone());
        // Labels come from fixed sets only: a known method (else `other`), the
        // matched route template (never the raw path), the status code.
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        // The client's id when it sent a sane one (a cheap clone of its bytes).
        let request_id = request
            .headers()
            .get("x-request-id")
            .filter(|v| !v.is_empty() && v.len() <= 64 && v.as_bytes().iter().all(u8::is_ascii_graphic))
            .cloned()
            .unwrap_or_else(new_request_id);
        let logged = tracing::enabled!(tracing::Level::INFO).then(|| Logged {
            span: tracing::info_span!("request", request_id = request_id.to_str().unwrap_or("-")),
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            client: super::client_addr::client_ip(request.extensions(), request.headers()),
        });
        let inner = if request.uri().query().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
            Answer::Refused { response: Some(ApiError::UriTooLong.into_response()) }
        } else {
            Answer::Routed {
                inner: match &logged {
                    Some(l) => l.span.in_scope(|| self.inner.call(request)),
                    None => self.inner.call(request),
                },
            }
        };
        ObserveFuture { inner, started, route, method, request_id: Some(request_id), logged }
    }
}

pin_project! {
    /// The routed answer, or the refusal of an over-long query.
    #[project = AnswerProjection]
    pub enum Answer<F> {
        Routed { #[pin] inner: F },
        Refused { response: Option<Response> },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Answer<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProjection::Routed { inner } => inner.poll(cx),
            // Polled again after it finished: a caller's bug, answered, not a panic.
            AnswerProjection::Refused { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())))
            }
        }
    }
}

pin_project! {
    /// [`Observe`]'s answer.
    pub struct ObserveFuture<F> {
        #[pin]
        inner: Answer<F>,
        started: Instant,
        route: Option<MatchedPath>,
        method: &'static str,
        request_id: Option<HeaderValue>,
        logged: Option<Logged>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for ObserveFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.logged {
            Some(l) => {
                let _entered = l.span.enter();
                ready!(this.inner.poll(cx))?
            }
            None => ready!(this.inner.poll(cx))?,
        };
        let status = response.status().as_u16();
        let latency = this.started.elapsed();
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        record_request(route, this.method, status, latency.as_secs_f64());
        let request_id = this.request_id.take().unwrap_or_else(new_request_id);
        if let Some(Logged { method, path, client, .. }) = this.logged.take() {
            // The method as sent is logged (bounded by the request-line limit).
            tracing::info!(
                request_id = request_id.to_str().unwrap_or("-"),
                method = %method,
                path = %path,
                client = client.map(tracing::field::display),
                status,
                latency_ms = latency.as_secs_f64() * 1000.0,
                "request"
            );
        }
        response.headers_mut().insert("x-request-id", request_id);
        secure(&mut response);
        Poll::Ready(Ok(response))
    }
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

/// A fresh request id: 16 lowercase hex digits.
fn new_request_id() -> HeaderValue {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let mut text = [0u8; 16];
    // The buffer is exactly twice the input, the one case `encode_to_slice` refuses otherwise.
    let _ = hex::encode_to_slice(bytes, &mut text);
    // Hex digits are visible ASCII, which a header value always accepts.
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_sixteen_hex_digits() {
        let (a, b) = (new_request_id(), new_request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 16);
            assert!(id.as_bytes().iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id:?}");
        }
        assert_ne!(a, b);
    }

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
