//! A fake Flagyard server (axum, port 0) speaking docs/protocol.md, with
//! knobs to break it in the ways the SDK must survive, and counters.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

mod fixtures;
pub use fixtures::*;

pub const KEY: &str = "sdk-test-key";
pub const ENV: &str = "test";

type Chunk = Result<Bytes, std::io::Error>;

/// How the events endpoint answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Ok,
    Status(u16),
    RetryAfter(u16, u64),
}

#[derive(Default)]
pub struct Counters {
    pub stream: AtomicUsize,
    pub snapshot: AtomicUsize,
    pub events: AtomicUsize,
}

pub struct Inner {
    pub snapshot: Value,
    /// (version, patch data) of every change after `log_floor`.
    pub log: Vec<(u64, Value)>,
    pub log_floor: u64,
    streams: Vec<mpsc::UnboundedSender<Chunk>>,
    pub last_event_ids: Vec<Option<String>>,
    pub if_none_match: Vec<Option<String>>,
    /// Answer the stream endpoint with this status instead of a stream.
    pub stream_status: Option<u16>,
    pub snapshot_status: Option<u16>,
    /// A `401` for every request.
    pub revoked: bool,
    pub replies: VecDeque<Reply>,
    /// Every events request: when, and its body.
    pub batches: Vec<(Instant, Value)>,
    pub retry_ms: u64,
    pub heartbeat: Option<Duration>,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub url: String,
    pub counters: Arc<Counters>,
    inner: Arc<Mutex<Inner>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    counters: Arc<Counters>,
}

impl Fake {
    pub async fn start(snapshot: Value) -> Fake {
        let inner = Arc::new(Mutex::new(Inner {
            log_floor: snapshot["version"].as_u64().unwrap(),
            snapshot,
            log: Vec::new(),
            streams: Vec::new(),
            last_event_ids: Vec::new(),
            if_none_match: Vec::new(),
            stream_status: None,
            snapshot_status: None,
            revoked: false,
            replies: VecDeque::new(),
            batches: Vec::new(),
            retry_ms: 10,
            heartbeat: Some(Duration::from_millis(200)),
        }));
        let counters = Arc::new(Counters::default());
        let state = AppState { inner: inner.clone(), counters: counters.clone() };
        let app = Router::new()
            .route("/sdk/v1/snapshot", get(snapshot_handler))
            .route("/sdk/v1/stream", get(stream_handler))
            .route("/sdk/v1/events", post(events_handler))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Fake { addr, url: format!("http://{addr}"), counters, inner, stop: Some(stop), task: Some(task) }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn version(&self) -> u64 {
        self.lock().snapshot["version"].as_u64().unwrap()
    }

    /// One change: sets (or deletes, `None`) a flag, bumps the version,
    /// logs it and sends the patch to every open stream.
    pub fn set_flag(&self, key: &str, flag: Option<Value>) -> u64 {
        self.change(json!({ key: flag }), json!({}))
    }

    pub fn change(&self, flags: Value, segments: Value) -> u64 {
        self.change_with(flags, segments, true)
    }

    /// A change that open streams do not hear about (as if it happened while
    /// the SDK was disconnected).
    pub fn set_flag_quietly(&self, key: &str, flag: Option<Value>) -> u64 {
        self.change_with(json!({ key: flag }), json!({}), false)
    }

    pub fn change_with(&self, flags: Value, segments: Value, broadcast: bool) -> u64 {
        let mut g = self.lock();
        let version = g.snapshot["version"].as_u64().unwrap() + 1;
        g.snapshot["version"] = json!(version);
        for (section, entries) in [("flags", &flags), ("segments", &segments)] {
            for (k, v) in entries.as_object().unwrap() {
                if v.is_null() {
                    g.snapshot[section].as_object_mut().unwrap().remove(k);
                } else {
                    g.snapshot[section][k] = v.clone();
                }
            }
        }
        let patch = json!({"version": version, "flags": flags, "segments": segments});
        let frame = sse("patch", version, &patch);
        g.log.push((version, patch));
        if broadcast {
            g.streams.retain(|tx| tx.send(Ok(frame.clone())).is_ok());
        }
        version
    }

    /// Sends raw bytes to every open stream.
    pub fn send_raw(&self, bytes: &str) {
        let bytes = Bytes::from(bytes.to_owned());
        self.lock().streams.retain(|tx| tx.send(Ok(bytes.clone())).is_ok());
    }

    pub fn open_streams(&self) -> usize {
        self.lock().streams.retain(|tx| !tx.is_closed());
        self.lock().streams.len()
    }

    /// Ends every open stream cleanly.
    pub fn end_streams(&self) {
        self.lock().streams.clear();
    }

    /// Breaks every open stream (the connection is reset mid-body).
    pub fn break_streams(&self) {
        for tx in self.lock().streams.drain(..) {
            let _ = tx.send(Err(std::io::Error::other("boom")));
        }
    }

    /// Stops listening and ends every connection.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.end_streams();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Every events request: when, and its body.
    pub fn timed_batches(&self) -> Vec<(Instant, Value)> {
        self.lock().batches.clone()
    }

    pub fn batches(&self) -> Vec<Value> {
        self.lock().batches.iter().map(|(_, b)| b.clone()).collect()
    }

    /// Events of every batch that was answered 200 (in order).
    pub fn accepted_events(&self) -> Vec<Value> {
        self.lock().batches.iter().flat_map(|(_, b)| b["events"].as_array().unwrap().clone()).collect()
    }
}

/// An SSE frame; the data is pretty-printed so it spans several `data:` lines.
pub fn sse(event: &str, id: u64, data: &Value) -> Bytes {
    let mut out = format!("event: {event}\nid: {id}\n");
    for line in serde_json::to_string_pretty(data).unwrap().lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// The `401` answer, unless the request carries the key.
fn refused(headers: &HeaderMap, g: &Inner) -> Option<Response> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"));
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(KEY);
    if g.revoked || !(bearer || api_key) {
        let problem = json!({"type": "about:blank", "title": "Unauthorized", "status": 401});
        return Some(
            (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/problem+json")], problem.to_string())
                .into_response(),
        );
    }
    None
}

fn status(code: u16) -> Response {
    StatusCode::from_u16(code).unwrap().into_response()
}

async fn snapshot_handler(State(s): State<AppState>, headers: HeaderMap) -> Response {
    s.counters.snapshot.fetch_add(1, Ordering::SeqCst);
    let mut g = s.inner.lock().unwrap();
    if let Some(r) = refused(&headers, &g) {
        return r;
    }
    let inm = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    g.if_none_match.push(inm.clone());
    if let Some(code) = g.snapshot_status {
        return status(code);
    }
    let etag = format!("\"{}\"", g.snapshot["version"]);
    if inm.as_deref() == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "no-cache".into()),
        ],
        g.snapshot.to_string(),
    )
        .into_response()
}

