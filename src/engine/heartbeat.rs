//! Progress reports from a worker's request-running threads to its scoreboard slot.
//!
//! The master kills a worker whose slot shows a request without progress for `--timeout`.
//! With a thread pool several requests run at once, so each thread has its own cell and the
//! slot shows the oldest progress among the busy ones: one stuck thread is noticed even while
//! the others keep serving.

use crate::scoreboard::{Slot, now_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every request-running thread's last progress (0: idle), and the slot they report to.
#[derive(Debug)]
pub struct Heartbeats {
    cells: Vec<AtomicU64>,
    slot: Option<&'static Slot>,
}

impl Heartbeats {
    /// One cell per thread that runs requests.
    pub fn new(threads: usize, slot: Option<&'static Slot>) -> Arc<Heartbeats> {
        Arc::new(Heartbeats {
            cells: (0..threads.max(1)).map(|_| AtomicU64::new(0)).collect(),
            slot,
        })
    }

    /// The handle for thread `index`.
    pub fn beat_for(self: &Arc<Self>, index: usize) -> Beat {
        Beat {
            board: self.clone(),
            index: index.min(self.cells.len() - 1),
        }
    }

    fn publish(&self) {
        let Some(slot) = self.slot else { return };
        let oldest = self
            .cells
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .filter(|&t| t != 0)
            .min();
        match oldest {
            Some(since) => slot.set_busy_since(since),
            None => slot.idle(),
        }
    }
}

/// One thread's handle: reports that its request made progress or ended.
#[derive(Clone, Debug)]
pub struct Beat {
    board: Arc<Heartbeats>,
    index: usize,
}

impl Beat {
    /// A request starts running (or resumes) on this thread.
    pub fn start(&self) {
        self.board.cells[self.index].store(now_ms().max(1), Ordering::Relaxed);
        self.board.publish();
    }

    /// The running request made progress (a body chunk in or out); nothing if none runs.
    pub fn progress(&self) {
        let cell = &self.board.cells[self.index];
        if cell.load(Ordering::Relaxed) != 0 {
            cell.store(now_ms().max(1), Ordering::Relaxed);
            self.board.publish();
        }
    }

    /// The request ended, or went back to the event loop to wait for its client.
    pub fn idle(&self) {
        self.board.cells[self.index].store(0, Ordering::Relaxed);
        self.board.publish();
    }

    /// Runs `wait`, a wait for the client, as idle time: client waits have their own deadlines
    /// (`--send-timeout`, `--body-timeout`) and must not count against `--timeout`. A running
    /// request is busy again, from now, once the wait is over.
    pub fn waiting_for_client<R>(&self, wait: impl FnOnce() -> R) -> R {
        let busy = self.board.cells[self.index].swap(0, Ordering::Relaxed) != 0;
        if busy {
            self.board.publish();
        }
        let result = wait();
        if busy {
            self.start();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoreboard::Scoreboard;

    #[test]
    fn the_slot_shows_the_oldest_busy_thread() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(3).unwrap();
        let beats = Heartbeats::new(2, Some(slot));
        let (a, b) = (beats.beat_for(0), beats.beat_for(1));
        a.start();
        let first = slot.busy_since();
        b.start();
        assert_eq!(slot.busy_since(), first, "the older beat wins");
        a.idle();
        assert!(slot.busy_since() >= first);
        b.idle();
        assert_eq!(slot.stalled_for(), None);
        b.progress();
        assert_eq!(
            slot.stalled_for(),
            None,
            "progress does not make an idle thread busy"
        );
    }
}
