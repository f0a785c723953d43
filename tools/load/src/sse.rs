//! `sse`: propagation latency of admin changes to N open SDK streams.
//!
//! N lightweight clients (raw HTTP/1.1 over a tokio `TcpStream`, chunked
//! decoding, a scanner that keeps only `event:`/`id:` lines) open
//! `GET /sdk/v1/stream`; once every one has its initial `put`, the driver
//! makes `--changes` kill-switch toggles one at a time, each on a blocking
//! thread (so the acknowledgement instant does not wait for a runtime busy
//! reading N sockets), and waits until every client has read that version's
//! event (or a timeout) before the next. Latency = the instant a client's
//! read returned the end of the event with `id: <v>` (the blank line after
//! its `data:`, where an SSE client dispatches it: a large patch counts
//! once all of it has arrived) minus the instant the PATCH's 200 answer was
//! completely read. Each client reads up to [`READ_BUFFER`] bytes at a time,
//! as hyper's read buffer does (8 KiB, growing under load).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::Common;
use crate::rawhttp::{self, BlockingConn, Chunked, Event, SseItem, SseLines};
use crate::stats;

/// Bytes a client reads at a time (until 2026-12-04: 2 KiB, which made a
/// 20 KB patch ten reads per stream on the shared cores).
const READ_BUFFER: usize = 16 * 1024;

/// Parameters of the `sse` benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    pub common: Common,
    pub sdk_key: String,
    pub clients: usize,
    pub changes: usize,
    pub flag: String,
    pub env: String,
    /// Connections being opened at once.
    pub connect_concurrency: usize,
    /// The whole connect phase.
    pub connect_timeout: Duration,
    /// How long one change may take to reach every client.
    pub change_timeout: Duration,
    /// Pause after a change has reached everyone, before the next.
    pub gap: Duration,
    /// Pause after the last client connected, before the RSS reading and the changes.
    pub settle: Duration,
    /// The server's process id, to read its RSS and CPU time.
    pub server_pid: Option<u32>,
    /// 0: each change is a PATCH of `flag`. N > 0: each change is a release
    /// of N flags (`flag` and `flag-1` .. `flag-(N-1)`, created when
    /// missing), created untimed and then applied (`POST
    /// /api/v1/releases/{id}/apply`, timed like the PATCH).
    pub release: usize,
    /// Ask for whole flags in every patch (no `?patch=configs`).
    pub full_patches: bool,
}

/// Nothing recorded yet.
const NONE: i64 = i64::MIN;
/// Attempts per client to open its stream.
const ATTEMPTS: u32 = 3;

