//! Settings: one declaration per option ([`settings`]), read from the command line, `RSGI_*`
//! environment variables and a TOML file (precedence CLI > env > file > default), then
//! validated once into an immutable [`Config`]. A reload swaps in a whole new `Config` or
//! nothing. This module knows nothing of sockets, processes or Python.

pub mod bind;
pub mod settings;

pub use bind::BindAddr;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The validated configuration every other module reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The application, `module:expression` (default expression `application`).
    pub app: String,
    /// Where to listen, in order.
    pub binds: Vec<BindAddr>,
    /// Number of worker processes.
    pub workers: u32,
    /// Directory to change to before loading the app.
    pub chdir: Option<PathBuf>,
    /// Directories prepended to `sys.path`.
    pub pythonpath: Vec<PathBuf>,
    /// Environment variables set in the workers' process environment (not in `environ`).
    pub env: Vec<(String, String)>,
    /// `SCRIPT_NAME` prefix the app is mounted at ("" or "/prefix", no trailing slash).
    pub root_path: String,
    /// How long a worker may stay silent in the app before it is killed; `None` disables.
    pub timeout: Option<Duration>,
    /// How long in-flight requests get to finish on a graceful stop.
    pub graceful_timeout: Duration,
    /// How long an idle persistent connection is kept; `None` disables keep-alive.
    pub keep_alive: Option<Duration>,
    /// listen(2) backlog.
    pub backlog: i32,
    /// Virtual environment whose packages the app imports (from `--virtualenv` or
    /// `$VIRTUAL_ENV`), checked to exist and hold `pyvenv.cfg`.
    pub virtualenv: Option<PathBuf>,
    /// Permission bits applied to Unix sockets we create; `None` leaves the umask's choice.
    pub unix_socket_mode: Option<u32>,
    /// Minimum level written to the error log.
    pub log_level: LogLevel,
    /// The TOML file this configuration was read from, if any (re-read on reload).
    pub config_file: Option<PathBuf>,
}

/// Error log verbosity, gunicorn's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including per-connection tracing.
    Debug,
    /// Lifecycle events (default).
    Info,
    /// Problems the server recovered from.
    Warning,
    /// Failures.
    Error,
    /// Only fatal conditions.
    Critical,
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Invocation {
    /// Serve the app.
    Run(Config),
    /// Validate the configuration, import the app, and exit.
    CheckConfig(Config),
    /// Print the effective configuration as TOML and exit.
    PrintConfig(Config, String),
}

/// A configuration that cannot be used; `main` prints it and exits with status 2.
#[derive(Debug)]
pub enum ConfigError {
    /// An option's value is not allowed.
    Invalid {
        /// The option as the user spells it on the command line, e.g. `--workers`.
        option: String,
        /// The offending value.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },
    /// The TOML file could not be read or parsed (unknown keys included).
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key and line where known.
        message: String,
    },
    /// The command line itself is wrong (clap's message; also `--help` and `--version`,
    /// which clap reports as errors that print to stdout and exit 0).
    Cli(clap::Error),
    /// A required setting is missing.
    Missing(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                option,
                value,
                allowed,
            } => write!(f, "invalid value {value:?} for {option}: {allowed}"),
            ConfigError::File { path, message } => {
                write!(f, "config file {}: {message}", path.display())
            }
            ConfigError::Cli(e) => write!(f, "{e}"),
            ConfigError::Missing(what) => write!(f, "missing {what}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads the configuration (stub until the settings module lands).
pub fn load(
    args: Vec<std::ffi::OsString>,
    env: &std::collections::BTreeMap<String, String>,
    cwd: &std::path::Path,
) -> Result<Invocation, ConfigError> {
    let _ = (args, env, cwd);
    todo!()
}
