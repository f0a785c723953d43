//! The circuit breaker of the event sender: after `threshold` consecutive
//! failed requests it opens and nothing is sent for `cooldown`; then it is
//! half-open and lets one probe batch through: success closes it, failure
//! opens it for another cool-down.

use std::time::Duration;

use tokio::time::Instant;

/// The breaker's position, as [`Stats::breaker`](crate::Stats) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreakerState {
    /// Sending normally.
    #[default]
    Closed,
    /// Too many failures: sending nothing until the cool-down ends.
    Open,
    /// Cool-down over: one probe batch decides.
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: u32,
    state: BreakerState,
    opened_at: Instant,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            failures: 0,
            state: BreakerState::Closed,
            opened_at: Instant::now(),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    /// `Ok` when a request may go now (moving an expired open breaker to
    /// half-open), else how long until it may.
    pub(crate) fn permit(&mut self, now: Instant) -> Result<(), Duration> {
        if self.state == BreakerState::Open {
            let until = self.opened_at + self.cooldown;
            if now < until {
                return Err(until - now);
            }
            self.state = BreakerState::HalfOpen;
        }
        Ok(())
    }

    pub(crate) fn success(&mut self) {
        self.failures = 0;
        self.state = BreakerState::Closed;
    }

    pub(crate) fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.state == BreakerState::HalfOpen || self.failures >= self.threshold {
            self.state = BreakerState::Open;
            self.opened_at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_half_open_probe() {
        let t0 = Instant::now();
        let cool = Duration::from_secs(10);
        let mut b = Breaker::new(3, cool);
        for _ in 0..2 {
            assert!(b.permit(t0).is_ok());
            b.failure(t0);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.permit(t0 + Duration::from_secs(4)), Err(Duration::from_secs(6)));
        assert!(b.permit(t0 + cool).is_ok());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // A failed probe reopens at once.
        b.failure(t0 + cool);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.permit(t0 + cool + Duration::from_secs(1)).is_err());
        assert!(b.permit(t0 + cool * 2).is_ok());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        // Successes reset the count.
        b.failure(t0);
        b.failure(t0);
        b.success();
        b.failure(t0);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
