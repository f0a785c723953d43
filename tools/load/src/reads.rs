//! `reads`: concurrent `GET /api/v1/flags?limit=N` of a full page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

use crate::stats::{self, Report, Tally};
use crate::{Budget, Common};

/// Flags created at once when some are missing.
const CREATE_CONCURRENCY: u64 = 16;

/// Parameters of the `reads` benchmark.
#[derive(Debug, Clone)]
pub struct Options {
    pub common: Common,
    pub flags: usize,
    pub concurrency: usize,
}

/// A page of the flag list; items are counted, not kept.
#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<IgnoredAny>,
    total: u64,
}

async fn total(client: &reqwest::Client, common: &Common) -> anyhow::Result<u64> {
    let resp = client.get(common.url("/api/v1/flags?limit=1")).send().await.context("counting flags")?;
    let status = resp.status();
    if !status.is_success() {
        bail!("counting flags: HTTP {status}: {}", resp.text().await.unwrap_or_default());
    }
    Ok(resp.json::<Page>().await?.total)
}

/// Creates `read-<n>` flags, `CREATE_CONCURRENCY` at a time, until exactly `missing` new ones exist
/// (names already taken are skipped).
async fn create_missing(client: &reqwest::Client, common: &Common, missing: u64) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    // Creations still to do; a task takes one before its request and gives it back on a 409.
    let left = Arc::new(AtomicU64::new(missing));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CREATE_CONCURRENCY.min(missing) {
        let (client, common, next, left) = (client.clone(), common.clone(), next.clone(), left.clone());
        tasks.spawn(async move {
            while left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                let n = next.fetch_add(1, Ordering::Relaxed);
                // Bounded: existing read-<n> flags are skipped, but not forever.
                if n >= missing + 100_000 {
                    bail!("gave up creating flags at read-{n}");
                }
                let key = format!("read-{n}");
                let resp = client
                    .post(common.url("/api/v1/flags"))
                    .json(&json!({"key": key, "type": "boolean"}))
                    .send()
                    .await
                    .with_context(|| format!("creating {key}"))?;
                match resp.status().as_u16() {
                    201 => {}
                    409 => {
                        left.fetch_add(1, Ordering::Relaxed);
                    }
                    s => bail!("creating {key}: HTTP {s}: {}", resp.text().await.unwrap_or_default()),
                }
            }
            Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// What a reader did in the timed phase.
#[derive(Debug, Default)]
struct ReaderResult {
    tally: Tally,
    /// 200 answers whose item count was not the one asked for.
    wrong: u64,
    /// Bytes of body received.
    bytes: u64,
}

async fn reader(client: reqwest::Client, budget: Arc<Budget>, url: String, expected: usize) -> ReaderResult {
    let mut out = ReaderResult::default();
    while budget.take() {
        let start = Instant::now();
        let answer = match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        let latency = start.elapsed();
        match answer {
            Ok((status, body)) => {
                out.tally.answered(status, latency);
                out.bytes += body.len() as u64;
                if status == 200 {
                    match serde_json::from_slice::<Page>(&body) {
                        Ok(page) if page.items.len() == expected => {}
                        _ => out.wrong += 1,
                    }
                }
            }
            Err(_) => {
                out.tally.transport_errors += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    out
}

/// Runs the benchmark; also returns the count of answers with the wrong item count.
pub async fn run(options: Options) -> anyhow::Result<(Report, u64)> {
    let common = &options.common;
    let client = crate::client(common)?;
    let wanted = options.flags as u64;
    let before = total(&client, common).await?;
    let setup_start = Instant::now();
    if before < wanted {
        create_missing(&client, common, wanted - before).await?;
    }
    let setup_secs = setup_start.elapsed().as_secs_f64();
    let after = total(&client, common).await?;
    if after < wanted {
        bail!("only {after} flags exist after setup; wanted {wanted}");
    }

    let url = common.url(&format!("/api/v1/flags?limit={}", options.flags));
    let (load_before, cpu_before) = (stats::loadavg(), stats::cpu_secs());
    let budget = Budget::new(common);
    let start = Instant::now();
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        readers.spawn(reader(client.clone(), budget.clone(), url.clone(), options.flags));
    }
    let (mut tally, mut wrong, mut bytes) = (Tally::default(), 0, 0);
    while let Some(done) = readers.join_next().await {
        let result = done?;
        wrong += result.wrong;
        bytes += result.bytes;
        tally.merge(result.tally);
    }
    let elapsed = start.elapsed();
    let answered = tally.latencies.len().max(1) as u64;
    let report = Report {
        bench: "reads",
        setup: format!(
            "{} readers, GET /api/v1/flags?limit={} ({after} flags; {} created in {setup_secs:.1} s), {} s",
            options.concurrency,
            options.flags,
            after.saturating_sub(before),
            common.duration.as_secs()
        ),
        tally,
        elapsed,
        extra: vec![
            ("concurrency", options.concurrency.to_string()),
            ("flags", after.to_string()),
            ("created", after.saturating_sub(before).to_string()),
            ("wrong_items", wrong.to_string()),
            ("body_bytes", (bytes / answered).to_string()),
        ],
        load_before,
        load_after: stats::loadavg(),
        client_cpu_secs: stats::cpu_secs() - cpu_before,
    };
    Ok((report, wrong))
}
