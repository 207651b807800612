//! USR2 binary upgrade (nginx's and gunicorn's protocol).
//!
//! 1. USR2: the master renames its pid file to `FILE.oldbin`, then forks and execs the
//!    binary it was started from, with the same command line, in the directory it was
//!    started in, passing its listening sockets as descriptors 3, 4, ... with `LISTEN_FDS`
//!    and `LISTEN_PID` (socket activation, [`crate::listen::activation`]). Both masters now
//!    serve: the kernel hands each new connection to a worker of either.
//! 2. The new master writes `FILE` and starts its workers. The old one keeps serving until
//!    it gets TERM (done: it drains and exits, telling systemd the new `MAINPID`), or
//!    WINCH, which stops its workers gracefully but keeps it alive so that the operator can
//!    roll back with HUP.
//! 3. If the new master dies, the old one takes `FILE` back and carries on (restarting its
//!    workers if WINCH had stopped them).
//!
//! The metrics listener (`--metrics-bind`) travels the same way, after the listeners and
//! outside `LISTEN_FDS`, named by [`METRICS_FD_VAR`]: probes and scrapes on its address go
//! on being answered through the upgrade, by either master.
//!
//! The binary is exec'd by the path it was started with, resolved at startup: after a
//! package upgrade that path holds the new binary, while `/proc/self/exe` would still be
//! the old, deleted one.
//!
//! State is process-global (one master per process) so the arbiter needs only a few calls.

use crate::listen::Listener;
use crate::listen::activation::{FIRST_FD, OWNED_NAME};
use crate::process::pidfile::PidFile;
use crate::process::proctitle;
use crate::process::systemd;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, Pid, execve, fork, getpid, getppid};
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Names the previous master in a master started by USR2 (not an `RSGI_` setting).
pub const OLD_MASTER_VAR: &str = "_RSGI_OLD_MASTER";

/// Names the metrics listener's descriptor in a master started by USR2.
pub const METRICS_FD_VAR: &str = "_RSGI_METRICS_FD";

#[derive(Default)]
struct State {
    /// The binary to exec and the directory we started in (see the module docs).
    exe: Option<PathBuf>,
    start_dir: Option<PathBuf>,
    pidfile: Option<PidFile>,
    /// The new master, while it lives.
    child: Option<Pid>,
    /// The master that exec'd us, if we were started by USR2.
    parent: Option<Pid>,
    /// The metrics listener it passed us, until taken.
    metrics_fd: Option<RawFd>,
}

