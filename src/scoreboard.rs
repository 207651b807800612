//! Shared memory between the master and its workers: one slot per worker, mapped once by the
//! master before any fork, so every worker inherits it and no heartbeat touches the disk.
//!
//! A slot holds the worker's state (booting, ready, draining; busy is a ready worker with a
//! request in progress), its pid, generation and start time, the requests it has served, when
//! its request in progress last made progress, and that request's method and path. The master
//! reads it for readiness (reload and recycling wait for a replacement to be ready), timeouts
//! and diagnostics; workers write it.
//!
//! The request line is a fixed-size buffer behind a seqlock: the worker (one writer per slot)
//! bumps a sequence number to odd, writes, bumps it to even; a reader retries until it saw
//! the same even number before and after. Every byte is an atomic word, so a concurrent read
//! is never undefined behaviour, only retried.
//!
//! Beside the slots, a *bell* (an eventfd) lets a worker wake the master when something it
//! waits for happened (ready, wants retirement) instead of the master polling.
//!
//! A small server-wide header ([`server`]) sits beside the slots: the readiness the master
//! concludes on each pass, for health probes answered by any process.
//!
//! The per-request cost is what matters here (a hello request costs a few microseconds in
//! all): starting a request is one clock read and a handful of relaxed stores, ending it two.

pub mod server;
pub mod shared_memory;

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::time::{ClockId, clock_gettime};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering, fence};
use std::time::Duration;

pub use server::{Readiness, ServerPhase, ServerState};

/// Slots mapped; more workers than this run without a slot (no watchdog, no readiness
/// gating: the master treats them as ready once forked). The config allows 1024 workers.
pub const CAPACITY: usize = 4096;

/// Bytes of `METHOD /path` kept for the request in progress; longer ones are truncated.
pub const LINE_BYTES: usize = 120;
const LINE_WORDS: usize = LINE_BYTES / 8;

/// Where a worker is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The slot belongs to no worker.
    Free,
    /// Forked, loading the app; not serving yet.
    Booting,
    /// Serving, no request in progress.
    Ready,
    /// Serving, a request in progress.
    Busy,
    /// Stopping gracefully: finishing in-flight requests, accepting no more.
    Draining,
}

const FREE: u32 = 0;
const BOOTING: u32 = 1;
const READY: u32 = 2;
const DRAINING: u32 = 3;

/// Flag: the worker has reached `--max-requests` and asks to be replaced.
const WANTS_RETIREMENT: u32 = 1;

/// The request a worker is running, as read from its slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLine {
    /// `METHOD /path`, truncated to [`LINE_BYTES`].
    pub line: String,
    /// When the request started ([`now_ms`] time).
    pub started_ms: u64,
}

/// One worker's shared state.
#[repr(C)]
#[derive(Debug)]
pub struct Slot {
    /// [`FREE`], [`BOOTING`], [`READY`] or [`DRAINING`]; busy is derived from `busy_since`.
    state: AtomicU32,
    /// [`WANTS_RETIREMENT`].
    flags: AtomicU32,
    pid: AtomicI32,
    /// Requests after which the worker asks to be replaced; 0: never.
    request_limit: AtomicU32,
    generation: AtomicU64,
    /// CLOCK_MONOTONIC milliseconds when the worker was forked.
    started_ms: AtomicU64,
    /// Requests answered.
    requests: AtomicU64,
    /// CLOCK_MONOTONIC milliseconds of the last progress on the request in progress; 0 when
    /// the worker is between requests.
    busy_since: AtomicU64,
    /// Seqlock over `line_*`: odd while being written.
    line_seq: AtomicU64,
    line_started_ms: AtomicU64,
    line_len: AtomicU64,
    line: [AtomicU64; LINE_WORDS],
    /// Requests shed (`--max-queue-time`): answered 503 without reaching the app.
    shed: AtomicU64,
    /// CLOCK_MONOTONIC milliseconds of the last shed request; 0: none yet.
    last_shed_ms: AtomicU64,
}

impl Slot {
    /// A slot outside the shared mapping: a thread's own request line, copied into the
    /// worker's slot when that thread's request is the oldest ([`crate::engine::heartbeat`]).
    pub fn local() -> Slot {
        Slot {
            state: AtomicU32::new(FREE),
            flags: AtomicU32::new(0),
            pid: AtomicI32::new(0),
            request_limit: AtomicU32::new(0),
            generation: AtomicU64::new(0),
            started_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            busy_since: AtomicU64::new(0),
            line_seq: AtomicU64::new(0),
            line_started_ms: AtomicU64::new(0),
            line_len: AtomicU64::new(0),
            line: [const { AtomicU64::new(0) }; LINE_WORDS],
            shed: AtomicU64::new(0),
            last_shed_ms: AtomicU64::new(0),
        }
    }

