//! The shared-memory block the workers record into: one [`Region`] per scoreboard slot,
//! mapped by the master before any fork so that every worker inherits it, written by the
//! worker in that slot and read by the master when it answers a scrape.
//!
//! Each region has one writer, the worker's event-loop thread (it completes every request,
//! even those a pool thread ran), so counters are a relaxed load and store; the master
//! reads them with relaxed loads. When a worker is reaped the master folds its counters into
//! totals it keeps ([`Counts`]) and zeroes the region before the slot is reused, so a
//! counter never goes down.

use super::histogram::{Histogram, HistogramCounts, bump};
use crate::scoreboard::{CAPACITY, shared_memory};
use std::sync::atomic::{AtomicU64, Ordering};

/// Methods counted apart; any other is counted as `other`.
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
];

/// Status classes; `none` is a request that got no response (the client went away, the
/// worker gave up on it).
pub const CLASSES: [&str; 6] = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];

/// What one worker recorded.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct Region {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    duration: Histogram,
    queue_wait: Histogram,
    received: AtomicU64,
    sent: AtomicU64,
    /// Requests answered 503 for having waited too long (`--max-queue-time`).
    shed: AtomicU64,
    /// Gauges: not folded into the totals when the worker goes.
    in_flight: AtomicU64,
    connections: AtomicU64,
}

/// The counters of one region, or of many added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests by method ([`METHODS`]) and status class ([`CLASSES`]).
    pub requests: [[u64; CLASSES.len()]; METHODS.len()],
    /// Time in the application.
    pub duration: HistogramCounts,
    /// Time from a request being ready to the application being called.
    pub queue_wait: HistogramCounts,
    /// Bytes read from clients.
    pub received: u64,
    /// Bytes written to clients.
    pub sent: u64,
    /// Requests shed (`--max-queue-time`).
    pub shed: u64,
}

impl Counts {
    /// Adds `other` to these.
    pub fn add(&mut self, other: &Counts) {
        for (row, other_row) in self.requests.iter_mut().zip(&other.requests) {
            for (a, b) in row.iter_mut().zip(other_row) {
                *a = a.wrapping_add(*b);
            }
        }
        self.duration.add(&other.duration);
        self.queue_wait.add(&other.queue_wait);
        self.received = self.received.wrapping_add(other.received);
        self.sent = self.sent.wrapping_add(other.sent);
        self.shed = self.shed.wrapping_add(other.shed);
    }
}

/// The index of `method` in [`METHODS`].
#[inline]
pub fn method_index(method: &[u8]) -> usize {
    match method {
        b"GET" => 0,
        b"HEAD" => 1,
        b"POST" => 2,
        b"PUT" => 3,
        b"DELETE" => 4,
        b"PATCH" => 5,
        b"OPTIONS" => 6,
        _ => 7,
    }
}

/// The index of `status`'s class in [`CLASSES`] (0: no response).
#[inline]
pub fn class_index(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100),
        _ => 0,
    }
}

impl Region {
    // ---- the worker's side (one writer) ---------------------------------------------

    /// Counts a request by method and status class (indices from [`method_index`] and
    /// [`class_index`]).
    #[inline]
    pub fn count_request(&self, method: usize, class: usize) {
        bump(
            &self.requests[method % METHODS.len()][class % CLASSES.len()],
            1,
        );
    }

    /// Records how long a request waited for the application and how long it ran.
    #[inline]
    pub fn observe_app(&self, queue_wait_ns: u64, duration_ns: u64) {
        self.queue_wait.observe(queue_wait_ns);
        self.duration.observe(duration_ns);
    }

    /// Counts bytes read from and written to clients.
    #[inline]
    pub fn count_bytes(&self, received: u64, sent: u64) {
        if received != 0 {
            bump(&self.received, received);
        }
        if sent != 0 {
            bump(&self.sent, sent);
        }
    }

    /// Counts a request shed for having waited too long (`--max-queue-time`).
    #[inline]
    pub fn count_shed(&self) {
        bump(&self.shed, 1);
    }

