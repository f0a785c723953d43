//! The data source: one background task that keeps the store current.
//!
//! Streaming mode: connect to `/sdk/v1/stream`, apply `put` and `patch`
//! events, reconnect with backoff (full jitter, at least the server's
//! `retry:`, reset after a healthy period) and `Last-Event-ID`. After
//! `stream_failures_before_polling` consecutive failed connections, poll
//! `/sdk/v1/snapshot` every `poll_interval`, trying the stream again every
//! `stream_retry_interval`. Polling mode: poll only. A `401`/`403` anywhere
//! sets the state to `Failed` and ends the task: a refused key does not come
//! back.

pub(crate) mod backoff;
mod poll;
pub(crate) mod sse;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use flagyard_eval::{CompileErrors, Snapshot};
use reqwest::header::HeaderValue;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::ClientBuilder;
use crate::store::{Applied, ClientState, Loaded, Store};
use backoff::Backoff;
use stream::StreamEnd;

/// Everything the data source needs.
pub(crate) struct SourceCtx {
    pub(crate) http: reqwest::Client,
    /// The base URL without a trailing `/`.
    pub(crate) base: String,
    /// `Bearer <key>`.
    pub(crate) auth: HeaderValue,
    pub(crate) config: Arc<ClientBuilder>,
    pub(crate) store: Arc<Store>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl SourceCtx {
    /// Sleeps for `d`; `false` when shutdown interrupted it.
    async fn sleep(&self, d: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = crate::stopped(&mut shutdown) => false,
        }
    }

    /// The key was refused: report it once and stop.
    fn refused(&self, reason: String) {
        tracing::error!(%reason, "flagyard: the server refused the SDK key; the client stops contacting it");
        self.store.set_state(ClientState::Failed(reason));
    }

    /// Applies a full snapshot from the server and rewrites the cache file.
    async fn apply_put(&self, snapshot: Snapshot) -> Result<(), CompileErrors> {
        if let Applied::Changed(loaded) = self.store.put(snapshot, true)? {
            self.write_cache(loaded).await;
        }
        self.store.set_state(ClientState::Ready);
        Ok(())
    }

    async fn write_cache(&self, loaded: Arc<Loaded>) {
        let Some(path) = self.config.cache_file.clone() else { return };
        let written = tokio::task::spawn_blocking(move || crate::cache_file::write(&path, &loaded.snapshot)).await;
        if let Ok(Err(e)) = written {
            tracing::warn!(error = %e, "flagyard: cannot write the cache file");
        }
    }
}

/// The task's body.
pub(crate) async fn run(ctx: SourceCtx) {
    let cfg = ctx.config.clone();
    if !cfg.streaming {
        poll_until(&ctx, None).await;
        return;
    }
    let mut backoff = Backoff::new(cfg.backoff_base, cfg.backoff_cap);
    let mut failures = 0u32;
    let mut server_retry = Duration::ZERO;
    loop {
        if failures >= cfg.stream_failures_before_polling {
            if !poll_until(&ctx, Some(Instant::now() + cfg.stream_retry_interval)).await {
                return;
            }
            tracing::debug!("flagyard: trying the stream again");
        }
        match stream::run_once(&ctx, &mut server_retry).await {
            StreamEnd::Shutdown => return,
            StreamEnd::Refused(reason) => return ctx.refused(reason),
            StreamEnd::ConnectFailed(reason) => {
                failures = failures.saturating_add(1);
                ctx.store.mark_disconnected();
                if failures == cfg.stream_failures_before_polling {
                    tracing::warn!(%reason, failures, "flagyard: the stream keeps failing; polling the snapshot instead");
                    continue;
                } else if failures > cfg.stream_failures_before_polling {
                    tracing::debug!(%reason, "flagyard: the stream is still unavailable; polling on");
                    continue;
                }
                tracing::warn!(%reason, "flagyard: cannot connect to the stream; retrying");
            }
            StreamEnd::Dropped { connected_for, reason } => {
                failures = 0;
                if connected_for >= cfg.backoff_reset_after {
                    backoff.reset();
                }
                ctx.store.mark_disconnected();
                tracing::info!(%reason, "flagyard: the stream ended; reconnecting");
            }
        }
        if !ctx.sleep(backoff.next_delay().max(server_retry)).await {
            return;
        }
    }
}

/// Polls every `poll_interval` until `until` (forever when `None`).
/// `false` when the task must end (shutdown or refused key).
async fn poll_until(ctx: &SourceCtx, until: Option<Instant>) -> bool {
    loop {
        match poll::poll_once(ctx, false).await {
            poll::PollOutcome::Shutdown => return false,
            poll::PollOutcome::Refused(reason) => {
                ctx.refused(reason);
                return false;
            }
            poll::PollOutcome::Failed(reason) => {
                tracing::debug!(%reason, "flagyard: snapshot poll failed");
                ctx.store.mark_disconnected();
            }
            poll::PollOutcome::Current => ctx.store.set_state(ClientState::Ready),
        }
        let mut wait = ctx.config.poll_interval;
        if let Some(until) = until {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            wait = wait.min(until - now);
        }
        if !ctx.sleep(wait).await {
            return false;
        }
    }
}
