//! Attribution: folding one environment's accepted events into each
//! experiment's per-unit state and per-variant sufficient statistics.
//!
//! Rules (`docs/experiments.md`):
//! * an exposure counts for an experiment when it names the experiment's
//!   flag and split rule, one of the split's variants, and falls inside the
//!   experiment's window (start … stop);
//! * a unit's first exposure fixes its variant and time; a unit seen with a
//!   second variant is excluded from every figure (its contributions are
//!   taken back) and counted apart;
//! * a metric event counts for an exposed, kept unit at or after its
//!   exposure and inside the window; `sum` and `mean` metrics read `value`
//!   and skip events without one;
//! * per variant and metric, Σx and Σx² change by the difference of the
//!   unit's value x before and after the batch (n changes for `mean` metrics
//!   when a unit gets its first value; for the other kinds n is the number
//!   of kept units, which contribute x = 0 until they have events).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::validate::Event;
use crate::store::{IngestQueries, StoreError, UnitMetricRow, UnitRow, VariantMetricRow, VariantUnitsRow};

/// How a metric turns a unit's events into its value x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1 if the unit did it at least once, else 0.
    Conversion,
    /// Number of events.
    Count,
    /// Sum of values.
    Sum,
    /// Mean value, over units with at least one value.
    Mean,
}

impl Kind {
    /// Parses a stored metric kind.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "conversion" => Some(Kind::Conversion),
            "count" => Some(Kind::Count),
            "sum" => Some(Kind::Sum),
            "mean" => Some(Kind::Mean),
            _ => None,
        }
    }

    /// Whether events without a value are skipped.
    fn needs_value(self) -> bool {
        matches!(self, Kind::Sum | Kind::Mean)
    }

    /// The unit's value x for `count` events summing to `total`; `None`
    /// for a `mean` metric without events (the unit is not in its n).
    pub fn value(self, count: i64, total: f64) -> Option<f64> {
        match self {
            Kind::Conversion => Some(if count > 0 { 1.0 } else { 0.0 }),
            Kind::Count => Some(count as f64),
            Kind::Sum => Some(total),
            Kind::Mean => (count > 0).then(|| total / count as f64),
        }
    }
}

/// A metric of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetMetric {
    pub id: i64,
    /// The track event it reads.
    pub event: String,
    pub kind: Kind,
}

/// An experiment events may be attributed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: i64,
    pub flag: String,
    pub rule_id: String,
    /// The split's variants.
    pub variants: Vec<String>,
    pub start: i64,
    pub stop: Option<i64>,
    /// Each metric once.
    pub metrics: Vec<TargetMetric>,
}

impl Target {
    fn in_window(&self, at: i64) -> bool {
        at >= self.start && self.stop.is_none_or(|stop| at <= stop)
    }
}

/// What attribution changed, for logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attributed {
    /// Units newly exposed.
    pub new_units: u64,
    /// Units newly excluded.
    pub excluded_units: u64,
    /// Metric events counted.
    pub metric_events: u64,
}

/// The exposures of one unit in a batch.
struct Seen<'e> {
    at: i64,
    variant: &'e str,
    conflict: bool,
}

/// Per-variant changes, accumulated then written once.
#[derive(Default)]
struct Deltas {
    units: HashMap<String, (i64, i64)>,
    metrics: HashMap<(i64, String), (i64, f64, f64)>,
}

impl Deltas {
    fn units(&mut self, variant: &str, units: i64, excluded: i64) {
        let e = self.units.entry(variant.to_owned()).or_default();
        e.0 += units;
        e.1 += excluded;
    }

    /// The unit's value for a metric went from `before` to `after`.
    fn metric(&mut self, metric: i64, variant: &str, before: Option<f64>, after: Option<f64>) {
        if before == after {
            return;
        }
        let e = self.metrics.entry((metric, variant.to_owned())).or_default();
        let (b, a) = (before.unwrap_or(0.0), after.unwrap_or(0.0));
        e.0 += i64::from(after.is_some()) - i64::from(before.is_some());
        e.1 += a - b;
        e.2 += a * a - b * b;
    }

    async fn write<T: IngestQueries>(self, tx: &mut T, experiment: i64) -> Result<(), StoreError> {
        let mut units: Vec<VariantUnitsRow> = self
            .units
            .into_iter()
            .filter(|(_, d)| *d != (0, 0))
            .map(|(variant, (units, excluded))| VariantUnitsRow { variant, units, excluded })
            .collect();
        units.sort_by(|a, b| a.variant.cmp(&b.variant));
        tx.add_variant_units(experiment, &units).await?;
        let mut metrics: Vec<VariantMetricRow> = self
            .metrics
            .into_iter()
            .map(|((metric_id, variant), (n, sum, sum_sq))| VariantMetricRow { metric_id, variant, n, sum, sum_sq })
            .collect();
        metrics.sort_by(|a, b| (a.metric_id, &a.variant).cmp(&(b.metric_id, &b.variant)));
        tx.add_variant_metrics(experiment, &metrics).await
    }
}

