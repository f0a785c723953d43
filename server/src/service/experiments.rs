//! Experiments: a split rule of a flag in one environment, measured by metrics.
//!
//! `draft` → `running` (records the split's weights and coverage) → `stopped`;
//! nothing else. Once started, what defines the experiment is frozen, and the
//! configuration write path refuses changing the allocated split's weights.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::experiment_guards::{SplitSnapshot, bound_split, snapshot_of};
use super::views::rfc3339;
use super::{audit, check_key, check_revision, now_ms};
use crate::store::{Environment, ExperimentRecord, Queries, RampFilter};

/// The analysis methods.
pub const ANALYSES: [&str; 3] = ["frequentist", "sequential", "bayesian"];

/// An experiment to create (`key` required) or replace.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExperimentInput {
    #[serde(default)]
    pub key: Option<String>,
    /// Defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub hypothesis: String,
    /// The flag key.
    pub flag: String,
    /// The environment key.
    pub environment: String,
    /// The id of the rule whose split allocates the experiment.
    pub rule_id: String,
    /// One of the split's variants.
    pub control_variant: String,
    /// The primary metric's key.
    pub primary_metric: String,
    #[serde(default)]
    pub secondary_metrics: Vec<String>,
    #[serde(default)]
    pub guardrail_metrics: Vec<String>,
    /// `frequentist` (default), `sequential` or `bayesian`.
    #[serde(default)]
    pub analysis: Option<String>,
    /// Significance level in (0, 0.5); default 0.05.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Relative effect the experiment should detect (e.g. 0.02), if planned.
    #[serde(default)]
    pub minimum_detectable_effect: Option<f64>,
    /// For updates: the revision this change is based on (or `If-Match`).
    #[serde(default)]
    pub base_revision: Option<i64>,
}

/// An experiment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentView {
    pub key: String,
    pub name: String,
    pub hypothesis: String,
    pub flag: String,
    pub environment: String,
    pub rule_id: String,
    pub control_variant: String,
    pub primary_metric: String,
    pub secondary_metrics: Vec<String>,
    pub guardrail_metrics: Vec<String>,
    pub analysis: String,
    pub alpha: f64,
    pub minimum_detectable_effect: Option<f64>,
    /// `draft`, `running` or `stopped`.
    pub state: String,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    /// The split's weights and coverage at start.
    pub split: Option<SplitSnapshot>,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

async fn view<T: Queries>(tx: &mut T, x: &ExperimentRecord) -> Result<ExperimentView, Error> {
    let (mut secondary, mut guardrail) = (Vec::new(), Vec::new());
    for m in tx.experiment_metrics(x.id).await? {
        if m.role == "guardrail" { guardrail.push(m.metric_key) } else { secondary.push(m.metric_key) }
    }
    Ok(ExperimentView {
        key: x.key.clone(),
        name: x.name.clone(),
        hypothesis: x.hypothesis.clone(),
        flag: x.flag_key.clone(),
        environment: x.environment_key.clone(),
        rule_id: x.rule_id.clone(),
        control_variant: x.control_variant.clone(),
        primary_metric: x.primary_metric_key.clone(),
        secondary_metrics: secondary,
        guardrail_metrics: guardrail,
        analysis: x.analysis.clone(),
        alpha: x.alpha,
        minimum_detectable_effect: x.minimum_detectable_effect,
        state: x.state.clone(),
        started_at: x.started_at.map(rfc3339),
        stopped_at: x.stopped_at.map(rfc3339),
        split: snapshot_of(x)?,
        revision: x.revision,
        created_at: rfc3339(x.created_at),
        updated_at: rfc3339(x.updated_at),
    })
}

