//! Reads a gunicorn config file (`gunicorn.conf.py`, or `python:module`) the way gunicorn
//! does: by executing it. It runs in a short-lived child process, so whatever the file does
//! (imports, threads, environment changes) stays out of the master, and the master of the
//! standalone binary stays free of Python; the child reports the module-level names as
//! JSON, which [`crate::settings::frontends::gunicorn`] translates.

use crate::settings::ConfigError;
use crate::settings::frontends::{ConfigSource, Namespace};
use crate::wsgi::interp;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use pyo3::prelude::*;
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// Executes `source` with `virtualenv`'s packages importable and returns what it defines;
/// a [`crate::settings::frontends::PythonReader`]. A file that fails to execute prints its
/// traceback, and is an error naming the file. Call while the process has one thread
/// (startup, or the master's loop on HUP): it forks.
pub fn read(source: &ConfigSource, virtualenv: Option<&Path>) -> Result<Namespace, ConfigError> {
    let error = |message: String| ConfigError::File {
        path: source.describe().into(),
        message,
    };
    let (kind, spec) = match source {
        ConfigSource::GunicornFile(path) if !path.is_file() => {
            return Err(error("cannot read it: no such file".to_owned()));
        }
        ConfigSource::GunicornFile(path) => ("file", path.to_string_lossy().into_owned()),
        ConfigSource::GunicornModule(module) => ("module", module.clone()),
        _ => return Err(error("not a gunicorn config file".to_owned())),
    };
    // Close-on-exec: a process the file starts must not hold the pipe open (the parent
    // would wait for it); the child itself writes without exec'ing.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| error(format!("pipe: {e}")))?;
    interp::before_fork();
    // SAFETY: the process has one thread (see above), so the child may run arbitrary code;
    // with Python initialised here (the wheel), before_fork holds the GIL across the fork
    // and each side calls its after_fork below.
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Ok(nix::unistd::ForkResult::Child) => {
            interp::after_fork_child();
            drop(read);
            default_signals();
            let code = child(kind, &spec, virtualenv, write);
            // SAFETY: _exit skips the parent's atexit handlers and buffered state, which
            // belong to the parent; everything the child had to say is written.
            unsafe { nix::libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            interp::after_fork_parent();
            drop(write);
            let json = match read_within(read, READ_LIMIT) {
                Ok(json) => json,
                Err(why) => {
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(child, None);
                    return Err(error(why));
                }
            };
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => parse(&json).map_err(error),
                // The traceback travels in the message, so that on a reload it reaches the
                // error log rather than wherever the master's stderr points.
                _ if !json.is_empty() => Err(error(format!(
                    "executing it raised an exception:\n{}",
                    json.trim_end()
                ))),
                _ => Err(error("executing it failed (see above)".to_owned())),
            }
        }
        Err(e) => {
            interp::after_fork_parent();
            Err(error(format!("fork: {e}")))
        }
    }
}

/// How long a config file may take to execute: one stuck on the network must not hold the
/// master (on HUP, its loop) forever.
const READ_LIMIT: Duration = Duration::from_secs(60);

/// Reads the child's whole report from `pipe`, giving up after `limit`.
fn read_within(pipe: OwnedFd, limit: Duration) -> Result<String, String> {
    let deadline = Instant::now() + limit;
    let mut file = std::fs::File::from(pipe);
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(0) if left.is_zero() => {
                return Err(format!(
                    "executing it did not finish within {} s",
                    limit.as_secs()
                ));
            }
            Ok(_) => match file.read(&mut chunk) {
                Ok(0) => return Ok(String::from_utf8_lossy(&out).into_owned()),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading its report: {e}")),
            },
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("reading its report: {e}")),
        }
    }
}

/// Gives the child the default action for every signal, and none blocked: the master's
/// handlers write to the master's self-pipe, which a config file must not reach, and a TERM
/// sent to the process group must end the child.
fn default_signals() {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler of ours; the child is single-threaded.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// The child: initialises Python if the process has none, executes the config and writes
/// its report to `out`, or the traceback of what it raised. Returns the exit status.
fn child(kind: &str, spec: &str, virtualenv: Option<&Path>, out: OwnedFd) -> i32 {
    let argv = crate::process::proctitle::original_args_lossy();
    if let Err(err) = interp::initialize(virtualenv, &argv) {
        eprintln!("rsgi-server: error: {err}");
        return 1;
    }
    let cwd = std::env::current_dir()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    Python::attach(|py| {
        let report = || -> PyResult<String> {
            let code = CString::new(include_str!("config_file.py")).expect("no NUL in it");
            let module = PyModule::from_code(
                py,
                &code,
                c"rsgi_server/config_file.py",
                c"_rsgi_config_file",
            )?;
            module
                .getattr("report")?
                .call1((kind, spec, cwd))?
                .extract()
        };
        let (text, code) = match report() {
            Ok(json) => (json, 0),
            Err(err) => (crate::wsgi::format_exception(py, &err), 1),
        };
        let mut out = std::fs::File::from(out);
        match std::io::Write::write_all(&mut out, text.as_bytes()) {
            Ok(()) => code,
            Err(_) => 1,
        }
    })
}

/// Reads the child's report.
fn parse(json: &str) -> Result<Namespace, String> {
    #[derive(serde::Deserialize)]
    struct Report {
        values: std::collections::BTreeMap<String, serde_json::Value>,
        callables: Vec<String>,
        environ: std::collections::BTreeMap<String, String>,
        sys_path: Vec<String>,
    }
    let report: Report =
        serde_json::from_str(json).map_err(|e| format!("unreadable report from Python: {e}"))?;
    Ok(Namespace {
        values: report.values,
        callables: report.callables,
        environ: report.environ,
        sys_path: report.sys_path,
    })
}