/// Attributes `events` (accepted events of one environment) to `targets`.
pub async fn attribute<T: IngestQueries>(
    tx: &mut T,
    targets: &[Target],
    events: &[&Event],
) -> Result<Attributed, StoreError> {
    let mut done = Attributed::default();
    for target in targets {
        attribute_one(tx, target, events, &mut done).await?;
    }
    Ok(done)
}

async fn attribute_one<T: IngestQueries>(
    tx: &mut T,
    target: &Target,
    events: &[&Event],
    done: &mut Attributed,
) -> Result<(), StoreError> {
    // 1. This batch's exposures and metric events for the experiment.
    let mut seen: HashMap<&str, Seen<'_>> = HashMap::new();
    let mut tracked: Vec<HashMap<&str, Vec<(i64, f64)>>> = vec![HashMap::new(); target.metrics.len()];
    for event in events {
        match event {
            Event::Exposure { at, flag, variant, rule, unit } => {
                if *flag != target.flag
                    || *rule != target.rule_id
                    || !target.in_window(*at)
                    || !target.variants.contains(variant)
                {
                    continue;
                }
                match seen.entry(unit) {
                    Entry::Vacant(v) => {
                        v.insert(Seen { at: *at, variant, conflict: false });
                    }
                    Entry::Occupied(mut o) => {
                        let s = o.get_mut();
                        s.conflict |= s.variant != variant;
                        if *at < s.at {
                            s.at = *at;
                            s.variant = variant;
                        }
                    }
                }
            }
            Event::Track { at, event, unit, value } => {
                if !target.in_window(*at) {
                    continue;
                }
                for (m, metric) in target.metrics.iter().enumerate() {
                    if metric.event == *event && (value.is_some() || !metric.kind.needs_value()) {
                        tracked[m].entry(unit.as_str()).or_default().push((*at, value.unwrap_or(0.0)));
                    }
                }
            }
        }
    }
    if seen.is_empty() && tracked.iter().all(HashMap::is_empty) {
        return Ok(());
    }

    // 2. First exposures: inserted where the unit has none yet (one probe
    //    per unit); the units that had one, and tracked units exposed
    //    earlier, are read.
    let mut deltas = Deltas::default();
    let mut candidates: Vec<UnitRow> = seen
        .iter()
        .map(|(unit, s)| UnitRow {
            unit: (*unit).to_owned(),
            variant: s.variant.to_owned(),
            exposed_at: s.at,
            excluded: s.conflict,
        })
        .collect();
    candidates.sort_by(|a, b| a.unit.cmp(&b.unit));
    let inserted: HashSet<String> = tx.insert_units(target.id, &candidates).await?.into_iter().collect();
    let mut units: HashMap<String, UnitRow> = HashMap::with_capacity(candidates.len());
    for row in candidates.into_iter().filter(|r| inserted.contains(&r.unit)) {
        if row.excluded {
            deltas.units(&row.variant, 0, 1);
            done.excluded_units += 1;
        } else {
            deltas.units(&row.variant, 1, 0);
            done.new_units += 1;
        }
        units.insert(row.unit.clone(), row);
    }
    let mut stored: Vec<&str> = seen
        .keys()
        .copied()
        .chain(tracked.iter().flat_map(|t| t.keys().copied()))
        .filter(|u| !inserted.contains(*u))
        .collect();
    stored.sort_unstable();
    stored.dedup();
    units.extend(tx.units(target.id, &stored).await?.into_iter().map(|r| (r.unit.clone(), r)));

    // 3. Exposures of units exposed before: earlier first exposures, exclusions.
    let mut changed: Vec<UnitRow> = Vec::new();
    let mut newly_excluded: Vec<(String, String)> = Vec::new();
    for (unit, s) in &seen {
        if inserted.contains(*unit) {
            continue;
        }
        match units.get_mut(*unit) {
            // Inserted by a concurrent transaction and gone again: cannot
            // happen under the ingest lock; nothing to change.
            None => {}
            Some(row) if row.excluded => {}
            Some(row) if s.conflict || s.variant != row.variant => {
                row.excluded = true;
                deltas.units(&row.variant, -1, 1);
                done.excluded_units += 1;
                newly_excluded.push((row.unit.clone(), row.variant.clone()));
                changed.push(row.clone());
            }
            Some(row) if s.at < row.exposed_at => {
                row.exposed_at = s.at;
                changed.push(row.clone());
            }
            Some(_) => {}
        }
    }
    changed.sort_by(|a, b| a.unit.cmp(&b.unit));
    tx.put_units(target.id, &changed).await?;

    // 4. Take back what newly excluded units contributed.
    if !newly_excluded.is_empty() {
        let names: Vec<&str> = newly_excluded.iter().map(|(u, _)| u.as_str()).collect();
        let variant_of: HashMap<&str, &str> = newly_excluded.iter().map(|(u, v)| (u.as_str(), v.as_str())).collect();
        for metric in &target.metrics {
            for row in tx.unit_metrics(target.id, metric.id, &names).await? {
                if let Some(variant) = variant_of.get(row.unit.as_str()) {
                    // A `mean` metric's n loses the unit; for the other kinds n is
                    // the kept units (already decremented) and x becomes 0.
                    let after = (metric.kind != Kind::Mean).then_some(0.0);
                    deltas.metric(metric.id, variant, metric.kind.value(row.count, row.total), after);
                }
            }
        }
    }

    // 5. Metric events of kept units at or after their exposure.
    for (metric, by_unit) in target.metrics.iter().zip(&tracked) {
        let mut add: Vec<(&str, &UnitRow, i64, f64)> = Vec::new();
        for (unit, events) in by_unit {
            let Some(row) = units.get(*unit).filter(|r| !r.excluded) else { continue };
            let (mut count, mut total) = (0i64, 0.0);
            for (at, value) in events {
                if *at >= row.exposed_at {
                    count += 1;
                    total += value;
                }
            }
            if count > 0 {
                add.push((unit, row, count, total));
            }
        }
        if add.is_empty() {
            continue;
        }
        add.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // Units first exposed in this transaction have no stored aggregate.
        let names: Vec<&str> = add.iter().map(|a| a.0).filter(|u| !inserted.contains(*u)).collect();
        let stored: HashMap<String, UnitMetricRow> =
            tx.unit_metrics(target.id, metric.id, &names).await?.into_iter().map(|r| (r.unit.clone(), r)).collect();
        let mut rows = Vec::with_capacity(add.len());
        for (unit, row, count, total) in add {
            let (old_count, old_total) = stored.get(unit).map_or((0, 0.0), |s| (s.count, s.total));
            let (new_count, new_total) = (old_count + count, old_total + total);
            let (before, after) = (metric.kind.value(old_count, old_total), metric.kind.value(new_count, new_total));
            deltas.metric(metric.id, &row.variant, before, after);
            done.metric_events += count as u64;
            rows.push(UnitMetricRow { unit: unit.to_owned(), count: new_count, total: new_total });
        }
        tx.put_unit_metrics(target.id, metric.id, &rows).await?;
    }

    // 6. The per-variant statistics.
    deltas.write(tx, target.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_values_per_kind() {
        assert_eq!(Kind::Conversion.value(0, 0.0), Some(0.0));
        assert_eq!(Kind::Conversion.value(3, 7.0), Some(1.0));
        assert_eq!(Kind::Count.value(3, 7.0), Some(3.0));
        assert_eq!(Kind::Sum.value(3, 7.5), Some(7.5));
        assert_eq!(Kind::Mean.value(0, 0.0), None);
        assert_eq!(Kind::Mean.value(4, 10.0), Some(2.5));
        assert_eq!(Kind::parse("mean"), Some(Kind::Mean));
        assert_eq!(Kind::parse("median"), None);
    }

    #[test]
    fn deltas_track_n_sum_and_squares() {
        let mut d = Deltas::default();
        d.metric(1, "a", Some(0.0), Some(1.0));
        d.metric(1, "a", Some(2.0), Some(5.0));
        d.metric(2, "a", None, Some(3.0));
        d.metric(2, "a", Some(4.0), None);
        d.metric(3, "a", Some(1.0), Some(1.0));
        assert_eq!(d.metrics[&(1, "a".to_owned())], (0, 4.0, 1.0 + 21.0));
        assert_eq!(d.metrics[&(2, "a".to_owned())], (0, -1.0, 9.0 - 16.0));
        assert!(!d.metrics.contains_key(&(3, "a".to_owned())));
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let t = Target {
            id: 1,
            flag: "f".into(),
            rule_id: "r".into(),
            variants: vec!["a".into()],
            start: 10,
            stop: Some(20),
            metrics: vec![],
        };
        assert!(!t.in_window(9));
        assert!(t.in_window(10) && t.in_window(20));
        assert!(!t.in_window(21));
        assert!(Target { stop: None, ..t }.in_window(1 << 50));
    }
}
