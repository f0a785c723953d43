//! Sending: one task per lane of the workload, like one SDK instance with
//! its own users, posting the lane's batches one at a time and in order on
//! its connection (retrying 429/503 after `Retry-After`, reconnecting after
//! transport failures); the progress lines, and the timed GETs of the results.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

use super::Options;
use super::workload::{Workload, now_ms, push_u64};
use crate::rawhttp::KeepAlive;
use crate::stats::{self, Tally};

/// 429/503 answers one batch may get before it is given up (an error).
const MAX_RETRIES: u32 = 100;
/// Transport failures one batch may meet before it is given up (an error).
const MAX_TRANSPORT_FAILURES: u32 = 3;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER_SECS: u64 = 60;
/// How often progress goes to stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Error messages kept for the report.
const ERROR_SAMPLES: usize = 5;

/// The body of a 200 answer to a batch.
#[derive(Debug, Deserialize)]
struct IngestAnswer {
    accepted: u64,
    rejected: Vec<serde_json::Value>,
    duplicate: bool,
}

/// Checks a 200 answer to a batch of `count` events. A `duplicate` answer is
/// right only after a transport failure (the earlier attempt was stored).
fn check_answer(body: &[u8], count: u64, after_transport_failure: bool) -> Result<(), String> {
    let a: IngestAnswer = serde_json::from_slice(body).map_err(|e| format!("unreadable 200 answer: {e}"))?;
    if a.accepted != count || !a.rejected.is_empty() || (a.duplicate && !after_transport_failure) {
        let first = a.rejected.first().map_or(String::new(), |r| format!(", first rejection {r}"));
        return Err(format!(
            "200 answer accepted {} of {count}, {} rejected{first}, duplicate {}",
            a.accepted,
            a.rejected.len(),
            a.duplicate
        ));
    }
    Ok(())
}

/// Shared by the sending tasks.
struct Shared {
    workload: Workload,
    run_id: String,
    /// No batch is taken after this instant (batches taken are finished).
    deadline: Instant,
    /// Events accepted so far (for the progress lines).
    accepted: AtomicU64,
    /// The request head up to `Content-Length: ` (the value and body follow).
    head: String,
    addr: SocketAddr,
    timeout: Duration,
}

/// One batch's timing: first send and final answer.
#[derive(Debug, Clone, Copy)]
struct BatchTiming {
    n: u64,
    sent: Instant,
    answered: Instant,
}

/// What one sending task did.
#[derive(Debug, Default)]
pub(super) struct TaskResult {
    /// Latency of every answered request (each attempt), statuses, transport errors.
    pub(super) tally: Tally,
    /// 429/503 answers (the batch was sent again).
    pub(super) retries: u64,
    /// Batches that ended badly (a status other than 200/429/503, a wrong
    /// 200 answer, or too many retries).
    pub(super) errors: u64,
    pub(super) samples: Vec<String>,
    pub(super) events_ok: u64,
    timings: Vec<BatchTiming>,
    /// Batches of its lane taken (always its first ones).
    taken: u64,
}

impl TaskResult {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.samples.len() < ERROR_SAMPLES {
            self.samples.push(message);
        }
    }
}

