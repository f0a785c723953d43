//! `GET /sdk/v1/snapshot` and `GET /sdk/v1/stream` (see docs/protocol.md).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::http::{ApiError, SdkCaller};
use crate::state::AppState;
use crate::state::Signal;
use crate::state::{HEARTBEAT, RETRY, frame, patch_frame, snapshot_json};
use crate::store::{Backend, ChangeQueries, Environment, Queries};

/// A resume with more missed versions than this gets a whole snapshot.
pub const MAX_RESUME: i64 = 1000;

/// The environment's current whole-snapshot payload: built once per version
/// and shared by every request at that version.
async fn snapshot_bytes<B: Backend>(state: &AppState<B>, caller: &SdkCaller) -> Result<(i64, Bytes), ApiError> {
    let mut tx = state.store.read().await?;
    let env = environment(&mut tx, caller).await?;
    if let Some(bytes) = state.hub.cached_snapshot((env.id, env.version)) {
        return Ok((env.version, bytes));
    }
    let bytes = Bytes::from(snapshot_json(&mut tx, &env).await?);
    state.hub.cache_snapshot((env.id, env.version), bytes.clone());
    Ok((env.version, bytes))
}

async fn environment<T: Queries>(tx: &mut T, caller: &SdkCaller) -> Result<Environment, ApiError> {
    tx.environment(&caller.environment)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("environment `{}`", caller.environment)))
}

fn etag_matches(headers: &HeaderMap, version: i64) -> bool {
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| t.trim().trim_start_matches("W/").trim_matches('"') == version.to_string())
    })
}

/// `GET /sdk/v1/snapshot`.
pub async fn snapshot<B: Backend>(
    State(state): State<AppState<B>>,
    caller: SdkCaller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (version, bytes) = snapshot_bytes(&state, &caller).await?;
    let etag = HeaderValue::from_str(&format!("\"{version}\"")).map_err(|_| ApiError::NotFound("version".into()))?;
    let mut response = if etag_matches(&headers, version) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
    };
    response.headers_mut().insert(header::ETAG, etag);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// One open stream.
struct Conn<B: Backend> {
    state: AppState<B>,
    caller: SdkCaller,
    signals: BroadcastStream<Signal>,
    /// Server shutdown or the key's revocation.
    ended: Pin<Box<dyn Future<Output = ()> + Send>>,
    heartbeat: tokio::time::Interval,
    pending: VecDeque<Bytes>,
    version: i64,
    /// Asked for `configs` patch entries (`?patch=configs`).
    configs: bool,
}

impl<B: Backend> Drop for Conn<B> {
    fn drop(&mut self) {
        metrics::gauge!("flagyard_stream_connections").decrement(1.0);
    }
}

impl<B: Backend> Conn<B> {
    /// Queues a whole snapshot (on `Reset`, on lag, or when a resume is too far back).
    async fn queue_put(&mut self) -> Result<(), ApiError> {
        let (version, bytes) = snapshot_bytes(&self.state, &self.caller).await?;
        let json = std::str::from_utf8(&bytes).unwrap_or("{}");
        self.pending.push_back(frame("put", version, json).bytes);
        self.version = version;
        Ok(())
    }

    /// The next bytes to send, or `None` to end the stream.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                self.heartbeat.reset();
                return Some(b);
            }
            tokio::select! {
                biased;
                () = &mut self.ended => return None,
                signal = self.signals.next() => match signal {
                    Some(Ok(Signal::Patch(f))) if f.version > self.version => {
                        self.version = f.version;
                        self.pending.push_back(f.for_stream(self.configs));
                    }
                    Some(Ok(Signal::Patch(_))) => {}
                    Some(Ok(Signal::Reset(v))) if v <= self.version => {}
                    // Lagged: frames were missed, a whole snapshot replaces them.
                    Some(Ok(Signal::Reset(_)) | Err(BroadcastStreamRecvError::Lagged(_))) => {
                        metrics::counter!("flagyard_stream_resets_total").increment(1);
                        // Boxed: inline, the snapshot read's future would make
                        // every idle stream's `next` future as large as it.
                        Box::pin(self.queue_put()).await.ok()?;
                    }
                    None => return None,
                },
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(HEARTBEAT)),
            }
        }
    }
}

