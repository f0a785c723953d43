//! `flagyard-load`: a bounded load generator for a Flagyard server on this
//! machine. See `--help` and `docs/benchmarks.md`.

mod ingest;
mod ofrep;
mod rawhttp;
mod reads;
mod sse;
mod stats;
mod updates;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Url;

const HELP: &str = "\
flagyard-load: load generator for a Flagyard server on 127.0.0.1

USAGE:
    flagyard-load updates --base URL --token T [--writers 32] [--duration-secs 10] [--env production]
    flagyard-load reads   --base URL --token T [--flags 1000] [--concurrency 8] [--duration-secs 10]
    flagyard-load sse     --base URL --token T --sdk-key K --flag KEY [--clients 1000] [--changes 20]
                          [--env production] [--server-pid PID]
    flagyard-load ofrep   --base URL --sdk-key K --flag KEY [--concurrency 32] [--duration-secs 10]
                          [--rounds 2] [--mode both|ofrep|baseline] [--server-pid PID]
    flagyard-load ingest  --base URL --token T --sdk-key K [--units 1000000] [--batch 500] [--concurrency 8]
                          [--env production] [--results-requests 50] [--max-secs 300] [--server-pid PID]

COMMANDS:
    updates   Setup: creates flags load-0 .. load-<4*writers-1> (boolean) if missing, and reads each
              one's revision in --env. Then each writer loops over its own 4 flags sending
              PATCH /api/v1/flags/<key>/environments/<env> {\"enabled\": <toggled>, \"baseRevision\": <last seen>}.
              Writers never share a flag, so a 409 should not happen (any are counted, and the writer
              re-reads the revision). Throughput = 200 answers per second (\"acknowledged updates/s\").
    reads     Setup: counts the flags (GET /api/v1/flags?limit=1) and, if fewer than --flags, creates
              read-0, read-1, ... (16 at a time) until there are. Then --concurrency tasks loop
              GET /api/v1/flags?limit=<flags>, checking that each 200 answer has exactly <flags> items.
    sse       Live-update propagation. Creates --flag (boolean) if missing, then opens --clients streams
              GET /sdk/v1/stream (raw HTTP/1.1 over TCP, chunked decoding, only `event:`/`id:` lines are
              kept), --connect-concurrency at a time, and waits until every one has read its initial `put`.
              Then makes --changes changes one at a time: PATCH /api/v1/flags/<flag>/environments/<env>
              {\"enabled\": <toggled>} on a blocking thread (its own keep-alive connection), recording the
              instant the whole 200 answer was read (the acknowledgement); then waits until every client
              has read `id: <that version>` (or --change-timeout-secs), pauses --gap-ms, and goes on.
              Latency = the instant a client's read returned the bytes with that `id:` - the
              acknowledgement (negative when a client had it first). Reports each change and all of them
              (delivered, p50/p90/p99/max), versions any client missed (must be 0), out-of-order ids,
              resets (`put` instead of `patch`), connect times, and with --server-pid the server's RSS
              before connecting, with every client connected (after --settle-secs), after the changes.
    ofrep     OFREP against a trivial handler, same closed-loop client: --concurrency keep-alive
              connections (raw HTTP/1.1) send POST /ofrep/v1/evaluate/flags/<flag>
              {\"context\": {\"targetingKey\": \"user-<task>-<i mod 1024>\"}} (SDK key as Bearer), or
              GET /healthz, for --duration-secs each; --mode both (the default) alternates
              OFREP, healthz, OFREP, healthz ... for --rounds rounds and reports both and the ratio of
              throughputs; `ofrep` or `baseline` (healthz) runs only one. Each OFREP 200 must carry
              \"value\"; with --server-pid the server's CPU time per request is reported too.
    ingest    Event ingest, on a FRESH database (a 409 on setup fails: the figures are checked exactly).
              Setup: flag ingest-bench (boolean) with a 50/50 on/off split in rule `exp` of --env, metrics
              bench-conv (conversion, bench-buy), bench-clicks (count, bench-click), bench-revenue (sum,
              bench-buy), experiment ingest-bench on it (control off), started. Workload: unit i in
              0..units is `u<i>`, variant on if i is even; its events stay together in order: one exposure
              at T, i%3 bench-click tracks at T+1, and if i%5==0 one bench-buy track at T+2 with value
              i%100 (T = epoch ms after setup). The units are split into --concurrency lanes of
              consecutive units, like SDK instances with users of their own; each lane's events are cut into
              batches of exactly --batch events (its last one may be shorter) and one task per lane (raw
              HTTP/1.1, one keep-alive connection) sends them one at a time, in order, as the SDK does:
              it writes the body and POSTs /sdk/v1/events (SDK key as Bearer).              shared counter, write the body and POST /sdk/v1/events (SDK key as Bearer). 200 must say
              accepted = batch size, nothing rejected, not duplicate; 429/503: wait Retry-After, send the
              same body again (a retry); anything else: an error. Then checks exactly (whole numbers, as
              f64 equality) GET /api/v1/environments/<env>/event-counts and the experiment's results
              (units per variant, 0 excluded, n/sum/sumSq of each metric and variant) against the values
              computed locally, printing VERIFY OK or each mismatch; then times --results-requests
              sequential GETs of /api/v1/experiments/ingest-bench/results on one connection.
              Note: a track that reaches the server before its unit's exposure is not counted
              (docs/experiments.md); should a lane's batch be sent before the one before it was answered,
              a unit split over the two could lose its tail, which the report bounds and notes.

OPTIONS:
    --base URL            server, http://127.0.0.1:PORT (no other host is accepted)      [required]
    --token T             admin (or editor) token                                         [required]
    --duration-secs S     timed phase length, 1..=600                                     [default: 10]
    --max-requests N      stop earlier after N timed requests in all                      [default: 5000000]
    --timeout-secs S      per-request timeout                                             [default: 10]
    --writers N           updates: concurrent writers, 1..=1024                           [default: 32]
    --env KEY             updates, ingest: environment to write                           [default: production]
    --flags N             reads: flags per page and minimum flag count, 1..=1000          [default: 1000]
    --concurrency N       reads: concurrent readers, 1..=256                              [default: 8]
                          ofrep: concurrent connections, 1..=1024                         [default: 32]
                          ingest: concurrent connections, 1..=256                         [default: 8]
    --units N             ingest: exposed units, 1..=100000000                            [default: 1000000]
    --batch N             ingest: events per batch, 1..=5000                              [default: 500]
    --results-requests N  ingest: timed GETs of the results, 1..=100000                   [default: 50]
    --max-secs S          ingest: no batch is started after S s (the check then covers the
                          batches sent), 1..=3600                                         [default: 300]
    --sdk-key K           sse, ofrep, ingest: an SDK key of the environment                [required]
    --flag KEY            sse: the flag to toggle; ofrep: the flag to evaluate             [required]
    --clients N           sse: streams, 1..=60000                                         [default: 1000]
    --changes N           sse: changes, 1..=1000                                          [default: 20]
    --connect-concurrency N  sse: streams being opened at once, 1..=4096                  [default: 128]
    --connect-timeout-secs S sse: the whole connect phase                                 [default: 120]
    --change-timeout-secs S  sse: how long one change may take to reach every client      [default: 10]
    --gap-ms MS           sse: pause between changes                                      [default: 100]
    --settle-secs S       sse: pause after connecting, before the RSS reading             [default: 2]
    --threads N           sse: Tokio worker threads, 1..=64                               [default: 1]
    --rounds N            ofrep: rounds of (OFREP, healthz) phases, 1..=20                [default: 2]
    --mode M              ofrep: both, ofrep or baseline (healthz only)                    [default: both]
    --server-pid PID      sse, ofrep, ingest: the server's process id, to read its RSS and CPU time
    -h, --help            this text

MEASUREMENT:
    Latency is taken per request, from just before sending to the last byte of the body, for every
    answered request (any status); all samples are kept and sorted at the end, and the report gives
    count, throughput, p50, p90, p99 and max, the count of each status and of transport errors.
    One HTTP client (keep-alive; one connection per concurrent task) and a Tokio multi-thread runtime
    with ONE worker thread: on a 2-core machine the server under test needs the other core. The
    client's own CPU time and the load averages are printed so that a saturated client shows.
    Bounded: at most --duration-secs (plus one request timeout) and --max-requests in the timed
    phase. The last line is `summary key=value ...` for scripts (scripts/bench-server.sh).
    sse: one Tokio runtime, ONE worker thread by default (--threads), which runs every stream
    reader; the PATCH runs on the runtime's blocking pool so its acknowledgement is timestamped
    when it arrives, not when the busy worker gets to it. A client's receipt instant is taken when
    its read returns, so it includes the time the worker needed to reach that socket (the client's
    CPU time during the changes is printed). Needs an open-files limit above --clients + 64.
    Bounded: --connect-timeout-secs, then --changes x (--change-timeout-secs + --gap-ms).
    ofrep: --rounds x phases x --duration-secs, and --max-requests per phase.
    ingest: --max-secs (plus the batches in flight) and the check; progress goes to stderr every
    10 s. Each request has --timeout-secs; a batch gets at most 100 retries (429/503) and 3 transport
    failures (after each it is sent again on a new connection, same batchId, and a `duplicate`
    answer is then right).
    Latency is per request (each attempt), send to last byte; elapsed runs from the first send to
    the last answer. One Tokio worker thread, as above.

EXIT STATUS:
    0 done; 1 bad arguments or setup failed; 3 done, but a reads answer had the wrong item count
    (or an OFREP answer had no value; or ingest: a batch failed, a figure did not match, or a
    results GET failed).
";

/// Options shared by both benchmarks.
#[derive(Debug, Clone)]
pub struct Common {
    pub base: Url,
    pub token: String,
    pub duration: Duration,
    pub max_requests: u64,
    pub timeout: Duration,
}

impl Common {
    /// `path` (starting with `/`) under the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }
}

/// The timed phase's shared stop conditions.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    left: AtomicU64,
}

impl Budget {
    pub fn new(common: &Common) -> Arc<Budget> {
        Budget::with(common.duration, common.max_requests)
    }

    pub fn with(duration: Duration, max_requests: u64) -> Arc<Budget> {
        Arc::new(Budget { deadline: Instant::now() + duration, left: AtomicU64::new(max_requests) })
    }

    /// Whether another request may start (and takes it from the count).
    pub fn take(&self) -> bool {
        Instant::now() < self.deadline
            && self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
}

/// `--name value` pairs after the subcommand.
struct Args(BTreeMap<String, String>);

impl Args {
    fn parse(args: &[String], allowed: &[&str]) -> anyhow::Result<Args> {
        let mut map = BTreeMap::new();
        let mut it = args.iter();
        while let Some(name) = it.next() {
            let Some(key) = name.strip_prefix("--") else { bail!("unexpected argument `{name}`") };
            if !allowed.contains(&key) {
                bail!("unknown option `{name}` (see --help)");
            }
            let value = it.next().with_context(|| format!("`{name}` needs a value"))?;
            map.insert(key.to_owned(), value.clone());
        }
        Ok(Args(map))
    }

    fn string(&self, key: &str, default: Option<&str>) -> anyhow::Result<String> {
        match (self.0.get(key), default) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_owned()),
            (None, None) => bail!("--{key} is required (see --help)"),
        }
    }

    fn number(&self, key: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> anyhow::Result<u64> {
        let n = match self.0.get(key) {
            None => default,
            Some(v) => v.parse().with_context(|| format!("--{key} must be a whole number, not `{v}`"))?,
        };
        if !range.contains(&n) {
            bail!("--{key} must be in {}..={}", range.start(), range.end());
        }
        Ok(n)
    }

    fn base(&self) -> anyhow::Result<Url> {
        let base_text = self.string("base", None)?;
        let base = Url::parse(&base_text).with_context(|| format!("--base `{base_text}` is not a URL"))?;
        if base.scheme() != "http" || base.host_str() != Some("127.0.0.1") {
            bail!("--base must be http://127.0.0.1:PORT: this tool only loads a server on this machine");
        }
        Ok(base)
    }

    /// The base URL as a socket address (for the raw HTTP clients).
    fn addr(&self) -> anyhow::Result<SocketAddr> {
        let base = self.base()?;
        let port = base.port_or_known_default().context("--base has no port")?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    fn server_pid(&self) -> anyhow::Result<Option<u32>> {
        match self.0.get("server-pid") {
            None => Ok(None),
            Some(_) => Ok(Some(self.number("server-pid", 0, 1..=u64::from(u32::MAX))? as u32)),
        }
    }

    fn common(&self) -> anyhow::Result<Common> {
        Ok(Common {
            base: self.base()?,
            token: self.string("token", None)?,
            duration: Duration::from_secs(self.number("duration-secs", 10, 1..=600)?),
            max_requests: self.number("max-requests", 5_000_000, 1..=100_000_000)?,
            timeout: Duration::from_secs(self.number("timeout-secs", 10, 1..=60)?),
        })
    }
}

const COMMON: [&str; 5] = ["base", "token", "duration-secs", "max-requests", "timeout-secs"];

/// The one HTTP client: keep-alive, no proxy (only 127.0.0.1), token on every request.
pub fn client(common: &Common) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", common.token))
        .context("--token has characters a header cannot carry")?;
    auth.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, auth);
    Ok(reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .timeout(common.timeout)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(120))
        .build()?)
}

fn run(args: &[String]) -> anyhow::Result<i32> {
    let Some(command) = args.first() else {
        eprint!("{HELP}");
        return Ok(1);
    };
    let rest = &args[1..];
    if matches!(command.as_str(), "-h" | "--help" | "help") || rest.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return Ok(0);
    }
    // One worker thread: the server under test gets the other core (`sse` may ask for more).
    let runtime =
        |threads: usize| tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build();
    match command.as_str() {
        "updates" => {
            let args = Args::parse(rest, &[&COMMON[..], &["writers", "env"]].concat())?;
            let options = updates::Options {
                common: args.common()?,
                writers: args.number("writers", 32, 1..=1024)? as usize,
                env: args.string("env", Some("production"))?,
            };
            let report = runtime(1)?.block_on(updates::run(options))?;
            print!("{}", report.render());
            Ok(0)
        }
        "reads" => {
            let args = Args::parse(rest, &[&COMMON[..], &["flags", "concurrency"]].concat())?;
            let options = reads::Options {
                common: args.common()?,
                flags: args.number("flags", 1000, 1..=1000)? as usize,
                concurrency: args.number("concurrency", 8, 1..=256)? as usize,
            };
            let (report, wrong) = runtime(1)?.block_on(reads::run(options))?;
            print!("{}", report.render());
            if wrong > 0 {
                eprintln!("CHECK FAILED: {wrong} answers did not have the expected number of items");
                return Ok(3);
            }
            Ok(0)
        }
        "sse" => {
            let allowed = [
                "base",
                "token",
                "timeout-secs",
                "sdk-key",
                "clients",
                "changes",
                "flag",
                "env",
                "connect-concurrency",
                "connect-timeout-secs",
                "change-timeout-secs",
                "gap-ms",
                "settle-secs",
                "threads",
                "server-pid",
            ];
            let args = Args::parse(rest, &allowed)?;
            let options = sse::Options {
                common: args.common()?,
                sdk_key: args.string("sdk-key", None)?,
                clients: args.number("clients", 1000, 1..=60_000)? as usize,
                changes: args.number("changes", 20, 1..=1000)? as usize,
                flag: args.string("flag", None)?,
                env: args.string("env", Some("production"))?,
                connect_concurrency: args.number("connect-concurrency", 128, 1..=4096)? as usize,
                connect_timeout: Duration::from_secs(args.number("connect-timeout-secs", 120, 1..=600)?),
                change_timeout: Duration::from_secs(args.number("change-timeout-secs", 10, 1..=120)?),
                gap: Duration::from_millis(args.number("gap-ms", 100, 0..=10_000)?),
                settle: Duration::from_secs(args.number("settle-secs", 2, 0..=60)?),
                server_pid: args.server_pid()?,
            };
            let threads = args.number("threads", 1, 1..=64)? as usize;
            print!("{}", runtime(threads)?.block_on(sse::run(options))?);
            Ok(0)
        }
        "ofrep" => {
            let allowed = [
                "base",
                "sdk-key",
                "flag",
                "concurrency",
                "duration-secs",
                "rounds",
                "mode",
                "max-requests",
                "timeout-secs",
                "server-pid",
            ];
            let args = Args::parse(rest, &allowed)?;
            let options = ofrep::Options {
                addr: args.addr()?,
                sdk_key: args.string("sdk-key", None)?,
                flag: args.string("flag", None)?,
                concurrency: args.number("concurrency", 32, 1..=1024)? as usize,
                duration: Duration::from_secs(args.number("duration-secs", 10, 1..=600)?),
                rounds: args.number("rounds", 2, 1..=20)? as usize,
                mode: match args.string("mode", Some("both"))?.as_str() {
                    "both" => ofrep::Mode::Both,
                    "ofrep" => ofrep::Mode::Ofrep,
                    "baseline" | "healthz" => ofrep::Mode::Baseline,
                    other => bail!("--mode must be both, ofrep or baseline, not `{other}`"),
                },
                max_requests: args.number("max-requests", 5_000_000, 1..=100_000_000)?,
                timeout: Duration::from_secs(args.number("timeout-secs", 10, 1..=60)?),
                server_pid: args.server_pid()?,
            };
            let (report, wrong) = runtime(1)?.block_on(ofrep::run(options))?;
            print!("{report}");
            if wrong > 0 {
                eprintln!("CHECK FAILED: {wrong} OFREP answers had no value");
                return Ok(3);
            }
            Ok(0)
        }
        "ingest" => {
            let allowed = [
                "base",
                "token",
                "sdk-key",
                "units",
                "batch",
                "concurrency",
                "env",
                "results-requests",
                "max-secs",
                "timeout-secs",
                "server-pid",
            ];
            let args = Args::parse(rest, &allowed)?;
            let options = ingest::Options {
                common: args.common()?,
                addr: args.addr()?,
                sdk_key: args.string("sdk-key", None)?,
                env: args.string("env", Some("production"))?,
                units: args.number("units", 1_000_000, 1..=100_000_000)?,
                batch: args.number("batch", 500, 1..=5000)?,
                concurrency: args.number("concurrency", 8, 1..=256)? as usize,
                results_requests: args.number("results-requests", 50, 1..=100_000)? as usize,
                server_pid: args.server_pid()?,
                max_time: Duration::from_secs(args.number("max-secs", 300, 1..=3600)?),
            };
            let (report, ok) = runtime(1)?.block_on(ingest::run(options))?;
            print!("{report}");
            if !ok {
                eprintln!("CHECK FAILED: a batch failed, a stored figure did not match, or a results GET failed");
                return Ok(3);
            }
            Ok(0)
        }
        other => bail!("unknown command `{other}` (expected updates, reads, sse, ofrep or ingest; see --help)"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("flagyard-load: {e:#}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_loopback_is_accepted() {
        for bad in ["http://example.com:80", "https://127.0.0.1:1", "http://localhost:8080", "http://10.0.0.1:8080"] {
            let a = Args::parse(&args(&["--base", bad, "--token", "t"]), &COMMON).unwrap();
            assert!(a.common().is_err(), "{bad}");
        }
        let a = Args::parse(&args(&["--base", "http://127.0.0.1:8080", "--token", "t"]), &COMMON).unwrap();
        let c = a.common().unwrap();
        assert_eq!(c.url("/api/v1/flags"), "http://127.0.0.1:8080/api/v1/flags");
        assert_eq!(c.duration, Duration::from_secs(10));
    }

    #[test]
    fn bounds_and_unknown_options() {
        assert!(Args::parse(&args(&["--nope", "1"]), &COMMON).is_err());
        assert!(Args::parse(&args(&["--base"]), &COMMON).is_err());
        let a = Args::parse(&args(&["--duration-secs", "0"]), &COMMON).unwrap();
        assert!(a.number("duration-secs", 10, 1..=600).is_err());
    }

    #[test]
    fn budget_counts_down() {
        let a = Args::parse(&args(&["--base", "http://127.0.0.1:1", "--token", "t", "--max-requests", "2"]), &COMMON)
            .unwrap();
        let budget = Budget::new(&a.common().unwrap());
        assert!(budget.take() && budget.take() && !budget.take());
    }
}
