//! The ingest pipeline: a bounded queue of parsed batches and one worker
//! that folds whatever is waiting into one transaction.
//!
//! Batches wait in memory for at most one transaction; a request is answered
//! once its transaction committed, so an acknowledged batch is stored and a
//! retried one (same `batchId`) is recognised. The queue is bounded in
//! events: when it is full the request is answered `429` with `Retry-After`
//! at once, and a database failure answers `503` with `Retry-After` (nothing
//! of the batch was stored; a retry is safe).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::attribute::{Kind, Target, TargetMetric, attribute};
use super::validate::{Batch, Event, Rejected};
use crate::http::ApiError;
use crate::service::{SplitSnapshot, now_ms};
use crate::state::Attributed as Signal;
use crate::store::{Backend, BatchAnswer, IngestQueries, Queries, StoreError};

/// Most events folded into one transaction.
const MAX_TX_EVENTS: usize = 20_000;
/// Batch ids are remembered this long; a retry within it is counted once.
pub const BATCH_ID_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Events of experiments stopped less than this long ago are still attributed
/// (late deliveries); their times must still fall before the stop.
const LATE_EVENTS_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How often old batch ids are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The answer to one batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestAnswer {
    /// Events accepted (for a retried batch: when it was first received).
    pub accepted: i64,
    /// Events refused, each with its index in the batch and why.
    pub rejected: Vec<Rejected>,
    /// The batch id had been received before: nothing was counted again.
    pub duplicate: bool,
}

struct Job {
    environment_id: i64,
    received_at: i64,
    batch: Batch,
    _permit: OwnedSemaphorePermit,
    reply: oneshot::Sender<Result<IngestAnswer, ApiError>>,
}

/// The handle requests submit batches to.
#[derive(Debug)]
pub struct Ingest {
    queue: mpsc::UnboundedSender<Job>,
    room: Arc<Semaphore>,
}

impl Ingest {
    /// Starts the worker on `store`, holding at most `capacity` events
    /// queued; `attributed` hears, after each transaction, which
    /// experiments' figures moved (guarded ramps look then).
    pub fn start<B: Backend>(store: B, capacity: usize, attributed: Arc<Signal>) -> Ingest {
        let (queue, rx) = mpsc::unbounded_channel();
        let capacity = capacity.max(super::validate::MAX_EVENTS);
        tokio::spawn(worker(store, rx, attributed));
        Ingest { queue, room: Arc::new(Semaphore::new(capacity)) }
    }

