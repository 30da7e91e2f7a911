//! Summaries of measured samples: the median, the tail, and the spread, so that every
//! figure printed carries how much it moved.

use std::time::Duration;

/// A set of measurements of one quantity, in one unit.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<f64>,
}

/// What is printed for a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub count: usize,
    /// The median.
    pub median: f64,
    /// The 99th percentile (nearest rank).
    pub p99: f64,
    /// The 10th percentile: with `p90`, the spread.
    pub p10: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value.
    pub fn push(&mut self, value: f64) {
        self.values.push(value);
    }

    /// Adds a duration, in milliseconds.
    pub fn push_ms(&mut self, elapsed: Duration) {
        self.values.push(elapsed.as_secs_f64() * 1e3);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.values.extend_from_slice(&other.values);
    }

    /// How many samples.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// The summary; all zero when there is no sample.
    pub fn summary(&self) -> Summary {
        let mut sorted = self.values.clone();
        sorted.sort_by(f64::total_cmp);
        Summary {
            count: sorted.len(),
            median: percentile(&sorted, 50.0),
            p99: percentile(&sorted, 99.0),
            p10: percentile(&sorted, 10.0),
            p90: percentile(&sorted, 90.0),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// `median (p10–p90)` with `digits` decimals, for latencies and repeated throughputs.
    pub fn spread(&self, digits: usize) -> String {
        format!("{:.d$} ({:.d$}–{:.d$})", self.median, self.p10, self.p90, d = digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut samples = Samples::new();
        for v in 1..=100 {
            samples.push(f64::from(v));
        }
        let s = samples.summary();
        assert_eq!((s.median, s.p99, s.p10, s.p90), (50.0, 99.0, 10.0, 90.0));
        assert_eq!((s.min, s.max, s.count), (1.0, 100.0, 100));
        assert_eq!(Samples::new().summary().median, 0.0);
    }
}
