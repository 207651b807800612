//! Holding finished responses until the loop has run the other requests that are ready.
//!
//! With `--threads 1` the app runs on the loop thread, one ready request after another.
//! Sending each response the moment it is complete puts the kernel's whole send path
//! (TCP, loopback or NIC, waking the client or the proxy in front, which then often
//! preempts the worker on its own core) between every two app calls: the app's code and
//! data are evicted between calls and run measurably slower. bjoern sends every response
//! of a batch at its next loop turn, for the same effect. So a complete response that fits
//! [`HOLD_MAX`] is held ([`super::conn::Phase::Held`]) and sent once the batch of events
//! epoll returned has been served, before the loop waits again. A response completed
//! with nothing held and no event left in the batch goes out at once: a lone request (an
//! idle server, one connection) is never held, and pays nothing for this (`bench/callgrind.sh
//! 500`: 13,997 instructions a hello, 14,062 before holding existed, 14,353 holding every
//! one); only requests that were waiting anyway, behind the ones before them, are sent
//! together.
//!
//! Measured (2 workers, wrk with 64 keep-alive connections on the same 2 cores, CPU per
//! request of the workers, runs interleaved, `bench/RESULTS.md` for the full run): the Flask
//! page from 190 to 169 µs a request (bjoern 182), the Django page from 1,280 to 1,059 µs
//! (bjoern 1,131), with p99 70 ms against 76-83. Sending the batch every millisecond kept
//! only half of that, every 10-25 ms most of it.
//!
//! The held responses go out together, in one io_uring submission where the kernel allows
//! ([`super::burst`]), so that a peer on the worker's CPU is woken once per batch.
//!
//! What bounds the wait: the batch (at most 256 events), and before each app call the loop
//! sends what it holds once the oldest has waited [`HOLD_FOR`] or [`HOLD_BYTES`] are held,
//! so with a slow app a response waits at most that plus one app call.
//!
//! A held response is also registered with the loop thread's timeout slot
//! ([`super::abort::InFlight::hold`]): if a later request of the batch hangs until
//! `--timeout`, the abort sends the held responses before the worker exits, so no
//! finished response is lost to a stuck neighbour.

use super::Engine;
use super::burst::Outgoing;
use super::conn::{After, Phase};
use super::exchange::Exchange;
use crate::http::request::RequestHead;
use std::time::{Duration, Instant};

/// The largest unsent response that is held: larger ones go out at once (the copy kept for
/// the timeout abort stays small, and a large body's own send cost dwarfs what batching
/// saves).
pub(super) const HOLD_MAX: usize = 64 * 1024;

/// How long held responses may keep waiting before the loop runs another request: longer
/// than a batch of a few dozen typical pages (the bench's Django page: 32 in 40 ms), short
/// against a client's patience.
pub(super) const HOLD_FOR: Duration = Duration::from_millis(50);

/// Held bytes past which the loop sends them before it runs another request (the timeout
/// abort keeps a copy).
pub(super) const HOLD_BYTES: usize = 256 * 1024;

/// The loop's held responses: connection keys in the order they completed.
#[derive(Default)]
pub(super) struct Held {
    keys: Vec<(usize, After)>,
    /// Their unsent bytes.
    bytes: usize,
    /// When the oldest was held.
    since: Option<Instant>,
    /// Sending them: a response completed meanwhile (a pipelined request's) goes out at once.
    releasing: bool,
    /// Events of the batch after the one being served: with none, and nothing held, a
    /// response goes out at once (a lone request's batch ends with it).
    pub(super) batch_left: usize,
    /// Scratch for [`Engine::send_held_at_once`], kept to reuse its allocation.
    out: Vec<Outgoing>,
    out_keys: Vec<usize>,
    sent: Vec<usize>,
}

