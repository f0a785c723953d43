//! [`ClientBuilder`]: every option of the client, with its default.

use std::path::PathBuf;
use std::time::Duration;

/// Where the first rules come from before (or instead of) the server.
#[derive(Debug, Clone)]
pub(crate) enum Bootstrap {
    Json(String),
    File(PathBuf),
}

/// The SDK key; `Debug` does not print it.
#[derive(Clone)]
pub(crate) struct SdkKey(pub(crate) String);

impl std::fmt::Debug for SdkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Builds a [`Client`](crate::Client). Every option has a default suited to a
/// long-running service; see each method. Finish with
/// [`build`](ClientBuilder::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    pub(crate) base_url: String,
    pub(crate) sdk_key: SdkKey,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) init_timeout: Duration,
    pub(crate) streaming: bool,
    pub(crate) poll_interval: Duration,
    pub(crate) stream_failures_before_polling: u32,
    pub(crate) stream_retry_interval: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) offline: bool,
    pub(crate) bootstrap: Option<Bootstrap>,
    pub(crate) cache_file: Option<PathBuf>,
    pub(crate) send_events: bool,
    pub(crate) flush_interval: Duration,
    pub(crate) batch_size: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) exposure_cache_capacity: u64,
    pub(crate) exposure_ttl: Duration,
    pub(crate) max_batch_attempts: u32,
    pub(crate) breaker_threshold: u32,
    pub(crate) breaker_cooldown: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_cap: Duration,
    pub(crate) backoff_reset_after: Duration,
    pub(crate) close_timeout: Duration,
}

impl ClientBuilder {
    pub(crate) fn new(base_url: impl Into<String>, sdk_key: impl Into<String>) -> Self {
        ClientBuilder {
            base_url: base_url.into(),
            sdk_key: SdkKey(sdk_key.into()),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            init_timeout: Duration::from_secs(5),
            streaming: true,
            poll_interval: Duration::from_secs(30),
            stream_failures_before_polling: 3,
            stream_retry_interval: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(15),
            offline: false,
            bootstrap: None,
            cache_file: None,
            send_events: true,
            flush_interval: Duration::from_secs(5),
            batch_size: 500,
            queue_capacity: 10_000,
            exposure_cache_capacity: 100_000,
            exposure_ttl: Duration::from_secs(3600),
            max_batch_attempts: 10,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            backoff_reset_after: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
        }
    }

    /// TCP + TLS connect timeout of every request. Default 5 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Whole-request timeout of snapshot polls and event batches (not of the
    /// stream, which is long-lived). Default 10 s.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// How long [`build`](Self::build) waits for the first rules from the
    /// server (or for the key to be refused). When it passes, `build` returns
    /// a client that serves the bootstrap / cache-file rules or the code
    /// defaults and keeps trying in the background. `Duration::ZERO` does not
    /// wait. Default 5 s.
    pub fn init_timeout(mut self, d: Duration) -> Self {
        self.init_timeout = d;
        self
    }

    /// Receive changes over the SSE stream (`true`, the default) or only poll
    /// `/sdk/v1/snapshot` every [`poll_interval`](Self::poll_interval).
    pub fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// Interval of snapshot polls: in polling mode, and while the stream is
    /// down and the client has fallen back to polling. Default 30 s.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Consecutive failed stream connections (no `200` answer) after which
    /// the client polls instead, retrying the stream every
    /// [`stream_retry_interval`](Self::stream_retry_interval). Default 3.
    pub fn stream_failures_before_polling(mut self, n: u32) -> Self {
        self.stream_failures_before_polling = n.max(1);
        self
    }

    /// While polling as a fallback, how often the stream is tried again.
    /// Default 60 s.
    pub fn stream_retry_interval(mut self, d: Duration) -> Self {
        self.stream_retry_interval = d;
        self
    }

