//! One connection to `GET /sdk/v1/stream`, from request to end.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL};
use tokio::time::Instant;

use super::SourceCtx;
use super::poll::{PollOutcome, poll_once};
use super::sse::{Item, Parser, SseEvent};
use crate::store::{Applied, ClientState, Patch, PatchError};

/// Largest SSE event accepted (a `put` holds a whole snapshot).
const MAX_EVENT_BYTES: usize = 64 << 20;

/// How a connection ended.
pub(crate) enum StreamEnd {
    /// No `200`: connection error, timeout, or an error status.
    ConnectFailed(String),
    /// Connected, then the stream ended, broke, or fell silent.
    Dropped {
        connected_for: Duration,
        reason: String,
    },
    /// `401`/`403` (on connect, or when fetching a snapshot).
    Refused(String),
    Shutdown,
}

/// Connects (with `Last-Event-ID` when the store holds server rules) and
/// applies events until the stream ends. `retry` receives the server's
/// `retry:` value.
pub(crate) async fn run_once(ctx: &SourceCtx, retry: &mut Duration) -> StreamEnd {
    let mut req = ctx
        .http
        // `patch=configs`: a patch that changes only configurations (a
        // release) sends each flag's configuration, not its whole definition.
        .get(format!("{}/sdk/v1/stream?patch=configs", ctx.base))
        .header(AUTHORIZATION, ctx.auth.clone())
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    if let Some(v) = ctx.store.server_version() {
        req = req.header("Last-Event-ID", v.to_string());
    }
    let mut shutdown = ctx.shutdown.clone();
    let sent = tokio::select! {
        r = tokio::time::timeout(ctx.config.request_timeout, req.send()) => r,
        _ = crate::stopped(&mut shutdown) => return StreamEnd::Shutdown,
    };
    let mut resp = match sent {
        Err(_) => return StreamEnd::ConnectFailed("no answer from the stream endpoint in time".into()),
        Ok(Err(e)) => return StreamEnd::ConnectFailed(format!("stream request failed: {e}")),
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return StreamEnd::Refused(format!("the server refused the SDK key ({status})"));
    }
    if !status.is_success() {
        return StreamEnd::ConnectFailed(format!("stream request answered {status}"));
    }
    let connected = Instant::now();
    if ctx.store.server_version().is_some() {
        // Resuming: the server sends only what is missing, maybe nothing.
        ctx.store.set_state(ClientState::Ready);
    }
    let dropped = |reason: String| StreamEnd::Dropped { connected_for: connected.elapsed(), reason };
    let silence = ctx.config.silence_limit();
    let mut parser = Parser::new(MAX_EVENT_BYTES);
    let mut items = Vec::new();
    loop {
        let chunk = tokio::select! {
            c = tokio::time::timeout(silence, resp.chunk()) => c,
            _ = crate::stopped(&mut shutdown) => return StreamEnd::Shutdown,
        };
        let bytes = match chunk {
            Err(_) => return dropped(format!("nothing received for {silence:?} (heartbeat timeout)")),
            Ok(Err(e)) => return dropped(format!("stream broken: {e}")),
            Ok(Ok(None)) => return dropped("the server ended the stream".into()),
            Ok(Ok(Some(bytes))) => bytes,
        };
        if let Err(e) = parser.feed(&bytes, &mut items) {
            return dropped(e.to_string());
        }
        for item in items.drain(..) {
            match item {
                Item::Retry(ms) => *retry = Duration::from_millis(ms),
                Item::Comment => {}
                Item::Event(ev) => {
                    if let Some(end) = handle(ctx, ev).await {
                        return end;
                    }
                }
            }
        }
    }
}

/// Applies one event; `Some` ends the stream.
async fn handle(ctx: &SourceCtx, ev: SseEvent) -> Option<StreamEnd> {
    let problem = match ev.event.as_str() {
        "put" => match flagyard_eval::parse_snapshot(&ev.data) {
            Ok(snapshot) => ctx.apply_put(snapshot).await.err().map(|e| format!("invalid put: {e}")),
            Err(e) => Some(format!("invalid put: {e}")),
        },
        "patch" => match serde_json::from_str::<Patch>(&ev.data) {
            Ok(patch) => match ctx.store.patch(patch) {
                Ok(Applied::Changed(loaded)) => {
                    ctx.store.set_state(ClientState::Ready);
                    ctx.write_cache(loaded).await;
                    None
                }
                Ok(Applied::Stale | Applied::Unchanged) => {
                    tracing::debug!(id = %ev.id, "flagyard: ignoring a patch not above the current version");
                    None
                }
                Err(PatchError::NoBase) => Some("a patch arrived before any snapshot".into()),
                Err(e @ (PatchError::Compile(_) | PatchError::UnknownFlag(_))) => Some(e.to_string()),
            },
            Err(e) => Some(format!("invalid patch: {e}")),
        },
        other => {
            tracing::debug!(event = other, "flagyard: ignoring an unknown stream event");
            None
        }
    };
    let problem = problem?;
    tracing::error!(id = %ev.id, %problem, "flagyard: cannot apply a stream event; fetching the full snapshot");
    match poll_once(ctx, true).await {
        PollOutcome::Refused(reason) => Some(StreamEnd::Refused(reason)),
        PollOutcome::Shutdown => Some(StreamEnd::Shutdown),
        PollOutcome::Current | PollOutcome::Failed(_) => None,
    }
}
