//! Gunicorn's server hooks: module-level functions of the `--hooks` module (a dotted module
//! or a `.py` file such as an existing `gunicorn.conf.py`), called with gunicorn's arguments.
//!
//! * Master-side hooks (`on_starting`, `on_reload`, `when_ready`, `pre_fork`, `child_exit`,
//!   `nworkers_changed`, `pre_exec`, `on_exit`) need Python in the master. Whether the module
//!   defines any is found out before anything else by a short-lived probe process
//!   ([`master_side_defined`]), so a module with only worker-side hooks leaves the master
//!   free of Python. When it defines some, `main` initialises Python in the master and loads
//!   the module there ([`load`]); every fork is then bracketed by
//!   [`crate::wsgi::interp::before_fork`] and friends, and workers inherit the module.
//! * Worker-side hooks (`post_fork`, `post_worker_init`, `worker_int`, `worker_abort`,
//!   `pre_request`, `post_request`, `worker_exit`) run in the worker. `pre_request` and
//!   `post_request` cost nothing when they are not defined.
//!
//! An exception in any hook is logged with its traceback and otherwise ignored: hooks
//! observe the server, and a typo in one must not take the site down (gunicorn would crash
//! the master for some hooks and not others; we make it uniform).
//!
//! The module is process-wide state, like the interpreter itself: loaded once per process,
//! or inherited through `fork`.

use crate::config::Config;
use crate::http::request::RequestHead;
use crate::wsgi::interp;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::ffi::CString;
use std::io::Read;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a master-side hook is told about a worker.
#[derive(Clone, Copy, Debug)]
pub struct WorkerInfo {
    /// Its process id (0 in `pre_fork`, before it exists).
    pub pid: i32,
    /// Its spawn number: 1 for the first worker ever forked, counting up (gunicorn's `age`).
    pub age: u64,
    /// Its scoreboard slot, if it has one.
    pub slot: Option<usize>,
}

/// The hooks, by gunicorn's names; the index into [`Loaded::fns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hook {
    OnStarting,
    OnReload,
    WhenReady,
    PreFork,
    PostFork,
    PostWorkerInit,
    WorkerInt,
    WorkerAbort,
    PreRequest,
    PostRequest,
    ChildExit,
    WorkerExit,
    NworkersChanged,
    PreExec,
    OnExit,
}

// Every hook's name, in [`Hook`] order (`hooks_support.py` is given this list): the gunicorn
// front end's list, which reads the same names in a gunicorn.conf.py.
use crate::settings::frontends::gunicorn_file::HOOKS as NAMES;

/// The hooks that run in the master.
const MASTER_SIDE: [Hook; 8] = [
    Hook::OnStarting,
    Hook::OnReload,
    Hook::WhenReady,
    Hook::PreFork,
    Hook::ChildExit,
    Hook::NworkersChanged,
    Hook::PreExec,
    Hook::OnExit,
];

impl Hook {
    fn name(self) -> &'static str {
        NAMES[self as usize]
    }
}

/// The loaded hooks module of this process.
struct Loaded {
    /// The defined hook functions, indexed by [`Hook`].
    fns: Vec<Option<Py<PyAny>>>,
    /// `hooks_support.py`, for building arguments.
    support: Py<PyModule>,
    /// The `server` argument.
    server: Py<PyAny>,
    /// `server.log`, shared by the worker objects.
    log: Py<PyAny>,
    cfg: Py<PyAny>,
    /// The module's file and its modification time when it was loaded.
    source: Option<(std::path::PathBuf, Option<std::time::SystemTime>)>,
}

static LOADED: OnceLock<Loaded> = OnceLock::new();
/// The `worker` argument, in a worker process.
static WORKER: OnceLock<Py<PyAny>> = OnceLock::new();
/// The age of the worker being forked: set in the master by `pre_fork`, read by the child
/// in its copy of the memory.
static FORKING_AGE: AtomicU64 = AtomicU64::new(0);

/// The hooks module could not be loaded.
#[derive(Debug)]
pub struct HookError {
    /// The `--hooks` value.
    pub spec: String,
    /// What went wrong: the Python traceback, formatted, or the reason.
    pub detail: String,
}

impl std::fmt::Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot load --hooks '{}'", self.spec)
    }
}

impl std::error::Error for HookError {}

fn support(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let code = CString::new(include_str!("hooks_support.py")).expect("no NUL in the support");
    PyModule::from_code(
        py,
        &code,
        c"rsgi_server/hooks_support.py",
        c"_rsgi_hooks_support",
    )
}

