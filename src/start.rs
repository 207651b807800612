//! Starting the server from a command line, for the binary and the Python package alike:
//! the process's first steps, then the configuration, and `--version`, `--check-config` or
//! `--print-config`, or binding, dropping privileges and handing over to the master. Maps
//! every failure to an exit status: 2 for configuration errors (before anything is bound),
//! 1 for runtime failures, the workers' boot code when the app cannot be loaded.
// The command's own output (--print-config, --check-config) is standard output; nowhere
// else may print there, since the access log may be writing to it (`print_stdout`).
#![allow(clippy::print_stdout)]

use crate::arbiter::{self, Exit};
use crate::config::{self, Config, ConfigError, Invocation};
use crate::control::{self, socket::ControlSocket};
use crate::listen::activation::{self, Inherited};
use crate::process::pidfile::PidFile;
use crate::process::{daemon, privileges, proctitle, systemd, upgrade};
use crate::wsgi::hooks::{self, MasterHooks};
use crate::wsgi::interp;
use crate::{exit, listen, logging, tls, worker};
use std::collections::BTreeMap;
use std::ffi::OsString;

/// Runs the command `args` (the program name first) to its end: serves, or checks or prints
/// the configuration; returns the exit status (see the module docs). Called once per process, first thing, by
/// the binary's `main` or by the Python package's console script.
pub fn main(args: Vec<OsString>) -> u8 {
    // `rsgi-server ctl ...` talks to a running server; it starts none.
    if args.get(1).is_some_and(|a| a == "ctl") {
        return crate::control::client::main(&args[2..]);
    }
    let host = interp::note_host();
    // SAFETY: the first thing main does: one thread, and nothing has read the environment
    // (so nothing holds pointers into it) or touched descriptors 3 and up.
    unsafe { proctitle::init() };
    // These read and remove their variables: workers and the app's children must not see
    // them. All need the single thread we still are.
    upgrade::init();
    systemd::take_env();
    // SAFETY: as above; the descriptors become owned here, before anything opens others.
    let inherited = match unsafe { activation::take_from_env() } {
        Ok(inherited) => inherited,
        Err(err) => {
            eprintln!("rsgi-server: error: {err}");
            return 1;
        }
    };
    // Python copied the environment before any of that.
    interp::forget_unset_env();
    if args.iter().skip(1).any(|a| a == "--version" || a == "-V") {
        let (version, executable) = interp::description();
        println!(
            "rsgi-server {} (Python {version} at {executable})",
            env!("CARGO_PKG_VERSION"),
        );
        return 0;
    }
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(err) => {
            eprintln!("rsgi-server: error: cannot read the working directory: {err}");
            return 2;
        }
    };
    let reader: config::PythonReader = crate::wsgi::config_file::read;
    let invocation = match config::load_with(args, &env, &cwd, Some(reader)) {
        Ok(invocation) => invocation,
        Err(ConfigError::Cli(err)) => {
            // --help and --version are reported by clap as "errors" that go to stdout.
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return code;
        }
        Err(err) => {
            eprintln!("rsgi-server: error: {err}");
            return 2;
        }
    };
    match invocation {
        Invocation::PrintConfig(config, text) => {
            for warning in config.origin.warnings() {
                eprintln!("rsgi-server: warning: {warning}");
            }
            print!("{text}");
            0
        }
        Invocation::CheckConfig(config) => {
            // Nothing but problems: the informational lines of loading (hooks found, the
            // app preloaded) are left out.
            let mut quiet = config.logging.clone();
            quiet.level = quiet.level.max(logging::LogLevel::Warning);
            for output in &mut quiet.routes.error {
                output.level = output.level.max(logging::LogLevel::Warning);
            }
            if let Err(err) = logging::init(&quiet) {
                eprintln!("rsgi-server: error: {err}");
                return 2;
            }
            for warning in config.origin.warnings() {
                tracing::warn!("{warning}");
            }
            check(&config)
        }
        Invocation::Run(config) => {
            if host == interp::Host::Interpreter {
                // The workers inherit this interpreter, and its `os.environ`.
                interp::apply_env(&config.python.env);
            }
            // Until the master handles them, a HUP or USR1 must not end the server.
            crate::signals::hold_until_installed(&arbiter::HELD_AT_STARTUP);
            if let Err(code) = prepare(&config) {
                return code;
            }
            let tls = match load_tls(&config) {
                Ok(tls) => tls,
                Err(code) => return code,
            };
            // Before logging starts (no thread may exist when we fork); the terminal keeps
            // our stderr until the server is set up, so startup errors are still seen.
            // A master started by USR2 is already in the background (its parent is the old
            // master): detaching again would make the process the old master watches exit
            // at once, and it would take the new master for dead.
            let detached = if config.process.daemon && !upgrade::started_by_upgrade() {
                // With Python running here (the wheel), the forks are bracketed as the
                // workers' are; only the daemon, the last child, goes on to run Python.
                interp::before_fork();
                let detached = daemon::detach(config.logging.stdio_inheritance);
                interp::after_fork_child();
                match detached {
                    Ok(detached) => Some(detached),
                    Err(err) => {
                        eprintln!("rsgi-server: error: cannot detach (--daemon): {err}");
                        return 1;
                    }
                }
            } else {
                None
            };
            let code = run(config, tls, inherited, detached);
            // Removes the pid file if it still names us (not after a handed-over upgrade).
            drop(upgrade::take_pidfile());
            code
        }
    }
}

