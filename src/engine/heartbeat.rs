//! Progress reports from a worker's request-running threads to its scoreboard slot.
//!
//! The master times out a worker whose slot shows a request without progress for
//! `--timeout`, and names that request (method and path) in the log. With a thread pool
//! several requests run at once, so each thread has its own cell and the slot shows the
//! oldest progress among the busy ones, with that request's line: one stuck thread is
//! noticed even while the others keep serving.
//!
//! With one thread (the default, and the hot path) the loop thread writes the slot directly:
//! one clock read and a few relaxed stores per request. With a pool, publishing the oldest
//! cell takes a short lock, since two threads must not write the slot's seqlock at once.

use crate::scoreboard::{Seat, Slot, now_ms};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// One request-running thread's state.
#[derive(Debug)]
struct Cell {
    /// Last progress of its request ([`now_ms`] time); 0: idle.
    since: AtomicU64,
    /// Its request line (pool threads only; one thread writes the slot itself).
    line: Slot,
}

/// Every request-running thread's last progress, and the slot they report to.
#[derive(Debug)]
pub struct Heartbeats {
    cells: Vec<Cell>,
    seat: Option<Seat>,
    /// Pool threads publish under this lock; it holds the cell whose line the slot shows.
    shown: Mutex<Option<usize>>,
}

impl Heartbeats {
    /// One cell per thread that runs requests.
    pub fn new(threads: usize, seat: Option<Seat>) -> Arc<Heartbeats> {
        Arc::new(Heartbeats {
            cells: (0..threads.max(1))
                .map(|_| Cell {
                    since: AtomicU64::new(0),
                    line: Slot::local(),
                })
                .collect(),
            seat,
            shown: Mutex::new(None),
        })
    }

    /// The handle for thread `index`.
    pub fn beat_for(self: &Arc<Self>, index: usize) -> Beat {
        Beat {
            board: self.clone(),
            index: index.min(self.cells.len() - 1),
        }
    }

    /// The worker's seat, if it has one.
    pub fn seat(&self) -> Option<Seat> {
        self.seat
    }

    /// A request was answered: counts it, and once the worker has served its
    /// `--max-requests`, asks the master for a replacement (the worker keeps serving until
    /// the master stops it, gracefully, once the replacement is ready).
    pub fn served(&self) {
        let Some(seat) = self.seat else { return };
        let (count, reached) = seat.slot.served();
        if reached {
            tracing::info!(
                "Worker (pid: {}) has served {count} requests (--max-requests); asking to be \
                 replaced",
                std::process::id()
            );
            seat.slot.want_retirement();
            seat.ring();
        }
    }

    /// A request was shed (`--max-queue-time`): counted in the slot, not as served (it
    /// never reached the app, so it brings no `--max-requests` replacement closer).
    pub fn shed(&self) {
        if let Some(seat) = self.seat {
            seat.slot.record_shed(now_ms());
        }
    }

    fn single(&self) -> bool {
        self.cells.len() == 1
    }

    /// Pool threads: shows the oldest busy cell in the slot. `me` just changed.
    fn publish(&self, me: usize) {
        let Some(seat) = self.seat else { return };
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = self
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.since.load(Ordering::Relaxed), i))
            .filter(|&(t, _)| t != 0)
            .min();
        match oldest {
            Some((since, index)) => {
                // A thread that just started a request is the oldest only when alone, and
                // then its line is new even if the index is not.
                if *shown != Some(index) || index == me {
                    seat.slot.copy_request_from(&self.cells[index].line);
                    *shown = Some(index);
                }
                seat.slot.set_busy_since(since);
            }
            None => seat.slot.idle(),
        }
    }
}

/// One thread's handle: reports that its request started, made progress or ended.
#[derive(Clone, Debug)]
pub struct Beat {
    board: Arc<Heartbeats>,
    index: usize,
}

