//! Metrics: what experiments measure, each read from one track event.

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::views::rfc3339;
use super::{audit, check_key, check_revision, now_ms};
use crate::store::{MetricRecord, Queries};

/// The metric kinds.
pub const METRIC_KINDS: [&str; 4] = ["conversion", "count", "sum", "mean"];
/// The good directions.
pub const DIRECTIONS: [&str; 2] = ["increase", "decrease"];

/// A metric to create (`key` required) or replace.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricInput {
    #[serde(default)]
    pub key: Option<String>,
    /// Defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The track event key the metric reads.
    pub event: String,
    /// `conversion`, `count`, `sum` or `mean`.
    pub kind: String,
    /// `increase` (default) or `decrease`.
    #[serde(default)]
    pub good_direction: Option<String>,
    #[serde(default)]
    pub guardrail: bool,
    /// For updates: the revision this change is based on (or `If-Match`).
    #[serde(default)]
    pub base_revision: Option<i64>,
}

/// A metric.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricView {
    pub key: String,
    pub name: String,
    pub description: String,
    pub event: String,
    pub kind: String,
    pub good_direction: String,
    pub guardrail: bool,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&MetricRecord> for MetricView {
    fn from(m: &MetricRecord) -> Self {
        MetricView {
            key: m.key.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            event: m.event.clone(),
            kind: m.kind.clone(),
            good_direction: m.good_direction.clone(),
            guardrail: m.guardrail,
            revision: m.revision,
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Checks the input's fields; returns the good direction.
fn validate(input: &MetricInput) -> Result<String, Error> {
    check_key("event", &input.event)?;
    if !METRIC_KINDS.contains(&input.kind.as_str()) {
        return Err(Error::invalid(
            "kind",
            format!("unknown kind `{}`: one of {}", input.kind, METRIC_KINDS.join(", ")),
        ));
    }
    let direction = input.good_direction.clone().unwrap_or_else(|| "increase".into());
    if !DIRECTIONS.contains(&direction.as_str()) {
        return Err(Error::invalid("goodDirection", format!("unknown direction `{direction}`: increase or decrease")));
    }
    Ok(direction)
}

/// The metric `key`, or 404.
pub(crate) async fn metric_of<T: Queries>(tx: &mut T, key: &str) -> Result<MetricRecord, Error> {
    tx.metric(key).await?.ok_or_else(|| Error::NotFound(format!("metric `{key}`")))
}

/// All metrics.
pub async fn list_metrics<T: Queries>(tx: &mut T) -> Result<Vec<MetricView>, Error> {
    Ok(tx.metrics().await?.iter().map(MetricView::from).collect())
}

/// One metric.
pub async fn get_metric<T: Queries>(tx: &mut T, key: &str) -> Result<MetricView, Error> {
    Ok(MetricView::from(&metric_of(tx, key).await?))
}

/// Creates a metric.
pub async fn create_metric<T: Queries>(tx: &mut T, actor: &str, input: MetricInput) -> Result<MetricView, Error> {
    let key = input.key.clone().ok_or_else(|| Error::invalid("key", "required"))?;
    check_key("key", &key)?;
    let good_direction = validate(&input)?;
    let at = now_ms();
    let record = MetricRecord {
        id: 0,
        name: input.name.unwrap_or_else(|| key.clone()),
        key,
        description: input.description,
        event: input.event,
        kind: input.kind,
        good_direction,
        guardrail: input.guardrail,
        revision: 1,
        created_at: at,
        updated_at: at,
    };
    let record = tx.insert_metric(&record).await?;
    let view = MetricView::from(&record);
    audit(tx, at, actor, "metric.create", "metric", &record.key, None, None, Some(&to_json(&view))).await?;
    Ok(view)
}

/// Replaces a metric.
pub async fn update_metric<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    input: MetricInput,
) -> Result<MetricView, Error> {
    if input.key.as_deref().is_some_and(|k| k != key) {
        return Err(Error::invalid("key", "a metric's key cannot change"));
    }
    let good_direction = validate(&input)?;
    let current = metric_of(tx, key).await?;
    check_revision("the metric", input.base_revision, current.revision)?;
    let before = to_json(&MetricView::from(&current));
    let at = now_ms();
    let updated = MetricRecord {
        name: input.name.unwrap_or_else(|| key.to_owned()),
        description: input.description,
        event: input.event,
        kind: input.kind,
        good_direction,
        guardrail: input.guardrail,
        revision: current.revision + 1,
        updated_at: at,
        ..current
    };
    tx.update_metric(&updated).await?;
    let view = MetricView::from(&updated);
    audit(tx, at, actor, "metric.update", "metric", key, None, Some(&before), Some(&to_json(&view))).await?;
    Ok(view)
}

/// Deletes a metric; refused while an experiment uses it.
pub async fn delete_metric<T: Queries>(tx: &mut T, actor: &str, key: &str) -> Result<(), Error> {
    let current = metric_of(tx, key).await?;
    let users = tx.metric_users(current.id).await?;
    if !users.is_empty() {
        return Err(Error::Conflict(format!("metric `{key}` is used by experiments: {}", users.join(", "))));
    }
    tx.delete_metric(current.id).await?;
    let before = to_json(&MetricView::from(&current));
    audit(tx, now_ms(), actor, "metric.delete", "metric", key, None, Some(&before), None).await?;
    Ok(())
}
