//! `flagyard-load`: a bounded load generator for a Flagyard server on this
//! machine. See `--help` and `docs/benchmarks.md`.

mod ingest;
mod ofrep;
mod rawhttp;
mod reads;
mod sse;
mod stats;
mod updates;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use reqwest::Url;

/// What each command does, how it measures, and its exit status (`--help`).
const DETAILS: &str = "\
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

/// flagyard-load: load generator for a Flagyard server on 127.0.0.1
#[derive(Debug, Parser)]
#[command(name = "flagyard-load", after_long_help = DETAILS, after_help = "`--help` (or `COMMAND --help`) says more.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Admin-API updates: each writer toggles flags of its own.
    ///
    /// Setup: creates flags load-0 .. load-<4*writers-1> (boolean) if missing, and reads each
    /// one's revision in --env. Then each writer loops over its own 4 flags sending
    /// PATCH /api/v1/flags/<key>/environments/<env> {"enabled": <toggled>, "baseRevision": <last seen>}.
    /// Writers never share a flag, so a 409 should not happen (any are counted, and the writer
    /// re-reads the revision). Throughput = 200 answers per second ("acknowledged updates/s").
    #[command(verbatim_doc_comment)]
    Updates {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        timed: Timed,
        /// concurrent writers
        #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
        writers: u64,
        /// environment to write
        #[arg(long, value_name = "KEY", default_value = "production")]
        env: String,
    },
    /// Admin-API list reads of a fixed page size.
    ///
    /// Setup: counts the flags (GET /api/v1/flags?limit=1) and, if fewer than --flags, creates
    /// read-0, read-1, ... (16 at a time) until there are. Then --concurrency tasks loop
    /// GET /api/v1/flags?limit=<flags>, checking that each 200 answer has exactly <flags> items.
    #[command(verbatim_doc_comment)]
    Reads {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        timed: Timed,
        /// flags per page and minimum flag count
        #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
        flags: u64,
        /// concurrent readers
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
        concurrency: u64,
    },
    /// Live-update propagation to many SDK streams.
    ///
    /// Creates --flag (boolean) if missing, then opens --clients streams
    /// GET /sdk/v1/stream (raw HTTP/1.1 over TCP, chunked decoding, only `event:`/`id:` lines are
    /// kept), --connect-concurrency at a time, and waits until every one has read its initial `put`.
    /// Then makes --changes changes one at a time: PATCH /api/v1/flags/<flag>/environments/<env>
    /// {"enabled": <toggled>} on a blocking thread (its own keep-alive connection), recording the
    /// instant the whole 200 answer was read (the acknowledgement); then waits until every client
    /// has read `id: <that version>` (or --change-timeout-secs), pauses --gap-ms, and goes on.
    /// Latency = the instant a client's read returned the bytes with that `id:` - the
    /// acknowledgement (negative when a client had it first). Reports each change and all of them
    /// (delivered, p50/p90/p99/max), versions any client missed (must be 0), out-of-order ids,
    /// resets (`put` instead of `patch`), connect times, and with --server-pid the server's RSS
    /// before connecting, with every client connected (after --settle-secs), after the changes.
    #[command(verbatim_doc_comment)]
    Sse {
        #[command(flatten)]
        server: Server,
        /// an SDK key of the environment
        #[arg(long, value_name = "K")]
        sdk_key: String,
        /// the flag to toggle
        #[arg(long, value_name = "KEY")]
        flag: String,
        /// environment to write
        #[arg(long, value_name = "KEY", default_value = "production")]
        env: String,
        /// streams
        #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        clients: u64,
        /// changes
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
        changes: u64,
        /// streams being opened at once
        #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=4096))]
        connect_concurrency: u64,
        /// the whole connect phase
        #[arg(long, value_name = "S", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=600))]
        connect_timeout_secs: u64,
        /// how long one change may take to reach every client
        #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        change_timeout_secs: u64,
        /// pause between changes
        #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        gap_ms: u64,
        /// pause after connecting, before the RSS reading
        #[arg(long, value_name = "S", default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=60))]
        settle_secs: u64,
        /// Tokio worker threads
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        threads: u64,
        /// each change is a release of N flags (--flag and <flag>-1 .. <flag>-(N-1), created when
        /// missing), applied with POST /api/v1/releases/{id}/apply; 0: a PATCH of --flag
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
        release: u64,
        /// ask for whole flags in every patch (no `?patch=configs`, as an SDK
        /// before 2026-12-04 did)
        #[arg(long)]
        full_patches: bool,
        #[command(flatten)]
        pid: ServerPid,
    },
    /// OFREP single-flag throughput against a trivial handler.
    ///
    /// Same closed-loop client: --concurrency keep-alive
    /// connections (raw HTTP/1.1) send POST /ofrep/v1/evaluate/flags/<flag>
    /// {"context": {"targetingKey": "user-<task>-<i mod 1024>"}} (SDK key as Bearer), or
    /// GET /healthz, for --duration-secs each; --mode both (the default) alternates
    /// OFREP, healthz, OFREP, healthz ... for --rounds rounds and reports both and the ratio of
    /// throughputs; `ofrep` or `baseline` (healthz) runs only one. Each OFREP 200 must carry
    /// "value"; with --server-pid the server's CPU time per request is reported too.
    #[command(verbatim_doc_comment)]
    Ofrep {
        /// server, http://127.0.0.1:PORT (no other host is accepted)
        #[arg(long, value_name = "URL", value_parser = loopback)]
        base: Url,
        /// an SDK key of the environment
        #[arg(long, value_name = "K")]
        sdk_key: String,
        /// the flag to evaluate
        #[arg(long, value_name = "KEY")]
        flag: String,
        /// concurrent connections
        #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
        concurrency: u64,
        /// length of each phase
        #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        duration_secs: u64,
        /// rounds of (OFREP, healthz) phases
        #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=20))]
        rounds: u64,
        /// which endpoints to load
        #[arg(long, value_name = "M", value_enum, default_value_t = ModeArg::Both)]
        mode: ModeArg,
        /// stop a phase earlier after N requests in all
        #[arg(long, value_name = "N", default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        max_requests: u64,
        /// per-request timeout
        #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
        timeout_secs: u64,
        #[command(flatten)]
        pid: ServerPid,
    },
    /// Event ingest, on a FRESH database (a 409 on setup fails: the figures are checked exactly).
    ///
    /// Setup: flag ingest-bench (boolean) with a 50/50 on/off split in rule `exp` of --env, metrics
    /// bench-conv (conversion, bench-buy), bench-clicks (count, bench-click), bench-revenue (sum,
    /// bench-buy), experiment ingest-bench on it (control off), started. Workload: unit i in
    /// 0..units is `u<i>`, variant on if i is even; its events stay together in order: one exposure
    /// at T, i%3 bench-click tracks at T+1, and if i%5==0 one bench-buy track at T+2 with value
    /// i%100 (T = epoch ms after setup). The units are split into --concurrency lanes of
    /// consecutive units, like SDK instances with users of their own; each lane's events are cut into
    /// batches of exactly --batch events (its last one may be shorter) and one task per lane (raw
    /// HTTP/1.1, one keep-alive connection) sends them one at a time, in order, as the SDK does:
    /// it writes the body and POSTs /sdk/v1/events (SDK key as Bearer). 200 must say
    /// accepted = batch size, nothing rejected, not duplicate; 429/503: wait Retry-After, send the
    /// same body again (a retry); anything else: an error. Then checks exactly (whole numbers, as
    /// f64 equality) GET /api/v1/environments/<env>/event-counts and the experiment's results
    /// (units per variant, 0 excluded, n/sum/sumSq of each metric and variant) against the values
    /// computed locally, printing VERIFY OK or each mismatch; then times --results-requests
    /// sequential GETs of /api/v1/experiments/ingest-bench/results on one connection.
    /// Note: a track that reaches the server before its unit's exposure is not counted
    /// (docs/experiments.md); should a lane's batch be sent before the one before it was answered,
    /// a unit split over the two could lose its tail, which the report bounds and notes.
    #[command(verbatim_doc_comment)]
    Ingest {
        #[command(flatten)]
        server: Server,
        /// an SDK key of the environment
        #[arg(long, value_name = "K")]
        sdk_key: String,
        /// environment to write
        #[arg(long, value_name = "KEY", default_value = "production")]
        env: String,
        /// exposed units
        #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        units: u64,
        /// events per batch
        #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=5000))]
        batch: u64,
        /// concurrent connections
        #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
        concurrency: u64,
        /// timed GETs of the results
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        results_requests: u64,
        /// no batch is started after S s (the check then covers the batches sent)
        #[arg(long, value_name = "S", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
        max_secs: u64,
        /// measure through a guarded ramp (its own experiment, judged after every ingest transaction)
        /// instead of a plain experiment
        #[arg(long)]
        guarded: bool,
        #[command(flatten)]
        pid: ServerPid,
    },
}