static STATE: Mutex<State> = Mutex::new(State {
    exe: None,
    start_dir: None,
    pidfile: None,
    child: None,
    parent: None,
    metrics_fd: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    // A panic while holding it cannot leave it inconsistent in a way worth refusing.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records, at startup and before any `--chdir`, where the binary and the working
/// directory are, and whether a previous master started us (removing its variable).
/// Call while single-threaded.
pub fn init() {
    let cwd = std::env::current_dir().ok();
    let argv0 = proctitle::original_args().into_iter().next();
    let exe = argv0.and_then(|a| resolve_exe(&a, cwd.as_deref()));
    let parent = std::env::var(OLD_MASTER_VAR)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .map(Pid::from_raw);
    let metrics_fd = std::env::var(METRICS_FD_VAR)
        .ok()
        .and_then(|fd| fd.parse::<RawFd>().ok())
        .filter(|_| parent.is_some());
    // SAFETY: single-threaded (the caller's contract).
    unsafe {
        std::env::remove_var(OLD_MASTER_VAR);
        std::env::remove_var(METRICS_FD_VAR);
    }
    let mut st = state();
    st.exe = exe;
    st.start_dir = cwd;
    st.parent = parent;
    st.metrics_fd = metrics_fd;
}

/// The metrics listener the previous master passed (once; a master started by USR2 only).
/// The caller owns it: it adopts it or closes it.
pub fn take_metrics_fd() -> Option<RawFd> {
    state().metrics_fd.take()
}

/// argv[0] as a path: relative to the starting directory if it has a slash, else looked
/// up in `PATH` like the shell did.
fn resolve_exe(argv0: &OsString, cwd: Option<&Path>) -> Option<PathBuf> {
    let path = Path::new(argv0);
    if argv0.as_bytes().contains(&b'/') {
        return Some(match cwd {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_owned(),
        });
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(path))
        .find(|candidate| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Hands the pid file to the upgrade machinery (which renames it on USR2).
pub fn set_pidfile(pidfile: PidFile) {
    state().pidfile = Some(pidfile);
}

/// Takes the pid file back at exit, so dropping it removes the file (if it names us).
pub fn take_pidfile() -> Option<PidFile> {
    state().pidfile.take()
}

/// Whether this master was started by another one's USR2 (it inherited its sockets).
pub fn started_by_upgrade() -> bool {
    state().parent.is_some()
}

/// Whether a new master started by USR2 is running.
pub fn in_progress() -> bool {
    state().child.is_some()
}

/// The new master started by USR2, while it runs.
pub fn new_master() -> Option<Pid> {
    state().child
}

/// USR2: starts a new master on `listeners` (and `metrics`, the metrics listener). Refused while one is already running, or
/// while the master that started us is still alive (one upgrade at a time). `pre_exec`
/// (the hook) runs once the upgrade goes ahead, before the new master's environment is
/// gathered, so that variables it sets reach the new master, as with gunicorn's.
pub fn start<'a>(
    listeners: impl IntoIterator<Item = &'a Listener>,
    metrics: Option<&Listener>,
    pre_exec: impl FnOnce(),
) {
    let listeners: Vec<&Listener> = listeners.into_iter().collect();
    let mut st = state();
    if let Some(child) = st.child {
        tracing::warn!("USR2 ignored: a new master (pid: {child}) is already running");
        return;
    }
    if let Some(parent) = st.parent {
        if getppid() == parent {
            tracing::warn!("USR2 ignored: the previous master (pid: {parent}) is still running");
            return;
        }
    }
    let Some(exe) = st.exe.clone() else {
        tracing::error!("USR2 ignored: cannot tell which binary this master was started from");
        return;
    };
    pre_exec();
    let prepared = match Prepared::new(&exe, st.start_dir.as_deref(), &listeners, metrics) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("USR2 failed: {e}");
            return;
        }
    };
    if let Some(pidfile) = st.pidfile.as_mut() {
        if let Err(e) = pidfile.rename_to_oldbin() {
            tracing::warn!(
                "cannot rename pid file {} to .oldbin: {e}",
                pidfile.path().display()
            );
        }
    }
    // SAFETY: the master is single-threaded, so the child may run arbitrary code; it only
    // rearranges descriptors and execs (or exits).
    match unsafe { fork() } {
        Ok(ForkResult::Child) => prepared.exec(),
        Ok(ForkResult::Parent { child }) => {
            tracing::info!(
                "Upgrading: started a new master (pid: {child}) from {}",
                exe.display()
            );
            st.child = Some(child);
        }
        Err(e) => {
            tracing::error!("USR2 failed: cannot fork: {e}");
            restore(&mut st);
        }
    }
}

/// Called for every child the master reaps; true if it was the new master, which died
/// before we were stopped: the pid file is ours again and we carry on.
pub fn reaped(pid: Pid) -> bool {
    let mut st = state();
    if st.child != Some(pid) {
        return false;
    }
    st.child = None;
    restore(&mut st);
    tracing::warn!("the new master (pid: {pid}) exited; this master carries on");
    true
}

fn restore(st: &mut State) {
    if let Some(pidfile) = st.pidfile.as_mut() {
        if let Err(e) = pidfile.restore() {
            tracing::warn!("cannot restore pid file {}: {e}", pidfile.path().display());
        }
    }
}

/// At exit: if a new master took over, it now owns the sockets (their files stay) and is
/// the service's main process for systemd. Returns whether it did.
pub fn hand_over() -> bool {
    let Some(child) = state().child else {
        return false;
    };
    if let Some(notifier) = systemd::Notifier::from_env() {
        notifier.main_pid(child.as_raw());
    }
    tracing::info!("the new master (pid: {child}) carries on");
    true
}

/// Everything the child needs, built before fork so the child only does system calls.
struct Prepared {
    exe: CString,
    dir: Option<CString>,
    argv: Vec<CString>,
    env: Vec<CString>,
    fds: Vec<RawFd>,
}

impl Prepared {
    fn new(
        exe: &Path,
        dir: Option<&Path>,
        listeners: &[&Listener],
        metrics: Option<&Listener>,
    ) -> Result<Prepared, String> {
        let cstr = |b: &[u8]| CString::new(b).map_err(|_| "a NUL byte in an argument".to_owned());
        let argv = proctitle::original_args()
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<&str> = listeners
            .iter()
            .map(|l| {
                if l.owns_socket_file() {
                    OWNED_NAME
                } else {
                    "inherited"
                }
            })
            .collect();
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| !k.as_bytes().starts_with(b"LISTEN_"))
            .filter_map(|(k, v)| {
                let mut kv = k.into_encoded_bytes();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect();
        env.push(cstr(format!("LISTEN_FDS={}", listeners.len()).as_bytes())?);
        env.push(cstr(
            format!("LISTEN_FDNAMES={}", names.join(":")).as_bytes(),
        )?);
        env.push(cstr(format!("{OLD_MASTER_VAR}={}", getpid()).as_bytes())?);
        if metrics.is_some() {
            let fd = FIRST_FD + listeners.len() as RawFd;
            env.push(cstr(format!("{METRICS_FD_VAR}={fd}").as_bytes())?);
        }
        // The new master talks to systemd too (its messages count once it is MAINPID).
        if let Some(notify) = systemd::take_env() {
            env.push(cstr(format!("NOTIFY_SOCKET={}", notify.socket).as_bytes())?);
            if let Some(watchdog) = notify.watchdog {
                env.push(cstr(
                    format!("WATCHDOG_USEC={}", watchdog.as_micros()).as_bytes(),
                )?);
            }
        }
        Ok(Prepared {
            exe: cstr(exe.as_os_str().as_bytes())?,
            dir: dir.map(|d| cstr(d.as_os_str().as_bytes())).transpose()?,
            argv,
            env,
            fds: listeners
                .iter()
                .chain(&metrics)
                .map(|l| l.as_fd().as_raw_fd())
                .collect(),
        })
    }

    /// In the forked child: descriptors to 3.., default signal handling, exec. Never returns.
    fn exec(mut self) -> ! {
        let fail = |what: &str, e: nix::Error| -> ! {
            eprintln!("rsgi-server: USR2: {what}: {e}");
            // SAFETY: _exit ends the child without running the parent's atexit handlers or
            // flushing its buffers a second time.
            unsafe { nix::libc::_exit(1) }
        };
        // Signals first: the master's handlers write to its self-pipe, which we share.
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None);
        for signal in Signal::iterator() {
            if !matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
                // SAFETY: restoring the default disposition installs no handler code.
                let _ = unsafe {
                    nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl)
                };
            }
        }
        let n = self.fds.len() as RawFd;
        // Move every listener above the target range first, so that placing one at 3+i
        // never overwrites another still waiting to be moved.
        for fd in &mut self.fds {
            // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor and touches no memory.
            let high = unsafe { nix::libc::fcntl(*fd, nix::libc::F_DUPFD_CLOEXEC, FIRST_FD + n) };
            if high < 0 {
                fail("dup", nix::Error::last());
            }
            *fd = high;
        }
        for (i, fd) in self.fds.iter().enumerate() {
            // dup2 clears close-on-exec on the target: these are the ones exec keeps.
            // SAFETY: dup2 on descriptors we own; the target range holds nothing we need.
            if unsafe { nix::libc::dup2(*fd, FIRST_FD + i as RawFd) } < 0 {
                fail("dup2", nix::Error::last());
            }
        }
        self.env
            .push(CString::new(format!("LISTEN_PID={}", getpid())).expect("digits contain no NUL"));
        if let Some(dir) = &self.dir {
            if let Err(e) = nix::unistd::chdir(dir.as_c_str()) {
                fail("chdir to the starting directory", e);
            }
        }
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        let Err(e) = execve(&self.exe, &self.argv, &self.env);
        fail(&format!("exec {}", self.exe.to_string_lossy()), e)
    }
}
