//! Login rate limiting: attempts counted per username and client address,
//! and per address, over a sliding window, in memory (per replica: with N
//! replicas an attacker gets at most N times the budget, which argon2's
//! cost and the small limits keep harmless).
//!
//! Defaults: 5 failures per username from one address and 20 per address
//! in 5 minutes. An attempt is counted *before* its password is checked
//! ([`LoginLimiter::reserve`]): the budget holds however many attempts run
//! at once. The reservation becomes a failure on a wrong password, is
//! released on success (which also forgets that username's failures from
//! that address) and when the check could not be made (a database error).
//! Once a key is at its limit, further attempts are refused without
//! checking the password until its oldest attempt leaves the window; the
//! refusal says when (`Retry-After`).
//!
//! Because the username budget is per address, guessing a user's password
//! from elsewhere never locks the real user out of their own address; the
//! per-address budget bounds what one address can try across usernames.

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
    /// Attempts per username from one address.
    pub per_username: usize,
    /// Attempts per address, all usernames together.
    pub per_address: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { window: Duration::from_secs(300), per_username: 5, per_address: 20 }
    }
}

/// Keys tracked at most; beyond that, keys without recent attempts are
/// dropped first, then everything (an attack spraying keys gets a fresh
/// budget rather than unbounded memory).
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String, Option<IpAddr>),
    Address(IpAddr),
}

type Counters = HashMap<Key, VecDeque<Instant>>;

/// Login attempt counters.
#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    clock: Arc<dyn Clock>,
    attempts: Mutex<Counters>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginLimits::default(), Arc::new(SystemClock))
    }
}

/// One counted attempt: [`Attempt::failed`] keeps it, [`Attempt::succeeded`]
/// releases it; dropped unsettled (the password could not be checked), it
/// is released.
#[derive(Debug)]
#[must_use = "an attempt is released when dropped"]
pub struct Attempt<'l> {
    limiter: &'l LoginLimiter,
    keys: [Option<Key>; 2],
    at: Instant,
    settled: bool,
}

impl Attempt<'_> {
    /// The password was wrong (or the account disabled): the attempt stays counted.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// Logged in: the attempt is released and the username's failures from
    /// this address are forgotten (not the address's).
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut attempts = self.limiter.lock();
        if let Some(user) = &self.keys[0] {
            attempts.remove(user);
        }
        if let Some(address) = &self.keys[1] {
            release(&mut attempts, address, self.at);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut attempts = self.limiter.lock();
            for key in self.keys.iter().flatten() {
                release(&mut attempts, key, self.at);
            }
        }
    }
}

/// Removes one attempt made at `at` from `key` (if still in its window).
fn release(attempts: &mut Counters, key: &Key, at: Instant) {
    if let Some(times) = attempts.get_mut(key)
        && let Some(i) = times.iter().rposition(|t| *t == at)
    {
        times.remove(i);
    }
}

