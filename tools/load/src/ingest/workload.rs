//! The deterministic event stream: which events unit `i` has, where event `k`
//! falls, and the body of each batch, written straight into a byte buffer.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{FLAG, RULE, VARIANTS};

/// Units after which the per-unit event pattern repeats (`i % 3`, `i % 5`).
const PERIOD: u64 = 15;

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The deterministic event stream, split into lanes: lane `l` of `L` holds
/// units `l * units / L .. (l + 1) * units / L` (its events form one
/// contiguous part of the stream) and is cut into batches of its own, so a
/// unit's events never share a batch with another lane's. Batch numbers run
/// over lane 0's batches, then lane 1's, and so on.
#[derive(Debug, Clone)]
pub struct Workload {
    pub units: u64,
    pub batch: u64,
    /// Exposure time (epoch ms); clicks are stamped `t0 + 1`, purchases `t0 + 2`.
    pub t0: u64,
    pub lanes: u64,
    /// Events of a period before its unit `j` (`j` in 0..=15).
    prefix: [u64; PERIOD as usize + 1],
    /// Per lane and one past the last: its first batch number.
    first_batch: Vec<u64>,
}

/// What the `offset`-th event of a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Exposure,
    Click,
    Buy,
}

/// Events of unit `i`: the exposure, `i % 3` clicks, a purchase when `i % 5 == 0`.
pub fn events_of(i: u64) -> u64 {
    1 + i % 3 + u64::from(i.is_multiple_of(5))
}

fn kind_of(i: u64, offset: u64) -> EventKind {
    if offset == 0 {
        EventKind::Exposure
    } else if offset <= i % 3 {
        EventKind::Click
    } else {
        EventKind::Buy
    }
}

/// Appends the decimal digits of `n`.
pub(super) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

impl Workload {
    pub fn new(units: u64, batch: u64, t0: u64, lanes: u64) -> Workload {
        let mut prefix = [0u64; PERIOD as usize + 1];
        for j in 0..PERIOD as usize {
            prefix[j + 1] = prefix[j] + events_of(j as u64);
        }
        let mut w = Workload { units, batch: batch.max(1), t0, lanes: lanes.max(1), prefix, first_batch: vec![0] };
        for l in 0..w.lanes {
            let (start, end) = w.lane_events(l);
            w.first_batch.push(w.first_batch[l as usize] + (end - start).div_ceil(w.batch));
        }
        w
    }

    /// The first unit of lane `l` (`l == lanes`: one past the last unit).
    fn lane_unit(&self, l: u64) -> u64 {
        // At most 2^64 / 2^64: computed in u128 so units * l cannot overflow.
        (u128::from(self.units) * u128::from(l.min(self.lanes)) / u128::from(self.lanes)) as u64
    }

    /// Event indexes `start..end` of lane `l`.
    pub fn lane_events(&self, l: u64) -> (u64, u64) {
        (self.unit_start(self.lane_unit(l)), self.unit_start(self.lane_unit(l + 1)))
    }

    /// Batch numbers `first..end` of lane `l`.
    pub fn lane_batches(&self, l: u64) -> (u64, u64) {
        let l = l.min(self.lanes) as usize;
        (self.first_batch[l], self.first_batch[(l + 1).min(self.lanes as usize)])
    }

    /// The events covered when each lane's first `taken[l]` batches were
    /// sent: per lane, `start..end` (beginning at the lane's first unit).
    pub fn covered(&self, taken: &[u64]) -> Vec<(u64, u64)> {
        (0..self.lanes)
            .map(|l| {
                let (first, end) = self.lane_batches(l);
                let n = taken.get(l as usize).copied().unwrap_or(0).min(end - first);
                (self.lane_events(l).0, self.batch_range(first + n).0)
            })
            .collect()
    }

    /// The lane of batch `n` (`lanes` when there is no such batch).
    fn lane_of(&self, n: u64) -> u64 {
        self.first_batch[1..].iter().position(|&f| n < f).map_or(self.lanes, |l| l as u64)
    }

    /// Events in the whole stream.
    pub fn total_events(&self) -> u64 {
        (self.units / PERIOD) * self.prefix[PERIOD as usize] + self.prefix[(self.units % PERIOD) as usize]
    }

    pub fn batches(&self) -> u64 {
        self.first_batch[self.lanes as usize]
    }

