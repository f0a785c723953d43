//! `ingest`: event ingest throughput (`POST /sdk/v1/events`) with a
//! deterministic workload, an exact check of what the server stored, and the
//! latency of the experiment's results.
//!
//! Workload: unit `i` in `0..units` is `u<i>`, served `on` when `i` is even
//! and `off` when it is odd. Its events stay together, in order: one
//! exposure at `T`, then `i % 3` `bench-click` tracks at `T + 1`, then, when
//! `i % 5 == 0`, one `bench-buy` track at `T + 2` with value `i % 100`. The
//! units are split into `--concurrency` lanes of consecutive units, one per
//! connection, like SDK instances with users of their own: each lane's
//! events are cut into batches of exactly `--batch` events (its last may be
//! smaller) that its connection sends one at a time, in order, as the SDK
//! does. The sending tasks write each batch's body when they take it, from
//! the event index alone (the pattern repeats every 15 units).
//!
//! Modules: [`workload`] (the stream and the batch bodies), [`setup`] (admin API),
//! [`run`](mod@run) (sending, retries, latency), [`verify`] (expected figures and the
//! comparison), [`report`] (the output, including the `summary` line).

mod report;
mod run;
mod setup;
mod verify;
mod workload;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Common;
use crate::stats;
use report::Report;
use workload::{Workload, now_ms};

/// The flag and the experiment the tool creates.
pub const FLAG: &str = "ingest-bench";
pub const EXPERIMENT: &str = "ingest-bench";
/// The id of the flag's split rule.
const RULE: &str = "exp";
/// The experiment's metrics, in the order of [`Workload::unit_values`].
pub const METRICS: [&str; 3] = ["bench-conv", "bench-clicks", "bench-revenue"];
/// The variants, by unit parity (even first).
pub const VARIANTS: [&str; 2] = ["on", "off"];

/// Parameters of the `ingest` benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL, admin token and per-request timeout.
    pub common: Common,
    pub addr: SocketAddr,
    pub sdk_key: String,
    pub env: String,
    pub units: u64,
    pub batch: u64,
    pub concurrency: usize,
    pub results_requests: usize,
    pub server_pid: Option<u32>,
    /// No batch is started after this long (the run then covers a prefix of the stream).
    pub max_time: Duration,
    /// Through a guarded ramp on the rule instead of a plain experiment.
    pub guarded: bool,
    /// The experiment measured (the ramp's own when guarded; set by the setup).
    pub experiment: String,
}

/// Runs the benchmark; returns the report and whether everything checked out.
pub async fn run(mut options: Options) -> anyhow::Result<(String, bool)> {
    let client = crate::client(&options.common)?;
    options.experiment = setup::setup(&client, &options).await?;
    // After the start answer: every exposure falls inside the experiment's window.
    let workload = Workload::new(options.units, options.batch, now_ms(), options.concurrency as u64);
    let (total, batches) = (workload.total_events(), workload.batches());
    let run_id = format!(
        "{:x}{:x}",
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()),
        std::process::id()
    );
    let sent = run::send(&options, &workload, &run_id).await?;

    // Exact check.
    let expected = verify::Expected::of(&workload, &workload.covered(&sent.lanes_taken));
    let (counts, results) = verify::server_figures(&client, &options).await?;
    let straddle = verify::straddles(&workload, &sent.lanes_taken, &sent.timings);
    let (mismatches, notes, fits_reorder) = verify::compare(&expected, &counts, &results, &straddle);

    let (results_lat, results_non_200, results_transport, results_bytes) =
        run::time_results(&options, options.results_requests).await?;
    let server_rss = options.server_pid.map(stats::rss_kib);

    Ok(report::render(Report {
        options: &options,
        run_id,
        total,
        batches,
        sent,
        expected,
        counts,
        results,
        straddle,
        mismatches,
        notes,
        fits_reorder,
        results_lat,
        results_non_200,
        results_transport,
        results_bytes,
        server_rss,
    }))
}