/// The server under test, as the admin API's client.
#[derive(Debug, Args)]
struct Server {
    /// server, http://127.0.0.1:PORT (no other host is accepted)
    #[arg(long, value_name = "URL", value_parser = loopback)]
    base: Url,
    /// admin (or editor) token
    #[arg(long, value_name = "T")]
    token: String,
    /// per-request timeout
    #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    timeout_secs: u64,
}

/// The bounds of a timed phase.
#[derive(Debug, Args)]
struct Timed {
    /// timed phase length
    #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration_secs: u64,
    /// stop earlier after N timed requests in all
    #[arg(long, value_name = "N", default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_requests: u64,
}

impl Default for Timed {
    fn default() -> Timed {
        Timed { duration_secs: 10, max_requests: 5_000_000 }
    }
}

/// `--server-pid`.
#[derive(Debug, Args)]
struct ServerPid {
    /// the server's process id, to read its RSS and CPU time
    #[arg(long = "server-pid", value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    server_pid: Option<u32>,
}

/// `--mode` of `ofrep`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    /// OFREP and healthz, alternating (the comparison)
    Both,
    /// OFREP only
    Ofrep,
    /// `GET /healthz` only
    #[value(alias = "healthz")]
    Baseline,
}

/// `--base`: only a server on this machine.
fn loopback(text: &str) -> Result<Url, String> {
    let base = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if base.scheme() != "http" || base.host_str() != Some("127.0.0.1") {
        return Err("must be http://127.0.0.1:PORT: this tool only loads a server on this machine".into());
    }
    Ok(base)
}