/// Validates `input` into a record (id, key, state and times left to the caller) and its extra metrics.
async fn resolve<T: Queries>(
    tx: &mut T,
    key: &str,
    input: ExperimentInput,
) -> Result<(ExperimentRecord, Vec<(i64, String)>), Error> {
    let flag =
        tx.flag(&input.flag).await?.ok_or_else(|| Error::invalid("flag", format!("unknown flag `{}`", input.flag)))?;
    let env = tx
        .environment(&input.environment)
        .await?
        .ok_or_else(|| Error::invalid("environment", format!("unknown environment `{}`", input.environment)))?;
    bound_split(tx, &flag, &env, &input.rule_id, &input.control_variant).await?;
    let unknown = |field: String, k: &str| Error::invalid(field, format!("unknown metric `{k}`"));
    let primary = tx
        .metric(&input.primary_metric)
        .await?
        .ok_or_else(|| unknown("primaryMetric".into(), &input.primary_metric))?;
    let mut extra = Vec::new();
    for (field, role, keys) in [
        ("secondaryMetrics", "secondary", &input.secondary_metrics),
        ("guardrailMetrics", "guardrail", &input.guardrail_metrics),
    ] {
        for (i, k) in keys.iter().enumerate() {
            let m = tx.metric(k).await?.ok_or_else(|| unknown(format!("{field}[{i}]"), k))?;
            if !extra.iter().any(|(id, r): &(i64, String)| *id == m.id && r == role) {
                extra.push((m.id, role.to_owned()));
            }
        }
    }
    let analysis = input.analysis.unwrap_or_else(|| "frequentist".into());
    if !ANALYSES.contains(&analysis.as_str()) {
        return Err(Error::invalid(
            "analysis",
            format!("unknown analysis `{analysis}`: one of {}", ANALYSES.join(", ")),
        ));
    }
    let alpha = input.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(Error::invalid("alpha", "must be greater than 0 and less than 0.5"));
    }
    if input.minimum_detectable_effect.is_some_and(|m| !(m > 0.0 && m.is_finite())) {
        return Err(Error::invalid("minimumDetectableEffect", "must be a positive relative effect (e.g. 0.02)"));
    }
    let record = ExperimentRecord {
        id: 0,
        key: key.to_owned(),
        name: input.name.unwrap_or_else(|| key.to_owned()),
        hypothesis: input.hypothesis,
        flag_id: flag.id,
        flag_key: flag.key,
        environment_id: env.id,
        environment_key: env.key,
        rule_id: input.rule_id,
        control_variant: input.control_variant,
        primary_metric_id: primary.id,
        primary_metric_key: primary.key,
        analysis,
        alpha,
        minimum_detectable_effect: input.minimum_detectable_effect,
        state: "draft".into(),
        started_at: None,
        stopped_at: None,
        split_snapshot: None,
        revision: 1,
        created_at: 0,
        updated_at: 0,
    };
    Ok((record, extra))
}

/// The fields that define an experiment (frozen once it has started).
fn defining(x: &ExperimentRecord) -> impl PartialEq + use<'_> {
    (
        (x.flag_id, x.environment_id, &x.rule_id, &x.control_variant, x.primary_metric_id, &x.analysis),
        (x.alpha.to_bits(), x.minimum_detectable_effect.map(f64::to_bits)),
    )
}

async fn experiment_of<T: Queries>(tx: &mut T, key: &str) -> Result<ExperimentRecord, Error> {
    tx.experiment(key).await?.ok_or_else(|| Error::NotFound(format!("experiment `{key}`")))
}

/// All experiments.
pub async fn list_experiments<T: Queries>(tx: &mut T) -> Result<Vec<ExperimentView>, Error> {
    let mut out = Vec::new();
    for x in tx.experiments().await? {
        out.push(view(tx, &x).await?);
    }
    Ok(out)
}

/// One experiment.
pub async fn get_experiment<T: Queries>(tx: &mut T, key: &str) -> Result<ExperimentView, Error> {
    let x = experiment_of(tx, key).await?;
    view(tx, &x).await
}

/// Creates a draft experiment.
pub async fn create_experiment<T: Queries>(
    tx: &mut T,
    actor: &str,
    input: ExperimentInput,
) -> Result<ExperimentView, Error> {
    let key = input.key.clone().ok_or_else(|| Error::invalid("key", "required"))?;
    check_key("key", &key)?;
    let (mut record, extra) = resolve(tx, &key, input).await?;
    let at = now_ms();
    (record.created_at, record.updated_at) = (at, at);
    let id = tx.insert_experiment(&record).await?;
    tx.set_experiment_metrics(id, &extra).await?;
    let record = experiment_of(tx, &key).await?;
    let v = view(tx, &record).await?;
    audit(
        tx,
        at,
        actor,
        "experiment.create",
        "experiment",
        &key,
        Some(&record.environment_key),
        None,
        Some(&to_json(&v)),
    )
    .await?;
    Ok(v)
}

