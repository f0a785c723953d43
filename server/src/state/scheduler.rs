//! The scheduler's runtime: one task per server that applies due releases
//! ([`crate::service::run_due_release`]) and looks at due ramps
//! ([`crate::service::run_due_ramp`]), one per write job, then sleeps until
//! the next instant, a wake-up (something was scheduled here), or a second
//! at most (scheduled on another replica). A second task, the guardrail
//! task, looks at guarded ramps after every ingest transaction that
//! attributed events. Once an hour the scheduler also copies the running
//! experiments' statistics into the day's results snapshot. The clock is injectable: tests run a manual clock and
//! move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::AppState;
use crate::service::{self, Error as DomainError};
use crate::store::Backend;

/// The longest sleep between looks at the schedule.
const POLL: Duration = Duration::from_secs(1);
/// The guardrail task looks at most this often: signals from the ingest
/// transactions in between are coalesced into the next look (the
/// confidence sequence is valid at any schedule of looks; this bounds what
/// guarding costs beside ingest, `docs/benchmarks.md`).
const GUARD_EVERY: Duration = Duration::from_millis(100);

/// Wall-clock time in epoch milliseconds.
pub trait WallClock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn now_ms(&self) -> i64 {
        service::now_ms()
    }
}

/// A clock that stands still until set (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: i64) -> Self {
        ManualClock(AtomicI64::new(at))
    }

    pub fn set(&self, at: i64) {
        self.0.store(at, Ordering::SeqCst);
    }
}

impl WallClock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The scheduler's handle: its clock and its wake-up.
#[derive(Debug)]
pub struct Scheduler {
    clock: Arc<dyn WallClock>,
    /// Set when the clock is a test clock that may be moved.
    manual: Option<Arc<ManualClock>>,
    wake: Notify,
    /// What ingest attributed since the guardrail task last looked.
    ingested: Arc<Attributed>,
    /// The hour (on the scheduler's clock) of the last results snapshot.
    snapshot_hour: AtomicI64,
}

/// The experiments whose figures ingest moved since the guardrail task last
/// looked, and its wake-up.
#[derive(Debug, Default)]
pub struct Attributed {
    experiments: std::sync::Mutex<std::collections::BTreeSet<i64>>,
    wake: Notify,
}

impl Attributed {
    /// Ingest: these experiments' figures moved (a committed transaction).
    pub fn add(&self, experiments: Vec<i64>) {
        if experiments.is_empty() {
            return;
        }
        // A poisoned lock only means a panic elsewhere: the set is still whole.
        self.experiments.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(experiments);
        self.wake.notify_one();
    }