/// What every client writes and the driver reads.
struct Shared {
    epoch: Instant,
    clients: usize,
    changes: usize,
    /// The version before the first change; `NONE` while connecting.
    base: AtomicI64,
    /// Each client's initial `put` version.
    initial: Vec<AtomicI64>,
    /// Each client's time from starting to connect to reading its `put` (ns).
    connect_ns: Vec<AtomicU64>,
    /// `receipts[client * changes + k]`: ns since `epoch` + 1 at which the
    /// client read version `base + 1 + k`; 0 = not (yet).
    receipts: Vec<AtomicU64>,
    /// Clients that have read each change.
    got: Vec<AtomicUsize>,
    connected: AtomicUsize,
    failed: AtomicUsize,
    wake: Notify,
    /// Ids outside `base+1 ..= base+changes` after the put.
    unexpected: AtomicU64,
    /// Ids not above the client's previous id.
    out_of_order: AtomicU64,
    /// `put` events after the initial one (the server's answer to a lagging client).
    resets: AtomicU64,
    bad_ids: AtomicU64,
    /// Streams that ended or failed after their `put`.
    disconnected: AtomicU64,
    /// The first failure, for the report.
    first_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn note_error(&self, e: impl std::fmt::Display) {
        let mut slot = self.first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

/// One client's own progress.
struct ClientState {
    index: usize,
    started: Instant,
    last: i64,
    permit: Option<OwnedSemaphorePermit>,
}

impl ClientState {
    fn on_id(&mut self, shared: &Shared, id: i64, event: Event, at: u64) {
        if self.last == NONE {
            // The initial `put`.
            self.last = id;
            shared.initial[self.index].store(id, Ordering::Relaxed);
            let started = shared.since_epoch(self.started);
            shared.connect_ns[self.index].store(at.saturating_sub(started), Ordering::Relaxed);
            self.permit = None;
            if shared.connected.fetch_add(1, Ordering::AcqRel) + 1 + shared.failed.load(Ordering::Acquire)
                == shared.clients
            {
                shared.wake.notify_one();
            }
            return;
        }
        if id <= self.last {
            shared.out_of_order.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.last = id;
        if event == Event::Put {
            shared.resets.fetch_add(1, Ordering::Relaxed);
        }
        let base = shared.base.load(Ordering::Acquire);
        if base == NONE || id <= base || id > base + shared.changes as i64 {
            shared.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let k = (id - base - 1) as usize;
        if shared.receipts[self.index * shared.changes + k].swap(at + 1, Ordering::AcqRel) == 0
            && shared.got[k].fetch_add(1, Ordering::AcqRel) + 1 == shared.clients
        {
            shared.wake.notify_one();
        }
    }
}

/// Connects, sends the stream request and reads the response head; returns
/// the stream, whether the body is chunked, and body bytes already read.
async fn open(addr: SocketAddr, request: &[u8]) -> anyhow::Result<(TcpStream, bool, Vec<u8>)> {
    let stream = TcpStream::connect(addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    rawhttp::write_all(&stream, request).await.context("sending the request")?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = rawhttp::read_some(&stream, &mut chunk).await.context("reading the response head")?;
        if n == 0 {
            bail!("closed before a response head");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = rawhttp::head_end(&buf) {
            let head = rawhttp::parse_head(&buf[..end])?;
            if head.status != 200 {
                bail!("HTTP {}: {}", head.status, String::from_utf8_lossy(&buf[end..]).trim());
            }
            return Ok((stream, head.chunked, buf.split_off(end)));
        }
        if buf.len() > 16 * 1024 {
            bail!("response head too large");
        }
    }
}

async fn client(index: usize, shared: Arc<Shared>, addr: SocketAddr, request: Arc<[u8]>, sem: Arc<Semaphore>) {
    let Ok(permit) = sem.acquire_owned().await else { return };
    let mut state = ClientState { index, started: Instant::now(), last: NONE, permit: Some(permit) };
    let mut opened = None;
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(Duration::from_secs(10), open(addr, &request)).await {
            Ok(Ok(o)) => {
                opened = Some(o);
                break;
            }
            Ok(Err(e)) => shared.note_error(format!("client {index}, attempt {attempt}: {e:#}")),
            Err(_) => shared.note_error(format!("client {index}, attempt {attempt}: no response head in 10 s")),
        }
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
    }
    let Some((stream, chunked, early)) = opened else {
        if shared.failed.fetch_add(1, Ordering::AcqRel) + 1 + shared.connected.load(Ordering::Acquire) == shared.clients
        {
            shared.wake.notify_one();
        }
        return;
    };
    let mut decoder = chunked.then(Chunked::default);
    let mut lines = SseLines::default();
    let mut buf = vec![0u8; READ_BUFFER];
    let mut pending = early;
    loop {
        let (data, at): (&[u8], u64) = if pending.is_empty() {
            match rawhttp::read_some(&stream, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => (&buf[..n], shared.since_epoch(Instant::now())),
            }
        } else {
            (&pending[..], shared.since_epoch(Instant::now()))
        };
        let mut on_item = |item: SseItem| match item {
            SseItem::Id { id, event } => state.on_id(&shared, id, event, at),
            SseItem::BadId => {
                shared.bad_ids.fetch_add(1, Ordering::Relaxed);
            }
        };
        let ended = match decoder.as_mut() {
            Some(d) => match d.feed(data, |body| lines.feed(body, &mut on_item)) {
                Ok(done) => done,
                Err(e) => {
                    shared.note_error(format!("client {index}: {e:#}"));
                    true
                }
            },
            None => {
                lines.feed(data, &mut on_item);
                false
            }
        };
        if !pending.is_empty() {
            pending = Vec::new();
        }
        if ended {
            break;
        }
    }
    // The stream ended: before its `put` it is a failed connection, after it a disconnect.
    if state.last == NONE {
        if shared.failed.fetch_add(1, Ordering::AcqRel) + 1 + shared.connected.load(Ordering::Acquire) == shared.clients
        {
            shared.wake.notify_one();
        }
    } else {
        shared.disconnected.fetch_add(1, Ordering::Relaxed);
    }
}

/// The environment's version, from `GET /api/v1/environments`.
async fn env_version(client: &reqwest::Client, common: &Common, env: &str) -> anyhow::Result<i64> {
    let resp = client.get(common.url("/api/v1/environments")).send().await.context("listing environments")?;
    let status = resp.status();
    if !status.is_success() {
        bail!("listing environments: HTTP {status}: {}", resp.text().await.unwrap_or_default());
    }
    let v: Value = resp.json().await?;
    let list = v.as_array().or_else(|| v.get("items").and_then(Value::as_array)).context("environments: no list")?;
    list.iter()
        .find(|e| e.get("key").and_then(Value::as_str) == Some(env))
        .and_then(|e| e.get("version").and_then(Value::as_i64))
        .with_context(|| format!("no environment `{env}`"))
}

/// The soft limit on open files of this process, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A blocking PATCH on its own thread: returns the connection, the answer's
/// `enabled`, when the request was sent and when the 200 was read.
fn patch(mut conn: BlockingConn, request: Vec<u8>) -> (BlockingConn, anyhow::Result<(Option<bool>, Instant, Instant)>) {
    let sent = Instant::now();
    let result = conn.exchange(&request).and_then(|(head, body, at)| {
        if head.status != 200 {
            bail!("PATCH: HTTP {}: {}", head.status, String::from_utf8_lossy(&body));
        }
        let v: Value = serde_json::from_slice(&body).context("PATCH answer is not JSON")?;
        Ok((v.get("enabled").and_then(Value::as_bool), sent, at))
    });
    (conn, result)
}

/// Creates (untimed) the release of change `k`: every flag of a release
/// change set to `enabled`; returns its id.
async fn create_release(
    http: &reqwest::Client,
    common: &Common,
    options: &Options,
    enabled: bool,
    k: usize,
) -> anyhow::Result<i64> {
    let flags =
        std::iter::once(options.flag.clone()).chain((1..options.release).map(|i| format!("{}-{i}", options.flag)));
    let changes: Vec<Value> =
        flags.map(|f| json!({"flag": f, "environment": options.env, "enabled": enabled})).collect();
    let body = json!({"name": format!("load change {}", k + 1), "changes": changes});
    let answer = http.post(common.url("/api/v1/releases")).json(&body).send().await.context("creating a release")?;
    if answer.status().as_u16() != 201 {
        bail!("creating a release: HTTP {}", answer.status());
    }
    let v: Value = answer.json().await.context("release answer")?;
    v["id"].as_i64().context("release answer without an id")
}

/// Signed milliseconds.
fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// Nearest-rank percentile of sorted signed values.
fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One change as the driver saw it.
struct ChangeRecord {
    /// PATCH sent and 200 read, ns since epoch.
    sent: u64,
    ack: u64,
    /// When the last client got it, or the timeout, ns since epoch.
    done: u64,
    enabled: Option<bool>,
}

/// Runs the benchmark and returns the report text (last line `summary ...`).
pub async fn run(options: Options) -> anyhow::Result<String> {
    let common = &options.common;
    let n = options.clients;
    if let Some(limit) = open_files_limit()
        && (limit as usize) < n + 64
    {
        bail!("the open-files limit is {limit}; {n} clients need at least {} (raise it: ulimit -n)", n + 64);
    }
    let http = crate::client(common)?;
    let host = common.base.host_str().context("--base has no host")?;
    let port = common.base.port_or_known_default().context("--base has no port")?;
    let addr: SocketAddr = format!("{host}:{port}").parse().context("--base must be an IP address")?;

    // Setup: the flag exists; its current state and the environment's version.
    let created = http
        .post(common.url("/api/v1/flags"))
        .json(&json!({"key": options.flag, "type": "boolean"}))
        .send()
        .await
        .context("creating the flag")?;
    if !matches!(created.status().as_u16(), 201 | 409) {
        bail!(
            "creating flag {}: HTTP {}: {}",
            options.flag,
            created.status(),
            created.text().await.unwrap_or_default()
        );
    }
    for i in 1..options.release {
        let key = format!("{}-{i}", options.flag);
        let created = http
            .post(common.url("/api/v1/flags"))
            .json(&json!({"key": key, "type": "boolean"}))
            .send()
            .await
            .with_context(|| format!("creating flag {key}"))?;
        if !matches!(created.status().as_u16(), 201 | 409) {
            bail!("creating flag {key}: HTTP {}", created.status());
        }
    }
    let config_path = format!("/api/v1/flags/{}/environments/{}", options.flag, options.env);
    let config: Value = http.get(common.url(&config_path)).send().await?.error_for_status()?.json().await?;
    let mut enabled = config.get("enabled").and_then(Value::as_bool).context("configuration without `enabled`")?;
    let v0 = env_version(&http, common, &options.env).await?;

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        clients: n,
        changes: options.changes,
        base: AtomicI64::new(NONE),
        initial: (0..n).map(|_| AtomicI64::new(NONE)).collect(),
        connect_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
        receipts: (0..n * options.changes).map(|_| AtomicU64::new(0)).collect(),
        got: (0..options.changes).map(|_| AtomicUsize::new(0)).collect(),
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        wake: Notify::new(),
        unexpected: AtomicU64::new(0),
        out_of_order: AtomicU64::new(0),
        resets: AtomicU64::new(0),
        bad_ids: AtomicU64::new(0),
        disconnected: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    });
    let request: Arc<[u8]> = format!(
        "GET /sdk/v1/stream{} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {}\r\n\
         Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
        if options.full_patches { "" } else { "?patch=configs" },
        options.sdk_key
    )
    .into_bytes()
    .into();

    let rss_before = options.server_pid.map(stats::rss_kib);
    let load_before = stats::loadavg();
    let cpu_start = stats::cpu_secs();
    let server_cpu_start = options.server_pid.map(stats::process_cpu_secs);

    // Connect phase.
    let sem = Arc::new(Semaphore::new(options.connect_concurrency));
    let connect_start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tasks.spawn(client(i, shared.clone(), addr, request.clone(), sem.clone()));
    }
    let connect_deadline = connect_start + options.connect_timeout;
    loop {
        let notified = shared.wake.notified();
        let (c, f) = (shared.connected.load(Ordering::Acquire), shared.failed.load(Ordering::Acquire));
        if c + f >= n || Instant::now() >= connect_deadline {
            break;
        }
        let wake_at = connect_deadline.min(Instant::now() + Duration::from_millis(100));
        let _ = tokio::time::timeout_at(wake_at.into(), notified).await;
    }
    let connect_elapsed = connect_start.elapsed();
    let connected = shared.connected.load(Ordering::Acquire);
    if connected < n {
        let error = shared.first_error.lock().ok().and_then(|e| e.clone()).unwrap_or_default();
        tasks.abort_all();
        bail!(
            "only {connected} of {n} clients received their initial put in {:.1} s ({} failed; first error: {error})",
            connect_elapsed.as_secs_f64(),
            shared.failed.load(Ordering::Acquire)
        );
    }
    let initial: Vec<i64> = shared.initial.iter().map(|v| v.load(Ordering::Acquire)).collect();
    if initial.iter().any(|&v| v != v0) {
        tasks.abort_all();
        bail!("initial put versions differ from the environment's version {v0} (someone else is writing?)");
    }
    shared.base.store(v0, Ordering::Release);
    let cpu_connect = stats::cpu_secs() - cpu_start;
    tokio::time::sleep(options.settle).await;
    let rss_connected = options.server_pid.map(stats::rss_kib);
    let server_cpu_connected = options.server_pid.map(stats::process_cpu_secs);

    // Change phase.
    let cpu_changes_start = stats::cpu_secs();
    let mut conn = {
        let timeout = common.timeout;
        tokio::task::spawn_blocking(move || BlockingConn::connect(addr, timeout)).await??
    };
    let mut records = Vec::with_capacity(options.changes);
    for k in 0..options.changes {
        let request = if options.release == 0 {
            let body = json!({"enabled": !enabled}).to_string();
            format!(
                "PATCH {config_path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                common.token,
                body.len()
            )
        } else {
            let id = create_release(&http, common, &options, !enabled, k).await?;
            format!(
                "POST /api/v1/releases/{id}/apply HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {}\r\n\
                 Content-Length: 0\r\n\r\n",
                common.token
            )
        }
        .into_bytes();
        let (back, result) = tokio::task::spawn_blocking(move || patch(conn, request)).await?;
        conn = back;
        let (now_enabled, sent, ack) = result.with_context(|| format!("change {}", k + 1))?;
        enabled = now_enabled.unwrap_or(!enabled);
        let deadline = Instant::now() + options.change_timeout;
        loop {
            let notified = shared.wake.notified();
            if shared.got[k].load(Ordering::Acquire) >= n || Instant::now() >= deadline {
                break;
            }
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
        }
        records.push(ChangeRecord {
            sent: shared.since_epoch(sent),
            ack: shared.since_epoch(ack),
            done: shared.since_epoch(Instant::now()),
            enabled: now_enabled,
        });
        tokio::time::sleep(options.gap).await;
    }
    let cpu_changes = stats::cpu_secs() - cpu_changes_start;
    // Late arrivals of the last change still count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_after = options.server_pid.map(stats::rss_kib);
    let server_cpu_end = options.server_pid.map(stats::process_cpu_secs);
    let v_end = env_version(&http, common, &options.env).await?;
    let load_after = stats::loadavg();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}