/// Imports the `--hooks` module with the app's `sys.path` and returns it with the names of
/// the hooks it defines.
fn import<'py>(
    py: Python<'py>,
    config: &Config,
    spec: &str,
) -> PyResult<(Bound<'py, PyModule>, Bound<'py, PyAny>, Vec<String>)> {
    crate::wsgi::prepend_sys_path(py, &interp::python_path(&config.python.pythonpath))?;
    let support = support(py)?;
    let module = support
        .getattr("load_module")?
        .call1((spec, crate::settings::is_file_spec(spec)))?;
    let names: Vec<String> = support
        .getattr("defined")?
        .call1((&module, NAMES))?
        .extract()?;
    Ok((support, module, names))
}

/// Whether the `--hooks` module defines any master-side hook. Finds out in a short-lived
/// child process that initialises Python and imports the module, so that the master itself
/// stays free of Python unless it needs it. Call before any thread exists (it forks).
/// Where Python runs in the master anyway, says whether there is a module to load.
pub fn master_side_defined(config: &Config) -> Result<bool, HookError> {
    let Some(spec) = config.python.hooks.as_deref() else {
        return Ok(false);
    };
    if interp::is_initialized() {
        // Python runs in the master already (the wheel): no probe, the module is loaded
        // there whatever hooks it defines, and the workers inherit it.
        return Ok(true);
    }
    let error = |detail: String| HookError {
        spec: spec.to_owned(),
        detail,
    };
    let (read, write) = nix::unistd::pipe().map_err(|e| error(format!("pipe: {e}")))?;
    // SAFETY: called from main before the arbiter starts: the process has one thread, so
    // the child may run arbitrary code (it initialises Python and exits).
    match unsafe { nix::unistd::fork() }.map_err(|e| error(format!("fork: {e}")))? {
        nix::unistd::ForkResult::Child => {
            drop(read);
            let code = probe_child(config, spec, write);
            // SAFETY: _exit skips the parent's atexit handlers and buffered state, which
            // belong to the parent; everything this child had to say is written.
            unsafe { nix::libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write);
            let mut names = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut names);
            let status = nix::sys::wait::waitpid(child, None);
            match status {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(names
                    .lines()
                    .any(|n| MASTER_SIDE.iter().any(|h| h.name() == n))),
                _ => Err(error(
                    "the module failed to import (traceback above)".into(),
                )),
            }
        }
    }
}

fn probe_child(config: &Config, spec: &str, out: std::os::fd::OwnedFd) -> i32 {
    interp::apply_env(&config.python.env);
    let argv = crate::process::proctitle::original_args_lossy();
    if let Err(err) = interp::initialize(config.python.virtualenv.as_deref(), &argv) {
        eprintln!("rsgi-server: error: {err}");
        return 1;
    }
    Python::attach(|py| match import(py, config, spec) {
        Ok((_, _, names)) => {
            let mut out = std::fs::File::from(out);
            let _ = std::io::Write::write_all(&mut out, names.join("\n").as_bytes());
            0
        }
        Err(err) => {
            eprint!("{}", crate::wsgi::format_exception(py, &err));
            1
        }
    })
}

/// Loads the `--hooks` module in this process (Python must be initialised) and builds the
/// `server` argument; `master_pid` is the master's pid. Nothing to do without `--hooks`,
/// or when the module was loaded already (here or in the master before the fork).
pub fn load(config: &Config, master_pid: i32) -> Result<(), HookError> {
    let Some(spec) = config.python.hooks.as_deref() else {
        return Ok(());
    };
    if LOADED.get().is_some() {
        return Ok(());
    }
    let loaded = Python::attach(|py| -> PyResult<Loaded> {
        let (support, module, names) = import(py, config, spec)?;
        let fns = NAMES
            .iter()
            .map(|name| {
                names
                    .iter()
                    .any(|n| n == name)
                    .then(|| module.getattr(*name).map(Bound::unbind))
                    .transpose()
            })
            .collect::<PyResult<Vec<_>>>()?;
        let emit = pyo3::wrap_pyfunction!(emit, py)?;
        let log = support.getattr("Log")?.call1((emit,))?;
        let settings = serde_json::to_string(config.origin.settings()).unwrap_or_default();
        let renamed = crate::settings::frontends::gunicorn_file::RENAMED.to_vec();
        let cfg = support.getattr("make_cfg")?.call1((settings, renamed))?;
        let server = support.getattr("Server")?.call1((
            master_pid,
            &cfg,
            config.workers.count,
            &log,
            &config.python.app,
        ))?;
        if !names.is_empty() {
            tracing::info!("hooks from '{spec}': {}", names.join(", "));
        }
        let source = module
            .getattr(pyo3::intern!(py, "__file__"))
            .and_then(|f| f.extract::<std::path::PathBuf>())
            .ok()
            .map(|file| {
                let modified = modified(&file);
                (file, modified)
            });
        Ok(Loaded {
            fns,
            support: support.unbind(),
            server: server.unbind(),
            log: log.unbind(),
            cfg: cfg.unbind(),
            source,
        })
    })
    .map_err(|err| HookError {
        spec: spec.to_owned(),
        detail: Python::attach(|py| crate::wsgi::format_exception(py, &err)),
    })?;
    let _ = LOADED.set(loaded);
    Ok(())
}