impl Beat {
    /// A request starts running on this thread.
    pub fn start(&self, method: &[u8], path: &[u8]) {
        let board = &*self.board;
        let Some(seat) = board.seat else { return };
        let now = now_ms().max(1);
        if board.single() {
            board.cells[0].since.store(now, Ordering::Relaxed);
            seat.slot.start_request(method, path, now);
            return;
        }
        let cell = &board.cells[self.index];
        cell.line.start_request(method, path, now);
        cell.since.store(now, Ordering::Relaxed);
        board.publish(self.index);
    }

    /// A request paused on this thread resumes (its line is unchanged).
    pub fn resume(&self) {
        self.mark(now_ms().max(1));
    }

    /// The running request made progress (a body chunk in or out); nothing if none runs.
    pub fn progress(&self) {
        if self.board.cells[self.index].since.load(Ordering::Relaxed) != 0 {
            self.mark(now_ms().max(1));
        }
    }

    /// The request ended, or went back to the event loop to wait for its client.
    pub fn idle(&self) {
        self.mark(0);
    }

    fn mark(&self, since: u64) {
        let board = &*self.board;
        let Some(seat) = board.seat else { return };
        board.cells[self.index]
            .since
            .store(since, Ordering::Relaxed);
        if board.single() {
            if since == 0 {
                seat.slot.idle();
            } else {
                seat.slot.set_busy_since(since);
            }
        } else {
            board.publish(self.index);
        }
    }

    /// Runs `wait`, a wait for the client, as idle time: client waits have their own deadlines
    /// (`--send-timeout`, `--body-timeout`) and must not count against `--timeout`. A running
    /// request is busy again, from now, once the wait is over.
    pub fn waiting_for_client<R>(&self, wait: impl FnOnce() -> R) -> R {
        let busy = self.board.cells[self.index].since.load(Ordering::Relaxed) != 0;
        if busy {
            self.idle();
        }
        let result = wait();
        if busy {
            self.resume();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoreboard::{Scoreboard, State};

    #[test]
    fn the_slot_shows_the_oldest_busy_thread() {
        let board = Scoreboard::new().unwrap();
        let seat = board.seat(3).unwrap();
        seat.slot.claim(1, 0);
        seat.slot.set_ready();
        let beats = Heartbeats::new(2, Some(seat));
        let (a, b) = (beats.beat_for(0), beats.beat_for(1));
        a.start(b"GET", b"/a");
        let first = seat.slot.busy_since();
        b.start(b"GET", b"/b");
        assert_eq!(seat.slot.busy_since(), first, "the older beat wins");
        assert_eq!(seat.slot.request().unwrap().line, "GET /a");
        a.idle();
        assert!(seat.slot.busy_since() >= first);
        assert_eq!(
            seat.slot.request().unwrap().line,
            "GET /b",
            "now the oldest"
        );
        b.idle();
        assert_eq!(seat.slot.stalled_for(), None);
        assert_eq!(seat.slot.state(), State::Ready);
        b.progress();
        assert_eq!(
            seat.slot.stalled_for(),
            None,
            "progress does not make an idle thread busy"
        );
    }

    #[test]
    fn one_thread_writes_the_slot_directly() {
        let board = Scoreboard::new().unwrap();
        let seat = board.seat(4).unwrap();
        seat.slot.claim(1, 0);
        seat.slot.set_ready();
        let beats = Heartbeats::new(1, Some(seat));
        let beat = beats.beat_for(0);
        beat.start(b"PUT", b"/x");
        assert_eq!(seat.slot.state(), State::Busy);
        assert_eq!(seat.slot.request().unwrap().line, "PUT /x");
        beat.waiting_for_client(|| assert_eq!(seat.slot.state(), State::Ready));
        assert_eq!(seat.slot.state(), State::Busy);
        beat.idle();
        assert_eq!(seat.slot.state(), State::Ready);
    }

    #[test]
    fn reaching_the_request_limit_asks_for_retirement() {
        let board = Scoreboard::new().unwrap();
        let seat = board.seat(5).unwrap();
        seat.slot.claim(1, 2);
        let beats = Heartbeats::new(1, Some(seat));
        beats.served();
        assert!(!seat.slot.wants_retirement());
        beats.served();
        assert!(seat.slot.wants_retirement());
        assert_eq!(seat.slot.requests(), 2);
    }
}