    // Figures.
    let mut out = String::new();
    use std::fmt::Write as _;
    let mut connect: Vec<i64> = shared.connect_ns.iter().map(|v| v.load(Ordering::Relaxed) as i64).collect();
    connect.sort_unstable();
    let _ = writeln!(
        out,
        "sse: {n} clients on /sdk/v1/stream, {} changes of `{}` in `{}` ({}, one at a time), {} worker thread(s)",
        options.changes,
        options.flag,
        options.env,
        if options.release == 0 {
            "PATCH enabled".to_owned()
        } else {
            format!("each a release of {} flags, applied", options.release)
        },
        tokio::runtime::Handle::current().metrics().num_workers()
    );
    let _ = writeln!(
        out,
        "  connect     all {n} put received in {:.3} s ({} at once); per client p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        connect_elapsed.as_secs_f64(),
        options.connect_concurrency,
        ms(pct(&connect, 50.0)),
        ms(pct(&connect, 99.0)),
        ms(pct(&connect, 100.0)),
    );
    let _ = writeln!(
        out,
        "  change    delivered  p50 ms   p90 ms   p99 ms   max ms   min ms  PATCH ms  all-in ms  enabled"
    );
    let mut all = Vec::with_capacity(n * options.changes);
    let mut change_p99 = Vec::with_capacity(options.changes);
    let mut change_p50 = Vec::with_capacity(options.changes);
    let mut missed_clients = std::collections::BTreeSet::new();
    for (k, rec) in records.iter().enumerate() {
        let mut lat = Vec::with_capacity(n);
        for c in 0..n {
            match shared.receipts[c * options.changes + k].load(Ordering::Acquire) {
                0 => {
                    missed_clients.insert(c);
                }
                at => lat.push((at - 1) as i64 - rec.ack as i64),
            }
        }
        lat.sort_unstable();
        change_p99.push(pct(&lat, 99.0));
        change_p50.push(pct(&lat, 50.0));
        let _ = writeln!(
            out,
            "  {:>6}  {:>9}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}  {:>8.2}  {:>9.2}  {}",
            k + 1,
            lat.len(),
            ms(pct(&lat, 50.0)),
            ms(pct(&lat, 90.0)),
            ms(pct(&lat, 99.0)),
            ms(pct(&lat, 100.0)),
            ms(lat.first().copied().unwrap_or(0)),
            ms(rec.ack as i64 - rec.sent as i64),
            ms(rec.done as i64 - rec.ack as i64),
            rec.enabled.map_or("?".into(), |e| e.to_string()),
        );
        all.extend(lat);
    }
    all.sort_unstable();
    change_p99.sort_unstable();
    change_p50.sort_unstable();
    let delivered = all.len();
    let expected = n * records.len();
    let before_ack = all.iter().filter(|&&l| l < 0).count();
    let mut patch_rtt: Vec<i64> = records.iter().map(|r| r.ack as i64 - r.sent as i64).collect();
    patch_rtt.sort_unstable();
    let _ = writeln!(
        out,
        "  overall     {delivered} of {expected} deliveries; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         ({before_ack} read before the ack); per-change p99: median {:.2} ms, worst {:.2} ms",
        ms(pct(&all, 50.0)),
        ms(pct(&all, 90.0)),
        ms(pct(&all, 99.0)),
        ms(pct(&all, 100.0)),
        ms(pct(&change_p99, 50.0)),
        ms(pct(&change_p99, 100.0)),
    );
    let missed = expected - delivered;
    let _ = writeln!(
        out,
        "  checks      missed {missed} (clients missing a version: {}), resets {}, out-of-order {}, unexpected ids {}, \
         bad ids {}, disconnects {}, environment version {v0} -> {v_end} (expected {})",
        missed_clients.len(),
        shared.resets.load(Ordering::Relaxed),
        shared.out_of_order.load(Ordering::Relaxed),
        shared.unexpected.load(Ordering::Relaxed),
        shared.bad_ids.load(Ordering::Relaxed),
        shared.disconnected.load(Ordering::Relaxed),
        v0 + records.len() as i64,
    );
    let kib = |v: Option<u64>| v.map_or("?".to_owned(), |k| k.to_string());
    let per_client = match (rss_before, rss_connected) {
        (Some(b), Some(c)) => format!("{:.2}", (c as f64 - b as f64) / n as f64),
        _ => "?".into(),
    };
    let server_cpu = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", b - a),
        _ => "?".into(),
    };
    let _ = writeln!(
        out,
        "  server      RSS {} KiB before connecting, {} connected (+{per_client} KiB per client), {} after the changes; \
         CPU s: connect {}, changes {}",
        kib(rss_before),
        kib(rss_connected),
        kib(rss_after),
        server_cpu(server_cpu_start, server_cpu_connected),
        server_cpu(server_cpu_connected, server_cpu_end),
    );
    let _ = writeln!(
        out,
        "  machine     loadavg before [{load_before}] after [{load_after}]; this client used {cpu_connect:.2} CPU s \
         connecting, {cpu_changes:.2} during the changes"
    );
    let _ = writeln!(
        out,
        "summary bench=sse clients={n} changes={} delivered={delivered} missed={missed} missed_clients={} \
         p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3} min_ms={:.3} before_ack={before_ack} \
         change_p99_median_ms={:.3} change_p99_worst_ms={:.3} change_p50_median_ms={:.3} patch_p50_ms={:.3} patch_p99_ms={:.3} \
         connect_total_s={:.3} connect_p50_ms={:.3} connect_p99_ms={:.3} connect_max_ms={:.3} \
         resets={} out_of_order={} unexpected={} disconnects={} version_ok={} \
         rss_before_kib={} rss_connected_kib={} rss_after_kib={} per_client_kib={per_client} \
         server_cpu_connect_s={} server_cpu_changes_s={} client_cpu_connect_s={cpu_connect:.2} \
         client_cpu_changes_s={cpu_changes:.2} load_before={} load_after={}",
        records.len(),
        missed_clients.len(),
        ms(pct(&all, 50.0)),
        ms(pct(&all, 90.0)),
        ms(pct(&all, 99.0)),
        ms(pct(&all, 100.0)),
        ms(all.first().copied().unwrap_or(0)),
        ms(pct(&change_p99, 50.0)),
        ms(pct(&change_p99, 100.0)),
        ms(pct(&change_p50, 50.0)),
        ms(pct(&patch_rtt, 50.0)),
        ms(pct(&patch_rtt, 99.0)),
        connect_elapsed.as_secs_f64(),
        ms(pct(&connect, 50.0)),
        ms(pct(&connect, 99.0)),
        ms(pct(&connect, 100.0)),
        shared.resets.load(Ordering::Relaxed),
        shared.out_of_order.load(Ordering::Relaxed),
        shared.unexpected.load(Ordering::Relaxed),
        shared.disconnected.load(Ordering::Relaxed),
        v_end == v0 + records.len() as i64,
        kib(rss_before),
        kib(rss_connected),
        kib(rss_after),
        server_cpu(server_cpu_start, server_cpu_connected),
        server_cpu(server_cpu_connected, server_cpu_end),
        load_before.replace(' ', "/"),
        load_after.replace(' ', "/"),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_percentiles() {
        let v = vec![-3, -1, 2, 4, 10];
        assert_eq!((pct(&v, 0.0), pct(&v, 50.0), pct(&v, 99.0), pct(&v, 100.0)), (-3, 2, 10, 10));
        assert_eq!(pct(&[], 50.0), 0);
    }

    #[test]
    fn receipts_counted_once_and_in_range() {
        let shared = Shared {
            epoch: Instant::now(),
            clients: 2,
            changes: 2,
            base: AtomicI64::new(NONE),
            initial: (0..2).map(|_| AtomicI64::new(NONE)).collect(),
            connect_ns: (0..2).map(|_| AtomicU64::new(0)).collect(),
            receipts: (0..4).map(|_| AtomicU64::new(0)).collect(),
            got: (0..2).map(|_| AtomicUsize::new(0)).collect(),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            wake: Notify::new(),
            unexpected: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            bad_ids: AtomicU64::new(0),
            disconnected: AtomicU64::new(0),
            first_error: std::sync::Mutex::new(None),
        };
        let mut c = ClientState { index: 1, started: shared.epoch, last: NONE, permit: None };
        c.on_id(&shared, 10, Event::Put, 5);
        assert_eq!((shared.initial[1].load(Ordering::Relaxed), shared.connected.load(Ordering::Relaxed)), (10, 1));
        shared.base.store(10, Ordering::Relaxed);
        c.on_id(&shared, 11, Event::Patch, 7);
        c.on_id(&shared, 11, Event::Patch, 8);
        c.on_id(&shared, 13, Event::Put, 9);
        assert_eq!(shared.receipts[2].load(Ordering::Relaxed), 8);
        assert_eq!(shared.got[0].load(Ordering::Relaxed), 1);
        assert_eq!(shared.got[1].load(Ordering::Relaxed), 0);
        assert_eq!(shared.out_of_order.load(Ordering::Relaxed), 1);
        assert_eq!((shared.unexpected.load(Ordering::Relaxed), shared.resets.load(Ordering::Relaxed)), (1, 1));
    }
}