    /// A request went to the application (+1) or came back from it (-1).
    #[inline]
    pub fn add_in_flight(&self, delta: i64) {
        bump(&self.in_flight, delta as u64);
    }

    /// The worker holds `n` client connections.
    #[inline]
    pub fn set_connections(&self, n: usize) {
        self.connections.store(n as u64, Ordering::Relaxed);
    }

    // ---- the master's side ----------------------------------------------------------

    /// The counters now.
    pub fn counts(&self) -> Counts {
        Counts {
            requests: std::array::from_fn(|m| {
                std::array::from_fn(|c| self.requests[m][c].load(Ordering::Relaxed))
            }),
            duration: self.duration.read(),
            queue_wait: self.queue_wait.read(),
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            shed: self.shed.load(Ordering::Relaxed),
        }
    }

    /// Requests in the application now.
    pub fn in_flight(&self) -> u64 {
        // A request's -1 can be seen before its +1 only across a reset; never below 0.
        (self.in_flight.load(Ordering::Relaxed) as i64).max(0) as u64
    }

    /// Client connections open now.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Takes the counters out, leaving the region zeroed for the slot's next worker. Only
    /// once the region's writer is gone (reaped).
    pub fn take(&self) -> Counts {
        let counts = self.counts();
        for row in &self.requests {
            for c in row {
                c.store(0, Ordering::Relaxed);
            }
        }
        self.duration.reset();
        self.queue_wait.reset();
        for c in [
            &self.received,
            &self.sent,
            &self.shed,
            &self.in_flight,
            &self.connections,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        counts
    }
}

/// The mapped regions, one per scoreboard slot.
#[derive(Debug)]
pub struct Block {
    regions: &'static [Region],
}

impl Block {
    /// Maps one zeroed region per scoreboard slot, shared with every future child.
    pub fn new() -> nix::Result<Block> {
        // SAFETY: zero is a valid Region (every counter 0), which holds only atomics and
        // needs 64-byte alignment, less than a page.
        let regions = unsafe { shared_memory::map_zeroed::<Region>(CAPACITY)? };
        Ok(Block { regions })
    }

    /// Region `index` (the scoreboard slot's), if it exists.
    pub fn region(&self, index: usize) -> Option<&'static Region> {
        self.regions.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_counts_and_is_taken_back_to_zero() {
        let block = Block::new().unwrap();
        let region = block.region(9).unwrap();
        region.count_request(method_index(b"GET"), class_index(200));
        region.count_request(method_index(b"BREW"), class_index(0));
        region.count_request(method_index(b"GET"), class_index(200));
        region.observe_app(1_000, 2_000_000);
        region.count_bytes(10, 20);
        region.add_in_flight(1);
        region.add_in_flight(1);
        region.add_in_flight(-1);
        region.set_connections(3);
        let counts = region.counts();
        assert_eq!(counts.requests[0][2], 2);
        assert_eq!(counts.requests[7][0], 1);
        assert_eq!(counts.duration.count(), 1);
        assert_eq!(counts.queue_wait.buckets[0], 1);
        assert_eq!((counts.received, counts.sent), (10, 20));
        assert_eq!((region.in_flight(), region.connections()), (1, 3));
        let mut total = Counts::default();
        total.add(&region.take());
        assert_eq!(total, counts);
        assert_eq!(region.counts(), Counts::default());
        assert_eq!((region.in_flight(), region.connections()), (0, 0));
        assert!(block.region(CAPACITY).is_none());
    }

    #[test]
    fn classes_and_methods() {
        assert_eq!(CLASSES[class_index(101)], "1xx");
        assert_eq!(CLASSES[class_index(404)], "4xx");
        assert_eq!(CLASSES[class_index(599)], "5xx");
        assert_eq!(CLASSES[class_index(0)], "none");
        assert_eq!(CLASSES[class_index(600)], "none");
        assert_eq!(METHODS[method_index(b"OPTIONS")], "OPTIONS");
        assert_eq!(METHODS[method_index(b"get")], "other");
    }
}