async fn stream_handler(State(s): State<AppState>, headers: HeaderMap) -> Response {
    s.counters.stream.fetch_add(1, Ordering::SeqCst);
    let mut g = s.inner.lock().unwrap();
    if let Some(r) = refused(&headers, &g) {
        return r;
    }
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    g.last_event_ids.push(last.clone());
    if let Some(code) = g.stream_status {
        return status(code);
    }
    let (tx, rx) = mpsc::unbounded_channel::<Chunk>();
    let _ = tx.send(Ok(Bytes::from(format!("retry: {}\n\n", g.retry_ms))));
    match last.and_then(|l| l.parse::<u64>().ok()) {
        Some(v) if v >= g.log_floor => {
            for (version, patch) in g.log.iter().filter(|(version, _)| *version > v) {
                let _ = tx.send(Ok(sse("patch", *version, patch)));
            }
        }
        _ => {
            // Split the put across chunks at awkward places.
            let frame = sse("put", g.snapshot["version"].as_u64().unwrap(), &g.snapshot);
            let (a, rest) = frame.split_at(frame.len() / 3);
            let (b, c) = rest.split_at(7);
            for part in [a, b, c] {
                let _ = tx.send(Ok(Bytes::copy_from_slice(part)));
            }
        }
    }
    if let Some(every) = g.heartbeat {
        let weak = tx.downgrade();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match weak.upgrade() {
                    Some(tx) if tx.send(Ok(Bytes::from_static(b": heartbeat\n\n"))).is_ok() => {}
                    _ => return,
                }
            }
        });
    }
    g.streams.push(tx);
    let body =
        Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        ));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn events_handler(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    s.counters.events.fetch_add(1, Ordering::SeqCst);
    let mut g = s.inner.lock().unwrap();
    if let Some(r) = refused(&headers, &g) {
        return r;
    }
    let batch: Value = serde_json::from_slice(&body).unwrap();
    let n = batch["events"].as_array().unwrap().len();
    g.batches.push((Instant::now(), batch));
    match g.replies.pop_front().unwrap_or(Reply::Ok) {
        Reply::Ok => axum::Json(json!({"accepted": n, "rejected": []})).into_response(),
        Reply::Status(code) => status(code),
        Reply::RetryAfter(code, secs) => {
            (StatusCode::from_u16(code).unwrap(), [(header::RETRY_AFTER, secs.to_string())]).into_response()
        }
    }
}
