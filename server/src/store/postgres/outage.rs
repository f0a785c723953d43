//! Postgres outages: fail fast instead of holding requests for the pool's
//! timeout while the database is down ([`Outage`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ACQUIRE_TIMEOUT;

impl Outage {
    /// Resolves once a connection has taken a while and the database's TCP
    /// port (`address`) does not accept connections (refused, or no
    /// answer): the pool would otherwise retry connecting until its
    /// timeout. Pending forever while the port accepts (the pool is just
    /// busy), or for a Unix socket (no address).
    pub(super) async fn refused(&self, address: Option<&(String, u16)>) {
        let Some((host, port)) = address else { return std::future::pending().await };
        tokio::time::sleep(PROBE_AFTER).await;
        loop {
            // One probe per PROBE_AFTER for all waiting requests: a busy pool
            // must not turn into a stream of connections to Postgres.
            let reachable = match self.recent_probe() {
                Some(reachable) => reachable,
                None => {
                    let probe = tokio::net::TcpStream::connect((host.as_str(), *port));
                    let reachable = matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)));
                    self.probed(reachable);
                    reachable
                }
            };
            if !reachable {
                return;
            }
            tokio::time::sleep(PROBE_AFTER).await;
        }
    }
}

/// A connection that takes this long makes [`Outage::refused`] look at the port.
const PROBE_AFTER: Duration = Duration::from_millis(300);

/// Fail fast while Postgres is out of reach. Normally a request may wait
/// [`ACQUIRE_TIMEOUT`] for a connection (the pool is busy); once connecting
/// has failed, requests in the next [`FAIL_FAST`] are refused at once, and
/// later ones get [`PROBE_TIMEOUT`] until a connection succeeds again, so no
/// request is held for the pool timeout while the database is down.
#[derive(Debug, Default)]
pub(super) struct Outage {
    last_failure: Mutex<Option<Instant>>,
    /// The last TCP probe of the database's port: when, and whether it answered.
    last_probe: Mutex<Option<(Instant, bool)>>,
}

/// Refuse at once for this long after a failed connection.
pub(super) const FAIL_FAST: Duration = Duration::from_millis(250);
/// How long a request may wait for a connection during an outage.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

impl Outage {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long the next acquire may take; `None`: refuse now.
    pub(super) fn budget(&self) -> Option<Duration> {
        match *self.lock() {
            None => Some(ACQUIRE_TIMEOUT),
            Some(at) if at.elapsed() < FAIL_FAST => None,
            Some(_) => Some(PROBE_TIMEOUT),
        }
    }

    pub(super) fn failed(&self) {
        *self.lock() = Some(Instant::now());
    }

    fn recent_probe(&self) -> Option<bool> {
        let last = *self.last_probe.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        last.filter(|(at, _)| at.elapsed() < PROBE_AFTER).map(|(_, reachable)| reachable)
    }

    fn probed(&self, reachable: bool) {
        *self.last_probe.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), reachable));
    }

    pub(super) fn reached(&self) {
        let mut last = self.lock();
        if last.take().is_some() {
            tracing::info!("the database is reachable again");
        }
    }
}