/// Whether this process loaded the `--hooks` module (the master does when the module
/// defines a master-side hook, or Python runs there anyway): its workers inherit that
/// module, so a new `--hooks` takes a restart.
pub fn loaded() -> bool {
    LOADED.get().is_some()
}

/// The file of the `--hooks` module this process loaded, if it changed on disk since: the
/// module stays as loaded (a reload's workers inherit it), so an edit takes a restart.
pub fn edited_since_loaded() -> Option<std::path::PathBuf> {
    let (file, loaded) = LOADED.get()?.source.as_ref()?;
    (modified(file) != *loaded).then(|| file.clone())
}

/// When `file` was last modified, if it can be read.
fn modified(file: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// `server.log` and `worker.log` write here, at the level of the method called.
#[pyfunction]
fn emit(level: &str, text: &str) {
    match level {
        "debug" => tracing::debug!("{text}"),
        "info" => tracing::info!("{text}"),
        "warning" => tracing::warn!("{text}"),
        _ => tracing::error!("{text}"),
    }
}

/// The defined function for `hook`, if any (no Python involved).
fn function(hook: Hook) -> Option<(&'static Loaded, &'static Py<PyAny>)> {
    let loaded = LOADED.get()?;
    Some((loaded, loaded.fns[hook as usize].as_ref()?))
}

/// Calls `hook` with the arguments `args` builds; an exception is logged, not raised.
fn call<F>(hook: Hook, args: F)
where
    F: for<'py> FnOnce(Python<'py>, &'static Loaded) -> PyResult<Bound<'py, PyTuple>>,
{
    let Some((loaded, function)) = function(hook) else {
        return;
    };
    Python::attach(|py| {
        let result = args(py, loaded).and_then(|args| function.bind(py).call1(args));
        if let Err(err) = result {
            log_failure(py, hook, &err);
        }
    });
}

fn log_failure(py: Python<'_>, hook: Hook, err: &PyErr) {
    let traceback = crate::wsgi::format_exception(py, err);
    tracing::error!(
        "exception in the {} hook (ignored):\n{}",
        hook.name(),
        traceback.trim_end()
    );
}

/// Builds a `worker` argument for a master-side hook.
fn worker_info<'py>(
    py: Python<'py>,
    loaded: &Loaded,
    info: &WorkerInfo,
) -> PyResult<Bound<'py, PyAny>> {
    let pid = (info.pid != 0).then_some(info.pid);
    loaded.support.bind(py).getattr("Worker")?.call1((
        pid,
        loaded.server.bind(py).getattr("pid")?,
        info.age,
        loaded.log.bind(py),
        loaded.cfg.bind(py),
    ))
}

/// The master-side hooks: a handle on the hooks loaded in this process (by `main`, when the
/// module defines any master-side hook). Every method is a no-op when the hook is not
/// defined or the handle is [`MasterHooks::none`].
#[derive(Debug, Default)]
pub struct MasterHooks {
    enabled: bool,
}

impl MasterHooks {
    /// No hooks at all.
    pub fn none() -> MasterHooks {
        MasterHooks::default()
    }

    /// The hooks loaded in this process by [`load`] (none if nothing was loaded).
    pub fn installed() -> MasterHooks {
        MasterHooks {
            enabled: LOADED.get().is_some(),
        }
    }

    /// Whether any master-side hook needs Python in the master.
    pub fn need_python(&self) -> bool {
        self.enabled && MASTER_SIDE.iter().any(|h| function(*h).is_some())
    }

