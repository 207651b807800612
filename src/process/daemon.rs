//! `--daemon`: detach from the terminal (fork, setsid, fork), gunicorn's parity option.
//!
//! Unlike the classic recipe, the command that was typed does not return at the first
//! fork: it waits until the daemon reports that it serves (pid file written, sockets
//! bound, privileges dropped, every worker of the first generation has loaded the app) and
//! exits 0, or exits 1 if the daemon failed first. Until then the daemon keeps the caller's
//! stdout and stderr, so a startup error or an app's import traceback is printed where the
//! operator is looking; afterwards both go to /dev/null (unless something, like
//! `--capture-output`, has pointed them at a log file), in the master and in each worker
//! once it has loaded the app ([`leave_streams`]), so no process keeps the caller's
//! terminal or pipe. With `-R` (`--enable-stdio-inheritance`), as gunicorn's, only a
//! terminal is let go of: a file or a pipe the streams were redirected to
//! (`rsgi-server -D -R ... >>out.log 2>&1`) keeps receiving them. The working directory is left as configured: the application is
//! imported relative to it.

use nix::fcntl::OFlag;
use nix::sys::stat::fstat;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, setsid};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Set in the daemon: its pid is not the one its starter knew (systemd needs `MAINPID`).
static DAEMONIZED: AtomicBool = AtomicBool::new(false);

/// `-R`: standard output and error stay unless they are a terminal.
static INHERIT: AtomicBool = AtomicBool::new(false);

/// Whether this process detached with [`detach`].
pub fn is_daemonized() -> bool {
    DAEMONIZED.load(Ordering::Relaxed)
}

/// (device, inode) of stdout and stderr at detach: replaced by /dev/null only if still
/// the caller's.
static STDIO: OnceLock<[Option<(u64, u64)>; 2]> = OnceLock::new();

/// The daemon's end of the startup report, once [`Detached::report_when_serving`] handed
/// it over, until [`started`] sends it.
static REPORT: Mutex<Option<File>> = Mutex::new(None);

/// The daemon's end of the startup report.
#[derive(Debug)]
pub struct Detached {
    report: File,
}

/// Detaches. Returns in the daemon only; the calling process waits for the daemon's
/// report and exits. Must be called while the process is single-threaded. `inherit`: `-R`.
pub fn detach(inherit: bool) -> io::Result<Detached> {
    INHERIT.store(inherit, Ordering::Relaxed);
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: called from main before any thread is started (no logging thread, no Python),
    // so the child may run arbitrary code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            drop(write_end);
            // The intermediate child exits at once; reap it so no zombie is left.
            let _ = waitpid(child, None);
            std::process::exit(wait_for_report(read_end));
        }
        ForkResult::Child => {}
    }
    drop(read_end);
    // A new session: no controlling terminal, so a hangup of the terminal cannot reach us.
    setsid()?;
    // SAFETY: still single-threaded (this is the child of the fork above).
    match unsafe { fork() }? {
        // The session leader exits so the daemon can never acquire a terminal again.
        // _exit: nothing of the parent's (buffers, atexit) must run twice.
        // SAFETY: _exit is always sound; it ends the process without unwinding.
        ForkResult::Parent { .. } => unsafe { nix::libc::_exit(0) },
        ForkResult::Child => {}
    }
    let devnull = File::options().read(true).open("/dev/null")?;
    dup2_stdin(devnull.as_fd())?;
    DAEMONIZED.store(true, Ordering::Relaxed);
    let _ = STDIO.set([
        identity(io::stdout().as_fd()),
        identity(io::stderr().as_fd()),
    ]);
    Ok(Detached {
        report: File::from(write_end),
    })
}

impl Detached {
    /// The server is set up: the waiting command is released by [`started`], once the
    /// workers serve (or exits 1 when the daemon exits without having served).
    pub fn report_when_serving(self) {
        *REPORT.lock().unwrap_or_else(PoisonError::into_inner) = Some(self.report);
    }
}

/// The first workers serve: the waiting command exits 0, and the master lets go of the
/// caller's streams. Nothing to do unless detached.
pub fn started() {
    let report = REPORT.lock().unwrap_or_else(PoisonError::into_inner).take();
    leave_streams();
    if let Some(mut report) = report {
        let _ = report.write_all(&[0]);
    }
}

/// In a daemon (the master once its workers serve, each worker once it has loaded the
/// app): stdout and stderr, if still the caller's, and the logs written there, go to
/// /dev/null, so that no process keeps the caller's terminal or pipe open.
pub fn leave_streams() {
    let Some(stdio) = STDIO.get().filter(|_| is_daemonized()) else {
        return;
    };
    // A worker's copy of the report descriptor: only the master reports.
    drop(REPORT.lock().unwrap_or_else(PoisonError::into_inner).take());
    let inherit = INHERIT.load(Ordering::Relaxed);
    // With -R a stream stays unless it is a terminal (gunicorn's daemonize).
    let leave =
        |fd: std::os::fd::BorrowedFd<'_>| !inherit || nix::unistd::isatty(fd).unwrap_or(false);
    if let Ok(devnull) = File::options().write(true).open("/dev/null") {
        if identity(io::stdout().as_fd()) == stdio[0] && leave(io::stdout().as_fd()) {
            let _ = dup2_stdout(devnull.as_fd());
        }
        if identity(io::stderr().as_fd()) == stdio[1] && leave(io::stderr().as_fd()) {
            let _ = dup2_stderr(devnull.as_fd());
        }
    }
    crate::logging::detached_from_terminal(inherit);
}

fn identity(fd: std::os::fd::BorrowedFd<'_>) -> Option<(u64, u64)> {
    fstat(fd).ok().map(|st| (st.st_dev, st.st_ino))
}

/// The waiting command's exit status: 0 once the daemon reports success, 1 if it exits
/// (closing the pipe) without doing so. Its error was already printed on our stderr.
fn wait_for_report(read_end: OwnedFd) -> i32 {
    let mut byte = [1u8; 1];
    match File::from(read_end).read(&mut byte) {
        Ok(1) if byte[0] == 0 => 0,
        _ => 1,
    }
}