impl LoginLimiter {
    /// A limiter with `limits`, reading time from `clock`.
    pub fn new(limits: LoginLimits, clock: Arc<dyn Clock>) -> Self {
        LoginLimiter { limits, clock, attempts: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an attempt for `username` from `address` if both are within
    /// their budget (checked and counted under one lock, so concurrent
    /// attempts cannot overrun it); otherwise the seconds (at least 1)
    /// until one may be made.
    pub fn reserve(&self, username: &str, address: Option<IpAddr>) -> Result<Attempt<'_>, u64> {
        let now = self.clock.now();
        let window = self.limits.window;
        let keys = [Some(user_key(username, address)), address.map(Key::Address)];
        let limits = [self.limits.per_username, self.limits.per_address];
        let mut attempts = self.lock();
        let mut wait = Duration::ZERO;
        for (key, limit) in keys.iter().zip(limits) {
            if let Some(key) = key
                && let Some(times) = attempts.get_mut(key)
            {
                prune(times, now, window);
                if times.len() >= limit
                    && let Some(oldest) = times.get(times.len() - limit)
                {
                    wait = wait.max((*oldest + window).saturating_duration_since(now));
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        if attempts.len() >= MAX_KEYS {
            attempts.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
            if attempts.len() >= MAX_KEYS {
                attempts.clear();
            }
        }
        for key in keys.iter().flatten() {
            attempts.entry(key.clone()).or_default().push_back(now);
        }
        drop(attempts);
        Ok(Attempt { limiter: self, keys, at: now, settled: false })
    }
}

/// The key of a username from an address: without case, and bounded (valid
/// usernames have at most 64 bytes; a megabyte of junk must not be kept
/// 100,000 times).
fn user_key(username: &str, address: Option<IpAddr>) -> Key {
    Key::User(username.chars().take(64).collect::<String>().to_ascii_lowercase(), address)
}

/// Drops attempts older than `window`.
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
    fn five_failures_per_username_and_address_in_five_minutes() {
        let (l, clock) = limiter();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..5 {
            l.reserve("Alice", Some(ip)).unwrap().failed();
            clock.advance(Duration::from_secs(10));
        }
        // Usernames are counted without case; the first failure was 50 s ago.
        assert_eq!(l.reserve("alice", Some(ip)).unwrap_err(), 250);
        assert!(l.reserve("bob", Some(ip)).is_ok(), "another user from the same address is fine");
        let home: IpAddr = [192, 0, 2, 7].into();
        l.reserve("alice", Some(home)).expect("the real user's own address is not locked out").succeeded();
        clock.advance(Duration::from_secs(249));
        assert_eq!(l.reserve("ALICE", Some(ip)).unwrap_err(), 1);
        clock.advance(Duration::from_secs(1));
        l.reserve("alice", Some(ip)).expect("the oldest failure left the window").failed();
        assert_eq!(l.reserve("alice", Some(ip)).unwrap_err(), 10, "the next oldest leaves in 10 s");
        clock.advance(Duration::from_secs(10));
        l.reserve("alice", Some(ip)).unwrap().succeeded();
        for _ in 0..5 {
            l.reserve("alice", Some(ip)).expect("a success forgets the username's failures").failed();
        }
    }

    #[test]
    fn twenty_attempts_per_address() {
        let (l, clock) = limiter();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..20 {
            l.reserve(&format!("user{i}"), Some(ip)).unwrap().failed();
        }
        assert_eq!(l.reserve("someone-else", Some(ip)).unwrap_err(), 300);
        assert!(l.reserve("someone-else", Some([10, 0, 0, 2].into())).is_ok());
        clock.advance(Duration::from_secs(300));
        assert!(l.reserve("someone-else", Some(ip)).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_and_unsettled_ones_are_released() {
        let (l, _clock) = limiter();
        let ip: IpAddr = [10, 0, 0, 3].into();
        // Five attempts in flight at once exhaust the budget before any
        // password is checked.
        let in_flight: Vec<Attempt<'_>> = (0..5).map(|_| l.reserve("carol", Some(ip)).unwrap()).collect();
        assert!(l.reserve("carol", Some(ip)).is_err(), "the sixth concurrent attempt is refused");
        // Checks that could not be made (dropped) give the budget back.
        drop(in_flight);
        let ok = l.reserve("carol", Some(ip)).expect("released");
        ok.succeeded();
        // A success does not count against the address.
        for i in 0..20 {
            l.reserve(&format!("u{i}"), Some(ip)).unwrap().succeeded();
        }
        assert!(l.reserve("dave", Some(ip)).is_ok());
    }

    #[test]
    fn concurrent_threads_never_overrun_the_budget() {
        let l = LoginLimiter::default();
        let ip: IpAddr = [10, 0, 0, 4].into();
        let admitted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        if let Ok(a) = l.reserve("erin", Some(ip)) {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            a.failed();
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 5);
    }
}