/// Steps shared by `--check-config` and a real start that need no sockets.
fn prepare(config: &Config) -> Result<(), u8> {
    if let Some(venv) = &config.python.virtualenv {
        let checked = match interp::host() {
            interp::Host::Embedded => interp::check_virtualenv(venv).map(drop),
            interp::Host::Interpreter => interp::adopt_virtualenv(venv),
        };
        if let Err(why) = checked {
            eprintln!("rsgi-server: error: invalid value {venv:?} for --virtualenv: {why}");
            return Err(2);
        }
    }
    if let Some(dir) = &config.python.chdir {
        if let Err(err) = std::env::set_current_dir(dir) {
            eprintln!("rsgi-server: error: invalid value {dir:?} for --chdir: {err}");
            return Err(2);
        }
    }
    Ok(())
}

/// Reads the TLS certificate and key (as the user the server starts as: before any
/// privilege drop, so a key only root can read works). A bad file is a configuration error.
fn load_tls(config: &Config) -> Result<Option<tls::ServerTls>, u8> {
    tls::load(&config.tls).map_err(|err| {
        eprintln!("rsgi-server: error: {err}");
        2
    })
}

fn run(
    mut config: Config,
    tls: Option<tls::ServerTls>,
    inherited: Vec<Inherited>,
    detached: Option<daemon::Detached>,
) -> u8 {
    proctitle::set(&proctitle::master_title(proc_name(&config)));
    if config.python.reload && config.python.preload {
        tracing::warn!("--reload turns --preload off: preloaded code could not be reloaded");
        config.python.preload = false;
    }
    // What the server creates from here on (pid file, sockets, logs, the app's files)
    // gets the configured mask.
    privileges::apply_umask(&config.process);
    // Before anything is bound (and with the mask): a log file that cannot be opened is a
    // configuration error.
    if let Err(err) = logging::init(&config.logging) {
        eprintln!("rsgi-server: error: {err}");
        return 2;
    }
    for warning in config.origin.warnings() {
        tracing::warn!("{warning}");
    }
    if let Some(path) = &config.process.pid {
        match PidFile::create(path) {
            Ok(pidfile) => upgrade::set_pidfile(pidfile),
            Err(err) => {
                tracing::error!(
                    "cannot write the pid file {} (--pid): {err}",
                    path.display()
                );
                return 1;
            }
        }
    }
    let options = listen::BindOptions::from(&config);
    let listeners = match listen::bind_all_inheriting(
        &config.sockets.binds,
        config.sockets.binds_explicit,
        inherited,
        &options,
    ) {
        Ok(listeners) => listeners,
        Err(err) => {
            tracing::error!("{err}");
            return 1;
        }
    };
    let control = match bind_control(&config) {
        Ok(control) => control,
        Err(err) => {
            tracing::error!("{err}");
            for listener in &listeners {
                listener.remove_socket_file();
            }
            return 1;
        }
    };
    for (index, listener) in listeners.iter().enumerate() {
        let protocol = if listen::serving_inherited_as_is() {
            config.sockets.protocol
        } else {
            let listed = config.sockets.protocols.get(index);
            listed.copied().unwrap_or(config.sockets.protocol)
        };
        let url = tls::url(listener.url_speaking(protocol), tls.is_some());
        tracing::info!("Listening at: {url}");
    }
    if tls.is_some() {
        tracing::info!(
            "TLS {}+ with the certificate in {}; client certificates: {}",
            config.tls.min_version.as_str(),
            config
                .tls
                .certfile
                .as_deref()
                .unwrap_or_else(|| "?".as_ref())
                .display(),
            config.tls.cert_reqs.as_str()
        );
    }
    // Everything that needs root exists now; no worker and no Python runs before this.
    if config.process.owner.user.is_some() || config.process.owner.group.is_some() {
        // So that processes without root can still reopen the logs after a rotation.
        if let Err(err) =
            logging::chown_files(config.process.owner.user, config.process.owner.group)
        {
            tracing::warn!("cannot give the log files to --user/--group: {err}");
        }
    }
    let control_path = control.as_ref().map(|c| c.path());
    let dropped = privileges::chown_sockets(&config.process, &listeners)
        .and_then(|()| privileges::chown_socket_files(&config.process, control_path))
        .and_then(|()| privileges::drop_privileges(&config.process));
    let remove_sockets = || {
        for listener in &listeners {
            listener.remove_socket_file();
        }
        if let Some(control) = &control {
            control.remove_file_if_ours();
        }
    };
    if let Err(err) = dropped {
        tracing::error!("{err}");
        remove_sockets();
        return 1;
    }
    privileges::check_pidfile_dir(&config.process);
    // After the privilege drop: preloaded code and master-side hooks never run as root.
    if let Err(code) = start_python_in_master(&config) {
        remove_sockets();
        return code;
    }
    if let Some(detached) = detached {
        detached.report_when_serving();
    }
    match arbiter::run(config, tls, listeners, control, MasterHooks::installed()) {
        Exit::Stopped => 0,
        Exit::BootFailed(code) => code as u8,
        Exit::Failed(why) => {
            tracing::error!("{why}");
            1
        }
    }
}