    // ---- master side -------------------------------------------------------------------

    /// Claims the slot for a worker about to be forked: booting, nothing served.
    pub fn claim(&self, generation: u64, request_limit: u64) {
        self.pid.store(0, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
        self.started_ms.store(now_ms(), Ordering::Relaxed);
        self.requests.store(0, Ordering::Relaxed);
        self.busy_since.store(0, Ordering::Relaxed);
        self.flags.store(0, Ordering::Relaxed);
        self.request_limit.store(
            u32::try_from(request_limit).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        self.write_line(b"", 0);
        self.shed.store(0, Ordering::Relaxed);
        self.last_shed_ms.store(0, Ordering::Relaxed);
        self.state.store(BOOTING, Ordering::Release);
    }

    /// Gives the slot back once its worker has been reaped.
    pub fn release(&self) {
        self.state.store(FREE, Ordering::Release);
        self.pid.store(0, Ordering::Relaxed);
        self.busy_since.store(0, Ordering::Relaxed);
    }

    // ---- worker side -------------------------------------------------------------------

    /// The worker records its own pid (the master also does, after fork).
    pub fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Ordering::Relaxed);
    }

    /// The app is loaded and every socket is open: the worker serves from now on.
    pub fn set_ready(&self) {
        // Never undo a drain that began during boot.
        let _ = self
            .state
            .compare_exchange(BOOTING, READY, Ordering::Release, Ordering::Relaxed);
    }

    /// A graceful stop began: no new connections, in-flight requests finish.
    pub fn set_draining(&self) {
        self.state.store(DRAINING, Ordering::Release);
    }

    /// The worker wants to be replaced (it reached `--max-requests`); it keeps serving
    /// until the master stops it.
    pub fn want_retirement(&self) {
        self.flags.fetch_or(WANTS_RETIREMENT, Ordering::Relaxed);
    }

    /// A request starts: records its line and when it started (= its first progress).
    /// `method` and `path` are copied, truncated to [`LINE_BYTES`] together.
    pub fn start_request(&self, method: &[u8], path: &[u8], now: u64) {
        let mut buf = [0u8; LINE_BYTES];
        let m = method.len().min(LINE_BYTES);
        buf[..m].copy_from_slice(&method[..m]);
        let mut len = m;
        if len < LINE_BYTES {
            buf[len] = b' ';
            len += 1;
            let p = path.len().min(LINE_BYTES - len);
            buf[len..len + p].copy_from_slice(&path[..p]);
            len += p;
        }
        self.write_line(&buf[..len], now);
        self.busy_since.store(now.max(1), Ordering::Relaxed);
    }

    /// Copies another slot's request line here; see [`Slot::start_request`].
    pub fn copy_request_from(&self, other: &Slot) {
        if let Some((buf, len, started_ms)) = other.request_bytes() {
            self.write_line(&buf[..len], started_ms);
        }
    }

    /// Records that the oldest request in progress last made progress at `since_ms`
    /// ([`now_ms`] time).
    pub fn set_busy_since(&self, since_ms: u64) {
        self.busy_since.store(since_ms.max(1), Ordering::Relaxed);
    }

    /// The worker is between requests.
    pub fn idle(&self) {
        self.busy_since.store(0, Ordering::Relaxed);
    }

    /// Counts an answered request; returns the count and whether it just reached the
    /// request limit. One writer only: the worker's event-loop thread, which completes every
    /// request (so a plain store, no locked read-modify-write, on the hot path).
    pub fn served(&self) -> (u64, bool) {
        let n = self.requests.load(Ordering::Relaxed) + 1;
        self.requests.store(n, Ordering::Relaxed);
        let limit = u64::from(self.request_limit.load(Ordering::Relaxed));
        (n, limit != 0 && n == limit)
    }

    /// Counts a request shed at `now` ([`now_ms`] time). One writer only: the worker's
    /// event-loop thread (pool threads hand shed requests back to it), so plain stores.
    pub fn record_shed(&self, now: u64) {
        let n = self.shed.load(Ordering::Relaxed) + 1;
        self.shed.store(n, Ordering::Relaxed);
        self.last_shed_ms.store(now.max(1), Ordering::Relaxed);
    }

    /// Requests shed so far (`--max-queue-time`).
    pub fn requests_shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// When the worker last shed a request ([`now_ms`] time); 0 if it never has. Readiness
    /// reports shedding while this is recent.
    pub fn last_shed_ms(&self) -> u64 {
        self.last_shed_ms.load(Ordering::Relaxed)
    }