/// The base URL as a socket address (for the raw HTTP clients).
fn addr(base: &Url) -> anyhow::Result<SocketAddr> {
    let port = base.port_or_known_default().context("--base has no port")?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

impl Server {
    fn common(self, timed: &Timed) -> Common {
        Common {
            base: self.base,
            token: self.token,
            duration: Duration::from_secs(timed.duration_secs),
            max_requests: timed.max_requests,
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
}

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

fn run(cli: Cli) -> anyhow::Result<i32> {
    // One worker thread: the server under test gets the other core (`sse` may ask for more).
    let runtime =
        |threads: usize| tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build();
    match cli.command {
        Command::Updates { server, timed, writers, env } => {
            let options = updates::Options { common: server.common(&timed), writers: writers as usize, env };
            let report = runtime(1)?.block_on(updates::run(options))?;
            print!("{}", report.render());
            Ok(0)
        }
        Command::Reads { server, timed, flags, concurrency } => {
            let options = reads::Options {
                common: server.common(&timed),
                flags: flags as usize,
                concurrency: concurrency as usize,
            };
            let (report, wrong) = runtime(1)?.block_on(reads::run(options))?;
            print!("{}", report.render());
            if wrong > 0 {
                eprintln!("CHECK FAILED: {wrong} answers did not have the expected number of items");
                return Ok(3);
            }
            Ok(0)
        }
        Command::Sse {
            server,
            sdk_key,
            flag,
            env,
            clients,
            changes,
            connect_concurrency,
            connect_timeout_secs,
            change_timeout_secs,
            gap_ms,
            settle_secs,
            threads,
            release,
            full_patches,
            pid,
        } => {
            let options = sse::Options {
                common: server.common(&Timed::default()),
                sdk_key,
                clients: clients as usize,
                changes: changes as usize,
                flag,
                env,
                connect_concurrency: connect_concurrency as usize,
                connect_timeout: Duration::from_secs(connect_timeout_secs),
                change_timeout: Duration::from_secs(change_timeout_secs),
                gap: Duration::from_millis(gap_ms),
                settle: Duration::from_secs(settle_secs),
                server_pid: pid.server_pid,
                release: release as usize,
                full_patches,
            };
            print!("{}", runtime(threads as usize)?.block_on(sse::run(options))?);
            Ok(0)
        }
        Command::Ofrep {
            base,
            sdk_key,
            flag,
            concurrency,
            duration_secs,
            rounds,
            mode,
            max_requests,
            timeout_secs,
            pid,
        } => {
            let options = ofrep::Options {
                addr: addr(&base)?,
                sdk_key,
                flag,
                concurrency: concurrency as usize,
                duration: Duration::from_secs(duration_secs),
                rounds: rounds as usize,
                mode: match mode {
                    ModeArg::Both => ofrep::Mode::Both,
                    ModeArg::Ofrep => ofrep::Mode::Ofrep,
                    ModeArg::Baseline => ofrep::Mode::Baseline,
                },
                max_requests,
                timeout: Duration::from_secs(timeout_secs),
                server_pid: pid.server_pid,
            };
            let (report, wrong) = runtime(1)?.block_on(ofrep::run(options))?;
            print!("{report}");
            if wrong > 0 {
                eprintln!("CHECK FAILED: {wrong} OFREP answers had no value");
                return Ok(3);
            }
            Ok(0)
        }
        Command::Ingest {
            server,
            sdk_key,
            env,
            units,
            batch,
            concurrency,
            results_requests,
            max_secs,
            guarded,
            pid,
        } => {
            let addr = addr(&server.base)?;
            let options = ingest::Options {
                common: server.common(&Timed::default()),
                addr,
                sdk_key,
                env,
                units,
                batch,
                concurrency: concurrency as usize,
                results_requests: results_requests as usize,
                server_pid: pid.server_pid,
                max_time: Duration::from_secs(max_secs),
                guarded,
                experiment: ingest::EXPERIMENT.to_owned(),
            };
            let (report, ok) = runtime(1)?.block_on(ingest::run(options))?;
            print!("{report}");
            if !ok {
                eprintln!("CHECK FAILED: a batch failed, a stored figure did not match, or a results GET failed");
                return Ok(3);
            }
            Ok(0)
        }
    }
}

/// The command line, or the exit status after help (0) or an argument error (1).
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, (clap::Error, i32)> {
    Cli::try_parse_from(args).map_err(|e| {
        let code = if e.use_stderr() { 1 } else { 0 };
        (e, code)
    })
}

fn main() {
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err((e, code)) => {
            let _ = e.print();
            std::process::exit(code);
        }
    };
    match run(cli) {
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

    fn cli(list: &[&str]) -> Result<Cli, i32> {
        parse(["flagyard-load"].iter().chain(list).map(OsString::from)).map_err(|(_, code)| code)
    }

    fn updates(list: &[&str]) -> Result<Common, i32> {
        match cli(&[&["updates"], list].concat())?.command {
            Command::Updates { server, timed, .. } => Ok(server.common(&timed)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn only_loopback_is_accepted() {
        for bad in ["http://example.com:80", "https://127.0.0.1:1", "http://localhost:8080", "http://10.0.0.1:8080"] {
            assert_eq!(updates(&["--base", bad, "--token", "t"]).err(), Some(1), "{bad}");
        }
        let c = updates(&["--base", "http://127.0.0.1:8080", "--token", "t"]).unwrap();
        assert_eq!(c.url("/api/v1/flags"), "http://127.0.0.1:8080/api/v1/flags");
        assert_eq!(c.duration, Duration::from_secs(10));
    }

    #[test]
    fn bounds_and_unknown_options() {
        let base = ["--base", "http://127.0.0.1:1", "--token", "t"];
        assert_eq!(updates(&[&base[..], &["--nope", "1"]].concat()).err(), Some(1));
        assert_eq!(updates(&["--base"]).err(), Some(1));
        assert_eq!(updates(&[&base[..], &["--duration-secs", "0"]].concat()).err(), Some(1));
        assert_eq!(
            cli(&["ofrep", "--base", "http://127.0.0.1:1", "--sdk-key", "k"]).err(),
            Some(1),
            "--flag is required"
        );
        assert_eq!(cli(&[]).err(), Some(1));
        assert_eq!(cli(&["--help"]).err(), Some(0));
        assert_eq!(cli(&["sse", "--help"]).err(), Some(0));
        let ofrep =
            cli(&["ofrep", "--base", "http://127.0.0.1:1", "--sdk-key", "k", "--flag", "f", "--mode", "healthz"]);
        assert!(matches!(ofrep.unwrap().command, Command::Ofrep { mode: ModeArg::Baseline, .. }));
    }

    #[test]
    fn budget_counts_down() {
        let common = updates(&["--base", "http://127.0.0.1:1", "--token", "t", "--max-requests", "2"]).unwrap();
        let budget = Budget::new(&common);
        assert!(budget.take() && budget.take() && !budget.take());
    }
}
