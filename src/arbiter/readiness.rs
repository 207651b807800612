//! The server's readiness, concluded on every pass of the master's loop and published in
//! the scoreboard's server header, where health probes read it ([`crate::health`]): whoever
//! answers a probe (the master, a worker) tells the same truth, and the heartbeat that
//! comes with it lets a reader tell a master that stopped passing.
//!
//! Ready means every worker of the current generation serves: so during a HUP reload the
//! server is not ready (503) until the new generation is, although the old one still
//! serves; a load balancer then prefers the other instances while this one reloads.

use super::{Arbiter, Phase};
use crate::scoreboard::{Readiness, ServerPhase, Slot, now_ms};

impl Arbiter {
    /// Concludes the server's readiness from the worker table and the slots, and publishes
    /// it with a fresh heartbeat.
    pub(super) fn publish_readiness(&self) {
        let timeout = self.config.workers.timeout;
        let (mut ready, mut answering, mut last_shed_ms) = (0u32, 0u32, 0u64);
        for worker in self.workers.values() {
            let slot = worker.slot.and_then(|i| self.scoreboard.slot(i));
            if let Some(slot) = slot {
                last_shed_ms = last_shed_ms.max(slot.last_shed_ms());
            }
            if !self.is_ready(worker) {
                continue;
            }
            // A worker stuck in its request beyond --timeout, or being killed for it,
            // answers nobody.
            let stuck = worker.aborted.is_some()
                || worker.killed
                || timeout
                    .is_some_and(|t| slot.and_then(Slot::stalled_for).is_some_and(|s| s >= t));
            if !stuck {
                answering += 1;
            }
            if worker.generation == self.generation && worker.stop.is_none() {
                ready += 1;
            }
        }
        let phase = match self.phase {
            Phase::Running if ready > 0 && ready >= self.target => ServerPhase::Ready,
            Phase::Running => ServerPhase::Booting,
            Phase::DrainDelay { .. } | Phase::Stopping { .. } => ServerPhase::Draining,
        };
        self.scoreboard.server().publish(&Readiness {
            phase,
            generation: self.generation,
            ready,
            target: self.target,
            answering,
            heartbeat_ms: now_ms(),
            last_shed_ms,
        });
    }
}
