//! `ofrep`: single-flag OFREP evaluation throughput against the trivial
//! `GET /healthz`, with the same closed-loop client, in alternating phases
//! of one run (OFREP, healthz, OFREP, healthz, ...), so that both see the
//! same machine load.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::Budget;
use crate::rawhttp::KeepAlive;
use crate::stats::{self, Report, Tally};

/// Which endpoints to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Both, alternating (the comparison).
    Both,
    Ofrep,
    /// `GET /healthz` only.
    Baseline,
}

/// Parameters of the `ofrep` benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub sdk_key: String,
    pub flag: String,
    pub concurrency: usize,
    /// Length of each phase.
    pub duration: Duration,
    /// Rounds of (OFREP, healthz) phases.
    pub rounds: usize,
    pub mode: Mode,
    pub max_requests: u64,
    pub timeout: Duration,
    pub server_pid: Option<u32>,
}

/// Distinct targeting keys each task cycles through.
const KEYS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Ofrep,
    Healthz,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Ofrep => "ofrep",
            Target::Healthz => "healthz",
        }
    }
}

/// The bytes of request `i` of task `task`.
fn request(options: &Options, target: Target, task: usize, i: usize, out: &mut Vec<u8>) {
    out.clear();
    let host = options.addr;
    match target {
        Target::Ofrep => {
            let body = format!("{{\"context\":{{\"targetingKey\":\"user-{task}-{}\"}}}}", i % KEYS);
            let _ = write!(
                Bytes(out),
                "POST /ofrep/v1/evaluate/flags/{} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                options.flag,
                options.sdk_key,
                body.len()
            );
        }
        Target::Healthz => {
            let _ = write!(Bytes(out), "GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
        }
    }
}

/// `fmt::Write` into a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// What one task did in a phase.
#[derive(Debug, Default)]
struct TaskResult {
    tally: Tally,
    /// 200 answers without the expected content.
    wrong: u64,
}

async fn task(
    options: Arc<Options>,
    target: Target,
    index: usize,
    mut conn: KeepAlive,
    budget: Arc<Budget>,
) -> TaskResult {
    let mut out = TaskResult::default();
    let (mut req, mut body) = (Vec::with_capacity(512), Vec::with_capacity(1024));
    let mut i = 0;
    while budget.take() {
        request(&options, target, index, i, &mut req);
        i += 1;
        let start = Instant::now();
        let answer = tokio::time::timeout(options.timeout, conn.exchange(&req, &mut body)).await;
        let latency = start.elapsed();
        match answer {
            Ok(Ok(head)) => {
                out.tally.answered(head.status, latency);
                let expected: &[u8] = if target == Target::Ofrep { b"\"value\":" } else { b"ok" };
                if head.status == 200 && !body.windows(expected.len()).any(|w| w == expected) {
                    out.wrong += 1;
                }
            }
            _ => {
                out.tally.transport_errors += 1;
                // The connection's state is unknown: start a new one.
                tokio::time::sleep(Duration::from_millis(10)).await;
                match KeepAlive::connect(options.addr).await {
                    Ok(c) => conn = c,
                    Err(_) => continue,
                }
            }
        }
    }
    out
}

/// One timed phase.
struct Phase {
    target: Target,
    round: usize,
    report: Report,
    ok: u64,
    secs: f64,
    wrong: u64,
    server_cpu: Option<f64>,
}

async fn phase(options: &Arc<Options>, target: Target, round: usize) -> anyhow::Result<Phase> {
    // Connections are opened before the clock starts.
    let mut conns = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency {
        conns.push(KeepAlive::connect(options.addr).await.context("connecting")?);
    }
    let (load_before, cpu_before) = (stats::loadavg(), stats::cpu_secs());
    let server_before = options.server_pid.map(stats::process_cpu_secs);
    let budget = Budget::with(options.duration, options.max_requests);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        tasks.spawn(task(options.clone(), target, i, conn, budget.clone()));
    }
    let (mut tally, mut wrong) = (Tally::default(), 0);
    while let Some(done) = tasks.join_next().await {
        let r = done?;
        wrong += r.wrong;
        tally.merge(r.tally);
    }
    let elapsed = start.elapsed();
    let server_cpu = options.server_pid.map(|pid| stats::process_cpu_secs(pid) - server_before.unwrap_or(0.0));
    let ok = tally.ok();
    let per_req = server_cpu.map_or("?".into(), |c| format!("{:.1}", c * 1e6 / ok.max(1) as f64));
    let what = match target {
        Target::Ofrep => format!("POST /ofrep/v1/evaluate/flags/{}", options.flag),
        Target::Healthz => "GET /healthz".into(),
    };
    let report = Report {
        bench: target.name(),
        setup: format!(
            "round {}, {} connections, {what}, {} s",
            round + 1,
            options.concurrency,
            options.duration.as_secs()
        ),
        tally,
        elapsed,
        extra: vec![
            ("round", (round + 1).to_string()),
            ("wrong_body", wrong.to_string()),
            ("server_cpu_s", server_cpu.map_or("?".into(), |c| format!("{c:.2}"))),
            ("server_cpu_us_per_req", per_req),
        ],
        load_before,
        load_after: stats::loadavg(),
        client_cpu_secs: stats::cpu_secs() - cpu_before,
    };
    Ok(Phase { target, round, report, ok, secs: elapsed.as_secs_f64(), wrong, server_cpu })
}

