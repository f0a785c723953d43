//! `updates`: concurrent writers toggling their own flags' kill switches.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;

use crate::stats::{self, Report, Tally};
use crate::{Budget, Common};

/// Flags per writer.
const FLAGS_PER_WRITER: usize = 4;

/// Parameters of the `updates` benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    pub common: Common,
    pub writers: usize,
    pub env: String,
}

/// The part of a configuration answer a writer needs.
#[derive(Debug, Deserialize)]
struct ConfigAnswer {
    enabled: bool,
    revision: i64,
}

/// One flag as its writer last saw it.
#[derive(Debug)]
struct Owned {
    url: String,
    enabled: bool,
    revision: i64,
}

/// Creates `key` if missing (409 = it exists).
async fn ensure_flag(client: &reqwest::Client, common: &Common, key: &str) -> anyhow::Result<()> {
    let resp = client
        .post(common.url("/api/v1/flags"))
        .json(&json!({"key": key, "type": "boolean"}))
        .send()
        .await
        .with_context(|| format!("creating flag {key}"))?;
    match resp.status().as_u16() {
        201 | 409 => Ok(()),
        s => bail!("creating flag {key}: HTTP {s}: {}", resp.text().await.unwrap_or_default()),
    }
}

/// The configuration at `url` as it is now.
async fn current(client: &reqwest::Client, url: &str) -> anyhow::Result<ConfigAnswer> {
    let resp = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {}", resp.text().await.unwrap_or_default());
    }
    Ok(resp.json().await?)
}

/// A writer's setup: its flags exist and their revisions are known.
async fn setup(client: reqwest::Client, options: Options, writer: usize) -> anyhow::Result<Vec<Owned>> {
    let mut owned = Vec::with_capacity(FLAGS_PER_WRITER);
    for i in 0..FLAGS_PER_WRITER {
        let key = format!("load-{}", writer * FLAGS_PER_WRITER + i);
        ensure_flag(&client, &options.common, &key).await?;
        let url = options.common.url(&format!("/api/v1/flags/{key}/environments/{}", options.env));
        let now = current(&client, &url).await?;
        owned.push(Owned { url, enabled: now.enabled, revision: now.revision });
    }
    Ok(owned)
}

/// What a writer did in the timed phase.
#[derive(Debug, Default)]
struct WriterResult {
    tally: Tally,
    /// Re-reads after a non-200 answer.
    refreshes: u64,
}

async fn writer(client: reqwest::Client, budget: std::sync::Arc<Budget>, mut flags: Vec<Owned>) -> WriterResult {
    let mut out = WriterResult::default();
    let mut next = 0;
    while budget.take() {
        let flag = &mut flags[next % FLAGS_PER_WRITER];
        next += 1;
        let body = json!({"enabled": !flag.enabled, "baseRevision": flag.revision});
        let start = Instant::now();
        let answer = match client.patch(&flag.url).json(&body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        let latency = start.elapsed();
        match answer {
            Ok((status, bytes)) => {
                out.tally.answered(status, latency);
                match (status, serde_json::from_slice::<ConfigAnswer>(&bytes)) {
                    (200, Ok(now)) => {
                        flag.enabled = now.enabled;
                        flag.revision = now.revision;
                    }
                    _ => {
                        // A 409 (someone else wrote), or an error: re-read so the next write can succeed.
                        out.refreshes += 1;
                        match current(&client, &flag.url).await {
                            Ok(now) => {
                                flag.enabled = now.enabled;
                                flag.revision = now.revision;
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }
            Err(_) => {
                out.tally.transport_errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out
}

/// Runs the benchmark.
pub async fn run(options: Options) -> anyhow::Result<Report> {
    let client = crate::client(&options.common)?;
    let mut setups = tokio::task::JoinSet::new();
    for w in 0..options.writers {
        let (client, options) = (client.clone(), options.clone());
        setups.spawn(async move { (w, setup(client, options, w).await) });
    }
    let mut owned: Vec<Option<Vec<Owned>>> = (0..options.writers).map(|_| None).collect();
    while let Some(done) = setups.join_next().await {
        let (w, flags) = done?;
        owned[w] = Some(flags.with_context(|| format!("setup of writer {w}"))?);
    }

    let (load_before, cpu_before) = (stats::loadavg(), stats::cpu_secs());
    let budget = Budget::new(&options.common);
    let start = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for flags in owned.into_iter().flatten() {
        writers.spawn(writer(client.clone(), budget.clone(), flags));
    }
    let mut tally = Tally::default();
    let mut refreshes = 0;
    while let Some(done) = writers.join_next().await {
        let result = done?;
        refreshes += result.refreshes;
        tally.merge(result.tally);
    }
    let elapsed = start.elapsed();
    Ok(Report {
        bench: "updates",
        setup: format!(
            "{} writers x {FLAGS_PER_WRITER} flags, PATCH enabled with baseRevision in `{}`, {} s",
            options.writers,
            options.env,
            options.common.duration.as_secs()
        ),
        tally,
        elapsed,
        extra: vec![("writers", options.writers.to_string()), ("refreshes", refreshes.to_string())],
        load_before,
        load_after: stats::loadavg(),
        client_cpu_secs: stats::cpu_secs() - cpu_before,
    })
}