    fn call<F>(&self, hook: Hook, args: F)
    where
        F: for<'py> FnOnce(Python<'py>, &'static Loaded) -> PyResult<Bound<'py, PyTuple>>,
    {
        if self.enabled {
            call(hook, args);
        }
    }

    fn server_only(&self, hook: Hook) {
        self.call(hook, |py, l| PyTuple::new(py, [l.server.bind(py)]));
    }

    /// `on_starting(server)`: before the first worker is forked.
    pub fn on_starting(&self) {
        self.server_only(Hook::OnStarting);
    }

    /// `on_reload(server)`: a HUP reload begins (after the new config is read).
    pub fn on_reload(&self) {
        self.server_only(Hook::OnReload);
    }

    /// `when_ready(server)`: every worker of the first generation is ready.
    pub fn when_ready(&self) {
        self.server_only(Hook::WhenReady);
    }

    /// `pre_fork(server, worker)`: just before a worker is forked. Also tells the child its
    /// age (its `worker.age` in worker-side hooks), so call it before every fork.
    pub fn pre_fork(&self, worker: &WorkerInfo) {
        FORKING_AGE.store(worker.age, Ordering::Relaxed);
        self.call(Hook::PreFork, |py, l| {
            let w = worker_info(py, l, worker)?;
            PyTuple::new(py, [l.server.bind(py).clone(), w])
        });
    }

    /// `child_exit(server, worker)`: a worker has exited and been reaped (in the master).
    pub fn child_exit(&self, worker: &WorkerInfo) {
        self.call(Hook::ChildExit, |py, l| {
            let w = worker_info(py, l, worker)?;
            PyTuple::new(py, [l.server.bind(py).clone(), w])
        });
    }

    /// `nworkers_changed(server, new_value, old_value)`: the target worker count changed.
    /// Also keeps `server.num_workers` current.
    pub fn nworkers_changed(&self, new: u32, old: u32) {
        if !self.enabled {
            return;
        }
        if let Some(loaded) = LOADED.get() {
            Python::attach(|py| {
                let _ = loaded.server.bind(py).setattr("num_workers", new);
            });
        }
        self.call(Hook::NworkersChanged, |py, l| {
            PyTuple::new(
                py,
                [
                    l.server.bind(py).clone(),
                    new.into_pyobject(py)?.into_any(),
                    old.into_pyobject(py)?.into_any(),
                ],
            )
        });
    }

    /// `pre_exec(server)`: before a new master is exec'd (USR2).
    pub fn pre_exec(&self) {
        self.server_only(Hook::PreExec);
    }

    /// `on_exit(server)`: the master is about to exit.
    pub fn on_exit(&self) {
        self.server_only(Hook::OnExit);
    }
}

/// In a new worker, once the hooks are loaded: builds the `worker` argument and runs
/// `post_fork(server, worker)`.
pub fn post_fork(master_pid: i32) {
    let Some(loaded) = LOADED.get() else { return };
    let age = FORKING_AGE.load(Ordering::Relaxed);
    let made = Python::attach(|py| -> PyResult<Py<PyAny>> {
        let worker = loaded.support.bind(py).getattr("Worker")?.call1((
            std::process::id(),
            master_pid,
            age,
            loaded.log.bind(py),
            loaded.cfg.bind(py),
        ))?;
        Ok(worker.unbind())
    });
    match made {
        Ok(worker) => {
            let _ = WORKER.set(worker);
        }
        Err(err) => Python::attach(|py| log_failure(py, Hook::PostFork, &err)),
    }
    worker_call(Hook::PostFork, true);
}

/// Calls a worker-side hook with `(worker,)`, or `(server, worker)` when `with_server`.
fn worker_call(hook: Hook, with_server: bool) {
    let Some(worker) = WORKER.get() else { return };
    call(hook, |py, l| {
        if with_server {
            PyTuple::new(py, [l.server.bind(py), worker.bind(py)])
        } else {
            PyTuple::new(py, [worker.bind(py)])
        }
    });
}

/// `post_worker_init(worker)`: the app is loaded, the worker is about to serve.
pub fn post_worker_init() {
    if let Some(worker) = WORKER.get() {
        Python::attach(|py| {
            let _ = worker.bind(py).setattr("booted", true);
        });
    }
    worker_call(Hook::PostWorkerInit, false);
}

/// `worker_int(worker)`: the worker got INT or QUIT.
pub fn worker_int() {
    worker_call(Hook::WorkerInt, false);
}