/// Binds `--control-socket`, if set (before the privilege drop, as the listeners: its
/// directory may be root's; it is then given to `--user`). A master started by USR2 takes
/// the socket over from the one it replaces.
fn bind_control(config: &Config) -> Result<Option<ControlSocket>, String> {
    let Some(path) = &config.control.socket else {
        return Ok(None);
    };
    control::socket::bind(path, config.control.mode, upgrade::started_by_upgrade())
        .map(Some)
        .map_err(|e| {
            format!(
                "cannot create the control socket {} (--control-socket): {e}",
                path.display()
            )
        })
}

/// Initialises Python in the master when it needs it: `--preload` (the app is imported
/// here, before any fork, so a broken app stops the server at once) or
/// a `--hooks` module with master-side hooks. Otherwise the master never runs Python.
fn start_python_in_master(config: &Config) -> Result<(), u8> {
    let master_hooks = match hooks::master_side_defined(config) {
        Ok(defined) => defined,
        Err(err) => {
            tracing::error!("{err}: {}", err.detail);
            return Err(1);
        }
    };
    if !config.python.preload && !master_hooks {
        return Ok(());
    }
    interp::apply_env(&config.python.env);
    // Not std::env::args(): the process title has overwritten that memory.
    let argv = proctitle::original_args_lossy();
    if let Err(err) = interp::initialize(config.python.virtualenv.as_deref(), &argv) {
        tracing::error!("{err}");
        return Err(1);
    }
    // Loaded here even with worker-side hooks only: the workers inherit the module.
    if let Err(err) = hooks::load(config, std::process::id() as i32) {
        eprint!("{}", err.detail);
        tracing::error!("{err}");
        return Err(1);
    }
    if config.python.preload {
        if let Err(err) = worker::preload(config) {
            eprint!("{}", err.traceback);
            tracing::error!("{err} (--preload); not starting");
            return Err(exit::EXIT_APP_LOAD_ERROR as u8);
        }
        tracing::info!("Preloaded app '{}' in the master", config.python.app);
        // Objects that exist now are shared copy-on-write by every worker; a garbage
        // collection in a worker would write to each one's header and unshare its page.
        // gc.freeze() moves them out of the collector's reach (what Instagram and gunicorn
        // users do by hand).
        crate::wsgi::interp::freeze_gc();
    }
    // fork() copies only the calling thread: threads the app's import started would be
    // missing in every worker, with whatever locks they held.
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u32>().ok())
        })
        .unwrap_or(1);
    if threads > 1 {
        tracing::warn!(
            "importing in the master started {} thread(s); they will not exist in the \
             workers, and forking with them running is unsafe (start threads in post_fork or \
             lazily instead)",
            threads - 1
        );
    }
    Ok(())
}

/// `--check-config`: the configuration is valid (it parsed) and the app imports.
fn check(config: &Config) -> u8 {
    if let Err(code) = prepare(config) {
        return code;
    }
    if let Err(code) = load_tls(config) {
        return code;
    }
    let argv = proctitle::original_args_lossy();
    if let Err(err) = interp::initialize(config.python.virtualenv.as_deref(), &argv) {
        eprintln!("rsgi-server: error: {err}");
        return 1;
    }
    if let Err(err) = hooks::load(config, std::process::id() as i32) {
        eprint!("{}", err.detail);
        eprintln!("rsgi-server: error: {err}");
        return 1;
    }
    match worker::load_app(config) {
        // As gunicorn's --check-config: nothing but problems is printed.
        Ok(_) => 0,
        Err(err) => {
            eprint!("{}", err.traceback);
            eprintln!("rsgi-server: error: {err}");
            exit::EXIT_APP_LOAD_ERROR as u8
        }
    }
}

/// The name in process titles: `--name`, else the app.
fn proc_name(config: &Config) -> &str {
    config
        .process
        .proc_name
        .as_deref()
        .unwrap_or(&config.python.app)
}