    /// The single writer's half of the seqlock.
    fn write_line(&self, bytes: &[u8], started_ms: u64) {
        let seq = self.line_seq.load(Ordering::Relaxed);
        self.line_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Orders the odd sequence number before the data stores (a reader that sees any new
        // byte also sees the odd number, or a newer one, on its second read).
        fence(Ordering::Release);
        self.line_started_ms.store(started_ms, Ordering::Relaxed);
        self.line_len.store(bytes.len() as u64, Ordering::Relaxed);
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.line[i].store(u64::from_ne_bytes(word), Ordering::Relaxed);
        }
        self.line_seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    // ---- readers -----------------------------------------------------------------------

    /// The worker's state.
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            FREE => State::Free,
            BOOTING => State::Booting,
            DRAINING => State::Draining,
            _ if self.busy_since.load(Ordering::Relaxed) != 0 => State::Busy,
            _ => State::Ready,
        }
    }

    /// Whether the worker has been ready (serving) at some point: ready, busy or draining
    /// after boot.
    pub fn has_been_ready(&self) -> bool {
        matches!(self.state(), State::Ready | State::Busy | State::Draining)
    }

    /// The worker's pid as recorded (0 before it is known).
    pub fn pid(&self) -> i32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// The reload generation the worker belongs to.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// When the worker was forked ([`now_ms`] time).
    pub fn started_ms(&self) -> u64 {
        self.started_ms.load(Ordering::Relaxed)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether the worker asked to be replaced (`--max-requests`).
    pub fn wants_retirement(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & WANTS_RETIREMENT != 0
    }

    /// When the oldest request in progress last made progress ([`now_ms`] time); 0 when idle.
    pub fn busy_since(&self) -> u64 {
        self.busy_since.load(Ordering::Relaxed)
    }

    /// How long the request in progress has gone without progress, if there is one.
    pub fn stalled_for(&self) -> Option<Duration> {
        match self.busy_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(now_ms().saturating_sub(since))),
        }
    }

    /// The request in progress (or the last one), never torn.
    pub fn request(&self) -> Option<RequestLine> {
        let (buf, len, started_ms) = self.request_bytes()?;
        Some(RequestLine {
            line: String::from_utf8_lossy(&buf[..len]).into_owned(),
            started_ms,
        })
    }

    /// The reader's half of the seqlock; `None` if the writer kept it busy (a worker
    /// rewriting its line thousands of times in a row; the caller can try later).
    fn request_bytes(&self) -> Option<([u8; LINE_BYTES], usize, u64)> {
        for _ in 0..1000 {
            let before = self.line_seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let started = self.line_started_ms.load(Ordering::Relaxed);
            let len = (self.line_len.load(Ordering::Relaxed) as usize).min(LINE_BYTES);
            let mut buf = [0u8; LINE_BYTES];
            for (i, word) in self.line.iter().enumerate() {
                buf[i * 8..i * 8 + 8].copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            }
            // Orders the data loads before the second sequence read.
            fence(Ordering::Acquire);
            if self.line_seq.load(Ordering::Relaxed) == before {
                return Some((buf, len, started));
            }
        }
        None
    }
}

/// What a worker needs of the scoreboard: its own slot, and the bell to wake the master.
#[derive(Clone, Copy, Debug)]
pub struct Seat {
    /// The worker's slot.
    pub slot: &'static Slot,
    /// The server-wide header (readiness, for health probes).
    pub server: &'static ServerState,
    bell: &'static EventFd,
}

impl Seat {
    /// Wakes the master to look at the scoreboard (after becoming ready, or asking to be
    /// replaced). Not for the per-request path: it is a system call.
    pub fn ring(&self) {
        // EAGAIN means the counter is saturated: the master is already being woken.
        let _ = self.bell.write(1);
    }
}

/// The mapped slots.
#[derive(Debug)]
pub struct Scoreboard {
    slots: &'static [Slot],
    server: &'static ServerState,
    bell: &'static EventFd,
}

impl Scoreboard {
    /// Maps [`CAPACITY`] zeroed (free) slots shared with every future child, and the bell.
    pub fn new() -> nix::Result<Scoreboard> {
        // SAFETY: zero is a free Slot, Slot holds only atomics and needs 8-byte alignment.
        let slots = unsafe { shared_memory::map_zeroed::<Slot>(CAPACITY)? };
        // SAFETY: zero is a valid ServerState (booting, no pass yet), all atomics.
        let server = unsafe { &shared_memory::map_zeroed::<ServerState>(1)?[0] };
        let bell = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        // One scoreboard per master, alive as long as the process: leaked so that a worker
        // can hold a `Seat` without lifetimes.
        let bell: &'static EventFd = Box::leak(Box::new(bell));
        Ok(Scoreboard {
            slots,
            server,
            bell,
        })
    }

