//! A worker process: boots CPython, loads the app, and drives connections until told to stop.
//!
//! Connections are driven by the [`crate::engine`] event loop.
//!
//! Its exit status tells the master what happened ([`crate::exit`]).
//!
//! With `--preload` (or master-side hooks) Python is already initialised when the worker
//! starts: it inherited the master's interpreter through the fork, and with `--preload` the
//! app object too.

use crate::config::Config;
use crate::engine::{self, abort};
use crate::exit::{EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR, EXIT_PANIC};
use crate::listen::Listener;
use crate::scoreboard::Seat;
use crate::signals::{Signal, SignalIntake};
use crate::wsgi::hooks;
use crate::wsgi::interp;
use crate::wsgi::reloader;
use crate::wsgi::{App, ServerInfo};
use nix::unistd::{Pid, getpid};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The app imported by the master before forking (`--preload`); workers inherit it.
static PRELOADED: OnceLock<App> = OnceLock::new();

/// Runs a worker in a freshly forked child; returns the process exit code. `seat` is its
/// scoreboard slot: booting until the engine serves, then ready/busy, draining on TERM;
/// `metrics` its region of the metrics block (`--metrics-bind`).
/// `tls`: the generation's TLS configuration, loaded by the master.
pub fn run(
    config: &Config,
    tls: Option<&crate::tls::ServerTls>,
    listeners: &[&Listener],
    master: Pid,
    seat: Option<Seat>,
    metrics: Option<&'static crate::metrics::Region>,
) -> i32 {
    if let Some(seat) = seat {
        seat.slot.set_pid(getpid().as_raw());
    }
    // USR1 reopens the logs (its default action would kill the worker).
    let intake = [Signal::Term, Signal::Int, Signal::Quit, Signal::Usr1];
    let signals = match SignalIntake::install(&intake) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!("worker cannot install signal handlers: {err}");
            return EXIT_BOOT_ERROR;
        }
    };
    crate::logging::worker_init();
    exit_on_panic();
    // If the master dies without stopping us, we must not live on holding its sockets.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    // It may have died between fork and the line above, which PDEATHSIG cannot see: we
    // were re-parented already.
    if nix::unistd::getppid() != master {
        return 0;
    }
    crate::process::proctitle::set(&crate::process::proctitle::worker_title(
        config
            .process
            .proc_name
            .as_deref()
            .unwrap_or(&config.python.app),
    ));

    let app = match boot(config, master) {
        Ok(app) => app,
        Err(code) => {
            crate::logging::finish();
            return code;
        }
    };
    // --daemon: the app's import errors went to the caller; from now on nothing does.
    crate::process::daemon::leave_streams();
    if let Err(err) = interp::arm_stack_dumps() {
        tracing::warn!("a timeout will not show the Python stacks: {err}");
    }
    if let Err(err) = crate::wsgi::stack_pipe::arm() {
        tracing::warn!("`ctl dump-stacks` will not show this worker's stacks: {err}");
    }
    if let Err(err) = abort::install(config.workers.threads as usize) {
        tracing::error!("worker cannot handle timeouts: {err}");
        return EXIT_BOOT_ERROR;
    }
    hooks::post_worker_init();
    let settings = engine::EngineSettings::new(config, tls.cloned());
    if let Err(err) = engine::run(&settings, listeners, &signals, app, master, seat, metrics) {
        tracing::error!("worker engine failed: {err}");
    }
    hooks::worker_exit();
    interp::run_exit_hooks();
    tracing::info!("Worker exiting (pid: {})", getpid());
    crate::logging::finish();
    0
}

/// Makes a panic on any thread end the whole worker, logged, with [`EXIT_PANIC`], so the
/// master replaces it. Left alone, a panic on a pool thread would end only that thread and
/// strand the connection it held (lent to the pool, never given back), and a panic inside a
/// Python callback would become a Python exception the app might swallow, leaving the
/// worker running in a state nobody designed.
fn exit_on_panic() {
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(
            "worker (pid: {}) panicked, a bug in rsgi-server; exiting so the master replaces it: {info}",
            getpid()
        );
        print(info);
        crate::logging::finish();
        // _exit, not exit: other threads may hold locks that exit's handlers would need.
        // SAFETY: _exit only ends the process; it runs no handlers and touches no memory.
        unsafe { nix::libc::_exit(EXIT_PANIC) };
    }));
}