/// Runs the phases; returns the report text and the count of wrong answers.
pub async fn run(options: Options) -> anyhow::Result<(String, u64)> {
    let options = Arc::new(options);
    let order: &[Target] = match options.mode {
        Mode::Both => &[Target::Ofrep, Target::Healthz],
        Mode::Ofrep => &[Target::Ofrep],
        Mode::Baseline => &[Target::Healthz],
    };
    let mut phases = Vec::new();
    for round in 0..options.rounds {
        for &target in order {
            phases.push(phase(&options, target, round).await?);
        }
    }
    let mut out = String::new();
    let mut wrong = 0;
    let sum = |t: Target| {
        let (ok, secs, cpu) = phases
            .iter()
            .filter(|p| p.target == t)
            .fold((0, 0.0, 0.0), |(o, s, c), p| (o + p.ok, s + p.secs, c + p.server_cpu.unwrap_or(f64::NAN)));
        (ok as f64 / f64::max(secs, 1e-9), cpu * 1e6 / ok.max(1) as f64)
    };
    let (ofrep_rps, ofrep_cpu) = sum(Target::Ofrep);
    let (health_rps, health_cpu) = sum(Target::Healthz);
    let mut ratios = Vec::new();
    for round in 0..options.rounds {
        let rps = |t: Target| {
            phases.iter().find(|p| p.round == round && p.target == t).map(|p| p.ok as f64 / p.secs.max(1e-9))
        };
        if let (Some(o), Some(h)) = (rps(Target::Ofrep), rps(Target::Healthz)) {
            ratios.push(o / h);
        }
    }
    for p in phases {
        wrong += p.wrong;
        out.push_str(&p.report.render());
    }
    let ratio = ofrep_rps / health_rps;
    let fmt_ratios = ratios.iter().map(|r| format!("{:.1}%", r * 100.0)).collect::<Vec<_>>().join(", ");
    if options.mode == Mode::Both {
        let _ = writeln!(
            out,
            "comparison: OFREP {ofrep_rps:.0}/s, healthz {health_rps:.0}/s: OFREP/healthz = {:.1}% (per round: {fmt_ratios}); \
             server CPU per request: OFREP {ofrep_cpu:.1} us, healthz {health_cpu:.1} us",
            ratio * 100.0
        );
        let _ = writeln!(
            out,
            "summary bench=ofrep-vs-healthz ofrep_rps={ofrep_rps:.1} healthz_rps={health_rps:.1} ratio={ratio:.4} \
             round_ratios={} ofrep_server_us={ofrep_cpu:.1} healthz_server_us={health_cpu:.1} wrong_body={wrong}",
            ratios.iter().map(|r| format!("{r:.4}")).collect::<Vec<_>>().join(",")
        );
    }
    Ok((out, wrong))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_well_formed() {
        let options = Options {
            addr: "127.0.0.1:8080".parse().unwrap(),
            sdk_key: "k".into(),
            flag: "f".into(),
            concurrency: 1,
            duration: Duration::from_secs(1),
            rounds: 1,
            mode: Mode::Both,
            max_requests: 1,
            timeout: Duration::from_secs(1),
            server_pid: None,
        };
        let mut out = Vec::new();
        request(&options, Target::Ofrep, 3, 1025, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, r#"{"context":{"targetingKey":"user-3-1"}}"#);
        assert!(head.starts_with("POST /ofrep/v1/evaluate/flags/f HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(head.ends_with(&format!("Content-Length: {}", body.len())));
        request(&options, Target::Healthz, 0, 0, &mut out);
        assert_eq!(out, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    }
}
