//! Shared memory between the master and its workers: one slot per worker, mapped once by the
//! master before any fork, so every worker inherits it and no heartbeat touches the disk.
//!
//! Today a slot holds when the worker last made progress on a request (0 when idle); the
//! master kills a worker whose request has made no progress for `--timeout`. The slot layout
//! is the place to grow state, counters and the request in progress (for metrics later).

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::time::{ClockId, clock_gettime};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Slots mapped; more workers than this run without a watchdog (the config allows 1024, and
/// TTIN can add more).
pub const CAPACITY: usize = 4096;

/// One worker's shared state.
#[repr(C)]
#[derive(Debug)]
pub struct Slot {
    /// CLOCK_MONOTONIC milliseconds of the last progress on the request in progress; 0 when
    /// the worker is between requests.
    busy_since: AtomicU64,
}

impl Slot {
    /// The worker starts a request or makes progress on one (a body chunk in or out).
    pub fn beat(&self) {
        self.busy_since.store(now_ms().max(1), Ordering::Relaxed);
    }

    /// Records that the oldest request in progress last made progress at `since_ms`
    /// ([`now_ms`] time).
    pub fn set_busy_since(&self, since_ms: u64) {
        self.busy_since.store(since_ms.max(1), Ordering::Relaxed);
    }

    /// When the oldest request in progress last made progress ([`now_ms`] time); 0 when idle.
    pub fn busy_since(&self) -> u64 {
        self.busy_since.load(Ordering::Relaxed)
    }

    /// The worker is between requests.
    pub fn idle(&self) {
        self.busy_since.store(0, Ordering::Relaxed);
    }

    /// How long the request in progress has gone without progress, if there is one.
    pub fn stalled_for(&self) -> Option<Duration> {
        match self.busy_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(now_ms().saturating_sub(since))),
        }
    }
}

/// The mapped slots.
#[derive(Debug)]
pub struct Scoreboard {
    slots: &'static [Slot],
}

impl Scoreboard {
    /// Maps [`CAPACITY`] zeroed slots shared with every future child.
    pub fn new() -> nix::Result<Scoreboard> {
        let len = NonZeroUsize::new(CAPACITY * std::mem::size_of::<Slot>())
            .expect("the scoreboard is not empty");
        // SAFETY: an anonymous mapping has no aliasing requirements; we check the result.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )?
        };
        // SAFETY: the mapping is page-aligned (enough for AtomicU64), zero-filled (a valid
        // idle Slot), exactly CAPACITY slots long, and never unmapped, so a 'static slice is
        // sound; all access is through atomics, which are sound on memory shared between
        // processes.
        let slots = unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<Slot>(), CAPACITY) };
        Ok(Scoreboard { slots })
    }

    /// Slot `index`, if it exists.
    pub fn slot(&self, index: usize) -> Option<&'static Slot> {
        self.slots.get(index)
    }
}

/// CLOCK_MONOTONIC in milliseconds: the clock slots are read against, the same in every
/// process.
pub fn now_ms() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_start_idle_and_report_stalls() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(7).unwrap();
        assert_eq!(slot.stalled_for(), None);
        slot.beat();
        assert!(slot.stalled_for().is_some());
        slot.idle();
        assert_eq!(slot.stalled_for(), None);
        assert!(board.slot(CAPACITY).is_none());
    }
}
