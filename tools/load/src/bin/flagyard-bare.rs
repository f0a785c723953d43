//! `flagyard-bare`: the floor for the OFREP benchmark (`scripts/bench-ofrep.sh`).
//!
//! A bare axum 0.8 app on the same Tokio runtime shape as the server (one
//! multi-thread runtime, a worker per core) whose handlers do what no
//! server can skip: take the request, read its body, answer a fixed JSON of
//! the size of a real answer. No authentication, parsing, evaluation,
//! middleware or logging. Flagyard's OFREP throughput is reported as a share
//! of this app's, measured alternately in the same window.
//!
//! ```text
//! flagyard-bare [PORT]     listens on 127.0.0.1:PORT (default 0: any free port) and prints
//!                          `listening 127.0.0.1:<port>`; stops on SIGTERM or Ctrl-C
//! ```
//! Routes: `POST /ofrep/v1/evaluate/flags/{key}` (one answer),
//! `POST /ofrep/v1/evaluate/flags` (three answers), `GET /healthz`.
//!
//! It is also the floor of the SSE benchmark (`scripts/bench-live.sh`,
//! `flagyard-load sse`): a bare broadcaster that answers the few admin calls
//! the load tool makes (`POST /api/v1/flags`, `GET /api/v1/environments`,
//! `GET`/`PATCH /api/v1/flags/{flag}/environments/{env}`) from one in-memory
//! boolean and version, and serves `GET /sdk/v1/stream`: an initial `put`
//! frame, then every change's `patch` frame, formatted once and shared by
//! every stream through a `tokio::sync::broadcast` channel. No database,
//! authentication, heartbeat or resume: what is left is what any server must
//! do to tell N open streams about a change.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// A single-flag answer as Flagyard gives it for the benchmark's plain flag.
const SINGLE: &str = r#"{"key":"plain","metadata":{"flagyardReason":"default","version":9},"reason":"STATIC","value":true,"variant":"on"}"#;
/// A bulk answer for the benchmark's three flags.
const BULK: &str = concat!(
    r#"{"eventStreams":[{"inactivityDelaySec":120,"type":"sse","url":"http://127.0.0.1/ofrep/v1/stream"}],"#,
    r#""flags":[{"key":"canary","metadata":{"flagyardReason":"split of rule `canary-25`","version":9},"reason":"SPLIT","value":false,"variant":"off"},"#,
    r#"{"key":"experiment","metadata":{"flagyardReason":"split of rule `targeted-split`","version":9},"reason":"SPLIT","value":"blue","variant":"blue"},"#,
    r#"{"key":"plain","metadata":{"flagyardReason":"default","version":9},"reason":"STATIC","value":true,"variant":"on"}],"#,
    r#""metadata":{"environment":"production","version":9}}"#
);

async fn single(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SINGLE)
}

async fn bulk(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BULK)
}

/// The broadcaster's whole state: the flag's `enabled`, the environment's
/// version, and the channel every stream listens on.
struct Live {
    state: Mutex<(bool, i64)>,
    frames: broadcast::Sender<Bytes>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, i64)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An SSE frame with a payload of the size of Flagyard's for a boolean flag.
fn frame(event: &str, enabled: bool, version: i64) -> Bytes {
    let flag = json!({"key": "live", "type": "boolean", "enabled": enabled, "variants": [
        {"key": "on", "value": true}, {"key": "off", "value": false}],
        "offVariant": "off", "fallthrough": {"variant": "off"}, "rules": [], "prerequisites": [], "revision": version});
    let data = json!({"version": version, "flags": {"live": flag}, "segments": {}});
    Bytes::from(format!("event: {event}\nid: {version}\ndata: {data}\n\n"))
}

/// `GET /sdk/v1/stream`: the current state, then every change.
async fn stream(State(live): State<Arc<Live>>) -> impl IntoResponse {
    // Subscribed under the lock: no change falls between the put and the channel.
    let (first, changes) = {
        let state = live.lock();
        (frame("put", state.0, state.1), live.frames.subscribe())
    };
    let frames = futures_util::stream::once(std::future::ready(first))
        .chain(BroadcastStream::new(changes).filter_map(|f| std::future::ready(f.ok())))
        .map(Ok::<_, Infallible>);
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(frames))
}

/// `PATCH /api/v1/flags/{flag}/environments/{env}`: toggles, broadcasts, answers.
async fn toggle(State(live): State<Arc<Live>>) -> impl IntoResponse {
    let mut state = live.lock();
    state.0 = !state.0;
    state.1 += 1;
    let _ = live.frames.send(frame("patch", state.0, state.1));
    Json(json!({"enabled": state.0, "revision": state.1}))
}

async fn config(State(live): State<Arc<Live>>) -> impl IntoResponse {
    Json(json!({"enabled": live.lock().0}))
}

async fn environments(State(live): State<Arc<Live>>) -> impl IntoResponse {
    Json(json!([{"key": "production", "version": live.lock().1}]))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|_| anyhow::anyhow!("usage: flagyard-bare [PORT]"))?,
        None => 0,
    };
    let app = Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(single))
        .route("/ofrep/v1/evaluate/flags", post(bulk))
        .route("/healthz", get(|| async { "ok" }))
        .route("/sdk/v1/stream", get(stream))
        .route("/api/v1/flags", post(|| async { (StatusCode::CREATED, Json(json!({}))) }))
        .route("/api/v1/environments", get(environments))
        .route("/api/v1/flags/{flag}/environments/{env}", get(config).patch(toggle))
        .with_state(Arc::new(Live { state: Mutex::new((false, 1)), frames: broadcast::channel(64).0 }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?);
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    Ok(())
}
