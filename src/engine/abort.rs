//! The worker's side of `--timeout`: the master sends SIGABRT when a request has made no
//! progress for too long, and the worker explains itself before it goes.
//!
//! The Python thread running the stuck request cannot be relied on to do anything: it may
//! spin in pure Python holding the GIL, or sit in a C call without it (`time.sleep`, a
//! socket read). So the signal handler only writes to a pipe (signal-hook), and a dedicated
//! Rust thread ([`install`]) does the rest, without the GIL:
//!
//! 1. logs each in-flight request (method, path, elapsed) from the [`InFlight`] registry;
//! 2. dumps every Python thread's stack with `_Py_DumpTracebackThreads`, which reads the
//!    thread states without taking the GIL (what `faulthandler` does), into the error log;
//! 3. answers `504 Gateway Timeout` on every in-flight connection that has not been sent a
//!    byte of its response yet (a TLS connection is only shut down: its session state is
//!    the request thread's, and raw bytes would corrupt the stream);
//! 4. runs the `worker_abort` hook, if defined (this needs the GIL: a pure-Python loop hands
//!    it over within the switch interval; a C call that never releases it would block, so
//!    the wait is bounded);
//! 5. exits with [`crate::exit::EXIT_TIMEOUT`].
//!
//! Each thread that runs requests has a [`InFlight`]; the slot's mutex is held while the abort
//! thread writes a 504, and a request ends (and may close its socket) only by taking that
//! mutex, so the descriptor written to is always still the request's. Whether the response
//! or the 504 goes out is decided once, by a compare-and-swap on the slot's [`InFlight::claim_write`]
//! state: a response that starts after the abort took the request writes nothing, and a
//! response that started first gets no 504 appended to it (which a keep-alive client would
//! take for the answer to its next request).

use crate::http::request::RequestHead;
use crate::http::response::{HttpDate, error_response};
use crate::wsgi::ConnView;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// How long the abort path waits for the `worker_abort` hook (it needs the GIL).
const HOOK_WAIT: Duration = Duration::from_secs(2);

/// Longest method and path kept per in-flight request (for the log line only).
const MAX_TARGET: usize = 512;

/// Nothing of the response has been written yet.
const CLEAN: u8 = 0;
/// The response has started: the request thread owns the socket's output.
const WRITING: u8 = 1;
/// The abort took the request: it answers 504, the request thread must write nothing.
const ABORTED: u8 = 2;

/// One request-running thread's in-flight request, if any.
#[derive(Debug, Default)]
pub struct InFlight {
    state: Mutex<InFlightState>,
    /// [`CLEAN`], [`WRITING`] or [`ABORTED`]: who may write to the client.
    output: AtomicU8,
}

#[derive(Debug, Default)]
struct InFlightState {
    active: bool,
    fd: RawFd,
    /// The connection speaks TLS: no raw 504 on it.
    tls: bool,
    /// The request's view of its client (a PROXY header's or trusted proxy headers'),
    /// for the access line of a 504.
    conn: Option<Arc<ConnView>>,
    /// The method and target as received (truncated), decoded only if the abort logs them.
    method: Vec<u8>,
    path: Vec<u8>,
    started: Option<Instant>,
    /// Finished responses the loop holds until its batch ends (`engine::hold`), one after
    /// another, and each one's socket and end in `held`: the abort sends them.
    held: Vec<u8>,
    held_ends: Vec<(RawFd, usize)>,
}

impl InFlight {
    fn state(&self) -> MutexGuard<'_, InFlightState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request on socket `fd` starts (or resumes) running on this thread. `clean`: no
    /// byte of its response has gone out yet; `tls`: the socket carries TLS; `conn`: the
    /// request's connection facts. Reuses the slot's strings: no allocation once warmed up.
    pub fn begin(
        &self,
        fd: RawFd,
        head: &RequestHead,
        clean: bool,
        tls: bool,
        conn: &Arc<ConnView>,
    ) {
        let mut state = self.state();
        state.active = true;
        state.fd = fd;
        state.tls = tls;
        state.conn = Some(conn.clone());
        state.method.clear();
        state
            .method
            .extend_from_slice(truncate(head.method_bytes()));
        state.path.clear();
        state.path.extend_from_slice(truncate(head.target()));
        state.started = Some(Instant::now());
        let output = if clean { CLEAN } else { WRITING };
        self.output.store(output, Ordering::Relaxed);
    }