/// `worker_abort(worker)`: the worker got ABRT (its request timed out).
pub fn worker_abort() {
    if let Some(worker) = WORKER.get() {
        Python::attach(|py| {
            let _ = worker.bind(py).setattr("aborted", true);
        });
    }
    worker_call(Hook::WorkerAbort, false);
}

/// Whether `worker_abort` is defined (the abort path only waits for the GIL if so).
pub fn has_worker_abort() -> bool {
    function(Hook::WorkerAbort).is_some()
}

/// `worker_exit(server, worker)`: the worker is exiting.
pub fn worker_exit() {
    if let Some(worker) = WORKER.get() {
        Python::attach(|py| {
            let _ = worker.bind(py).setattr("alive", false);
        });
    }
    worker_call(Hook::WorkerExit, true);
}

/// A request seen by `pre_request`, kept for `post_request`.
pub(crate) struct RequestHooks {
    req: Py<PyAny>,
    /// The `start_response` wrapper that records status and headers (post_request only).
    pub(crate) recorder: Option<Py<PyAny>>,
    /// Body bytes handed to the transport.
    pub(crate) sent: std::cell::Cell<u64>,
}

/// Before a request is handed to the app: runs `pre_request(worker, req)`. Returns `None`,
/// without touching Python objects, when neither request hook is defined.
pub(crate) fn pre_request(
    py: Python<'_>,
    head: &RequestHead,
    start_response: &Bound<'_, PyAny>,
) -> Option<RequestHooks> {
    let loaded = LOADED.get()?;
    let pre = loaded.fns[Hook::PreRequest as usize].as_ref();
    let post = loaded.fns[Hook::PostRequest as usize].as_ref();
    if pre.is_none() && post.is_none() {
        return None;
    }
    let worker = WORKER.get()?;
    let built = build_request(py, loaded, head).and_then(|req| {
        let recorder = match post {
            Some(_) => Some(
                loaded
                    .support
                    .bind(py)
                    .getattr("Recorder")?
                    .call1((start_response,))?
                    .unbind(),
            ),
            None => None,
        };
        Ok((req, recorder))
    });
    let (req, recorder) = match built {
        Ok(built) => built,
        Err(err) => {
            log_failure(py, Hook::PreRequest, &err);
            return None;
        }
    };
    if let Some(pre) = pre {
        if let Err(err) = pre.bind(py).call1((worker.bind(py), &req)) {
            log_failure(py, Hook::PreRequest, &err);
        }
    }
    Some(RequestHooks {
        req: req.unbind(),
        recorder,
        sent: std::cell::Cell::new(0),
    })
}

fn build_request<'py>(
    py: Python<'py>,
    loaded: &Loaded,
    head: &RequestHead,
) -> PyResult<Bound<'py, PyAny>> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let headers = PyList::empty(py);
    for (name, value) in head.headers() {
        // gunicorn upper-cases header names in req.headers.
        headers.append((text(name).to_ascii_uppercase(), text(value)))?;
    }
    let version = match head.version {
        crate::http::Version::Http10 => (1, 0),
        crate::http::Version::Http11 => (1, 1),
    };
    loaded.support.bind(py).getattr("Request")?.call1((
        head.method(),
        text(head.path()),
        text(head.query()),
        text(head.target()),
        version,
        headers,
    ))
}

/// After the response (and the body's `close()`): runs
/// `post_request(worker, req, environ, resp)`. `failed`: the server answered 500 itself.
pub(crate) fn post_request(
    py: Python<'_>,
    hooks: &RequestHooks,
    environ: &Bound<'_, PyAny>,
    failed: bool,
) {
    let (Some((loaded, post)), Some(worker), Some(recorder)) = (
        function(Hook::PostRequest),
        WORKER.get(),
        hooks.recorder.as_ref(),
    ) else {
        return;
    };
    let result = (|| -> PyResult<()> {
        let recorder = recorder.bind(py);
        let mut status = recorder.getattr("status")?;
        let mut headers = recorder.getattr("headers")?;
        if failed || status.is_none() {
            status = "500 Internal Server Error".into_pyobject(py)?.into_any();
            headers = PyList::empty(py).into_any();
        }
        let resp = loaded.support.bind(py).getattr("Response")?.call1((
            status,
            headers,
            hooks.sent.get(),
        ))?;
        post.bind(py)
            .call1((worker.bind(py), hooks.req.bind(py), environ, resp))?;
        Ok(())
    })();
    if let Err(err) = result {
        log_failure(py, Hook::PostRequest, &err);
    }
}