    /// The server-wide header.
    pub fn server(&self) -> &'static ServerState {
        self.server
    }

    /// Slot `index`, if it exists.
    pub fn slot(&self, index: usize) -> Option<&'static Slot> {
        self.slots.get(index)
    }

    /// Slot `index` with the bell, for the worker that owns it.
    pub fn seat(&self, index: usize) -> Option<Seat> {
        Some(Seat {
            slot: self.slots.get(index)?,
            server: self.server,
            bell: self.bell,
        })
    }

    /// A free slot's index.
    pub fn free_slot(&self, taken: impl Fn(usize) -> bool) -> Option<usize> {
        (0..CAPACITY).find(|&i| self.slots[i].state() == State::Free && !taken(i))
    }

    /// The bell's descriptor, readable when a worker rang.
    pub fn bell_fd(&self) -> BorrowedFd<'_> {
        self.bell.as_fd()
    }

    /// Clears the bell (the master is about to look at every slot).
    pub fn clear_bell(&self) {
        let _ = self.bell.read();
    }
}

/// CLOCK_MONOTONIC in milliseconds: the clock slots are read against, the same in every
/// process. Read coarse (to the kernel's last tick, 1-4 ms), which is precision enough for
/// timeouts of seconds, at a quarter of a fine read's cost: a worker reads it per request.
pub fn now_ms() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE)
        .map(|t| t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_start_free_and_report_stalls() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(7).unwrap();
        assert_eq!(slot.state(), State::Free);
        slot.claim(1, 0);
        assert_eq!(slot.state(), State::Booting);
        assert_eq!(slot.stalled_for(), None);
        slot.set_ready();
        assert_eq!(slot.state(), State::Ready);
        slot.start_request(b"GET", b"/x", now_ms());
        assert_eq!(slot.state(), State::Busy);
        assert!(slot.stalled_for().is_some());
        slot.idle();
        assert_eq!(slot.stalled_for(), None);
        slot.set_draining();
        slot.set_ready();
        assert_eq!(slot.state(), State::Draining, "ready never undoes a drain");
        assert!(board.slot(CAPACITY).is_none());
    }

    #[test]
    fn request_lines_are_recorded_and_truncated() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(0).unwrap();
        slot.claim(3, 0);
        slot.start_request(b"POST", b"/upload/file", 42);
        let line = slot.request().unwrap();
        assert_eq!(line.line, "POST /upload/file");
        assert_eq!(line.started_ms, 42);
        let long = vec![b'a'; 500];
        slot.start_request(b"GET", &long, 43);
        let line = slot.request().unwrap().line;
        assert_eq!(line.len(), LINE_BYTES);
        assert!(line.starts_with("GET aaa"));
        slot.start_request(b"GET", b"/", 44);
        assert_eq!(slot.request().unwrap().line, "GET /", "no leftover bytes");
        assert_eq!(slot.generation(), 3);
    }

    #[test]
    fn shed_requests_are_counted_until_the_slot_is_claimed_again() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(3).unwrap();
        slot.claim(1, 0);
        assert_eq!((slot.requests_shed(), slot.last_shed_ms()), (0, 0));
        slot.record_shed(500);
        slot.record_shed(700);
        assert_eq!((slot.requests_shed(), slot.last_shed_ms()), (2, 700));
        slot.claim(2, 0);
        assert_eq!((slot.requests_shed(), slot.last_shed_ms()), (0, 0));
    }

    #[test]
    fn request_limit_is_reported_once() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(1).unwrap();
        slot.claim(1, 2);
        assert_eq!(slot.served(), (1, false));
        assert_eq!(slot.served(), (2, true));
        assert_eq!(slot.served(), (3, false));
        slot.claim(1, 0);
        assert_eq!(slot.served(), (1, false), "0 means no limit");
    }

    #[test]
    fn a_reader_never_sees_a_torn_line() {
        let board = Scoreboard::new().unwrap();
        let slot = board.slot(2).unwrap();
        slot.claim(1, 0);
        // Two lines of different lengths and bytes: a torn read would mix them.
        let a = [b'a'; 90];
        let b = [b'b'; 30];
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if i % 2 == 0 {
                        slot.start_request(b"GET", &a, i);
                    } else {
                        slot.start_request(b"PUT", &b, i);
                    }
                    i += 1;
                }
            })
        };
        let mut seen = 0;
        for _ in 0..20_000 {
            if let Some(line) = slot.request() {
                let ok = line.line == format!("GET {}", "a".repeat(90))
                    || line.line == format!("PUT {}", "b".repeat(30))
                    || line.line.is_empty();
                assert!(ok, "torn read: {:?}", line.line);
                seen += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(seen > 0);
    }
}
