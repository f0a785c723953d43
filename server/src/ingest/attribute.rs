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
use crate::store::{IngestQueries, StoreError, UnitRow, VariantMetricRow, VariantUnitsRow};

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
    /// Each metric once, ordered by id: a unit's aggregates are stored in
    /// this order.
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

/// A track event one of the experiment's metrics reads.
struct Tracked {
    /// The metric's position in [`Target::metrics`].
    metric: usize,
    at: i64,
    value: f64,
}

/// Adds the `events` at or after the row's exposure to its aggregates;
/// returns how many there were.
fn count_events(row: &mut UnitRow, events: &[Tracked]) -> u64 {
    let mut counted = 0;
    for e in events.iter().filter(|e| e.at >= row.exposed_at) {
        row.counts[e.metric] += 1;
        row.totals[e.metric] += e.value;
        counted += 1;
    }
    counted
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

    /// The unit `row`'s aggregates went from `before` (per metric: count,
    /// total) to the row's.
    fn unit(&mut self, target: &Target, before: &[(i64, f64)], row: &UnitRow) {
        for (i, (metric, &(count, total))) in target.metrics.iter().zip(before).enumerate() {
            if row.counts[i] != count {
                let after = metric.kind.value(row.counts[i], row.totals[i]);
                self.metric(metric.id, &row.variant, metric.kind.value(count, total), after);
            }
        }
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

/// Attributes `events` (accepted events of one environment) to `targets`;
/// the ids of the experiments whose figures moved are added to `touched`.
pub async fn attribute<T: IngestQueries>(
    tx: &mut T,
    targets: &[Target],
    events: &[&Event],
    touched: &mut Vec<i64>,
) -> Result<Attributed, StoreError> {
    let mut done = Attributed::default();
    for target in targets {
        let before = done;
        attribute_one(tx, target, events, &mut done).await?;
        if done != before {
            touched.push(target.id);
        }
    }
    Ok(done)
}

/// A batch's exposures for an experiment, per unit.
type Exposures<'e> = HashMap<&'e str, Seen<'e>>;
/// A batch's events for an experiment's metrics, per unit.
type Tracks<'e> = HashMap<&'e str, Vec<Tracked>>;

/// The exposures and the metric events of `events` that count for `target`.
fn collect<'e>(target: &Target, events: &[&'e Event]) -> (Exposures<'e>, Tracks<'e>) {
    let mut seen = Exposures::new();
    let mut tracked = Tracks::new();
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
                        let t = Tracked { metric: m, at: *at, value: value.unwrap_or(0.0) };
                        tracked.entry(unit.as_str()).or_default().push(t);
                    }
                }
            }
        }
    }
    (seen, tracked)
}

async fn attribute_one<T: IngestQueries>(
    tx: &mut T,
    target: &Target,
    events: &[&Event],
    done: &mut Attributed,
) -> Result<(), StoreError> {
    // 1. This batch's exposures and metric events for the experiment.
    let width = target.metrics.len();
    let (seen, tracked) = collect(target, events);
    if seen.is_empty() && tracked.is_empty() {
        return Ok(());
    }

    // 2. The stored rows of every unit the batch touches (one probe per unit).
    let mut touched: Vec<&str> = seen.keys().chain(tracked.keys()).copied().collect();
    touched.sort_unstable();
    touched.dedup();
    let stored = tx.units(target.id, &touched).await?;
    let known: HashSet<&str> = stored.iter().map(|r| r.unit.as_str()).collect();
    let mut deltas = Deltas::default();

    // 3. Units exposed for the first time: their row, with their events
    //    since the exposure.
    let zero = vec![(0, 0.0); width];
    let mut fresh: Vec<UnitRow> = Vec::new();
    for (unit, s) in seen.iter().filter(|(unit, _)| !known.contains(*unit)) {
        let mut row = UnitRow {
            unit: (*unit).to_owned(),
            variant: s.variant.to_owned(),
            exposed_at: s.at,
            excluded: s.conflict,
            counts: vec![0; width],
            totals: vec![0.0; width],
        };
        if row.excluded {
            deltas.units(&row.variant, 0, 1);
            done.excluded_units += 1;
        } else {
            deltas.units(&row.variant, 1, 0);
            done.new_units += 1;
            if let Some(events) = tracked.get(unit) {
                done.metric_events += count_events(&mut row, events);
                deltas.unit(target, &zero, &row);
            }
        }
        fresh.push(row);
    }
    fresh.sort_by(|a, b| a.unit.cmp(&b.unit));
    tx.insert_units(target.id, width, &fresh).await?;

    // 4. Units with a row from an earlier batch: an earlier-stamped exposure
    //    moves it back, a second variant excludes the unit (taking back what
    //    it contributed), and events at or after the exposure count.
    let mut changed: Vec<UnitRow> = Vec::new();
    for mut row in stored {
        if row.excluded {
            continue;
        }
        row.pad(width);
        let mut dirty = false;
        if let Some(s) = seen.get(row.unit.as_str()) {
            if s.conflict || s.variant != row.variant {
                row.excluded = true;
                deltas.units(&row.variant, -1, 1);
                done.excluded_units += 1;
                for (i, metric) in target.metrics.iter().enumerate() {
                    // A `mean` metric's n loses the unit; for the other kinds
                    // n is the kept units (already decremented) and x becomes 0.
                    let after = (metric.kind != Kind::Mean).then_some(0.0);
                    deltas.metric(metric.id, &row.variant, metric.kind.value(row.counts[i], row.totals[i]), after);
                }
                changed.push(row);
                continue;
            }
            if s.at < row.exposed_at {
                row.exposed_at = s.at;
                dirty = true;
            }
        }
        if let Some(events) = tracked.get(row.unit.as_str()) {
            let before: Vec<(i64, f64)> = row.counts.iter().copied().zip(row.totals.iter().copied()).collect();
            let counted = count_events(&mut row, events);
            if counted > 0 {
                deltas.unit(target, &before, &row);
                done.metric_events += counted;
                dirty = true;
            }
        }
        if dirty {
            changed.push(row);
        }
    }
    changed.sort_by(|a, b| a.unit.cmp(&b.unit));
    tx.put_units(target.id, width, &changed).await?;

    // 5. The per-variant statistics.
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