    /// The server's heartbeat period (`FLAGYARD_SSE_HEARTBEAT_SECS`). A
    /// stream silent for three periods is treated as dead and reconnected.
    /// Default 15 s (so 45 s of silence).
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }

    /// No network at all: serve the bootstrap (or cache-file) rules, or the
    /// code defaults, and record no events. Default off.
    pub fn offline(mut self, on: bool) -> Self {
        self.offline = on;
        self
    }

    /// Start from these rules (a snapshot, as `/sdk/v1/snapshot` sends it)
    /// until the server answers. Refused by `build` when invalid.
    pub fn bootstrap_json(mut self, json: impl Into<String>) -> Self {
        self.bootstrap = Some(Bootstrap::Json(json.into()));
        self
    }

    /// Like [`bootstrap_json`](Self::bootstrap_json), read from a file.
    pub fn bootstrap_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.bootstrap = Some(Bootstrap::File(path.into()));
        self
    }

    /// A file the client writes every new snapshot to (atomically: a
    /// temporary file then a rename) and reads at start, so a service that
    /// starts while the server is down serves the last known rules. A missing
    /// or unreadable file is not an error. When both this file and a
    /// bootstrap are present, the higher version wins (the file on a tie).
    /// Default none.
    pub fn cache_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_file = Some(path.into());
        self
    }

    /// Record and send exposure and track events. Default on.
    pub fn send_events(mut self, on: bool) -> Self {
        self.send_events = on;
        self
    }

    /// How often queued events are sent (sooner when a batch is full).
    /// Default 5 s.
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = d;
        self
    }

    /// Most events per `POST /sdk/v1/events`. Default 500.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Events waiting to be sent beyond the batch being assembled; when full,
    /// new events are dropped and counted ([`Stats::dropped`](crate::Stats)).
    /// Default 10 000.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// Entries of the exposure de-duplication cache (unit, flag, variant).
    /// Default 100 000.
    pub fn exposure_cache_capacity(mut self, n: u64) -> Self {
        self.exposure_cache_capacity = n;
        self
    }

    /// How long an exposure is remembered as already sent. Default 1 h.
    pub fn exposure_ttl(mut self, d: Duration) -> Self {
        self.exposure_ttl = d;
        self
    }

    /// Attempts at one batch before it is given up
    /// ([`Stats::failed_batches`](crate::Stats)). Default 10.
    pub fn max_batch_attempts(mut self, n: u32) -> Self {
        self.max_batch_attempts = n.max(1);
        self
    }

    /// Consecutive failed event requests that open the circuit breaker.
    /// Default 5.
    pub fn breaker_threshold(mut self, n: u32) -> Self {
        self.breaker_threshold = n.max(1);
        self
    }

    /// How long the open breaker sends nothing before one probe batch.
    /// Default 30 s.
    pub fn breaker_cooldown(mut self, d: Duration) -> Self {
        self.breaker_cooldown = d;
        self
    }

    /// First retry delay of the stream and of event batches; the `n`-th
    /// retry waits a random time in `0..=min(cap, base × 2ⁿ)` ("full
    /// jitter"), and never less than the stream's `retry:`. Default 500 ms.
    pub fn backoff_base(mut self, d: Duration) -> Self {
        self.backoff_base = d;
        self
    }

    /// Longest retry delay. Default 30 s.
    pub fn backoff_cap(mut self, d: Duration) -> Self {
        self.backoff_cap = d;
        self
    }

    /// A stream connected for this long resets the backoff. Default 30 s.
    pub fn backoff_reset_after(mut self, d: Duration) -> Self {
        self.backoff_reset_after = d;
        self
    }

    /// Upper bound of [`Client::close`](crate::Client::close), final flush
    /// included. Default 5 s.
    pub fn close_timeout(mut self, d: Duration) -> Self {
        self.close_timeout = d;
        self
    }

    /// The stream's silence limit: three heartbeat periods.
    pub(crate) fn silence_limit(&self) -> Duration {
        self.heartbeat_interval.saturating_mul(3)
    }
}