/// Replaces an experiment; once started only its name and hypothesis may change.
pub async fn update_experiment<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    input: ExperimentInput,
) -> Result<ExperimentView, Error> {
    if input.key.as_deref().is_some_and(|k| k != key) {
        return Err(Error::invalid("key", "an experiment's key cannot change"));
    }
    let current = experiment_of(tx, key).await?;
    check_revision("the experiment", input.base_revision, current.revision)?;
    let before = view(tx, &current).await?;
    let (new, extra) = resolve(tx, key, input).await?;
    if current.state != "draft" {
        let mut old_extra: Vec<(i64, String)> =
            tx.experiment_metrics(current.id).await?.into_iter().map(|m| (m.metric_id, m.role)).collect();
        let mut new_extra = extra.clone();
        old_extra.sort();
        new_extra.sort();
        if defining(&current) != defining(&new) || old_extra != new_extra {
            return Err(Error::Conflict(format!(
                "experiment `{key}` is {}: only its name and hypothesis can change",
                current.state
            )));
        }
    }
    let at = now_ms();
    let updated = ExperimentRecord {
        id: current.id,
        state: current.state.clone(),
        started_at: current.started_at,
        stopped_at: current.stopped_at,
        split_snapshot: current.split_snapshot.clone(),
        revision: current.revision + 1,
        created_at: current.created_at,
        updated_at: at,
        ..new
    };
    tx.update_experiment(&updated).await?;
    tx.set_experiment_metrics(current.id, &extra).await?;
    let updated = experiment_of(tx, key).await?;
    let v = view(tx, &updated).await?;
    let env = Some(updated.environment_key.as_str());
    audit(tx, at, actor, "experiment.update", "experiment", key, env, Some(&to_json(&before)), Some(&to_json(&v)))
        .await?;
    Ok(v)
}

/// Deletes a draft or stopped experiment.
pub async fn delete_experiment<T: Queries>(tx: &mut T, actor: &str, key: &str) -> Result<(), Error> {
    let current = experiment_of(tx, key).await?;
    if current.state == "running" {
        return Err(Error::Conflict(format!("experiment `{key}` is running: stop it first")));
    }
    let before = to_json(&view(tx, &current).await?);
    tx.delete_experiment(current.id).await?;
    audit(
        tx,
        now_ms(),
        actor,
        "experiment.delete",
        "experiment",
        key,
        Some(&current.environment_key),
        Some(&before),
        None,
    )
    .await?;
    Ok(())
}

/// Moves an experiment from `from` to `to` (`start` or `stop`).
pub async fn transition<T: Queries>(tx: &mut T, actor: &str, key: &str, start: bool) -> Result<ExperimentView, Error> {
    let mut current = experiment_of(tx, key).await?;
    if start {
        // Serialise with configuration writes of the environment (they lock it too),
        // so the snapshot is of the configuration they check against.
        tx.lock_environment(current.environment_id).await?;
        current = experiment_of(tx, key).await?;
    }
    if !start {
        // A ramp's own experiment ends with the ramp.
        let active = ["running", "paused"];
        let filter = RampFilter {
            flag_id: Some(current.flag_id),
            environment_id: Some(current.environment_id),
            states: &active,
        };
        if let Some(r) = tx.ramps(filter, 10).await?.into_iter().find(|r| r.experiment_id == Some(current.id)) {
            return Err(Error::Conflict(format!(
                "experiment `{key}` measures the guardrails of ramp {}, which is {}: finish or abort the ramp",
                r.id, r.state
            )));
        }
    }
    let (from, to, action) =
        if start { ("draft", "running", "experiment.start") } else { ("running", "stopped", "experiment.stop") };
    if current.state != from {
        return Err(Error::Conflict(format!(
            "experiment `{key}` is {}: only a {from} experiment can become {to}",
            current.state
        )));
    }
    let before = view(tx, &current).await?;
    let at = now_ms();
    let mut next =
        ExperimentRecord { state: to.into(), revision: current.revision + 1, updated_at: at, ..current.clone() };
    if start {
        let flag =
            tx.flag(&current.flag_key).await?.ok_or_else(|| Error::NotFound(format!("flag `{}`", current.flag_key)))?;
        let env = Environment {
            id: current.environment_id,
            key: current.environment_key.clone(),
            name: String::new(),
            version: 0,
            created_at: 0,
        };
        let split =
            bound_split(tx, &flag, &env, &current.rule_id, &current.control_variant).await.map_err(|e| match e {
                Error::Invalid { summary, .. } => {
                    Error::Conflict(format!("experiment `{key}` cannot start: {summary}"))
                }
                e => e,
            })?;
        next.started_at = Some(at);
        next.split_snapshot = Some(to_json(&SplitSnapshot { variants: split.variants, coverage: split.coverage }));
    } else {
        next.stopped_at = Some(at);
        // The last day of the results over time is the final figures.
        tx.snapshot_results(current.id, super::result_history::day_of(at), at).await?;
    }
    tx.update_experiment(&next).await?;
    let v = view(tx, &next).await?;
    let env = Some(current.environment_key.as_str());
    audit(tx, at, actor, action, "experiment", key, env, Some(&to_json(&before)), Some(&to_json(&v))).await?;
    Ok(v)
}