    /// The guardrail task: the experiments since the last call.
    fn take(&self) -> std::collections::BTreeSet<i64> {
        std::mem::take(&mut *self.experiments.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl Scheduler {
    /// A scheduler on the system clock, or on a manual clock starting at
    /// `test_clock`.
    pub fn new(test_clock: Option<i64>) -> Self {
        match test_clock {
            Some(at) => {
                let manual = Arc::new(ManualClock::new(at));
                Scheduler {
                    clock: manual.clone(),
                    manual: Some(manual),
                    wake: Notify::new(),
                    ingested: Arc::default(),
                    snapshot_hour: AtomicI64::new(i64::MIN),
                }
            }
            None => Scheduler {
                clock: Arc::new(SystemWallClock),
                manual: None,
                wake: Notify::new(),
                ingested: Arc::default(),
                snapshot_hour: AtomicI64::new(i64::MIN),
            },
        }
    }

    /// Now, on the scheduler's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Looks at the schedule now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What ingest tells after each transaction that attributed events.
    pub fn ingest_signal(&self) -> Arc<Attributed> {
        self.ingested.clone()
    }

    /// Sets the test clock and wakes the scheduler; `false` on the system clock.
    pub fn set_test_clock(&self, at: i64) -> bool {
        match &self.manual {
            Some(m) => {
                m.set(at);
                self.wake();
                true
            }
            None => false,
        }
    }
}

/// Runs due releases, then looks at due ramps, until none is left; how many ran.
pub async fn run_due<B: Backend>(state: &AppState<B>) -> usize {
    run_due_releases(state).await + run_due_ramps(state).await
}

/// Looks at due ramps until none is left; how many.
async fn run_due_ramps<B: Backend>(state: &AppState<B>) -> usize {
    let mut ran = 0;
    loop {
        let now = state.scheduler.now_ms();
        let step = state.write(move |tx| Box::pin(async move { service::run_due_ramp(tx, now).await })).await;
        match step {
            Ok(Some((id, looked))) => {
                ran += 1;
                tracing::info!(ramp = id, looked = ?looked, "ramp looked at");
            }
            Ok(None) => return ran,
            Err(e) => {
                log_error(&e);
                return ran;
            }
        }
    }
}

/// Runs due releases until none is left; how many ran.
async fn run_due_releases<B: Backend>(state: &AppState<B>) -> usize {
    let mut ran = 0;
    loop {
        let now = state.scheduler.now_ms();
        let step = state.write(move |tx| Box::pin(async move { service::run_due_release(tx, now).await })).await;
        match step {
            Ok(Some((id, outcome))) => {
                ran += 1;
                metrics::counter!("flagyard_scheduled_changes_total", "outcome" => outcome.as_str()).increment(1);
                match outcome {
                    service::ScheduledOutcome::Applied | service::ScheduledOutcome::Late => {
                        tracing::info!(release = id, outcome = outcome.as_str(), "scheduled release applied");
                    }
                    _ => tracing::warn!(release = id, outcome = outcome.as_str(), "scheduled release not applied"),
                }
            }
            Ok(None) => return ran,
            Err(e) => {
                log_error(&e);
                return ran;
            }
        }
    }
}

/// Copies every running experiment's statistics into the day's snapshot
/// (results over time) when the hour on the scheduler's clock is not the
/// one of the last copy taken here; how many experiments. A copy that
/// fails is tried again at the next look.
pub async fn snapshot_results_if_due<B: Backend>(state: &AppState<B>) -> usize {
    let now = state.scheduler.now_ms();
    let hour = now.div_euclid(3_600_000);
    let last = state.scheduler.snapshot_hour.swap(hour, Ordering::SeqCst);
    if last == hour {
        return 0;
    }
    let taken =
        state.write(move |tx| Box::pin(async move { service::snapshot_running_experiments(tx, now).await })).await;
    match taken {
        Ok(n) => n,
        Err(e) => {
            let _ = state.scheduler.snapshot_hour.compare_exchange(hour, last, Ordering::SeqCst, Ordering::SeqCst);
            tracing::warn!(error = %e, "the results snapshot could not be taken; it is tried again");
            0
        }
    }
}

fn log_error(e: &DomainError) {
    tracing::warn!(error = %e, "the scheduler could not run; it tries again");
}

/// Starts the scheduler task; it ends with the server. Between instants it
/// only reads: a write transaction (on Postgres, the writers' advisory lock)
/// is taken only when a release is due.
pub fn spawn<B: Backend>(state: AppState<B>) {
    tokio::spawn(async move {
        let mut stop = state.shutdown.clone();
        loop {
            snapshot_results_if_due(&state).await;
            let now = state.scheduler.now_ms();
            let next = match state.store.read().await {
                Ok(mut tx) => {
                    let release = service::next_scheduled(&mut tx).await.unwrap_or(None);
                    let ramp = service::next_ramp_at(&mut tx).await.unwrap_or(None);
                    release.into_iter().chain(ramp).min()
                }
                Err(_) => None,
            };
            if next.is_some_and(|at| at <= now) && run_due(&state).await > 0 {
                continue;
            }
            // Until the next instant, at most a second (a release scheduled on
            // another replica); a second too when the due one could not run.
            let wait = next
                .filter(|at| *at > now)
                .map_or(POLL, |at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(POLL));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = state.scheduler.wake.notified() => {}
                () = stop.recv() => return,
            }
        }
    });
}

/// Starts the guardrail task: after ingest transactions that attributed
/// events (at most every [`GUARD_EVERY`]), every running guarded ramp whose
/// experiment's figures moved is evaluated in a read transaction,
/// and looked at in a write job only when that may change it (a
/// regression, an SRM warning, a hold that is over, a history point due).
pub fn spawn_guard<B: Backend>(state: AppState<B>) {
    let signal = state.scheduler.ingest_signal();
    tokio::spawn(async move {
        let mut stop = state.shutdown.clone();
        loop {
            tokio::select! {
                () = signal.wake.notified() => {}
                () = stop.recv() => return,
            }
            let started = std::time::Instant::now();
            let now = state.scheduler.now_ms();
            let experiments = signal.take();
            let due = match state.store.read().await {
                Ok(mut tx) => service::guarded_ramps_to_look_at(&mut tx, &experiments, now).await,
                Err(e) => Err(e.into()),
            };
            let ids = match due {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "the guardrail task could not read the ramps; it tries again");
                    continue;
                }
            };
            for id in ids {
                let looked =
                    state.write(move |tx| Box::pin(async move { service::check_ramp(tx, id, now).await })).await;
                match looked {
                    Ok(looked) => tracing::debug!(ramp = id, looked = ?looked, "guarded ramp looked at"),
                    Err(e) => tracing::warn!(ramp = id, error = %e, "a guarded ramp could not be looked at"),
                }
            }
            // What guarding costs beside ingest (the benchmark reports it).
            metrics::histogram!("flagyard_guard_seconds").record(started.elapsed().as_secs_f64());
            tokio::select! {
                () = tokio::time::sleep(GUARD_EVERY.saturating_sub(started.elapsed())) => {}
                () = stop.recv() => return,
            }
        }
    });
}
