//! The embedded interpreter: which Python, which environment, initialised how.
//!
//! The binary is linked against the libpython of the interpreter found at build time (with an
//! rpath to it, see `build.rs`). At run time CPython derives `sys.prefix` from
//! `PyConfig.executable`; left alone that would be our own binary, which sits in no Python
//! installation. So we name the build interpreter's executable, or the virtualenv's
//! `bin/python` when one is configured: CPython then finds the venv's `pyvenv.cfg`, makes the
//! venv `sys.prefix` and imports its site-packages, exactly as `venv/bin/python` would.
//!
//! Python's own signal handlers are not installed: the worker's Rust handlers stay in charge
//! of TERM/INT/QUIT, and SIGPIPE stays ignored so a closed socket is an error, not a death.
//!
//! That is the standalone binary ([`Host::Embedded`]). Installed with pip, the server is an
//! extension module run by the virtualenv's own interpreter ([`Host::Interpreter`]): Python
//! is already running when the master starts, `sys.prefix` and the venv are right by
//! construction, and the workers inherit the interpreter through fork. Every function here
//! works for both.

use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::{CStr, CString};
use std::fs;
use std::io::{self, Read, Seek};
use std::mem::MaybeUninit;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

/// The interpreter executable this binary was built against.
pub const BUILD_PYTHON: &str = env!("EMBEDDED_PYTHON");
/// Its `major.minor` version.
pub const BUILD_PYTHON_VERSION: &str = env!("EMBEDDED_PYTHON_VERSION");

/// gunicorn's `sys.path` for the app: the working directory first, then `--pythonpath`.
pub fn python_path(pythonpath: &[PathBuf]) -> Vec<String> {
    let mut path = Vec::with_capacity(pythonpath.len() + 1);
    if let Ok(cwd) = std::env::current_dir() {
        path.push(cwd.to_string_lossy().into_owned());
    }
    path.extend(pythonpath.iter().map(|p| p.to_string_lossy().into_owned()));
    path
}

/// Collects, then moves every object that survived into the garbage collector's permanent
/// generation (`gc.freeze()`), once the app is imported. What an import builds (modules,
/// classes, functions, a framework's registries) lives as long as the process, yet a full
/// collection walks all of it: 33 ms for the bench's Django page, taken in the middle of
/// whichever request triggers it, against 1.2 ms frozen. In a master (`--preload`) it also
/// keeps the workers' collections from writing to the pages they share with it.
pub fn freeze_gc() {
    pyo3::Python::attach(|py| py.run(c"import gc; gc.collect(); gc.freeze()", None, None))
        .unwrap_or_else(|err| tracing::warn!("gc.freeze() failed: {err}"));
}

/// Sets `--env` variables in this process's environment, before Python copies it into
/// `os.environ`. Call while the process has a single thread.
pub fn apply_env(env: &[(String, String)]) {
    if is_initialized() {
        // Python copied the environment into `os.environ` when it started: set it there
        // (which sets the process's as well).
        pyo3::Python::attach(|py| {
            let set = py.import("os").and_then(|os| {
                let environ = os.getattr("environ")?;
                for (key, value) in env {
                    environ.set_item(key, value)?;
                }
                Ok(())
            });
            if let Err(err) = set {
                tracing::warn!("cannot set --env in os.environ: {err}");
            }
        });
        return;
    }
    for (key, value) in env {
        // SAFETY: called before any thread exists (a just-forked worker, or the master
        // before its first fork), so nothing reads the environment concurrently.
        unsafe { std::env::set_var(key, value) };
    }
}

/// With [`Host::Interpreter`]: drops from `os.environ` what this process has removed from
/// its environment since Python copied it (systemd's and the binary upgrade's variables), so
/// the app does not see them in the workers either. Call while single-threaded.
pub fn forget_unset_env() {
    if !is_initialized() {
        return;
    }
    let live: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(key, _)| key.into_encoded_bytes())
        .collect();
    pyo3::Python::attach(|py| {
        let code = c"
import os
live = set(live)
for key in [k for k in os.environ if os.fsencode(k) not in live]:
    del os.environ[key]
";
        let globals = pyo3::types::PyDict::new(py);
        let run = globals
            .set_item("live", live)
            .and_then(|()| py.run(code, Some(&globals), None));
        if let Err(err) = run {
            tracing::warn!("cannot update os.environ: {err}");
        }
    });
}