async fn sender(shared: Arc<Shared>, mut conn: Option<KeepAlive>, lane: u64) -> (u64, TaskResult) {
    let mut out = TaskResult::default();
    let (mut body, mut request, mut answer) = (Vec::with_capacity(96 * 1024), Vec::new(), Vec::new());
    let (first, end) = shared.workload.lane_batches(lane);
    for n in first..end {
        if Instant::now() >= shared.deadline {
            break;
        }
        out.taken += 1;
        let count = shared.workload.write_batch(n, &shared.run_id, now_ms(), &mut body);
        request.clear();
        request.extend_from_slice(shared.head.as_bytes());
        push_u64(&mut request, body.len() as u64);
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(&body);
        let sent = Instant::now();
        let (mut retries, mut failures) = (0u32, 0u32);
        let outcome = loop {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match KeepAlive::connect(shared.addr).await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        out.tally.transport_errors += 1;
                        failures += 1;
                        if failures > MAX_TRANSPORT_FAILURES {
                            break Err(format!("batch {n}: cannot connect: {e}"));
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let start = Instant::now();
            let result = tokio::time::timeout(shared.timeout, c.send(&request, &mut answer)).await;
            let latency = start.elapsed();
            let a = match result {
                Ok(Ok(a)) => a,
                Ok(Err(_)) | Err(_) => {
                    // The connection's state is unknown; the batch goes again on a new one.
                    out.tally.transport_errors += 1;
                    conn = None;
                    failures += 1;
                    if failures > MAX_TRANSPORT_FAILURES {
                        break Err(format!("batch {n}: {failures} transport failures"));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            out.tally.answered(a.status, latency);
            if a.close {
                conn = None;
            }
            match a.status {
                200 => break check_answer(&answer, count, failures > 0).map_err(|e| format!("batch {n}: {e}")),
                429 | 503 => {
                    out.retries += 1;
                    retries += 1;
                    if retries > MAX_RETRIES {
                        break Err(format!("batch {n}: still HTTP {} after {MAX_RETRIES} retries", a.status));
                    }
                    let secs = a.retry_after.unwrap_or(1).min(MAX_RETRY_AFTER_SECS);
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                s => {
                    let text = String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned();
                    break Err(format!("batch {n}: HTTP {s}: {text}"));
                }
            }
        };
        out.timings.push(BatchTiming { n, sent, answered: Instant::now() });
        match outcome {
            Ok(()) => {
                out.events_ok += count;
                shared.accepted.fetch_add(count, Ordering::Relaxed);
            }
            Err(message) => out.error(message),
        }
    }
    (lane, out)
}

/// Times `n` sequential GETs of the results on one keep-alive connection:
/// sorted latencies, non-200 answers, transport errors, bytes of the last answer.
pub(super) async fn time_results(options: &Options, n: usize) -> anyhow::Result<(Vec<Duration>, u64, u64, usize)> {
    let request = format!(
        "GET /api/v1/experiments/{}/results HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        options.experiment, options.addr, options.common.token
    );
    let mut conn = KeepAlive::connect(options.addr).await.context("connecting for the results")?;
    let (mut lat, mut non_200, mut transport, mut size) = (Vec::with_capacity(n), 0, 0, 0);
    let mut body = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        match tokio::time::timeout(options.common.timeout, conn.exchange(request.as_bytes(), &mut body)).await {
            Ok(Ok(head)) => {
                lat.push(start.elapsed());
                size = body.len();
                if head.status != 200 {
                    non_200 += 1;
                }
            }
            _ => {
                transport += 1;
                conn = KeepAlive::connect(options.addr).await.context("reconnecting for the results")?;
            }
        }
    }
    lat.sort_unstable();
    Ok((lat, non_200, transport, size))
}

/// Prints events accepted so far to stderr every 10 s (until aborted).
async fn progress(shared: Arc<Shared>, start: Instant, total: u64) {
    let mut last = 0;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tick.tick().await;
        let now = shared.accepted.load(Ordering::Relaxed);
        eprintln!(
            "ingest progress: {:.0} s, {now} of {total} events accepted, {:.0} events/s over the last {} s",
            start.elapsed().as_secs_f64(),
            (now - last) as f64 / PROGRESS_EVERY.as_secs_f64(),
            PROGRESS_EVERY.as_secs()
        );
        last = now;
    }
}

/// What the sending phase did, and what it cost the machine.
pub(super) struct Sent {
    /// The tasks' results, merged (their batch timings are in `timings`).
    pub(super) all: TaskResult,
    /// Batch number -> (first send, final answer).
    pub(super) timings: BTreeMap<u64, (Instant, Instant)>,
    /// Per lane: its first batches taken, each finished (the run covers those).
    pub(super) lanes_taken: Vec<u64>,
    /// Batches taken in all.
    pub(super) taken: u64,
    /// Events of those batches.
    pub(super) sent_events: u64,
    /// Whether every batch was taken (the deadline did not cut the stream).
    pub(super) complete: bool,
    /// From the first send to the last answer.
    pub(super) elapsed: Duration,
    /// CPU seconds this client used while sending.
    pub(super) client_cpu: f64,
    /// CPU seconds the server used while sending (with `--server-pid`).
    pub(super) server_cpu: Option<f64>,
    pub(super) load_before: String,
    pub(super) load_after: String,
}

/// Sends the batches of `workload`, one lane per connection, until the
/// stream ends or `options.max_time` has passed.
pub(super) async fn send(options: &Options, workload: &Workload, run_id: &str) -> anyhow::Result<Sent> {
    let (total, batches) = (workload.total_events(), workload.batches());
    // Connections are opened before the clock starts.
    let mut conns = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency {
        conns.push(KeepAlive::connect(options.addr).await.context("connecting")?);
    }
    let (load_before, cpu_before) = (stats::loadavg(), stats::cpu_secs());
    let server_before = options.server_pid.map(stats::process_cpu_secs);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        head: format!(
            "POST /sdk/v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: ",
            options.addr, options.sdk_key
        ),
        workload: workload.clone(),
        run_id: run_id.to_string(),
        deadline: start + options.max_time,
        accepted: AtomicU64::new(0),
        addr: options.addr,
        timeout: options.common.timeout,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (lane, conn) in (0..workload.lanes).zip(conns) {
        tasks.spawn(sender(shared.clone(), Some(conn), lane));
    }
    let progress = tokio::spawn(progress(shared.clone(), start, total));
    let mut all = TaskResult::default();
    let mut timings = BTreeMap::new();
    let mut lanes_taken = vec![0; workload.lanes as usize];
    while let Some(done) = tasks.join_next().await {
        let (lane, r) = done?;
        lanes_taken[lane as usize] = r.taken;
        all.tally.merge(r.tally);
        all.retries += r.retries;
        all.errors += r.errors;
        all.events_ok += r.events_ok;
        for m in r.samples {
            if all.samples.len() < ERROR_SAMPLES {
                all.samples.push(m);
            }
        }
        timings.extend(r.timings.into_iter().map(|t| (t.n, (t.sent, t.answered))));
    }
    progress.abort();
    // Each lane's batches are taken in order and every one taken is finished.
    let taken = lanes_taken.iter().sum();
    let sent_events = workload.covered(&lanes_taken).iter().map(|(start, end)| end - start).sum();
    let complete = taken == batches;
    let last = timings.values().map(|&(_, answered)| answered).max().unwrap_or(start);
    let elapsed = last.saturating_duration_since(start);
    let client_cpu = stats::cpu_secs() - cpu_before;
    let server_cpu = options.server_pid.map(|pid| stats::process_cpu_secs(pid) - server_before.unwrap_or(0.0));
    let load_after = stats::loadavg();
    Ok(Sent {
        all,
        timings,
        lanes_taken,
        taken,
        sent_events,
        complete,
        elapsed,
        client_cpu,
        server_cpu,
        load_before,
        load_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert!(check_answer(br#"{"accepted":3,"rejected":[],"duplicate":false}"#, 3, false).is_ok());
        assert!(
            check_answer(br#"{"accepted":2,"rejected":[{"index":1,"reason":"x"}],"duplicate":false}"#, 3, false)
                .is_err()
        );
        assert!(check_answer(br#"{"accepted":3,"rejected":[],"duplicate":true}"#, 3, false).is_err());
        assert!(check_answer(br#"{"accepted":3,"rejected":[],"duplicate":true}"#, 3, true).is_ok());
        assert!(check_answer(b"nope", 3, false).is_err());
    }
}
