//! Login rate limiting: failed attempts counted per username and per client
//! address over a sliding window, in memory (per replica: with N replicas
//! an attacker gets at most N times the budget, which argon2's cost and the
//! small limits keep harmless).
//!
//! Defaults: 5 failures per username and 20 per address in 5 minutes. Once
//! a key is at its limit, further attempts are refused without checking the
//! password until its oldest failure leaves the window; the refusal says
//! when (`Retry-After`). A successful login forgets the username's failures
//! (not the address's).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Where the limiter reads the time (a fake one in tests).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub window: Duration,
    pub per_username: usize,
    pub per_address: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { window: Duration::from_secs(300), per_username: 5, per_address: 20 }
    }
}

/// Keys tracked at most; beyond that, keys without recent failures are
/// dropped first, then everything (an attack spraying keys gets a fresh
/// budget rather than unbounded memory).
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

/// Failed-login counters.
#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginLimits::default(), Arc::new(SystemClock))
    }
}

impl LoginLimiter {
    /// A limiter with `limits`, reading time from `clock`.
    pub fn new(limits: LoginLimits, clock: Arc<dyn Clock>) -> Self {
        LoginLimiter { limits, clock, failures: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keys(username: &str, address: Option<IpAddr>) -> Vec<(Key, bool)> {
        let mut keys = vec![(user_key(username), true)];
        if let Some(ip) = address {
            keys.push((Key::Address(ip), false));
        }
        keys
    }

    /// `Ok` when an attempt for `username` from `address` may go ahead;
    /// otherwise the seconds (at least 1) until it may.
    pub fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = self.clock.now();
        let mut failures = self.lock();
        let mut wait = Duration::ZERO;
        for (key, is_user) in Self::keys(username, address) {
            let limit = if is_user { self.limits.per_username } else { self.limits.per_address };
            if let Some(times) = failures.get_mut(&key) {
                prune(times, now, self.limits.window);
                if times.len() >= limit
                    && let Some(oldest) = times.front()
                {
                    wait = wait.max((*oldest + self.limits.window).saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait.as_secs_f64().ceil().max(1.0) as u64) }
    }

    /// Counts a failed attempt.
    pub fn failed(&self, username: &str, address: Option<IpAddr>) {
        let now = self.clock.now();
        let window = self.limits.window;
        let mut failures = self.lock();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        for (key, is_user) in Self::keys(username, address) {
            let limit = if is_user { self.limits.per_username } else { self.limits.per_address };
            let times = failures.entry(key).or_default();
            prune(times, now, window);
            times.push_back(now);
            // Only the newest `limit` matter for the decision.
            while times.len() > limit {
                times.pop_front();
            }
        }
    }

    /// Forgets the username's failures after a successful login.
    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&user_key(username));
    }
}

/// The key of a username: without case, and bounded (valid usernames have
/// at most 64 bytes; a megabyte of junk must not be kept 100,000 times).
fn user_key(username: &str) -> Key {
    Key::User(username.chars().take(64).collect::<String>().to_ascii_lowercase())
}

/// Drops failures older than `window`.
fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct FakeClock(Mutex<Instant>);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn limiter() -> (LoginLimiter, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock(Mutex::new(Instant::now())));
        (LoginLimiter::new(LoginLimits::default(), clock.clone()), clock)
    }

    #[test]
    fn five_failures_per_username_in_five_minutes() {
        let (l, clock) = limiter();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..5 {
            assert_eq!(l.check("Alice", Some(ip)), Ok(()));
            l.failed("Alice", Some(ip));
            clock.advance(Duration::from_secs(10));
        }
        // Usernames are counted without case; the first failure was 50 s ago.
        assert_eq!(l.check("alice", None), Err(250));
        assert_eq!(l.check("bob", Some(ip)), Ok(()), "another user from the same address is fine");
        clock.advance(Duration::from_secs(249));
        assert_eq!(l.check("ALICE", None), Err(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(l.check("alice", None), Ok(()), "the oldest failure left the window");
        l.failed("alice", None);
        assert_eq!(l.check("alice", None), Err(10), "the next oldest leaves in 10 s");
        l.succeeded("alice");
        assert_eq!(l.check("alice", None), Ok(()), "a success forgets the username's failures");
    }

    #[test]
    fn twenty_failures_per_address() {
        let (l, clock) = limiter();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..20 {
            assert_eq!(l.check(&format!("user{i}"), Some(ip)), Ok(()));
            l.failed(&format!("user{i}"), Some(ip));
        }
        assert_eq!(l.check("someone-else", Some(ip)), Err(300));
        assert_eq!(l.check("someone-else", Some([10, 0, 0, 2].into())), Ok(()));
        l.succeeded("user1");
        assert!(l.check("user1", Some(ip)).is_err(), "a success does not reset the address");
        clock.advance(Duration::from_secs(300));
        assert_eq!(l.check("someone-else", Some(ip)), Ok(()));
    }
}