    /// Stores `batch` of the environment, received at `received_at`, and
    /// answers once it is committed.
    pub async fn submit(&self, environment_id: i64, received_at: i64, batch: Batch) -> Result<IngestAnswer, ApiError> {
        let size = u32::try_from(batch.events.len().max(1)).unwrap_or(u32::MAX);
        let permit = self.room.clone().try_acquire_many_owned(size).map_err(|_| {
            metrics::counter!("flagyard_ingest_throttled_total").increment(1);
            ApiError::TooManyRequests {
                detail: "the event queue is full; retry after the delay given in Retry-After".into(),
                retry_after_secs: 1,
            }
        })?;
        let (reply, answer) = oneshot::channel();
        let job = Job { environment_id, received_at, batch, _permit: permit, reply };
        self.queue.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> ApiError {
    ApiError::Unavailable { detail: "event ingest is stopping; retry later".into(), retry_after_secs: 1 }
}

async fn worker<B: Backend>(store: B, mut rx: mpsc::UnboundedReceiver<Job>, attributed: Arc<Signal>) {
    let mut last_prune: Option<Instant> = None;
    while let Some(first) = rx.recv().await {
        let mut events = first.batch.events.len();
        let mut jobs = vec![first];
        while events < MAX_TX_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.batch.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // A request whose client went away (timeout, shutdown) needs no
        // answer; its batch is not stored, and a retry will send it again.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let events: usize = jobs.iter().map(|job| job.batch.events.len()).sum();
        let prune = last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        let started = Instant::now();
        match run(&store, &jobs, prune).await {
            Ok((answers, touched)) => {
                attributed.add(touched);
                if prune {
                    last_prune = Some(Instant::now());
                }
                metrics::counter!("flagyard_ingest_events_total").increment(events as u64);
                metrics::histogram!("flagyard_ingest_transaction_seconds").record(started.elapsed().as_secs_f64());
                for (job, answer) in jobs.into_iter().zip(answers) {
                    let _ = job.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = jobs.len(), "event ingest failed; the batches were not stored");
                for job in jobs {
                    let _ = job.reply.send(Err(ApiError::Unavailable {
                        detail: "the events could not be stored now; retry after the delay given in Retry-After".into(),
                        retry_after_secs: 2,
                    }));
                }
            }
        }
    }
}

/// Stores `jobs` in one transaction: their answers, and the experiments
/// whose figures moved.
async fn run<B: Backend>(store: &B, jobs: &[Job], prune: bool) -> Result<(Vec<IngestAnswer>, Vec<i64>), StoreError> {
    let mut tx = store.ingest().await?;
    let now = now_ms();
    if prune {
        let pruned = tx.prune_batches(now - BATCH_ID_RETENTION_MS).await?;
        tracing::debug!(pruned, "pruned old batch ids");
    }
    let mut answers = Vec::with_capacity(jobs.len());
    let mut fresh: BTreeMap<i64, Vec<&Event>> = BTreeMap::new();
    let mut touched = Vec::new();
    for job in jobs {
        let accepted = i64::try_from(job.batch.events.len()).unwrap_or(i64::MAX);
        let rejected = serde_json::to_string(&job.batch.rejected)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode rejections: {e}")))?;
        let answer = BatchAnswer { accepted, rejected };
        match tx.claim_batch(job.environment_id, &job.batch.batch_id, job.received_at, &answer).await? {
            None => {
                fresh.entry(job.environment_id).or_default().extend(job.batch.events.iter());
                answers.push(IngestAnswer { accepted, rejected: job.batch.rejected.clone(), duplicate: false });
            }
            Some(stored) => answers.push(IngestAnswer {
                accepted: stored.accepted,
                rejected: serde_json::from_str(&stored.rejected).unwrap_or_default(),
                duplicate: true,
            }),
        }
    }
    for (environment_id, events) in fresh {
        let mut kinds: HashMap<&str, i64> = HashMap::new();
        for e in &events {
            *kinds.entry(e.kind()).or_default() += 1;
        }
        for (kind, n) in kinds {
            tx.add_event_count(environment_id, kind, n).await?;
        }
        let targets = targets(&mut tx, environment_id, now).await?;
        if !targets.is_empty() {
            attribute(&mut tx, &targets, &events, &mut touched).await?;
        }
    }
    B::commit(tx).await?;
    Ok((answers, touched))
}

/// The experiments of the environment that events can be attributed to:
/// running ones, and ones stopped less than [`LATE_EVENTS_MS`] ago.
pub async fn targets<T: Queries + IngestQueries>(
    tx: &mut T,
    environment_id: i64,
    now: i64,
) -> Result<Vec<Target>, StoreError> {
    let mut out = Vec::new();
    let mut metrics = None;
    for x in tx.experiments().await? {
        let (Some(start), Some(split)) = (x.started_at, x.split_snapshot.as_deref()) else { continue };
        if x.environment_id != environment_id || x.stopped_at.is_some_and(|s| s < now - LATE_EVENTS_MS) {
            continue;
        }
        let split: SplitSnapshot = serde_json::from_str(split)
            .map_err(|e| StoreError::Corrupt(format!("split snapshot of experiment {}: {e}", x.key)))?;
        let all = match &metrics {
            Some(all) => all,
            None => metrics.insert(tx.metrics().await?),
        };
        let mut ids = vec![x.primary_metric_id];
        ids.extend(tx.experiment_metrics(x.id).await?.into_iter().map(|m| m.metric_id));
        ids.sort_unstable();
        ids.dedup();
        // Every metric keeps its place: a unit's aggregates are stored in this order.
        let metrics = ids
            .into_iter()
            .map(|id| {
                let m = all.iter().find(|m| m.id == id);
                let kind = m.and_then(|m| Kind::parse(&m.kind));
                match (m, kind) {
                    (Some(m), Some(kind)) => Ok(TargetMetric { id, event: m.event.clone(), kind }),
                    _ => Err(StoreError::Corrupt(format!("metric {id} of experiment {} is missing or unknown", x.key))),
                }
            })
            .collect::<Result<_, _>>()?;
        out.push(Target {
            id: x.id,
            flag: x.flag_key,
            rule_id: x.rule_id,
            variants: split.variants.into_iter().map(|v| v.variant).collect(),
            start,
            stop: x.stopped_at,
            metrics,
        });
    }
    Ok(out)
}