/// Makes sure Python runs in this process (initialised here, or inherited from a master
/// that has it), runs `post_fork`, and returns the app: the preloaded one, or imported now.
fn boot(config: &Config, master: Pid) -> Result<&'static App, i32> {
    if !interp::is_initialized() {
        interp::apply_env(&config.python.env);
        // Not std::env::args(): the process title has overwritten that memory.
        let argv = crate::process::proctitle::original_args_lossy();
        if let Err(err) = interp::initialize(config.python.virtualenv.as_deref(), &argv) {
            tracing::error!("{err}");
            return Err(EXIT_BOOT_ERROR);
        }
    }
    if let Err(err) = hooks::load(config, master.as_raw()) {
        eprint!("{}", err.detail);
        tracing::error!("{err}");
        return Err(EXIT_BOOT_ERROR);
    }
    hooks::post_fork(master.as_raw());
    if config.workers.soft_timeout.is_some() {
        crate::wsgi::interrupt::register();
    }
    if let Some(app) = PRELOADED.get() {
        return Ok(app);
    }
    // Pool threads borrow the app for the life of the process.
    let leak = |app: App| -> &'static App { Box::leak(Box::new(app)) };
    match load_app(config) {
        Ok(app) => {
            interp::freeze_gc();
            if config.python.reload {
                start_reloader(config, Vec::new())?;
            }
            Ok(leak(app))
        }
        Err(err) if config.python.reload => {
            // One record, so the traceback lands in the error log (and stays one JSON
            // object).
            tracing::error!(
                "{}\n{err}; answering 500 until a watched file changes (--reload)",
                err.traceback.trim_end()
            );
            let app = App::failed_import(&err, server_info(config)).map_err(|why| {
                tracing::error!("cannot serve the import error: {why}");
                EXIT_APP_LOAD_ERROR
            })?;
            start_reloader(config, err.files)?;
            Ok(leak(app))
        }
        Err(err) => {
            // The one record of the failure (the master's exit line only says it stops).
            tracing::error!("{err}\n{}", err.traceback.trim_end());
            Err(EXIT_APP_LOAD_ERROR)
        }
    }
}

fn start_reloader(config: &Config, failed: Vec<PathBuf>) -> Result<(), i32> {
    reloader::start(&config.python, failed).map_err(|err| {
        tracing::error!("cannot start the reloader: {err}");
        EXIT_BOOT_ERROR
    })
}

/// `--preload`: imports the app in this process (the master, Python initialised) so that
/// every worker forked later inherits it instead of importing it again.
pub fn preload(config: &Config) -> Result<(), crate::wsgi::AppLoadError> {
    let app = load_app(config)?;
    let _ = PRELOADED.set(app);
    Ok(())
}

fn server_info(config: &Config) -> ServerInfo {
    ServerInfo {
        root_path: config.python.root_path.clone(),
        multiprocess: config.workers.count > 1,
        multithread: config.workers.threads > 1,
        underscores: config.http.underscores.clone(),
    }
}

/// Imports the configured app with gunicorn's `sys.path` ([`interp::python_path`]). Also used by
/// `--check-config` and `--preload`.
pub fn load_app(config: &Config) -> Result<App, crate::wsgi::AppLoadError> {
    App::load(
        &config.python,
        &interp::python_path(&config.python.pythonpath),
        server_info(config),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    #[test]
    fn a_panic_on_any_thread_ends_the_worker_with_exit_panic() {
        // SAFETY: the child only installs the hook, starts a thread and waits for it; it
        // never returns into the test harness (the hook or _exit ends it).
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                exit_on_panic();
                let _ = std::thread::spawn(|| panic!("on a pool thread")).join();
                // Reached only if the hook did not end the process.
                // SAFETY: _exit ends the forked child without running the harness's code.
                unsafe { nix::libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                let status = waitpid(child, None).expect("waitpid");
                assert_eq!(status, WaitStatus::Exited(child, EXIT_PANIC));
            }
        }
    }
}