    /// The unit of event `k` of the stream and the event's offset within the unit.
    pub fn locate(&self, k: u64) -> (u64, u64) {
        let per_period = self.prefix[PERIOD as usize];
        let (period, rest) = (k / per_period, k % per_period);
        // prefix[0] = 0 <= rest < prefix[15], so some j in 0..15 has prefix[j] <= rest < prefix[j + 1].
        let j = self.prefix[1..].iter().position(|&p| rest < p).unwrap_or(PERIOD as usize - 1);
        (period * PERIOD + j as u64, rest - self.prefix[j])
    }

    /// The index of unit `i`'s first event (its exposure).
    pub fn unit_start(&self, i: u64) -> u64 {
        (i / PERIOD) * self.prefix[PERIOD as usize] + self.prefix[(i % PERIOD) as usize]
    }

    /// Event indexes `start..end` of batch `n` (empty at the stream's end
    /// when there is no such batch).
    pub fn batch_range(&self, n: u64) -> (u64, u64) {
        let l = self.lane_of(n);
        if l == self.lanes {
            let total = self.total_events();
            return (total, total);
        }
        let (lane_start, lane_end) = self.lane_events(l);
        let start = lane_start + (n - self.first_batch[l as usize]) * self.batch;
        (start, start.saturating_add(self.batch).min(lane_end))
    }

    /// Writes the body of batch `n` into `out` (cleared first); returns its event count.
    pub fn write_batch(&self, n: u64, run_id: &str, sent_at: u64, out: &mut Vec<u8>) -> u64 {
        out.clear();
        let (start, end) = self.batch_range(n);
        out.extend_from_slice(b"{\"batchId\":\"");
        out.extend_from_slice(run_id.as_bytes());
        out.push(b'-');
        push_u64(out, n);
        out.extend_from_slice(b"\",\"sentAt\":");
        push_u64(out, sent_at);
        out.extend_from_slice(b",\"events\":[");
        let (mut unit, mut offset) = self.locate(start);
        for k in start..end {
            if k > start {
                out.push(b',');
            }
            self.write_event(unit, offset, out);
            offset += 1;
            if offset == events_of(unit) {
                unit += 1;
                offset = 0;
            }
        }
        out.extend_from_slice(b"]}");
        end - start
    }

    fn write_event(&self, unit: u64, offset: u64, out: &mut Vec<u8>) {
        match kind_of(unit, offset) {
            EventKind::Exposure => {
                out.extend_from_slice(b"{\"kind\":\"exposure\",\"at\":");
                push_u64(out, self.t0);
                out.extend_from_slice(b",\"flag\":\"");
                out.extend_from_slice(FLAG.as_bytes());
                out.extend_from_slice(b"\",\"variant\":\"");
                out.extend_from_slice(VARIANTS[(unit % 2) as usize].as_bytes());
                out.extend_from_slice(b"\",\"rule\":\"");
                out.extend_from_slice(RULE.as_bytes());
                out.extend_from_slice(b"\",\"version\":1,\"bucketBy\":\"key\",\"unit\":\"u");
                push_u64(out, unit);
                out.extend_from_slice(b"\"}");
            }
            EventKind::Click => {
                out.extend_from_slice(b"{\"kind\":\"track\",\"at\":");
                push_u64(out, self.t0 + 1);
                out.extend_from_slice(b",\"event\":\"bench-click\",\"unit\":\"u");
                push_u64(out, unit);
                out.extend_from_slice(b"\"}");
            }
            EventKind::Buy => {
                out.extend_from_slice(b"{\"kind\":\"track\",\"at\":");
                push_u64(out, self.t0 + 2);
                out.extend_from_slice(b",\"event\":\"bench-buy\",\"unit\":\"u");
                push_u64(out, unit);
                out.extend_from_slice(b"\",\"value\":");
                push_u64(out, unit % 100);
                out.push(b'}');
            }
        }
    }

