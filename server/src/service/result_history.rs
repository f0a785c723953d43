//! Results over time: the scheduler copies each running experiment's
//! per-variant sufficient statistics into a snapshot of the day, about once
//! an hour and when the experiment stops (`result_snapshots`, the day's
//! last copy wins), and each day is analysed as the results are: the same
//! analysis, correction and decision ([`super::decision`]), so the last day
//! of the history is the verdict the results show.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::decision::Decision;
use super::error::Error;
use super::experiment_guards::snapshot_of;
use super::results::{Analysis, analyse, control_first, metrics_of};
use super::views::rfc3339;
use crate::store::{IngestQueries, Queries, SnapshotRow};

const DAY_MS: i64 = 86_400_000;
/// The most days a history holds (older snapshots are kept, not shown).
pub const HISTORY_DAYS: i64 = 400;

/// The UTC day of an instant, in days since 1970-01-01.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Copies every running experiment's statistics into today's snapshot;
/// how many experiments.
pub async fn snapshot_running_experiments<T: Queries + IngestQueries>(tx: &mut T, now: i64) -> Result<usize, Error> {
    let running: Vec<i64> =
        tx.experiments().await?.into_iter().filter(|x| x.state == "running").map(|x| x.id).collect();
    for id in &running {
        tx.snapshot_results(*id, day_of(now), now).await?;
    }
    Ok(running.len())
}

/// An experiment's results day by day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub experiment: String,
    pub analysis: String,
    pub control: String,
    /// Oldest first; one entry per day with a snapshot.
    pub days: Vec<HistoryDay>,
}

/// The results as of the end of one day (or of the last snapshot that day).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Units per variant, control first.
    pub units: Vec<i64>,
    /// Primary metric first, as in the results.
    pub metrics: Vec<HistoryMetric>,
}

/// One metric on one day: each treatment's decision against control.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryMetric {
    pub metric: String,
    pub variants: Vec<HistoryPoint>,
}

/// One treatment on one metric on one day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPoint {
    pub variant: String,
    pub decision: Decision,
}

/// The day-by-day results of experiment `key` over the last `days` days
/// (at most [`HISTORY_DAYS`]; empty before its first snapshot, and for a
/// draft).
pub async fn experiment_history<T: Queries + IngestQueries>(
    tx: &mut T,
    key: &str,
    now: i64,
    days: i64,
) -> Result<HistoryView, Error> {
    let x = tx.experiment(key).await?.ok_or_else(|| Error::NotFound(format!("experiment `{key}`")))?;
    let mut view = HistoryView {
        experiment: x.key.clone(),
        analysis: x.analysis.clone(),
        control: x.control_variant.clone(),
        days: vec![],
    };
    let Some(split) = snapshot_of(&x)? else { return Ok(view) };
    let metrics = metrics_of(tx, &x).await?;
    let rows = tx.result_snapshots(x.id, day_of(now) - days.clamp(1, HISTORY_DAYS) + 1).await?;
    let mut by_day: BTreeMap<i64, Vec<SnapshotRow>> = BTreeMap::new();
    for r in rows {
        by_day.entry(r.day).or_default().push(r);
    }
    for (day, rows) in by_day {
        // Metric 0 holds the units (n) and excluded units (sum).
        let units: HashMap<String, (i64, i64)> =
            rows.iter().filter(|r| r.metric_id == 0).map(|r| (r.variant.clone(), (r.n, r.sum as i64))).collect();
        let variants = control_first(&x, &split, &units);
        let sums: HashMap<(i64, String), (i64, f64, f64)> = rows
            .iter()
            .filter(|r| r.metric_id != 0)
            .map(|r| ((r.metric_id, r.variant.clone()), (r.n, r.sum, r.sum_sq)))
            .collect();
        let Analysis { decisions, .. } = analyse(&x, &metrics, &variants, &sums)?;
        let counts: Vec<i64> = variants.iter().map(|v| v.units).collect();
        let metrics = metrics
            .iter()
            .zip(decisions)
            .map(|((m, _), decided)| HistoryMetric {
                metric: m.key.clone(),
                variants: variants
                    .iter()
                    .skip(1)
                    .zip(decided)
                    .map(|(v, decision)| HistoryPoint { variant: v.variant.clone(), decision })
                    .collect(),
            })
            .collect();
        let date = rfc3339(day * DAY_MS).chars().take(10).collect();
        view.days.push(HistoryDay { day: date, units: counts, metrics });
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MS - 1), 0);
        assert_eq!(day_of(DAY_MS), 1);
        assert_eq!(day_of(-1), -1);
        assert_eq!(rfc3339(day_of(1_893_456_000_000 + 5) * DAY_MS).get(..10), Some("2030-01-01"));
    }
}
