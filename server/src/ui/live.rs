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
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use tokio::time::{Instant, Interval, interval_at};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

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
    keys: BroadcastStream<()>,
    /// Each environment's signals; a closed channel leaves the map.
    signals: StreamMap<i64, BroadcastStream<Signal>>,
    versions: HashMap<i64, i64>,
    /// The version last announced.
    sent: u64,
    beat: Interval,
    rescan: Interval,
    shutdown: Shutdown,
}

/// What woke the stream.
enum Wake {
    Stop,
    Beat,
    Keys,
    Rescan,
    Signal(i64, Result<Signal, BroadcastStreamRecvError>),
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
            if !self.signals.contains_key(&env.id) {
                self.signals.insert(env.id, BroadcastStream::new(self.state.hub.subscribe(env.id)));
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
        let Watch { signals, shutdown, rescan, beat, keys, .. } = self;
        tokio::select! {
            biased;
            () = shutdown.recv() => Wake::Stop,
            // Disabled while no environment is followed.
            Some((id, signal)) = signals.next() => Wake::Signal(id, signal),
            key = keys.next() => if key.is_none() { Wake::Stop } else { Wake::Keys },
            _ = rescan.tick() => Wake::Rescan,
            _ = beat.tick() => Wake::Beat,
        }
    }

    /// The next event of the stream, or `None` at the end.
    async fn next(&mut self) -> Option<Event> {
        loop {
            match self.wake().await {
                Wake::Stop => return None,
                wake @ (Wake::Beat | Wake::Keys) => {
                    if !self.session_alive().await {
                        return None;
                    }
                    if matches!(wake, Wake::Beat) {
                        return Some(Event::default().comment("heartbeat"));
                    }
                }
                Wake::Signal(id, Ok(Signal::Patch(frame))) => self.seen(id, frame.version),
                Wake::Signal(id, Ok(Signal::Reset(version))) => self.seen(id, version),
                // Lagged: signals were missed; the environments say where they stand.
                Wake::Signal(_, Err(BroadcastStreamRecvError::Lagged(_))) | Wake::Rescan => {
                    if let Err(e) = self.rescan().await {
                        tracing::warn!(error = %e, "live updates could not read the environments");
                    }
                }
            }
            let version = self.version();
            if version > self.sent {
                self.sent = version;
                self.beat.reset();
                return Some(message(version));
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

    fn seen(&mut self, id: i64, version: i64) {
        let known = self.versions.entry(id).or_insert(0);
        *known = (*known).max(version);
    }
}

/// One event announcing `version`.
fn message(version: u64) -> Event {
    Event::default().data(format!("{{\"topic\":\"flags\",\"version\":{version}}}"))
}

async fn events<B: Backend>(State(state): State<AppState<B>>, Signed(user): Signed) -> Result<Response, UiError> {
    let every = state.config.sse_heartbeat;
    let start = Instant::now();
    let mut watch = Watch {
        shutdown: state.shutdown.clone(),
        keys: BroadcastStream::new(state.hub.subscribe_keys()),
        session_id: user.session_id.clone(),
        state,
        signals: StreamMap::new(),
        versions: HashMap::new(),
        sent: 0,
        beat: interval_at(start + every, every),
        rescan: interval_at(start + RESCAN_EVERY, RESCAN_EVERY),
    };
    watch.rescan().await?;
    // The reconnect delay, then the current version (a change made between
    // rendering the page and connecting is not missed).
    watch.sent = watch.version();
    let first = [Event::default().retry(Duration::from_millis(1000)), message(watch.sent)];
    let rest = futures_util::stream::unfold(watch, |mut watch| async move { Some((watch.next().await?, watch)) });
    let events = futures_util::stream::iter(first).chain(rest).map(Ok::<_, Infallible>);
    let mut response = Sse::new(events).into_response();
    let headers = response.headers_mut();
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some([(name, value)]) = user.cookie_renewal() {
        headers.append(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn bytes(events: Vec<Event>) -> String {
        let events = futures_util::stream::iter(events).map(Ok::<_, Infallible>);
        let body = Sse::new(events).into_response().into_body();
        String::from_utf8(axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn messages_are_one_event_each() {
        assert_eq!(bytes(vec![message(42)]).await, "data: {\"topic\":\"flags\",\"version\":42}\n\n");
        let first = vec![Event::default().retry(Duration::from_millis(1000)), message(1)];
        assert_eq!(bytes(first).await, "retry: 1000\n\ndata: {\"topic\":\"flags\",\"version\":1}\n\n");
        assert_eq!(bytes(vec![Event::default().comment("heartbeat")]).await, ": heartbeat\n\n");
    }
}