    /// Unit `i`'s value on each of [`METRICS`](super::METRICS) when only its first `kept`
    /// events (the exposure first) were counted.
    pub fn unit_values(i: u64, kept: u64) -> [f64; 3] {
        let clicks = (i % 3).min(kept.saturating_sub(1));
        let bought = i.is_multiple_of(5) && kept >= events_of(i);
        let conv = if bought { 1.0 } else { 0.0 };
        let revenue = if bought { (i % 100) as f64 } else { 0.0 };
        [conv, clicks as f64, revenue]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The stream unit by unit, as (unit, offset) pairs.
    fn walk(units: u64) -> Vec<(u64, u64)> {
        (0..units).flat_map(|i| (0..events_of(i)).map(move |o| (i, o))).collect()
    }

    #[test]
    fn locate_and_totals_match_a_walk() {
        for units in [1, 2, 14, 15, 16, 31, 100, 1001] {
            let w = Workload::new(units, 7, 1, 1);
            let all = walk(units);
            assert_eq!(w.total_events(), all.len() as u64, "{units}");
            for (k, &pair) in all.iter().enumerate() {
                assert_eq!(w.locate(k as u64), pair, "unit count {units}, event {k}");
            }
        }
        // 33 events per 15 units; 1,000,000 units = 66,666 periods (2,199,978 events) + units 0..10 (21 events).
        assert_eq!(Workload::new(1_000_000, 500, 1, 1).total_events(), 2_199_999);
        assert_eq!(Workload::new(1_000_000, 500, 1, 1).batches(), 4_400);
        // Eight lanes of 125,000 units (274,999 or 275,000 events: 550 or 551 batches, the last one short).
        let w = Workload::new(1_000_000, 500, 1, 8);
        assert_eq!((w.batches(), w.lane_batches(3), w.lane_events(1)), (4_402, (1_651, 2_201), (274_999, 549_999)));
        assert_eq!(w.batch_range(549), (274_500, 274_999));
        assert_eq!(w.batch_range(550), (274_999, 275_499));
        assert_eq!(w.batch_range(4_402), (2_199_999, 2_199_999));
    }

    #[test]
    fn batches_parse_and_concatenate_to_the_stream() {
        for (units, batch, lanes) in [(100, 500, 1), (101, 7, 1), (45, 1, 1), (16, 33, 1), (101, 7, 3), (16, 4, 5)] {
            let w = Workload::new(units, batch, 1_764_130_000_000, lanes);
            let mut body = Vec::new();
            let mut events = Vec::new();
            for n in 0..w.batches() {
                let count = w.write_batch(n, "run1", 1_764_130_000_005, &mut body);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(v["batchId"], format!("run1-{n}"));
                assert_eq!(v["sentAt"], 1_764_130_000_005u64);
                let list = v["events"].as_array().unwrap();
                assert_eq!(list.len() as u64, count);
                // Only a lane's last batch is short.
                let last_of_lane = (0..lanes).any(|l| w.lane_batches(l).1 == n + 1);
                assert!(count == batch || last_of_lane, "batch {n} of {units} units in {lanes} lanes: {count}");
                events.extend(list.iter().cloned());
            }
            assert_eq!(events.len() as u64, w.total_events());
            let mut k = 0;
            for i in 0..units {
                let unit = format!("u{i}");
                let e = &events[k];
                assert_eq!(e["kind"], "exposure");
                assert_eq!(e["unit"], unit.as_str());
                assert_eq!(e["variant"], if i % 2 == 0 { "on" } else { "off" });
                assert_eq!(
                    (&e["flag"], &e["rule"], &e["version"], &e["bucketBy"]),
                    (&json!("ingest-bench"), &json!("exp"), &json!(1), &json!("key"))
                );
                assert_eq!(e["at"], 1_764_130_000_000u64);
                k += 1;
                for _ in 0..i % 3 {
                    assert_eq!(
                        events[k],
                        json!({"kind": "track", "at": 1_764_130_000_001u64, "event": "bench-click", "unit": unit})
                    );
                    k += 1;
                }
                if i % 5 == 0 {
                    assert_eq!(
                        events[k],
                        json!({"kind": "track", "at": 1_764_130_000_002u64, "event": "bench-buy", "unit": unit, "value": i % 100})
                    );
                    k += 1;
                }
            }
        }
    }

    #[test]
    fn partial_unit_values() {
        // Unit 20: exposure, 2 clicks, a purchase of 20.
        assert_eq!(Workload::unit_values(20, 4), [1.0, 2.0, 20.0]);
        assert_eq!(Workload::unit_values(20, 3), [0.0, 2.0, 0.0]);
        assert_eq!(Workload::unit_values(20, 2), [0.0, 1.0, 0.0]);
        assert_eq!(Workload::unit_values(20, 1), [0.0, 0.0, 0.0]);
        assert_eq!(Workload::unit_values(7, 2), [0.0, 1.0, 0.0]);
    }
}
