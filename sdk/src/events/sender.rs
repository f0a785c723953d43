//! The background task that sends event batches.
//!
//! A batch goes when it is full, at every flush interval, on
//! [`Client::flush`](crate::Client::flush), and at shutdown. Each batch gets
//! a random 128-bit id, reused by its retries so the server counts it once.
//! Answers (protocol.md): `2xx` done; `401`/`403` stop sending for good;
//! `413` split the batch in two; `429`/`503` wait at least `Retry-After`;
//! anything else retries with backoff. Failed requests (network, `5xx`) feed
//! the circuit breaker; `429` and `413` do not (the server is up).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::breaker::Breaker;
use super::queue::Counters;
use super::{Event, now_ms};
use crate::config::ClientBuilder;
use crate::source::backoff::Backoff;

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Batch<'a> {
    batch_id: &'a str,
    sent_at: u64,
    events: &'a [Event],
}

#[derive(Deserialize)]
struct Reply {
    accepted: u64,
    #[serde(default)]
    rejected: Vec<serde_json::Value>,
}

enum Answer {
    Accepted {
        accepted: u64,
        rejected: usize,
    },
    Refused(StatusCode),
    TooLarge,
    /// `429` (`failure: false`) or `503` (`failure: true`).
    Throttled {
        retry_after: Option<Duration>,
        failure: bool,
    },
    Failed(String),
}

pub(super) struct Sender {
    http: reqwest::Client,
    url: String,
    auth: HeaderValue,
    config: Arc<ClientBuilder>,
    counters: Arc<Counters>,
    rx: mpsc::Receiver<Event>,
    flush_rx: mpsc::Receiver<oneshot::Sender<()>>,
    shutdown: watch::Receiver<bool>,
    breaker: Breaker,
    buf: Vec<Event>,
    /// Set once shutting down: no wait may end after it.
    deadline: Option<Instant>,
}

