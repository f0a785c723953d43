//! `GET /ui/events`: Server-Sent Events that keep open lists current.
//!
//! Each message is `data: {"topic":"flags","version":N}` where `N` is the
//! sum of the environments' versions, the number the flags table renders as
//! `data-version` (see `flag_rows.rs`); `assets/app.js` re-fetches the table
//! when `N` is greater. The stream subscribes to the hub's per-environment
//! signals (woken right after every commit, here or, through the change log,
//! on another replica), sends the current version on connect (so a change
//! made between rendering the page and connecting is not missed),
//! heartbeats when quiet, re-reads the environments now and then (new
//! environments, a lagging subscriber), and ends when the server stops.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::select_all;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::time::{Instant, Interval, interval_at};

use super::error::UiError;
use super::request::Signed;
use crate::http::ApiError;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::state::Signal;
use crate::store::{Backend, EnvironmentQueries};

/// How often the environments are re-read regardless of signals.
const RESCAN_EVERY: Duration = Duration::from_secs(10);

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new().route("/ui/events", get(events::<B>))
}

/// One open stream.
struct Watch<B: Backend> {
    state: AppState<B>,
    /// The session the stream was opened with: re-checked on every
    /// credential signal (logout, password change, disabled or deleted
    /// user, here or on another replica) and every heartbeat.
    session_id: String,
    keys: Receiver<()>,
    receivers: Vec<(i64, Receiver<Signal>)>,
    versions: HashMap<i64, i64>,
    /// The version last announced.
    sent: u64,
    beat: Interval,
    rescan: Interval,
    shutdown: Shutdown,
    first: bool,
}

/// What woke the stream.
enum Wake {
    Stop,
    Beat,
    Keys,
    Rescan,
    Signal(usize, Result<Signal, RecvError>),
}

impl<B: Backend> Watch<B> {
    fn version(&self) -> u64 {
        self.versions.values().map(|v| u64::try_from(*v).unwrap_or(0)).sum()
    }

    /// Subscribes to environments not followed yet (before reading their
    /// versions, so nothing committed in between is missed), then reads
    /// every environment's version.
    async fn rescan(&mut self) -> Result<(), ApiError> {
        let mut tx = self.state.store.read().await?;
        let environments = tx.environments().await?;
        drop(tx);
        let mut fresh = false;
        for env in &environments {
            if !self.receivers.iter().any(|(id, _)| *id == env.id) {
                self.receivers.push((env.id, self.state.hub.subscribe(env.id)));
                fresh = true;
            }
        }
        let environments = if fresh {
            let mut tx = self.state.store.read().await?;
            let again = tx.environments().await?;
            drop(tx);
            again
        } else {
            environments
        };
        self.versions.clear();
        for env in environments {
            self.state.hub.observed(env.id, env.version);
            self.versions.insert(env.id, env.version);
        }
        Ok(())
    }

    async fn wake(&mut self) -> Wake {
        let Watch { receivers, shutdown, rescan, beat, keys, .. } = self;
        let signals = async {
            if receivers.is_empty() {
                return std::future::pending().await;
            }
            let waits = receivers.iter_mut().map(|(_, rx)| Box::pin(rx.recv()));
            let (result, i, _) = select_all(waits).await;
            Wake::Signal(i, result)
        };
        tokio::select! {
            biased;
            () = shutdown.recv() => Wake::Stop,
            wake = signals => wake,
            key = keys.recv() => if matches!(key, Err(RecvError::Closed)) { Wake::Stop } else { Wake::Keys },
            _ = rescan.tick() => Wake::Rescan,
            _ = beat.tick() => Wake::Beat,
        }
    }

    /// The next chunk of the stream, or `None` at the end.
    async fn next(&mut self) -> Option<Bytes> {
        if self.first {
            self.first = false;
            let version = self.version();
            self.sent = version;
            return Some(message(version, "retry: 1000\n\n"));
        }
        loop {
            match self.wake().await {
                Wake::Stop => return None,
                Wake::Beat => {
                    if !self.session_alive().await {
                        return None;
                    }
                    return Some(Bytes::from_static(b": heartbeat\n\n"));
                }
                Wake::Keys => {
                    if !self.session_alive().await {
                        return None;
                    }
                }
                Wake::Signal(i, Ok(Signal::Patch(frame))) => self.seen(i, frame.version),
                Wake::Signal(i, Ok(Signal::Reset(version))) => self.seen(i, version),
                Wake::Signal(i, Err(RecvError::Closed)) => {
                    self.receivers.swap_remove(i);
                }
                Wake::Signal(_, Err(RecvError::Lagged(_))) | Wake::Rescan => {
                    if let Err(e) = self.rescan().await {
                        tracing::warn!(error = %e, "live updates could not read the environments");
                    }
                }
            }
            let version = self.version();
            if version > self.sent {
                self.sent = version;
                self.beat.reset();
                return Some(message(version, ""));
            }
        }
    }

    /// Whether the stream's session still stands; a database error keeps the
    /// stream (it is checked again at the next heartbeat).
    async fn session_alive(&self) -> bool {
        let now = crate::service::now_ms();
        let found = match self.state.store.read().await {
            Ok(mut tx) => crate::service::resolve_session(&mut tx, &self.session_id, now).await,
            Err(e) => Err(e.into()),
        };
        match found {
            Ok(Some(_)) => true,
            Ok(None) => {
                tracing::info!("web UI session ended: closing its live-update stream");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "live updates could not check their session");
                true
            }
        }
    }

    fn seen(&mut self, receiver: usize, version: i64) {
        if let Some((id, _)) = self.receivers.get(receiver) {
            let known = self.versions.entry(*id).or_insert(0);
            *known = (*known).max(version);
        }
    }
}

/// One event announcing `version`, after `prefix` (e.g. a `retry:` line).
fn message(version: u64, prefix: &str) -> Bytes {
    Bytes::from(format!("{prefix}data: {{\"topic\":\"flags\",\"version\":{version}}}\n\n"))
}

async fn events<B: Backend>(State(state): State<AppState<B>>, Signed(user): Signed) -> Result<Response, UiError> {
    let every = state.config.sse_heartbeat;
    let start = Instant::now();
    let mut watch = Watch {
        shutdown: state.shutdown.clone(),
        keys: state.hub.subscribe_keys(),
        session_id: user.session_id.clone(),
        state,
        receivers: Vec::new(),
        versions: HashMap::new(),
        sent: 0,
        beat: interval_at(start + every, every),
        rescan: interval_at(start + RESCAN_EVERY, RESCAN_EVERY),
        first: true,
    };
    watch.rescan().await?;
    let body = futures_util::stream::unfold(watch, |mut watch| async move {
        let chunk = watch.next().await?;
        Some((Ok::<_, Infallible>(chunk), watch))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some([(name, value)]) = user.cookie_renewal() {
        headers.append(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_event_each() {
        assert_eq!(&message(42, "")[..], b"data: {\"topic\":\"flags\",\"version\":42}\n\n");
        assert!(message(1, "retry: 1000\n\n").starts_with(b"retry: 1000\n\ndata: "));
    }
}
