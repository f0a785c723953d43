//! The bounded event queue and the pipeline's counters.
//!
//! Recording an event never waits: `try_send` on a bounded channel, and when
//! the channel is full the event is dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::Event;
use super::breaker::BreakerState;

/// Counters of the event pipeline, from [`Client::stats`](crate::Client::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Events the server accepted.
    pub sent: u64,
    /// Events the server refused one by one (the `rejected` list of its
    /// answer, or a single event too large to send).
    pub rejected: u64,
    /// Events lost before the server saw them: queue full, batch given up
    /// after [`max_batch_attempts`](crate::ClientBuilder::max_batch_attempts),
    /// key refused (`401`/`403`), a `track` without a targeting key or with a
    /// non-finite value, or left over at [`Client::close`](crate::Client::close).
    pub dropped: u64,
    /// Batches given up after their last attempt.
    pub failed_batches: u64,
    /// Events waiting in the queue now.
    pub queued: usize,
    /// The circuit breaker's position.
    pub breaker: BreakerState,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
    pub(crate) breaker: AtomicU8,
    /// The key was refused: drop everything from now on.
    pub(crate) stopped: AtomicBool,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Queue {
    tx: mpsc::Sender<Event>,
    pub(crate) counters: Arc<Counters>,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Queue { tx, counters: Arc::default() }, rx)
    }

    /// Enqueues without waiting; `false` (and counted) when dropped.
    #[inline]
    pub(crate) fn push(&self, event: Event) -> bool {
        if self.counters.stopped.load(Ordering::Relaxed) || self.tx.try_send(event).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            sent: c.sent.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            queued: self.tx.max_capacity() - self.tx.capacity(),
            breaker: BreakerState::from_u8(c.breaker.load(Ordering::Relaxed)),
        }
    }
}
