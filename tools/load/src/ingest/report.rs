//! The report: human-readable lines, then the `summary bench=ingest ...` line
//! of `key=value` pairs that `scripts/bench-ingest.sh` parses.

use std::fmt::Write as _;
use std::time::Duration;

use super::Options;
use super::run::Sent;
use super::verify::{EventCounts, Expected, Results, Straddles};
use crate::stats;

/// Everything the report shows.
pub(super) struct Report<'a> {
    pub(super) options: &'a Options,
    pub(super) run_id: String,
    /// Events and batches of the whole stream.
    pub(super) total: u64,
    pub(super) batches: u64,
    pub(super) sent: Sent,
    /// What the server must report after the batches sent, and what it did report.
    pub(super) expected: Expected,
    pub(super) counts: EventCounts,
    pub(super) results: Results,
    pub(super) straddle: Straddles,
    pub(super) mismatches: Vec<String>,
    pub(super) notes: Vec<String>,
    pub(super) fits_reorder: Option<bool>,
    /// The timed GETs of the results: sorted latencies, non-200 answers,
    /// transport errors, bytes of the last answer.
    pub(super) results_lat: Vec<Duration>,
    pub(super) results_non_200: u64,
    pub(super) results_transport: u64,
    pub(super) results_bytes: usize,
    /// The server's RSS after the run (with `--server-pid`).
    pub(super) server_rss: Option<u64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Renders the report; returns it and whether everything checked out.
pub(super) fn render(report: Report<'_>) -> (String, bool) {
    let Report {
        options,
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
    } = report;
    let Sent {
        all,
        timings,
        taken,
        sent_events,
        complete,
        elapsed,
        client_cpu,
        server_cpu,
        load_before,
        load_after,
        ..
    } = sent;

    let mut lat = all.tally.latencies.clone();
    lat.sort_unstable();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let (p50, p90, p99) = (stats::percentile(&lat, 50.0), stats::percentile(&lat, 90.0), stats::percentile(&lat, 99.0));
    let max = lat.last().copied().unwrap_or_default();
    let (r50, r90, r99) = (
        stats::percentile(&results_lat, 50.0),
        stats::percentile(&results_lat, 90.0),
        stats::percentile(&results_lat, 99.0),
    );
    let rmax = results_lat.last().copied().unwrap_or_default();
    let statuses = all.tally.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ");
    let verified = mismatches.is_empty();
    let events_per_s = all.events_ok as f64 / secs;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ingest: {} units, {total} events in {batches} batches of {}, {} connections, environment {}, run {run_id}",
        options.units, options.batch, options.concurrency, options.env
    );
    let _ = writeln!(
        out,
        "  sent        {} events accepted (exposures {}, tracks {}); answers {statuses}; retries (429/503) {}, \
         errors {}, transport errors {}; {:.3} s from the first send to the last answer",
        all.events_ok, expected.exposures, expected.tracks, all.retries, all.errors, all.tally.transport_errors, secs
    );
    if !complete {
        let _ = writeln!(
            out,
            "  PARTIAL     stopped taking batches after --max-secs {}: {taken} of {batches} batches ({sent_events} of \
             {total} events) were sent; the check covers exactly those",
            options.max_time.as_secs()
        );
    }
    for m in &all.samples {
        let _ = writeln!(out, "  error       {m}");
    }
    let _ = writeln!(out, "  throughput  {events_per_s:.1} events/s, {:.1} batches/s", timings.len() as f64 / secs);
    let _ = writeln!(
        out,
        "  latency     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (each request, send to last byte)",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max)
    );
    let server = match (server_cpu, server_rss) {
        (Some(cpu), Some(rss)) => {
            format!("; server used {cpu:.2} CPU s ({:.2} cores), RSS after {:.1} MiB", cpu / secs, rss as f64 / 1024.0)
        }
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "  machine     loadavg before [{load_before}] after [{load_after}]; this client used {client_cpu:.2} CPU s \
         ({:.2} cores){server}",
        client_cpu / secs
    );
    let _ = writeln!(
        out,
        "  verify      event-counts: exposures {} tracks {} (expected {} / {}); results: {} (expected on {}, off {}, \
         none excluded); n, sum, sumSq of 3 metrics x 2 variants compared exactly (f64 equality: whole numbers \
         below 2^53)",
        counts.exposures,
        counts.tracks,
        expected.exposures,
        expected.tracks,
        results
            .variants
            .iter()
            .map(|v| format!("{} {} units, {} excluded", v.variant, v.units, v.excluded))
            .collect::<Vec<_>>()
            .join("; "),
        expected.units[0],
        expected.units[1]
    );
    if verified {
        let _ = writeln!(out, "VERIFY OK");
    }
    for m in &mismatches {
        let _ = writeln!(out, "VERIFY MISMATCH: {m}");
    }
    for n in &notes {
        let _ = writeln!(out, "  note        {n}");
    }
    let _ = writeln!(
        out,
        "  results     {} GETs on one connection: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         non-200 {results_non_200}, transport errors {results_transport}; {results_bytes} bytes",
        results_lat.len(),
        ms(r50),
        ms(r90),
        ms(r99),
        ms(rmax)
    );
    let _ = writeln!(
        out,
        "summary bench=ingest units={} events={total} batches={batches} batch={} concurrency={} complete={} \
         sent_events={sent_events} events_ok={} \
         elapsed_s={secs:.3} events_per_s={events_per_s:.1} batches_per_s={:.1} p50_ms={:.3} p90_ms={:.3} \
         p99_ms={:.3} max_ms={:.3} retries={} errors={} transport_errors={} verified={} mismatches={} fits_reorder={} \
         straddling_units={} unordered_units={} results_requests={} results_p50_ms={:.3} results_p90_ms={:.3} \
         results_p99_ms={:.3} results_max_ms={:.3} results_errors={} client_cpu_s={client_cpu:.2} server_cpu_s={} \
         server_rss_kib={} load_before={} load_after={}",
        options.units,
        options.batch,
        options.concurrency,
        if complete { "yes" } else { "no" },
        all.events_ok,
        timings.len() as f64 / secs,
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max),
        all.retries,
        all.errors,
        all.tally.transport_errors,
        if verified { "yes" } else { "no" },
        mismatches.len(),
        fits_reorder.map_or("-", |f| if f { "yes" } else { "no" }),
        straddle.units,
        straddle.unordered,
        results_lat.len(),
        ms(r50),
        ms(r90),
        ms(r99),
        ms(rmax),
        results_non_200 + results_transport,
        server_cpu.map_or("?".into(), |c| format!("{c:.2}")),
        server_rss.map_or("?".into(), |r| r.to_string()),
        load_before.replace(' ', "/"),
        load_after.replace(' ', "/"),
    );
    let ok = verified && all.errors == 0 && results_non_200 + results_transport == 0;
    (out, ok)
}
