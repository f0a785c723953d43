//! The event pipeline: exposures and `track` events go into a bounded
//! queue (never blocking, dropping and counting when full); a background
//! task sends them in batches to `POST /sdk/v1/events`.
//!
//! What an exposure costs the getter that records it: for a unit already
//! exposed to that flag and variant (the usual case), a SipHash of three
//! short strings and a lookup in the de-duplication cache, no allocation;
//! the first time, a few small strings (flag, variant, rule, attribute,
//! unit), a cache insertion and a queue slot.

pub(crate) mod breaker;
pub(crate) mod exposure;
pub(crate) mod queue;
mod sender;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use flagyard_eval::{Context, Detail, Reason, Ruleset};
use reqwest::header::HeaderValue;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::ClientBuilder;
use crate::store::Loaded;
use exposure::{Dedup, Unit};
use queue::{Counters, Queue, Stats};

/// One event, as protocol.md lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Event {
    Exposure(Exposure),
    Track(Track),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Exposure {
    pub(crate) at: u64,
    pub(crate) flag: String,
    pub(crate) variant: String,
    pub(crate) rule: String,
    pub(crate) version: u64,
    pub(crate) bucket_by: String,
    pub(crate) unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Track {
    pub(crate) at: u64,
    pub(crate) event: String,
    pub(crate) unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<f64>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The recording side, held by the client.
pub(crate) struct Pipeline {
    queue: Queue,
    dedup: Dedup,
    flush: mpsc::Sender<oneshot::Sender<()>>,
}

impl Pipeline {
    /// Starts the sender task.
    pub(crate) fn start(
        http: reqwest::Client,
        base: &str,
        auth: HeaderValue,
        config: Arc<ClientBuilder>,
        shutdown: watch::Receiver<bool>,
    ) -> (Self, JoinHandle<()>) {
        let (queue, rx) = Queue::new(config.queue_capacity);
        let (flush, flush_rx) = mpsc::channel(16);
        let dedup = Dedup::new(config.exposure_cache_capacity, config.exposure_ttl);
        let sender = sender::Sender::new(
            http,
            format!("{base}/sdk/v1/events"),
            auth,
            config,
            queue.counters.clone(),
            rx,
            flush_rx,
            shutdown,
        );
        (Pipeline { queue, dedup, flush }, tokio::spawn(sender.run()))
    }

    /// Records the exposure of a split evaluation (once per unit, flag and
    /// variant).
    #[inline]
    pub(crate) fn exposure(&self, loaded: &Loaded, flag: &str, ctx: &Context<'_>, d: &Detail<'_>) {
        let (Reason::Split { rule, id, .. }, Some(variant)) = (d.reason(), d.variant()) else { return };
        let rules = &loaded.rules;
        let (attribute, unit) = if loaded.splits_by_key {
            let Some(key) = ctx.key() else { return };
            ("key", Unit::Str(key))
        } else {
            let Some(attribute) = rules.split_attribute(flag, rule) else { return };
            let Some(unit) = Unit::of(ctx, attribute) else { return };
            (attribute, unit)
        };
        let fast = Dedup::fast_key(loaded.serial, variant, unit);
        if self.dedup.recently_seen(fast) {
            return;
        }
        self.exposure_slow(rules, flag, attribute, rule, id, variant, unit, fast);
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn exposure_slow(
        &self,
        rules: &Ruleset,
        flag: &str,
        attribute: &str,
        rule: usize,
        id: Option<&str>,
        variant: &str,
        unit: Unit<'_>,
        fast: u64,
    ) {
        let key = Dedup::key(flag, variant, unit);
        if !self.dedup.first_time(key) {
            self.dedup.remember(fast);
            return;
        }
        let event = Event::Exposure(Exposure {
            at: now_ms(),
            flag: flag.to_owned(),
            variant: variant.to_owned(),
            rule: id.map_or_else(|| format!("#{rule}"), str::to_owned),
            version: rules.version(),
            bucket_by: attribute.to_owned(),
            unit: unit.to_text(),
        });
        if self.queue.push(event) {
            self.dedup.remember(fast);
        } else {
            self.dedup.forget(key);
        }
    }

    /// Records a metric event for the context's targeting key.
    pub(crate) fn track(&self, event: &str, ctx: &Context<'_>, value: Option<f64>) {
        let (Some(unit), true) = (ctx.key(), value.is_none_or(f64::is_finite)) else {
            tracing::debug!(event, "flagyard: track needs a targeting key and a finite value; dropped");
            Counters::add(&self.queue.counters.dropped, 1);
            return;
        };
        self.queue.push(Event::Track(Track { at: now_ms(), event: event.to_owned(), unit: unit.to_owned(), value }));
    }

    /// Sends everything queued now; returns when done (or given up).
    pub(crate) async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.flush.send(ack).await.is_ok() {
            let _ = done.await;
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.queue.stats()
    }
}
