//! Setup through the admin API: the flag and its 50/50 split, the metrics,
//! and the experiment, started; on a fresh database (a 409 fails the run).

use anyhow::{Context, bail};
use serde_json::json;

use super::{EXPERIMENT, FLAG, METRICS, Options, RULE};
use crate::Common;

/// Sends an admin request; fails on a non-2xx status (409: the object exists).
pub(super) async fn admin(
    client: &reqwest::Client,
    common: &Common,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<String> {
    let what = format!("{method} {path}");
    let mut request = client.request(method, common.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.with_context(|| what.clone())?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.as_u16() == 409 {
        bail!(
            "{what}: HTTP 409 ({text}): it already exists; `flagyard-load ingest` needs a fresh database \
             (its counts and results are checked exactly)"
        );
    }
    if !status.is_success() {
        bail!("{what}: HTTP {status}: {text}");
    }
    Ok(text)
}

/// Creates the flag, its split, the metrics and the experiment, and starts
/// it (or, with `--guarded`, starts a guarded ramp on the rule whose three
/// guardrails are the metrics); the key of the experiment measured.
pub(super) async fn setup(client: &reqwest::Client, options: &Options) -> anyhow::Result<String> {
    let (c, env) = (&options.common, &options.env);
    admin(client, c, reqwest::Method::POST, "/api/v1/flags", Some(json!({"key": FLAG, "type": "boolean"}))).await?;
    let split = json!({"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]});
    let config = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
        "rules": [{"id": RULE, "serve": {"split": split}}]});
    admin(client, c, reqwest::Method::PUT, &format!("/api/v1/flags/{FLAG}/environments/{env}"), Some(config)).await?;
    for (key, event, kind) in [
        (METRICS[0], "bench-buy", "conversion"),
        (METRICS[1], "bench-click", "count"),
        (METRICS[2], "bench-buy", "sum"),
    ] {
        let metric = json!({"key": key, "event": event, "kind": kind});
        admin(client, c, reqwest::Method::POST, "/api/v1/metrics", Some(metric)).await?;
    }
    if options.guarded {
        // One step at the rule's whole coverage, held past the run; tolerances
        // no synthetic difference reaches, so the plan runs throughout and
        // every evaluation is paid for.
        let guardrails: Vec<_> = METRICS.iter().map(|m| json!({"metric": m, "tolerance": 0.99})).collect();
        let ramp = json!({"flag": FLAG, "environment": env, "ruleId": RULE, "canaryVariant": "on",
            "controlVariant": "off", "steps": [{"coverage": 10000, "hold": "30d"}], "guardrails": guardrails});
        let answer = admin(client, c, reqwest::Method::POST, "/api/v1/ramps", Some(ramp)).await?;
        let ramp: serde_json::Value = serde_json::from_str(&answer)?;
        let key = ramp["experiment"].as_str().ok_or_else(|| anyhow::anyhow!("the ramp has no experiment: {ramp}"))?;
        return Ok(key.to_owned());
    }
    let experiment = json!({"key": EXPERIMENT, "flag": FLAG, "environment": env, "ruleId": RULE,
        "controlVariant": "off", "primaryMetric": METRICS[0], "secondaryMetrics": [METRICS[1], METRICS[2]]});
    admin(client, c, reqwest::Method::POST, "/api/v1/experiments", Some(experiment)).await?;
    admin(client, c, reqwest::Method::POST, &format!("/api/v1/experiments/{EXPERIMENT}/start"), Some(json!({})))
        .await?;
    Ok(EXPERIMENT.to_owned())
}