impl Sender {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        http: reqwest::Client,
        url: String,
        auth: HeaderValue,
        config: Arc<ClientBuilder>,
        counters: Arc<Counters>,
        rx: mpsc::Receiver<Event>,
        flush_rx: mpsc::Receiver<oneshot::Sender<()>>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let breaker = Breaker::new(config.breaker_threshold, config.breaker_cooldown);
        Sender {
            http,
            url,
            auth,
            counters,
            rx,
            flush_rx,
            shutdown,
            breaker,
            buf: Vec::with_capacity(config.batch_size.min(4096)),
            deadline: None,
            config,
        }
    }

    pub(super) async fn run(mut self) {
        let every = self.config.flush_interval.max(Duration::from_millis(1));
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                _ = crate::stopped(&mut shutdown) => break,
                Some(ack) = self.flush_rx.recv() => {
                    self.drain();
                    self.send_all().await;
                    let _ = ack.send(());
                }
                event = self.rx.recv() => match event {
                    Some(event) => {
                        self.buf.push(event);
                        if self.buf.len() >= self.config.batch_size {
                            self.send_all().await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.send_all().await,
            }
        }
        // Final flush, bounded by the close timeout.
        self.closing();
        self.rx.close();
        self.drain();
        self.send_all().await;
        self.flush_rx.close();
        while let Ok(ack) = self.flush_rx.try_recv() {
            let _ = ack.send(());
        }
    }

    fn closing(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.config.close_timeout.mul_f64(0.9));
        }
    }

    fn drain(&mut self) {
        while let Ok(event) = self.rx.try_recv() {
            self.buf.push(event);
        }
    }

    async fn send_all(&mut self) {
        while !self.buf.is_empty() {
            let rest = self.buf.split_off(self.buf.len().min(self.config.batch_size));
            let batch = std::mem::replace(&mut self.buf, rest);
            self.send_batch(batch).await;
        }
    }

    fn publish_breaker(&self) {
        self.counters.breaker.store(self.breaker.state().to_u8(), Ordering::Relaxed);
    }

    fn give_up(&self, batch: &[Event], why: &str) {
        Counters::add(&self.counters.failed_batches, 1);
        Counters::add(&self.counters.dropped, batch.len());
        tracing::warn!(events = batch.len(), why, "flagyard: event batch given up");
    }

    /// Sends one batch (and the halves of it a `413` asks for).
    async fn send_batch(&mut self, batch: Vec<Event>) {
        let mut work = vec![batch];
        'batches: while let Some(batch) = work.pop() {
            let id = format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
            let mut attempts = 0u32;
            let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_cap);
            loop {
                if self.counters.stopped.load(Ordering::Relaxed) {
                    Counters::add(&self.counters.dropped, batch.len());
                    continue 'batches;
                }
                let permit = self.breaker.permit(Instant::now());
                self.publish_breaker();
                if let Err(wait) = permit {
                    if !self.wait(wait).await {
                        self.give_up(&batch, "the circuit breaker is open at shutdown");
                        continue 'batches;
                    }
                    continue;
                }
                attempts += 1;
                let wait = match self.post(&id, &batch).await {
                    Answer::Accepted { accepted, rejected } => {
                        self.breaker.success();
                        self.publish_breaker();
                        self.counters.sent.fetch_add(accepted, Ordering::Relaxed);
                        Counters::add(&self.counters.rejected, rejected);
                        continue 'batches;
                    }
                    Answer::Refused(status) => {
                        tracing::error!(%status, "flagyard: the server refused the SDK key; events are no longer sent");
                        self.counters.stopped.store(true, Ordering::Relaxed);
                        Counters::add(&self.counters.dropped, batch.len());
                        continue 'batches;
                    }
                    Answer::TooLarge => {
                        if batch.len() == 1 {
                            tracing::warn!("flagyard: the server refused a single event as too large");
                            Counters::add(&self.counters.rejected, 1);
                        } else {
                            let mut first = batch;
                            let second = first.split_off(first.len() / 2);
                            work.push(second);
                            work.push(first);
                        }
                        continue 'batches;
                    }
                    Answer::Throttled { retry_after, failure } => {
                        if failure {
                            self.breaker.failure(Instant::now());
                        }
                        let jittered = backoff.next_delay();
                        retry_after.map_or(jittered, |r| r.max(jittered))
                    }
                    Answer::Failed(reason) => {
                        tracing::debug!(%reason, attempts, "flagyard: event batch failed");
                        self.breaker.failure(Instant::now());
                        backoff.next_delay()
                    }
                };
                self.publish_breaker();
                if attempts >= self.config.max_batch_attempts {
                    self.give_up(&batch, "too many failed attempts");
                    continue 'batches;
                }
                if !self.wait(wait).await {
                    self.give_up(&batch, "shutting down");
                    continue 'batches;
                }
            }
        }
    }

    /// Waits `d`; `false` when that would pass the shutdown deadline. A
    /// shutdown during the wait ends it early (one more attempt follows).
    async fn wait(&mut self, d: Duration) -> bool {
        if let Some(deadline) = self.deadline {
            if Instant::now() + d >= deadline {
                return false;
            }
            tokio::time::sleep(d).await;
            return true;
        }
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = crate::stopped(&mut shutdown) => self.closing(),
        }
        true
    }

    async fn post(&self, id: &str, events: &[Event]) -> Answer {
        let body = Batch { batch_id: id, sent_at: now_ms(), events };
        let sent = self
            .http
            .post(&self.url)
            .header(AUTHORIZATION, self.auth.clone())
            .timeout(self.config.request_timeout)
            .json(&body)
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => return Answer::Failed(e.to_string()),
        };
        let status = resp.status();
        let retry_after = || {
            let secs = resp.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok()?;
            Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
        };
        match status {
            s if s.is_success() => {
                let reply = resp.bytes().await.ok().and_then(|b| serde_json::from_slice::<Reply>(&b).ok());
                match reply {
                    Some(r) => Answer::Accepted { accepted: r.accepted, rejected: r.rejected.len() },
                    None => Answer::Accepted { accepted: events.len() as u64, rejected: 0 },
                }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Answer::Refused(status),
            StatusCode::PAYLOAD_TOO_LARGE => Answer::TooLarge,
            StatusCode::TOO_MANY_REQUESTS => Answer::Throttled { retry_after: retry_after(), failure: false },
            StatusCode::SERVICE_UNAVAILABLE => Answer::Throttled { retry_after: retry_after(), failure: true },
            s => Answer::Failed(format!("answered {s}")),
        }
    }
}
