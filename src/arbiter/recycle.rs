//! Recycling: workers replaced after `--max-requests` requests, `--max-worker-lifetime`
//! seconds, or above `--max-worker-memory` of resident memory.
//!
//! The worker counts its own requests and raises a flag in its slot when it reaches its
//! limit (it keeps serving); the master checks ages and samples memory (`/proc/<pid>/status`,
//! once a tick). Either way the worker is marked retiring, and [`super::generation`] replaces
//! it like a HUP would: its replacement is started first, and it is stopped gracefully only
//! once the replacement is ready. Each worker's limits get their own random jitter so that
//! workers started together are not all replaced together.

use super::{Arbiter, TICK};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Why a worker is being replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Retire {
    MaxRequests,
    Lifetime,
    Memory,
}

/// A small pseudo-random generator for jitter (splitmix64): spreading workers' limits needs
/// no cryptographic quality, nor a crate.
#[derive(Debug)]
pub(super) struct Jitter(u64);

impl Jitter {
    pub(super) fn new() -> Jitter {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// A number from 0 to `max`, both included.
    pub(super) fn upto(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        match max.checked_add(1) {
            Some(n) => z % n,
            None => z,
        }
    }
}

/// A process's resident memory in bytes (`VmRSS`), if it can be read.
pub(super) fn resident_bytes(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

impl Arbiter {
    /// Marks serving workers of the current generation that should be replaced.
    pub(super) fn check_retirements(&mut self) {
        let now = Instant::now();
        let memory_limit = self.config.recycle.max_worker_memory;
        let sample_memory = memory_limit.is_some() && now >= self.next_memory_sample;
        if sample_memory {
            self.next_memory_sample = now + TICK;
        }
        let candidates: Vec<_> = self
            .workers
            .iter()
            .filter(|(_, w)| {
                w.stop.is_none()
                    && w.retiring.is_none()
                    && w.generation == self.generation
                    && self.is_ready(w)
            })
            .map(|(pid, _)| *pid)
            .collect();
        for pid in candidates {
            let worker = &self.workers[&pid];
            let slot = worker.slot.and_then(|i| self.scoreboard.slot(i));
            let lived = worker.started.elapsed();
            let reason = if slot.is_some_and(|s| s.wants_retirement()) {
                tracing::info!(
                    "Worker (pid: {pid}) served {} requests (--max-requests); replacing it",
                    slot.map_or(0, |s| s.requests())
                );
                Some(Retire::MaxRequests)
            } else if worker.lifetime.is_some_and(|l| lived >= l) {
                tracing::info!(
                    "Worker (pid: {pid}) has lived {:.1}s (--max-worker-lifetime); replacing it",
                    lived.as_secs_f64()
                );
                Some(Retire::Lifetime)
            } else if let Some(limit) = memory_limit.filter(|_| sample_memory) {
                match resident_bytes(pid.as_raw()) {
                    Some(rss) if rss > limit => {
                        tracing::warn!(
                            "Worker (pid: {pid}) uses {} MiB of memory (--max-worker-memory \
                             {} MiB); replacing it",
                            rss >> 20,
                            limit >> 20
                        );
                        Some(Retire::Memory)
                    }
                    _ => None,
                }
            } else {
                None
            };
            if let Some(worker) = self.workers.get_mut(&pid) {
                worker.retiring = reason;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut jitter = Jitter::new();
        assert_eq!(jitter.upto(0), 0);
        let draws: Vec<u64> = (0..200).map(|_| jitter.upto(10)).collect();
        assert!(draws.iter().all(|&d| d <= 10));
        assert!(draws.iter().any(|&d| d != draws[0]), "{draws:?}");
        let _ = jitter.upto(u64::MAX); // no overflow
    }

    #[test]
    fn own_memory_is_readable() {
        let rss = resident_bytes(std::process::id() as i32).expect("VmRSS");
        assert!(rss > 0);
    }
}