impl Engine<'_> {
    /// Holds connection `key`'s complete response, `ex`, if it may wait for the batch's end;
    /// gives `ex` back otherwise (to be sent now).
    #[inline]
    pub(super) fn hold(
        &mut self,
        key: usize,
        head: &RequestHead,
        after: After,
        mut ex: Box<Exchange>,
    ) -> Option<Box<Exchange>> {
        let Some(slot) = self.inflight.as_ref() else {
            return Some(ex);
        };
        let unsent = match ex.plain_unsent() {
            Some(unsent) if !unsent.is_empty() && unsent.len() <= HOLD_MAX => unsent,
            _ => return Some(ex),
        };
        if self.held.releasing || (self.held.batch_left == 0 && self.held.keys.is_empty()) {
            return Some(ex);
        }
        let Some(fd) = self.conns.get_mut(key).map(|c| c.fd) else {
            return Some(ex);
        };
        slot.hold(fd, unsent);
        self.held.bytes += unsent.len();
        self.record(&mut ex, Some(head));
        let conn = self
            .conns
            .get_mut(key)
            .expect("the connection was there a moment ago");
        conn.ex = Some(ex);
        conn.phase = Phase::Held;
        if self.held.keys.is_empty() {
            self.held.since = Some(self.now.max(self.last_clock.get()));
        }
        self.held.keys.push((key, after));
        None
    }

    /// Before an app call on the loop thread: sends what has been held for [`HOLD_FOR`], or
    /// past [`HOLD_BYTES`].
    #[inline]
    pub(super) fn release_stale(&mut self) {
        if let Some(since) = self.held.since {
            let now = Instant::now();
            self.last_clock.set(now);
            if now.saturating_duration_since(since) >= HOLD_FOR || self.held.bytes > HOLD_BYTES {
                self.release_held();
            }
        }
    }

    /// Sends every held response, in the order they completed, and goes on with each
    /// connection as if it had been sent at once.
    pub(super) fn release_held(&mut self) {
        if self.held.keys.is_empty() {
            return;
        }
        if let Some(slot) = &self.inflight {
            slot.release();
        }
        self.held.since = None;
        self.held.bytes = 0;
        self.held.releasing = true;
        let mut keys = std::mem::take(&mut self.held.keys);
        if keys.len() > 1 {
            self.send_held_at_once(&keys);
        }
        for &(key, after) in &keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if !matches!(conn.phase, Phase::Held) {
                continue;
            }
            conn.phase = Phase::Flushing(after);
            if self.on_flushable(key, after) {
                // The request was counted when it was held; its bytes count once sent.
                if let (Some(region), Some(ex)) = (
                    self.metrics,
                    self.conns.get_mut(key).and_then(|c| c.ex.as_mut()),
                ) {
                    super::measure::count_wire(region, ex);
                }
                self.rewatch(key);
            }
        }
        keys.clear();
        self.held.keys = keys;
        self.held.releasing = false;
    }

    /// Sends the held responses of `keys` in one submission where the worker has a ring
    /// ([`super::burst`]); what a socket did not take is left for the ordinary path.
    fn send_held_at_once(&mut self, keys: &[(usize, After)]) {
        let Some(burst) = self.burst.as_mut() else {
            return;
        };
        if !self
            .inflight
            .as_ref()
            .is_some_and(|slot| slot.claim_write())
        {
            return;
        }
        let held = &mut self.held;
        held.out.clear();
        held.out_keys.clear();
        // Each key is here once: a held connection runs nothing more until it is released.
        for &(key, _) in keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if !matches!(conn.phase, Phase::Held) {
                continue;
            }
            if let Some(unsent) = conn.ex.as_ref().and_then(|ex| ex.plain_unsent()) {
                held.out.push(Outgoing {
                    fd: conn.fd,
                    ptr: unsent.as_ptr(),
                    len: unsent.len(),
                });
                held.out_keys.push(key);
            }
        }
        // SAFETY: each buffer is its held exchange's, which nothing touches until this
        // returns (the loop thread is here; the abort thread only reads its own copies).
        if let Err(e) = unsafe { burst.send_all(&held.out, &mut held.sent) } {
            // Dropping the ring discards the sends it had not taken; `sent` has the rest.
            tracing::warn!("io_uring failed ({e}); responses go out one send(2) each from now on");
            self.burst = None;
        }
        // The pointers are not to be kept past the call.
        held.out.clear();
        for (&key, &n) in held.out_keys.iter().zip(&held.sent) {
            if let Some(ex) = self.conns.get_mut(key).and_then(|c| c.ex.as_mut()) {
                ex.out_taken(n);
            }
        }
    }
}
