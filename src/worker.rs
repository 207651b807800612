//! A worker process: boots CPython, loads the app, and drives connections until told to stop.
//!
//! Connections are driven by the [`crate::engine`] event loop.
//!
//! Exit codes tell the master what happened (gunicorn's numbers): [`EXIT_BOOT_ERROR`] and
//! [`EXIT_APP_LOAD_ERROR`] stop the whole server instead of a respawn loop.

use crate::config::Config;
use crate::engine;
use crate::listen::Listener;
use crate::scoreboard::Seat;
use crate::signals::{Signal, SignalIntake};
use crate::wsgi::interp;
use crate::wsgi::{App, ServerInfo};
use nix::unistd::{Pid, getpid};

/// The worker could not start (Python failed to initialise).
pub const EXIT_BOOT_ERROR: i32 = 3;
/// The application could not be imported.
pub const EXIT_APP_LOAD_ERROR: i32 = 4;
/// The worker was told it timed out (SIGABRT) and exited after reporting it.
pub const EXIT_TIMEOUT: i32 = 5;

/// Runs a worker in a freshly forked child; returns the process exit code. `seat` is its
/// scoreboard slot: booting until the engine serves, then ready/busy, draining on TERM.
pub fn run(config: &Config, listeners: &[&Listener], master: Pid, seat: Option<Seat>) -> i32 {
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
    // If the master dies without stopping us, we must not live on holding its sockets.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    // It may have died between fork and the line above, which PDEATHSIG cannot see: we
    // were re-parented already.
    if nix::unistd::getppid() != master {
        return 0;
    }
    crate::proctitle::set(&crate::proctitle::worker_title(
        config.proc_name.as_deref().unwrap_or(&config.app),
    ));

    let app = match boot(config) {
        Ok(app) => app,
        Err(code) => {
            crate::logging::finish();
            return code;
        }
    };
    // Pool threads borrow the app for the life of the process.
    let app: &'static App = Box::leak(Box::new(app));
    let settings = engine::Settings::from_config(config);
    if let Err(err) = engine::run(&settings, listeners, &signals, app, master, seat) {
        tracing::error!("worker engine failed: {err}");
    }
    interp::run_exit_hooks();
    tracing::info!("Worker exiting (pid: {})", getpid());
    crate::logging::finish();
    0
}

/// Initialises Python in this process and imports the app.
fn boot(config: &Config) -> Result<App, i32> {
    for (key, value) in &config.env {
        // SAFETY: a just-forked worker is single-threaded, so nothing reads the environment
        // concurrently; the variables must be set before Python copies it into os.environ.
        unsafe { std::env::set_var(key, value) };
    }
    // Not std::env::args(): the process title has overwritten that memory.
    let argv = crate::proctitle::original_args_lossy();
    if let Err(err) = interp::initialize(config.virtualenv.as_deref(), &argv) {
        tracing::error!("{err}");
        return Err(EXIT_BOOT_ERROR);
    }
    load_app(config).map_err(|err| {
        // One record, so the traceback lands in the error log (and stays one JSON object).
        tracing::error!("{}\n{err}", err.traceback.trim_end());
        EXIT_APP_LOAD_ERROR
    })
}

/// Imports the configured app with gunicorn's `sys.path`: the working directory first, then
/// `--pythonpath` entries. Also used by `--check-config`.
pub fn load_app(config: &Config) -> Result<App, crate::wsgi::LoadError> {
    let mut path = Vec::with_capacity(config.pythonpath.len() + 1);
    if let Ok(cwd) = std::env::current_dir() {
        path.push(cwd.to_string_lossy().into_owned());
    }
    path.extend(
        config
            .pythonpath
            .iter()
            .map(|p| p.to_string_lossy().into_owned()),
    );
    let server = ServerInfo {
        root_path: config.root_path.clone(),
        multiprocess: config.workers > 1,
        multithread: config.threads > 1,
    };
    App::load(&config.app, &path, server)
}