/// Whether the query asks for `configs` patch entries: `patch=configs`
/// (other values and parameters are ignored, for clients of later versions).
fn wants_configs(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| q.split('&').any(|p| p == "patch=configs"))
}

/// `GET /sdk/v1/stream`.
pub async fn stream<B: Backend>(
    State(state): State<AppState<B>>,
    caller: SdkCaller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let configs = wants_configs(&uri);
    let last_event_id =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    // Subscribe before reading: nothing committed after the read is missed.
    let signals = BroadcastStream::new(state.hub.subscribe(caller.environment_id));
    let ended = Box::pin(super::ended(&state, caller.clone(), "stream"));
    let mut pending: VecDeque<Bytes> = VecDeque::from([Bytes::from_static(RETRY)]);
    let mut tx = state.store.read().await?;
    let env = environment(&mut tx, &caller).await?;
    let mut resumed = false;
    if let Some(last) = last_event_id.filter(|l| (0..=env.version).contains(l) && env.version - l <= MAX_RESUME) {
        let changes = tx.changes_after(env.id, last, env.version - last).await?;
        let contiguous =
            changes.len() as i64 == env.version - last && changes.iter().zip(last + 1..).all(|(c, v)| c.version == v);
        if contiguous {
            let mut frames = Vec::with_capacity(changes.len());
            for change in &changes {
                match patch_frame(&mut tx, &env, change).await? {
                    Some(f) => frames.push(f.for_stream(configs)),
                    None => break,
                }
            }
            if frames.len() == changes.len() {
                pending.extend(frames);
                resumed = true;
            }
        }
    }
    drop(tx);
    let heartbeat_every = state.config.sse_heartbeat;
    let mut conn = Conn {
        state: state.clone(),
        caller,
        signals,
        ended,
        heartbeat: tokio::time::interval_at(tokio::time::Instant::now() + heartbeat_every, heartbeat_every),
        pending,
        version: env.version,
        configs,
    };
    metrics::gauge!("flagyard_stream_connections").increment(1.0);
    if !resumed {
        conn.queue_put().await?;
    }
    state.hub.observed(env.id, conn.version);
    let body = futures_util::stream::unfold(conn, |mut conn| async move {
        conn.next().await.map(|bytes| (Ok::<_, Infallible>(bytes), conn))
    });
    let mut response = Body::from_stream(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::{Hub, Shared, Writer};
    use crate::store::{Database, TxMarks};

    /// What an idle stream keeps between frames is its `Conn`, the pending
    /// `next` future and the boxed `ended` future. Database reads inside
    /// them must stay boxed: inline, their futures made every open stream
    /// cost ~75 KiB instead of ~23 (`scripts/bench-live.sh`, memory row).
    #[tokio::test]
    async fn an_idle_streams_state_stays_small() {
        let dir =
            std::env::temp_dir().join(format!("flagyard_sse_size_{}_{}", std::process::id(), crate::service::now_ms()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("s.db").display());
        let store = Database::open(&url, 2, true).await.unwrap();
        let config = crate::config::Config::from_lookup(|_| None).unwrap();
        let (_trigger, shutdown) = crate::shutdown::channel();
        let state = AppState::new(Shared {
            store: store.clone(),
            config: Arc::new(config),
            metrics: crate::telemetry::metrics_handle(),
            shutdown,
            hub: Hub::new(),
            writer: Arc::new(Writer::start(store.clone(), |_: &TxMarks| {})),
            credentials: Arc::default(),
            scheduler: Arc::new(crate::state::Scheduler::new(None)),
        });
        let caller = SdkCaller { key_id: 1, environment_id: 1, environment: "production".into(), key_hash: "x".into() };
        let ended = super::super::ended(&state, caller.clone(), "test");
        let ended_size = std::mem::size_of_val(&ended);
        let mut conn = Conn {
            state: state.clone(),
            caller,
            signals: BroadcastStream::new(state.hub.subscribe(1)),
            ended: Box::pin(ended),
            heartbeat: tokio::time::interval(std::time::Duration::from_secs(15)),
            pending: VecDeque::new(),
            version: 0,
            configs: true,
        };
        let next_size = std::mem::size_of_val(&conn.next());
        eprintln!("ended: {ended_size} bytes, next: {next_size} bytes");
        assert!(ended_size <= 4096, "the `ended` future is {ended_size} bytes");
        assert!(next_size <= 4096, "the `next` future is {next_size} bytes");
        drop(conn);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