/// With [`Host::Interpreter`]: makes `--virtualenv` (or `$VIRTUAL_ENV`) the app's
/// `sys.prefix` and its packages importable, unless it is the virtualenv the interpreter
/// runs in already (the usual case; another one is e.g. the app's venv beside a pipx
/// install). The binary instead starts its interpreter in the virtualenv ([`initialize`]).
pub fn adopt_virtualenv(dir: &Path) -> Result<(), String> {
    check_virtualenv(dir)?;
    pyo3::Python::attach(|py| {
        // What `site` does for the virtualenv an interpreter starts in: the venv becomes
        // the prefix and its site-packages (with its .pth files) joins the path.
        let code = c"
import os, site, sys
venv = os.fspath(venv)
if os.path.realpath(sys.prefix) != os.path.realpath(venv):
    sys.prefix = sys.exec_prefix = venv
    lib = 'python%d.%d' % sys.version_info[:2]
    site.addsitedir(os.path.join(venv, 'lib', lib, 'site-packages'))
";
        let globals = pyo3::types::PyDict::new(py);
        globals.set_item("venv", dir)?;
        py.run(code, Some(&globals), None)
    })
    .map_err(|err| format!("cannot use {}: {err}", dir.display()))
}

/// How this process came to have Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The standalone binary: it embeds the libpython it was built against, and initialises
    /// it where it is needed (the workers; the master only for `--preload` and master-side
    /// hooks).
    Embedded,
    /// The wheel: a Python interpreter imported us and runs the master.
    Interpreter,
}

static HOST: OnceLock<Host> = OnceLock::new();

/// Notes which [`Host`] this process is, from whether Python runs already: call first thing
/// at startup, before anything could initialise it.
pub fn note_host() -> Host {
    *HOST.get_or_init(|| {
        if is_initialized() {
            Host::Interpreter
        } else {
            Host::Embedded
        }
    })
}

/// Which [`Host`] this process is ([`Host::Embedded`] until [`note_host`] says otherwise).
pub fn host() -> Host {
    HOST.get().copied().unwrap_or(Host::Embedded)
}

/// The Python this process runs, for `--version`: its version and its interpreter's path.
pub fn description() -> (String, String) {
    match host() {
        // The libpython actually loaded, not just the one built against: they differ if the
        // rpath was overridden (LD_LIBRARY_PATH), and that is what a user debugs.
        Host::Embedded => (
            runtime_version()
                .split_whitespace()
                .next()
                .unwrap_or("?")
                .to_owned(),
            BUILD_PYTHON.to_owned(),
        ),
        Host::Interpreter => pyo3::Python::attach(|py| {
            let text = |expr: &CStr| -> String {
                py.eval(expr, None, None)
                    .and_then(|v| v.extract::<String>())
                    .unwrap_or_else(|_| "?".to_owned())
            };
            (
                text(c"__import__('platform').python_version()"),
                text(c"__import__('sys').executable"),
            )
        }),
    }
}

/// The full version of the libpython actually loaded, e.g. `3.11.7 (main, ...)`. Needs no
/// initialised interpreter.
pub fn runtime_version() -> String {
    // SAFETY: Py_GetVersion returns a pointer to a static NUL-terminated string and may be
    // called before Py_Initialize.
    unsafe { CStr::from_ptr(ffi::Py_GetVersion()) }
        .to_string_lossy()
        .into_owned()
}

/// Checks that `dir` is a virtualenv this binary can use: it has `pyvenv.cfg`, a
/// `bin/python`, and was made by the same `major.minor` Python we embed (its compiled
/// extensions and `lib/pythonX.Y/site-packages` are version-specific).
pub fn check_virtualenv(dir: &Path) -> Result<PathBuf, String> {
    let cfg = dir.join("pyvenv.cfg");
    let text = fs::read_to_string(&cfg).map_err(|e| {
        format!(
            "{} is not a virtualenv ({}: {e})",
            dir.display(),
            cfg.display()
        )
    })?;
    let python = dir.join("bin").join("python");
    if !python.exists() {
        return Err(format!("{} has no bin/python", dir.display()));
    }
    let version = text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        matches!(key.trim(), "version" | "version_info").then(|| value.trim().to_owned())
    });
    if let Some(version) = version {
        let major_minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        let running = runtime_version();
        let ours: String = running
            .split(['.', ' '])
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        if major_minor != ours {
            let fix = match host() {
                Host::Embedded => {
                    "rebuild rsgi-server with PYO3_PYTHON pointing at that interpreter"
                }
                Host::Interpreter => "install rsgi-server into that virtualenv and run it there",
            };
            return Err(format!(
                "{} was made with Python {version}, but rsgi-server runs Python {ours} ({fix})",
                dir.display(),
            ));
        }
    }
    Ok(python)
}

