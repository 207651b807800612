//! The server-wide part of the scoreboard: what the master concluded about the whole server
//! on its last pass (booting, ready, draining; how many workers serve; when it last looked),
//! published in shared memory so that any process (the master's own listeners, a worker
//! answering a health probe on the main listener) reads the same truth without asking
//! anyone.
//!
//! The master is the only writer. Each field is its own atomic: a reader may see one pass's
//! phase with the next pass's counts, which a probe tolerates (they agree within a pass).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Where the server as a whole is, as the master last published it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerPhase {
    /// The current generation is not all ready yet (first boot, a reload, a respawn).
    Booting,
    /// Every worker of the current generation serves.
    Ready,
    /// A stop began (TERM): the server still serves, but wants no new work.
    Draining,
}

const BOOTING: u32 = 0;
const READY: u32 = 1;
const DRAINING: u32 = 2;

/// One pass's conclusions, as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// The server's phase.
    pub phase: ServerPhase,
    /// The current generation.
    pub generation: u64,
    /// Workers of the current generation that serve now.
    pub ready: u32,
    /// Workers wanted.
    pub target: u32,
    /// Workers of any generation that would answer a request now: ready or busy, and not
    /// stalled beyond `--timeout`.
    pub answering: u32,
    /// When the master published this ([`super::now_ms`] time): its liveness heartbeat.
    pub heartbeat_ms: u64,
    /// The latest time a worker refused a request for load (`--max-queue-time`), as the
    /// master gathered it from the slots; 0: never.
    pub last_shed_ms: u64,
}

/// The shared header the master writes once per pass.
#[repr(C)]
#[derive(Debug)]
pub struct ServerState {
    phase: AtomicU32,
    ready: AtomicU32,
    target: AtomicU32,
    answering: AtomicU32,
    generation: AtomicU64,
    heartbeat_ms: AtomicU64,
    last_shed_ms: AtomicU64,
}

impl ServerState {
    /// The master's pass: publishes what it concluded. The heartbeat is stored last, with
    /// release ordering, so a reader that sees a fresh heartbeat sees that pass's values.
    pub fn publish(&self, r: &Readiness) {
        let phase = match r.phase {
            ServerPhase::Booting => BOOTING,
            ServerPhase::Ready => READY,
            ServerPhase::Draining => DRAINING,
        };
        self.phase.store(phase, Ordering::Relaxed);
        self.ready.store(r.ready, Ordering::Relaxed);
        self.target.store(r.target, Ordering::Relaxed);
        self.answering.store(r.answering, Ordering::Relaxed);
        self.generation.store(r.generation, Ordering::Relaxed);
        self.last_shed_ms.store(r.last_shed_ms, Ordering::Relaxed);
        self.heartbeat_ms.store(r.heartbeat_ms, Ordering::Release);
    }

    /// What the master last published (all zero, booting, before its first pass).
    pub fn read(&self) -> Readiness {
        let heartbeat_ms = self.heartbeat_ms.load(Ordering::Acquire);
        let phase = match self.phase.load(Ordering::Relaxed) {
            READY => ServerPhase::Ready,
            DRAINING => ServerPhase::Draining,
            _ => ServerPhase::Booting,
        };
        Readiness {
            phase,
            generation: self.generation.load(Ordering::Relaxed),
            ready: self.ready.load(Ordering::Relaxed),
            target: self.target.load(Ordering::Relaxed),
            answering: self.answering.load(Ordering::Relaxed),
            heartbeat_ms,
            last_shed_ms: self.last_shed_ms.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_pass_reads_back() {
        let board = super::super::Scoreboard::new().unwrap();
        let state = board.server();
        assert_eq!(state.read().phase, ServerPhase::Booting);
        assert_eq!(state.read().heartbeat_ms, 0, "no pass yet");
        let pass = Readiness {
            phase: ServerPhase::Draining,
            generation: 3,
            ready: 2,
            target: 4,
            answering: 5,
            heartbeat_ms: 1234,
            last_shed_ms: 99,
        };
        state.publish(&pass);
        assert_eq!(state.read(), pass);
    }
}
