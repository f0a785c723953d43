//! Exponential backoff with full jitter: the `n`-th delay (from 0) is a
//! uniformly random time in `0..=min(cap, base × 2ⁿ)`, so a fleet of clients
//! that lost the server at the same moment does not come back in lockstep.

use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap: cap.max(base), attempt: 0 }
    }

    /// The upper bound of the next delay (no jitter).
    pub(crate) fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next delay; each call doubles the ceiling up to the cap.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(0..=nanos))
    }

    /// Back to the first delay (after a healthy period).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_below_the_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let ceilings: Vec<u64> = (0..10)
            .map(|_| {
                let c = b.ceiling();
                assert!(b.next_delay() <= c);
                c.as_millis() as u64
            })
            .collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(500));
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), Duration::from_secs(30));
    }

    #[test]
    fn jitter_spreads() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..50).map(|_| b.next_delay()).collect();
        assert!(delays.iter().any(|d| *d < Duration::from_millis(500)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(500)));
    }
}
