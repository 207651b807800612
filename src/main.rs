//! `rsgi-server`: parse the configuration, bind, and hand over to the master. Maps every
//! failure to an exit status: 2 for configuration errors (before anything is bound), 1 for
//! runtime failures, the workers' boot code when the app cannot be loaded.

use rsgi_server::arbiter::{self, Exit};
use rsgi_server::config::{self, Config, ConfigError, Invocation, LogLevel};
use rsgi_server::hooks::MasterHooks;
use rsgi_server::wsgi::interp;
use rsgi_server::{listen, worker};
use std::collections::BTreeMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-V")
    {
        // Name the libpython actually loaded, not just the one built against: they differ
        // if the rpath was overridden (LD_LIBRARY_PATH), and that is what a user debugs.
        let version = interp::runtime_version();
        let version = version.split_whitespace().next().unwrap_or("?");
        println!(
            "rsgi-server {} (Python {version} at {})",
            env!("CARGO_PKG_VERSION"),
            interp::BUILD_PYTHON
        );
        return ExitCode::SUCCESS;
    }
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(err) => {
            eprintln!("rsgi-server: error: cannot read the working directory: {err}");
            return ExitCode::from(2);
        }
    };
    let invocation = match config::load(std::env::args_os().collect(), &env, &cwd) {
        Ok(invocation) => invocation,
        Err(ConfigError::Cli(err)) => {
            // --help and --version are reported by clap as "errors" that go to stdout.
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
        Err(err) => {
            eprintln!("rsgi-server: error: {err}");
            return ExitCode::from(2);
        }
    };
    match invocation {
        Invocation::PrintConfig(_, text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Invocation::CheckConfig(config) => {
            init_logging(config.log_level);
            check(&config)
        }
        Invocation::Run(config) => {
            init_logging(config.log_level);
            run(config)
        }
    }
}

/// Steps shared by `--check-config` and a real start that need no sockets and no Python.
fn prepare(config: &Config) -> Result<(), ExitCode> {
    if let Some(venv) = &config.virtualenv {
        if let Err(why) = interp::check_virtualenv(venv) {
            eprintln!("rsgi-server: error: invalid value {venv:?} for --virtualenv: {why}");
            return Err(ExitCode::from(2));
        }
    }
    if let Some(dir) = &config.chdir {
        if let Err(err) = std::env::set_current_dir(dir) {
            eprintln!("rsgi-server: error: invalid value {dir:?} for --chdir: {err}");
            return Err(ExitCode::from(2));
        }
    }
    Ok(())
}

fn run(config: Config) -> ExitCode {
    if let Err(code) = prepare(&config) {
        return code;
    }
    let listeners = match listen::bind_all(&config.binds, &listen::BindOptions::from(&config)) {
        Ok(listeners) => listeners,
        Err(err) => {
            tracing::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    for listener in &listeners {
        tracing::info!("Listening at: {}", listener.url());
    }
    match arbiter::run(config, listeners, MasterHooks::none()) {
        Exit::Stopped => ExitCode::SUCCESS,
        Exit::BootFailed(code) => ExitCode::from(code as u8),
        Exit::Failed(why) => {
            tracing::error!("{why}");
            ExitCode::FAILURE
        }
    }
}

/// `--check-config`: the configuration is valid (it parsed) and the app imports.
fn check(config: &Config) -> ExitCode {
    if let Err(code) = prepare(config) {
        return code;
    }
    let argv: Vec<String> = std::env::args().collect();
    if let Err(err) = interp::initialize(config.virtualenv.as_deref(), &argv) {
        eprintln!("rsgi-server: error: {err}");
        return ExitCode::FAILURE;
    }
    match worker::load_app(config) {
        Ok(_) => {
            println!("configuration OK; app '{}' loaded", config.app);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprint!("{}", err.traceback);
            eprintln!("rsgi-server: error: {err}");
            ExitCode::from(worker::EXIT_APP_LOAD_ERROR as u8)
        }
    }
}

fn init_logging(level: LogLevel) {
    let level = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warning => tracing::Level::WARN,
        LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        .init();
}
