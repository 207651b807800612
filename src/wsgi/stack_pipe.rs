//! How the master gets a worker's Python stacks without stopping it (`rsgi-server ctl
//! dump-stacks`): one pipe, opened by the master before the first fork when the control
//! socket is on, whose write end every worker inherits. A worker registers faulthandler on
//! [`SIGNAL`] writing every thread's stack to that end (without the GIL, which a stuck
//! thread may hold forever), chained to a handler of ours that then writes a terminator
//! naming the worker's pid. The master signals one worker at a time and reads up to that
//! terminator.
//!
//! SIGURG because nothing else here uses it and its default action is to be ignored: a
//! worker signalled before it armed (still booting) carries on untouched. Both ends are
//! non-blocking: a full pipe loses part of a dump, it never stalls a worker in its signal
//! handler.

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::unistd::Pid;
use pyo3::prelude::*;
use std::io;
use std::os::fd::{BorrowedFd, IntoRawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asks a worker for its stacks.
pub const SIGNAL: Signal = Signal::SIGURG;

/// Most bytes kept of dumps not yet claimed (a worker's late answer, say).
const MAX_PENDING: usize = 4 << 20;

/// The pipe's ends (-1: not opened in this process).
static READ: AtomicI32 = AtomicI32::new(-1);
static WRITE: AtomicI32 = AtomicI32::new(-1);
/// This worker's terminator, written after faulthandler's dump.
static END: OnceLock<Vec<u8>> = OnceLock::new();

/// Opens the pipe (master, once, before the first fork).
pub fn open() -> io::Result<()> {
    if READ.load(Ordering::Relaxed) >= 0 {
        return Ok(());
    }
    let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
    // A megabyte holds a deep dump of many threads; the default (64 KiB) may not.
    let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(1 << 20));
    READ.store(read.into_raw_fd(), Ordering::Relaxed);
    WRITE.store(write.into_raw_fd(), Ordering::Relaxed);
    Ok(())
}

/// The read end, in the master, if the pipe is open.
pub fn read_fd() -> Option<BorrowedFd<'static>> {
    let fd = READ.load(Ordering::Relaxed);
    // SAFETY: once opened, the master never closes the read end: it lives as long as the
    // process.
    (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Asks worker `pid` for its stacks.
pub fn request(pid: Pid) -> nix::Result<()> {
    kill(pid, SIGNAL)
}

/// The line that ends worker `pid`'s dump.
fn terminator(pid: i32) -> Vec<u8> {
    format!("\n<rsgi-stacks-end pid={pid}>\n").into_bytes()
}

/// Arms the dump in a worker whose Python runs; nothing if the master opened no pipe.
pub fn arm() -> Result<(), String> {
    let write = WRITE.load(Ordering::Relaxed);
    if write < 0 {
        return Ok(());
    }
    let read = READ.swap(-1, Ordering::Relaxed);
    if read >= 0 {
        // The master's end: a worker never reads it.
        let _ = nix::unistd::close(read);
    }
    let _ = END.set(terminator(nix::unistd::getpid().as_raw()));
    let action = SigAction::new(
        SigHandler::Handler(write_terminator),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only calls write(2) on a descriptor and saves and restores
    // errno, all async-signal-safe; it reads statics set before it was installed.
    unsafe { sigaction(SIGNAL, &action) }.map_err(|e| format!("sigaction: {e}"))?;
    Python::attach(|py| {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("file", write)?;
        kwargs.set_item("all_threads", true)?;
        kwargs.set_item("chain", true)?;
        py.import("faulthandler")?
            .call_method("register", (SIGNAL as i32,), Some(&kwargs))
            .map(drop)
    })
    .map_err(|err| format!("faulthandler.register: {err}"))
}

/// Runs after faulthandler's dump (chained): says the dump is complete.
extern "C" fn write_terminator(_: nix::libc::c_int) {
    let saved = nix::errno::Errno::last_raw();
    if let Some(end) = END.get() {
        // SAFETY: write(2) is async-signal-safe; `end` is a live, immutable buffer.
        unsafe {
            nix::libc::write(
                WRITE.load(Ordering::Relaxed),
                end.as_ptr().cast(),
                end.len(),
            )
        };
    }
    nix::errno::Errno::set_raw(saved);
}

/// The master's side: reads the pipe and splits what arrives into each worker's dump.
#[derive(Debug, Default)]
pub struct Collector {
    pending: Vec<u8>,
}

impl Collector {
    /// Reads whatever the pipe holds, without blocking, and returns the dumps it completed
    /// as (pid, text).
    pub fn drain(&mut self) -> Vec<(i32, String)> {
        if let Some(fd) = read_fd() {
            let mut chunk = [0u8; 16384];
            while let Ok(n @ 1..) = nix::unistd::read(fd, &mut chunk) {
                self.pending.extend_from_slice(&chunk[..n]);
            }
        }
        let dumps = self.split();
        if self.pending.len() > MAX_PENDING {
            self.pending.clear();
        }
        dumps
    }

    /// Takes every complete dump out of what was read.
    fn split(&mut self) -> Vec<(i32, String)> {
        const MARK: &[u8] = b"\n<rsgi-stacks-end pid=";
        let mut dumps = Vec::new();
        while let Some(at) = find(&self.pending, MARK) {
            let rest = &self.pending[at + MARK.len()..];
            let Some(close) = find(rest, b">\n") else {
                break;
            };
            let pid = std::str::from_utf8(&rest[..close])
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let text = String::from_utf8_lossy(&self.pending[..at]).into_owned();
            dumps.push((pid, text));
            self.pending.drain(..at + MARK.len() + close + 2);
        }
        dumps
    }

    /// Forgets what was read (a new request starts from a clean slate).
    pub fn clear(&mut self) {
        self.drain();
        self.pending.clear();
    }
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_split_at_terminators_and_keep_partial_ones() {
        let mut c = Collector::default();
        c.pending
            .extend_from_slice(b"Thread 0x1:\n  File \"a.py\", line 1 in f");
        c.pending.extend_from_slice(&terminator(42));
        c.pending.extend_from_slice(b"Thread 0x2:\n  File \"b.py\"");
        assert_eq!(
            c.split(),
            vec![(42, "Thread 0x1:\n  File \"a.py\", line 1 in f".to_owned())]
        );
        c.pending.extend_from_slice(b", line 2 in g");
        c.pending.extend_from_slice(&terminator(43));
        assert_eq!(
            c.split(),
            vec![(43, "Thread 0x2:\n  File \"b.py\", line 2 in g".to_owned())]
        );
        assert!(c.pending.is_empty());
    }
}