/// Initialises CPython in this process, pointed at `virtualenv` if given. `argv` becomes
/// `sys.argv`. Call once, before any other Python use; leaves the GIL released.
pub fn initialize(virtualenv: Option<&Path>, argv: &[String]) -> Result<(), String> {
    if is_initialized() {
        // Inherited from a master that has it, or the interpreter that runs us (the wheel:
        // its virtualenv is taken in by [`adopt_virtualenv`]).
        return Ok(());
    }
    let executable = match virtualenv {
        Some(dir) => check_virtualenv(dir)?,
        None => PathBuf::from(BUILD_PYTHON),
    };
    let executable = CString::new(executable.as_os_str().as_encoded_bytes())
        .map_err(|_| "interpreter path contains NUL".to_owned())?;
    let argv: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let mut argv_ptrs: Vec<*const std::ffi::c_char> = argv.iter().map(|a| a.as_ptr()).collect();

    let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
    let cfg = config.as_mut_ptr();
    // SAFETY: the PyConfig API is used as documented (init, set fields, initialize, clear),
    // on a config that lives on this stack frame for the whole sequence; every string
    // pointer passed is a valid NUL-terminated CString that outlives its call. Nothing else
    // runs Python in this process yet (we are the only thread).
    unsafe {
        ffi::PyConfig_InitPythonConfig(cfg);
        (*cfg).install_signal_handlers = 0;
        (*cfg).parse_argv = 0;
        let mut status =
            ffi::PyConfig_SetBytesString(cfg, &raw mut (*cfg).executable, executable.as_ptr());
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::PyConfig_SetBytesArgv(
                cfg,
                argv_ptrs.len() as ffi::Py_ssize_t,
                argv_ptrs.as_mut_ptr().cast(),
            );
        }
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::Py_InitializeFromConfig(cfg);
        }
        ffi::PyConfig_Clear(cfg);
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                "unknown error".to_owned()
            } else {
                CStr::from_ptr(status.err_msg)
                    .to_string_lossy()
                    .into_owned()
            };
            return Err(format!("cannot initialise Python: {msg}"));
        }
        // Py_InitializeFromConfig leaves this thread holding the GIL; release it so pyo3's
        // `Python::attach` takes it per request, as it does after its own initialisation.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Runs the app's `atexit` handlers and flushes `sys.stdout`/`sys.stderr`, as a normal
/// interpreter exit would. Not a full `Py_FinalizeEx`: that joins non-daemon threads the app
/// may have started, which could hold a stopping worker forever.
pub fn run_exit_hooks() {
    pyo3::Python::attach(|py| {
        let run = |code: &std::ffi::CStr| {
            if let Err(err) = py.run(code, None, None) {
                tracing::warn!("at worker exit: {err}");
            }
        };
        run(c"import atexit; atexit._run_exitfuncs()");
        run(c"import sys\nfor s in (sys.stdout, sys.stderr):\n    s is not None and s.flush()");
    });
}

/// Whether CPython has been initialised in this process (or inherited from a master that
/// had it: `--preload`, master-side hooks).
pub fn is_initialized() -> bool {
    // SAFETY: Py_IsInitialized may be called at any time, with or without the GIL.
    unsafe { ffi::Py_IsInitialized() != 0 }
}

/// Where a stack dump goes, once armed ([`arm_stack_dumps`]): the signal that asks
/// faulthandler for it, and the memory file it writes to.
static STACK_DUMPS: OnceLock<(i32, std::fs::File)> = OnceLock::new();

/// Offset from SIGRTMIN of the signal that asks for a stack dump: a real-time signal nothing
/// else in a worker uses (glibc keeps the ones below SIGRTMIN for itself).
const STACK_DUMP_SIGNAL: i32 = 7;

