//! The latency histograms' fixed buckets, and one histogram as the worker writes it.
//!
//! Buckets are fixed and log-spaced (1, 2.5, 5 per decade, from 0.5 ms to 30 s) so that
//! every worker's histograms add up, and recording costs a short scan from the smallest
//! bucket (a fast request stops at the first) plus two relaxed stores: no division, no
//! float, no locked instruction.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the finite buckets, in nanoseconds; a last bucket (`+Inf`) takes the
/// rest.
pub const BOUNDS_NS: [u64; 15] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// The bounds as the exposition writes them (`le` label values, in seconds).
pub const BOUNDS_LABEL: [&str; 15] = [
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0",
    "2.5", "5.0", "10.0", "30.0",
];

/// Counters per histogram: the finite buckets and `+Inf`.
pub const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// The bucket a duration of `ns` nanoseconds falls in (bounds are inclusive, as `le` says).
#[inline]
pub fn bucket_of(ns: u64) -> usize {
    BOUNDS_NS
        .iter()
        .position(|&b| ns <= b)
        .unwrap_or(BOUNDS_NS.len())
}

/// One histogram in shared memory: a count per bucket (not cumulative) and the sum.
#[repr(C)]
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

/// A histogram's values, read out or added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistogramCounts {
    /// Observations per bucket, not cumulative.
    pub buckets: [u64; BUCKETS],
    /// Sum of the observations, in nanoseconds.
    pub sum_ns: u64,
}

impl HistogramCounts {
    /// Adds `other`'s observations to these.
    pub fn add(&mut self, other: &HistogramCounts) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a = a.wrapping_add(b);
        }
        self.sum_ns = self.sum_ns.wrapping_add(other.sum_ns);
    }

    /// Observations in all.
    pub fn count(&self) -> u64 {
        self.buckets.iter().fold(0, |a, b| a.wrapping_add(*b))
    }
}

impl Histogram {
    /// Records one observation. One writer only (see [`bump`]).
    #[inline]
    pub fn observe(&self, ns: u64) {
        bump(&self.buckets[bucket_of(ns)], 1);
        bump(&self.sum_ns, ns);
    }

    /// The histogram's values now.
    pub fn read(&self) -> HistogramCounts {
        HistogramCounts {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
        }
    }

    /// Back to zero (its writer is gone).
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.sum_ns.store(0, Ordering::Relaxed);
    }
}

/// Adds `n` to a counter that has one writer: a load and a store, not a locked
/// read-modify-write (readers in other processes see either value, never a torn one).
#[inline]
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_overflow_goes_to_inf() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(500_000), 0);
        assert_eq!(bucket_of(500_001), 1);
        assert_eq!(bucket_of(30_000_000_000), 14);
        assert_eq!(bucket_of(u64::MAX), 15);
        assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
        for (ns, label) in BOUNDS_NS.iter().zip(BOUNDS_LABEL) {
            let secs: f64 = label.parse().unwrap();
            assert_eq!((secs * 1e9).round() as u64, *ns, "{label}");
        }
    }

    #[test]
    fn observations_add_up() {
        let h = Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum_ns: AtomicU64::new(0),
        };
        h.observe(100);
        h.observe(2_000_000);
        h.observe(40_000_000_000);
        let c = h.read();
        assert_eq!(c.count(), 3);
        assert_eq!(c.buckets[0], 1);
        assert_eq!(c.buckets[2], 1);
        assert_eq!(c.buckets[15], 1);
        assert_eq!(c.sum_ns, 40_002_000_100);
        let mut total = HistogramCounts::default();
        total.add(&c);
        total.add(&c);
        assert_eq!(total.count(), 6);
        h.reset();
        assert_eq!(h.read(), HistogramCounts::default());
    }
}
