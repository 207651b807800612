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
//!
//! `--soft-timeout`'s watcher ([`super::soft_timeout`]) reads the same cells: each names the
//! thread running its request, and says whether an exception was raised in it.

use crate::scoreboard::{Seat, Slot, now_ms};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// One request-running thread's state.
#[derive(Debug)]
struct Cell {
    /// Last progress of its request ([`now_ms`] time); 0: idle.
    since: AtomicU64,
    /// Its request line (pool threads only; one thread writes the slot itself).
    line: Slot,
    /// The thread running its request (`pthread_self`, which is Python's thread id).
    thread: AtomicU64,
    /// The soft-timeout watcher raised an exception in that thread for its request.
    raised: AtomicBool,
}

/// Every request-running thread's last progress, and the slot they report to.
#[derive(Debug)]
pub struct Heartbeats {
    cells: Vec<Cell>,
    seat: Option<Seat>,
    /// Pool threads publish under this lock; it holds the cell whose line the slot shows.
    shown: Mutex<Option<usize>>,
    /// A soft-timeout watcher reads the cells: ending a request then also checks whether
    /// an exception was raised for it (otherwise that costs nothing).
    watched: AtomicBool,
}

impl Heartbeats {
    /// One cell per thread that runs requests.
    pub fn new(threads: usize, seat: Option<Seat>) -> Arc<Heartbeats> {
        Arc::new(Heartbeats {
            cells: (0..threads.max(1))
                .map(|_| Cell {
                    since: AtomicU64::new(0),
                    line: Slot::local(),
                    thread: AtomicU64::new(0),
                    raised: AtomicBool::new(false),
                })
                .collect(),
            seat,
            shown: Mutex::new(None),
            watched: AtomicBool::new(false),
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

    /// A soft-timeout watcher starts reading the cells (before any request runs).
    pub fn watch(&self) {
        self.watched.store(true, Ordering::Relaxed);
    }

    /// How many request-running threads report here (one cell each).
    pub fn threads(&self) -> usize {
        self.cells.len()
    }

    /// Cell `index` as the soft-timeout watcher sees it: the last progress of its request
    /// and the thread running it; `None` when idle, already interrupted, or without a seat
    /// (no progress is recorded then).
    pub fn running(&self, index: usize) -> Option<(u64, u64)> {
        self.seat?;
        let cell = self.cells.get(index)?;
        let since = cell.since.load(Ordering::SeqCst);
        if since == 0 || cell.raised.load(Ordering::SeqCst) {
            return None;
        }
        Some((since, cell.thread.load(Ordering::Relaxed)))
    }

    /// The request line cell `index` runs (`GET /path`), for the log.
    pub fn line(&self, index: usize) -> String {
        let line = match (self.seat, self.single()) {
            (Some(seat), true) => seat.slot.request(),
            _ => self.cells.get(index).and_then(|c| c.line.request()),
        };
        line.map_or_else(|| "a request".to_owned(), |r| r.line)
    }

    /// Marks cell `index` as interrupted if its request is still the one seen running since
    /// `since`; the caller then raises in its thread. Paired with [`Beat::idle`], which
    /// clears an exception raised too late (see there).
    pub fn claim_interrupt(&self, index: usize, since: u64) -> bool {
        let Some(cell) = self.cells.get(index) else {
            return false;
        };
        cell.raised.store(true, Ordering::SeqCst);
        if cell.since.load(Ordering::SeqCst) == since {
            return true;
        }
        cell.raised.store(false, Ordering::SeqCst);
        false
    }

    /// A request was shed (`--max-queue-time`): counted in the slot, not as served (it
    /// never reached the app, so it brings no `--max-requests` replacement closer).
    pub fn shed(&self) {
        if let Some(seat) = self.seat {
            let now = now_ms();
            let before = seat.slot.last_shed_ms();
            seat.slot.record_shed(now);
            // The first shed in a second wakes the master, so readiness turns down at once
            // rather than on its next tick; at most one system call a second.
            if now.saturating_sub(before) >= 1000 {
                seat.ring();
            }
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
        let cell = &board.cells[self.index];
        cell.thread.store(current_thread(), Ordering::Relaxed);
        if board.single() {
            cell.since.store(now, Ordering::Relaxed);
            seat.slot.start_request(method, path, now);
            return;
        }
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
        if !self.board.watched.load(Ordering::Relaxed) {
            return;
        }
        // The watcher marks `raised` before checking `since`, and this thread cleared
        // `since` before looking at `raised` (both SeqCst): so either the watcher saw the
        // request end and raised nothing, or this sees the mark and drops an exception that
        // may not have landed yet, which would otherwise hit this thread's next request.
        let cell = &self.board.cells[self.index];
        if cell.raised.load(Ordering::SeqCst) {
            crate::wsgi::interrupt::clear_pending(cell.thread.load(Ordering::Relaxed));
            cell.raised.store(false, Ordering::SeqCst);
        }
    }

    fn mark(&self, since: u64) {
        let board = &*self.board;
        let Some(seat) = board.seat else { return };
        let order = if board.watched.load(Ordering::Relaxed) {
            // Ordered against the watcher's `raised` mark: see `idle`.
            Ordering::SeqCst
        } else {
            Ordering::Relaxed
        };
        board.cells[self.index].since.store(since, order);
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

/// The calling thread's id as Python knows it (`threading.get_ident()`).
fn current_thread() -> u64 {
    // SAFETY: pthread_self has no preconditions; it reads the thread's own pointer.
    unsafe { nix::libc::pthread_self() as u64 }
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
    fn an_interrupt_is_claimed_only_for_the_request_seen() {
        let board = Scoreboard::new().unwrap();
        let seat = board.seat(6).unwrap();
        seat.slot.claim(1, 0);
        let beats = Heartbeats::new(2, Some(seat));
        beats.watch();
        let beat = beats.beat_for(1);
        assert_eq!(beats.running(1), None, "idle");
        beat.start(b"GET", b"/slow");
        let (since, thread) = beats.running(1).expect("running");
        assert_ne!(thread, 0);
        assert_eq!(beats.line(1), "GET /slow");
        assert!(!beats.claim_interrupt(1, since + 1), "another request");
        assert_eq!(beats.running(1), Some((since, thread)), "not marked");
        assert!(beats.claim_interrupt(1, since));
        assert_eq!(beats.running(1), None, "interrupted once only");
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