/// Arms [`dump_stacks`] in this process (a worker, once Python runs): faulthandler dumps
/// every thread's stack on a signal without taking the GIL, which the stuck thread may hold
/// forever. Its dumper is not exported by every libpython (3.9, 3.10 and 3.13 keep it
/// private), so it is reached through faulthandler, which every version has.
pub fn arm_stack_dumps() -> Result<(), String> {
    // SAFETY: memfd_create with a valid NUL-terminated name; the result is checked.
    let fd = unsafe { nix::libc::memfd_create(c"rsgi-stacks".as_ptr(), nix::libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created and is owned here.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    let signal = nix::libc::SIGRTMIN() + STACK_DUMP_SIGNAL;
    Python::attach(|py| {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("file", fd)?;
        kwargs.set_item("all_threads", true)?;
        kwargs.set_item("chain", false)?;
        py.import("faulthandler")?
            .call_method("register", (signal,), Some(&kwargs))
            .map(drop)
    })
    .map_err(|err| format!("faulthandler.register: {err}"))?;
    let _ = STACK_DUMPS.set((signal, file));
    Ok(())
}

/// Every Python thread's stack, most recent call first (faulthandler's format), read
/// without the GIL: for a timeout abort, while another thread may hold it forever.
pub fn dump_stacks() -> io::Result<String> {
    let Some((signal, file)) = STACK_DUMPS.get() else {
        return Ok(String::from("(no stack dumps in this process)"));
    };
    file.set_len(0)?;
    let mut file = file;
    file.seek(io::SeekFrom::Start(0))?;
    // SAFETY: raise(3) delivers the signal to this thread before it returns; its handler is
    // faulthandler's, which only writes the stacks to the file (async-signal-safe, as it
    // is written to run in a crashing process).
    if unsafe { nix::libc::raise(*signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    file.seek(io::SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Runs `f` on this thread with a Python thread state kept for all of it, the GIL released:
/// each `Python::attach` inside then reuses the state. A thread that runs requests for its
/// whole life (a pool thread) would otherwise create and destroy one per request (gettid,
/// an mmap'd frame stack, munmap), and the app's `threading.local` data would not survive
/// from one request to the next.
pub fn with_thread_state<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pyo3::Python::attach(|py| py.detach(f))
}

/// The GIL state taken by [`before_fork`], released on both sides of the fork. Only the
/// master's single thread forks, so a plain atomic is enough to carry it across.
static FORK_GIL: AtomicI32 = AtomicI32::new(-1);

/// Before the master forks: when Python runs in the master (`--preload`, master-side
/// hooks), takes the GIL and calls `PyOS_BeforeFork` (the import lock and `os.register_at_fork`
/// "before" callbacks), exactly as `os.fork()` does. A no-op without Python.
pub fn before_fork() {
    if !is_initialized() {
        return;
    }
    // SAFETY: the interpreter is initialised; this thread holds no GIL (the master only takes
    // it inside hook calls, which have returned). PyGILState_Ensure attaches the main
    // thread state, and PyOS_BeforeFork requires exactly that: the GIL held across fork().
    let state = unsafe {
        let state = ffi::PyGILState_Ensure();
        ffi::PyOS_BeforeFork();
        state
    };
    FORK_GIL.store(state as i32, Ordering::SeqCst);
}

/// In the master after a fork: `PyOS_AfterFork_Parent`, then releases the GIL again.
pub fn after_fork_parent() {
    if let Some(state) = take_fork_gil() {
        // SAFETY: paired with before_fork on this thread, which left the GIL held.
        unsafe {
            ffi::PyOS_AfterFork_Parent();
            ffi::PyGILState_Release(state);
        }
    }
}

/// In the child after a fork: `PyOS_AfterFork_Child` (re-creates the GIL and the thread
/// states for the only thread left, runs the "after in child" callbacks), then releases
/// the GIL, as [`initialize`] leaves it.
pub fn after_fork_child() {
    if let Some(state) = take_fork_gil() {
        // SAFETY: the memory image is the parent's right after before_fork, so this thread's
        // state holds the GIL; PyOS_AfterFork_Child must be the first Python call after
        // fork() and is.
        unsafe {
            ffi::PyOS_AfterFork_Child();
            ffi::PyGILState_Release(state);
        }
    }
}

fn take_fork_gil() -> Option<ffi::PyGILState_STATE> {
    match FORK_GIL.swap(-1, Ordering::SeqCst) {
        0 => Some(ffi::PyGILState_STATE::PyGILState_LOCKED),
        1 => Some(ffi::PyGILState_STATE::PyGILState_UNLOCKED),
        _ => None,
    }
}
