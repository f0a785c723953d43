//! Per-request recording and the report: every latency is kept (no
//! histogram buckets) and sorted once at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// What one worker saw. Workers own theirs (no locks on the hot path);
/// they are merged when the run ends.
#[derive(Debug, Default)]
pub struct Tally {
    /// The latency of every answered request (any status): from just before
    /// sending to the last byte of the body.
    pub latencies: Vec<Duration>,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no complete answer (connect, timeout, reset).
    pub transport_errors: u64,
}

impl Tally {
    /// Records an answered request.
    pub fn answered(&mut self, status: u16, latency: Duration) {
        self.latencies.push(latency);
        *self.statuses.entry(status).or_default() += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
    }

    /// Answers with a 2xx status.
    pub fn ok(&self) -> u64 {
        self.statuses.range(200..300).map(|(_, n)| n).sum()
    }

    /// Answers with the given status.
    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// Nearest-rank percentile of sorted `values` (`p` in 0..=100).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A finished run, ready to print.
pub struct Report {
    /// `updates` or `reads`.
    pub bench: &'static str,
    /// One line describing the parameters.
    pub setup: String,
    /// Merged tallies of every worker.
    pub tally: Tally,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Extra `key=value` figures for the summary line (e.g. wrong page sizes).
    pub extra: Vec<(&'static str, String)>,
    /// `/proc/loadavg` before and after the timed phase.
    pub load_before: String,
    pub load_after: String,
    /// CPU seconds this process used during the timed phase.
    pub client_cpu_secs: f64,
}

impl Report {
    /// The human-readable report, ending with one `summary key=value ...`
    /// line that scripts parse.
    pub fn render(mut self) -> String {
        self.tally.latencies.sort_unstable();
        let lat = &self.tally.latencies;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let ok = self.tally.ok();
        let answered = lat.len() as u64;
        let non_2xx = answered - ok;
        let (p50, p90, p99) = (percentile(lat, 50.0), percentile(lat, 90.0), percentile(lat, 99.0));
        let max = lat.last().copied().unwrap_or_default();
        let statuses = self.tally.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ");
        let mut out = String::new();
        let _ = writeln!(out, "{}: {}", self.bench, self.setup);
        let _ = writeln!(
            out,
            "  requests    {answered} answered ({statuses}), {} transport errors, in {secs:.3} s",
            self.tally.transport_errors
        );
        let _ = writeln!(
            out,
            "  throughput  {:.1} 2xx answers/s ({:.1} answers/s)",
            ok as f64 / secs,
            answered as f64 / secs
        );
        let _ = writeln!(
            out,
            "  latency     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (all answers)",
            ms(p50),
            ms(p90),
            ms(p99),
            ms(max)
        );
        let _ = writeln!(
            out,
            "  machine     loadavg before [{}] after [{}]; this client used {:.2} CPU s",
            self.load_before, self.load_after, self.client_cpu_secs
        );
        let mut summary = format!(
            "summary bench={} answered={answered} ok={ok} non_2xx={non_2xx} status_409={} transport_errors={} \
             elapsed_s={secs:.3} rps={:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3} client_cpu_s={:.2} \
             load_before={} load_after={}",
            self.bench,
            self.tally.count(409),
            self.tally.transport_errors,
            ok as f64 / secs,
            ms(p50),
            ms(p90),
            ms(p99),
            ms(max),
            self.client_cpu_secs,
            self.load_before.replace(' ', "/"),
            self.load_after.replace(' ', "/"),
        );
        for (key, value) in &self.extra {
            let _ = write!(summary, " {key}={value}");
        }
        out.push_str(&summary);
        out.push('\n');
        out
    }
}

/// The 1, 5 and 15 minute load averages, e.g. `1.05 1.29 1.14`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "? ? ?".into())
}

/// CPU seconds (user + system) this process has used so far, from
/// `/proc/self/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`).
pub fn cpu_secs() -> f64 {
    stat_cpu_secs("/proc/self/stat")
}

fn stat_cpu_secs(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// CPU seconds (user + system) process `pid` has used so far (0 if unreadable).
pub fn process_cpu_secs(pid: u32) -> f64 {
    stat_cpu_secs(&format!("/proc/{pid}/stat"))
}

/// Resident memory (`VmRSS`) of process `pid` in KiB (0 if unreadable).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn merge_and_counts() {
        let mut a = Tally::default();
        a.answered(200, Duration::from_millis(1));
        a.answered(409, Duration::from_millis(2));
        let mut b = Tally { transport_errors: 1, ..Tally::default() };
        b.answered(200, Duration::from_millis(3));
        a.merge(b);
        assert_eq!((a.ok(), a.count(409), a.transport_errors, a.latencies.len()), (2, 1, 1, 3));
    }

    #[test]
    fn own_cpu_time_is_readable() {
        assert!(cpu_secs() >= 0.0);
        let me = std::process::id();
        assert!(rss_kib(me) > 0);
        assert!(process_cpu_secs(me) >= 0.0);
        assert_eq!(loadavg().split(' ').count(), 3);
    }
}