    /// The loop holds a finished response, `bytes`, for socket `fd` until its batch ends.
    pub fn hold(&self, fd: RawFd, bytes: &[u8]) {
        let mut state = self.state();
        state.held.extend_from_slice(bytes);
        let end = state.held.len();
        state.held_ends.push((fd, end));
    }

    /// The loop is sending the responses it held: they are no longer the abort's to send.
    /// Blocks forever once the abort has begun (it sends them and the worker exits).
    pub fn release(&self) {
        let mut state = self.state();
        state.held.clear();
        state.held_ends.clear();
    }

    /// The request left this thread (finished, or paused waiting for its client).
    pub fn end(&self) {
        self.state().active = false;
    }

    /// Call before writing response bytes: true if they may go out (a 504 can no longer
    /// be sent), false if the timeout abort has taken the request and answers it (the
    /// worker is about to exit). One load once the response has started.
    pub fn claim_write(&self) -> bool {
        match self.output.load(Ordering::Acquire) {
            WRITING => true,
            ABORTED => false,
            _ => match self.output.compare_exchange(
                CLEAN,
                WRITING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => true,
                Err(now) => now == WRITING,
            },
        }
    }

    /// The abort's side of [`InFlight::claim_write`]: true if no response byte was or will be
    /// written, so the 504 may be sent.
    fn claim_for_504(&self) -> bool {
        self.output
            .compare_exchange(CLEAN, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

fn truncate(s: &[u8]) -> &[u8] {
    &s[..s.len().min(MAX_TARGET)]
}

static SLOTS: OnceLock<Vec<Arc<InFlight>>> = OnceLock::new();

/// The slot of request-running thread `index` (0: the loop thread, or the first pool
/// thread); `None` before [`install`].
pub fn slot(index: usize) -> Option<Arc<InFlight>> {
    SLOTS.get()?.get(index).cloned()
}

/// Creates one slot per request-running thread and starts the thread that acts on SIGABRT.
pub fn install(threads: usize) -> io::Result<()> {
    let _ = SLOTS.set((0..threads.max(1)).map(|_| Arc::default()).collect());
    let (mut wake, write_end) = UnixStream::pair()?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGABRT, write_end)?;
    std::thread::Builder::new()
        .name("rsgi-abort".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            loop {
                match wake.read(&mut byte) {
                    Ok(0) => return,
                    Ok(_) => abort(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(())
}

/// Everything after SIGABRT; never returns.
fn abort() -> ! {
    let pid = std::process::id();
    let slots = SLOTS.get().map(Vec::as_slice).unwrap_or_default();
    // Held until exit: no request can end and close its socket under us. Each in-flight
    // request is decided now: 504 (its thread will write nothing more), or left alone.
    let states: Vec<(MutexGuard<'_, InFlightState>, bool)> = slots
        .iter()
        .map(|s| {
            let state = s.state();
            let wrote = !(state.active && s.claim_for_504());
            (state, wrote)
        })
        .collect();
    let now = Instant::now();
    let mut requests = Vec::new();
    for (state, wrote) in &states {
        if state.active {
            let elapsed = state
                .started
                .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
            requests.push(format!(
                "{} {} running for {elapsed:.1}s{}",
                String::from_utf8_lossy(&state.method),
                String::from_utf8_lossy(&state.path),
                if *wrote {
                    " (response already started)"
                } else {
                    ""
                }
            ));
        }
    }
    if requests.is_empty() {
        tracing::error!("Worker timed out (pid: {pid}) with no request in flight; aborting");
    } else {
        tracing::error!(
            "Worker timed out (pid: {pid}); aborting. In flight: {}",
            requests.join("; ")
        );
    }
    match crate::wsgi::interp::dump_stacks() {
        Ok(stacks) => tracing::error!(
            "Python stacks of worker {pid} at the timeout:\n{}",
            stacks.trim_end()
        ),
        Err(err) => tracing::error!("cannot dump the Python stacks: {err}"),
    }
    // Responses that were complete, held for the end of the loop's batch, go out first.
    for (state, _) in &states {
        let mut start = 0;
        for &(fd, end) in &state.held_ends {
            send_held(fd, &state.held[start..end]);
            start = end;
        }
    }
    let date = HttpDate::new(SystemTime::now());
    for (state, wrote) in &states {
        if state.active && !wrote {
            // Logged as 504 under TLS too: the status the timeout decided, though the client
            // only sees the connection end.
            let body_bytes = if state.tls {
                close_tls(state.fd);
                0
            } else {
                answer_504(state.fd, state.method == b"HEAD", &date)
            };
            // The request still gets its access-log line (written at once: we are exiting).
            let elapsed = state
                .started
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
            // With the client as the request saw it (a proxy may have named it): `begin`
            // sets the facts of every active request.
            let Some(view) = state.conn.as_deref() else {
                continue;
            };
            crate::logging::access::log_aborted(&crate::logging::access::Aborted {
                method: &String::from_utf8_lossy(&state.method),
                target: &String::from_utf8_lossy(&state.path),
                conn: &view.info,
                status: 504,
                body_bytes,
                elapsed,
            });
        }
    }
    if crate::wsgi::hooks::has_worker_abort() {
        let (done, finished) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("rsgi-abort-hook".into())
            .spawn(move || {
                crate::wsgi::hooks::worker_abort();
                let _ = done.send(());
            });
        if spawned.is_ok() && finished.recv_timeout(HOOK_WAIT).is_err() {
            tracing::error!("the worker_abort hook did not finish (the GIL is held); exiting");
        }
    }
    // Access lines still buffered (requests that completed before the timeout).
    crate::logging::access::flush();
    let _ = io::stderr().flush();
    // SAFETY: _exit ends the process at once, without running atexit handlers or
    // destructors, which could block on locks the stuck thread holds.
    unsafe { nix::libc::_exit(crate::exit::EXIT_TIMEOUT) }
}

/// How long the abort waits for one held response's socket to take it all.
const HELD_SEND_WAIT: Duration = Duration::from_secs(1);

/// Sends a held response on socket `fd` (non-blocking: the loop's), waiting up to
/// [`HELD_SEND_WAIT`] for room; a client that takes nothing in that time loses it.
fn send_held(fd: RawFd, mut bytes: &[u8]) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::BorrowedFd;
    let until = Instant::now() + HELD_SEND_WAIT;
    while !bytes.is_empty() {
        // SAFETY: the loop thread cannot close the socket: it would have to release the
        // slot's held responses first, and the abort holds the slot's lock until exit.
        let sock = unsafe { BorrowedFd::borrow_raw(fd) };
        match nix::sys::socket::send(fd, bytes, nix::sys::socket::MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let left = until.saturating_duration_since(Instant::now());
                let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO);
                if left.is_zero()
                    || poll(&mut [PollFd::new(sock, PollFlags::POLLOUT)], wait).is_err()
                {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Ends a TLS connection whose request timed out: the session (keys, sequence numbers) is
/// the stuck thread's, so nothing can be sent on it; the client sees the connection end.
fn close_tls(fd: RawFd) {
    // SAFETY: as in answer_504: the caller holds the slot's mutex, so `fd` is the request's
    // open socket; ManuallyDrop keeps this borrowed view from closing it.
    let stream = std::mem::ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(fd) });
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Writes a 504 on `fd` and shuts down our side, best effort (the worker is exiting).
/// Returns the response's body length (for the access log).
fn answer_504(fd: RawFd, head_request: bool, date: &HttpDate) -> u64 {
    let response = error_response(504, true, head_request, date);
    // SAFETY: the slot's mutex, held by the caller, keeps the request (which owns the
    // socket) from ending, so `fd` is open and is that request's socket; ManuallyDrop
    // keeps this borrowed view from closing it.
    let stream = std::mem::ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(fd) });
    // The socket may be non-blocking (the loop's): a short head fits in an empty buffer.
    let _ = (&*stream).write_all(&response);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |end| response.len() - end - 4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;

    fn head() -> RequestHead {
        let (head, _) = parse_head(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n", &Limits::default())
            .expect("valid")
            .expect("complete");
        head
    }

    /// A request that completes just as its worker is aborted: the response and the 504
    /// must not both go out (a 504 after a whole response is read by a keep-alive client
    /// as the answer to its next request).
    #[test]
    fn the_response_and_the_504_exclude_each_other() {
        let slot = InFlight::default();
        let conn = Arc::new(ConnView::new(crate::peer::ConnInfo::for_tests("192.0.2.1")));
        // The abort decides first: the request thread may write nothing more.
        slot.begin(7, &head(), true, false, &conn);
        assert!(slot.claim_for_504());
        assert!(!slot.claim_write());
        assert!(!slot.claim_write());
        // The response starts first: no 504, and the response keeps going.
        slot.begin(7, &head(), true, false, &conn);
        assert!(slot.claim_write());
        assert!(!slot.claim_for_504());
        assert!(slot.claim_write());
        // A request resumed after part of its response went out never gets a 504.
        slot.begin(7, &head(), false, false, &conn);
        assert!(!slot.claim_for_504());
        assert!(slot.claim_write());
    }
}
