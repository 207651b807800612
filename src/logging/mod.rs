//! The error log and the access log.
//!
//! * [`error`]: every `tracing` event at or above `--log-level`, as gunicorn's text lines
//!   (`[2026-11-21 10:00:00 +0000] [1234] [INFO] message`) or JSON objects, one `write(2)`
//!   per line on an `O_APPEND` descriptor, so lines from the master and every worker never
//!   interleave.
//! * [`access`]: one line per request, from a format compiled once at startup; lines are
//!   buffered and written once per event-loop wake-up ([`flush`]).
//! * [`capture`]: `--capture-output`, the app's standard output and error into the error log.
//! * [`reopen`]: SIGUSR1 (logrotate) reopens every file, in the master and in each worker.
//!
//! Every log holds its own descriptor ([`sink::Sink`]), also for `-`: so redirecting fd 1 and
//! 2 for `--capture-output` never redirects the logs themselves.

pub mod access;
pub mod capture;
mod clock;
pub mod error;
mod escape;
mod json;
mod outputs;
pub mod pyformat;
pub mod python_config;
pub mod route;
mod settings;
mod sink;
pub mod statsd;
pub mod syslog;

pub use settings::{LogFormat, LogLevel, LogSettings, LogTarget};

use sink::Sink;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The process's logs, set once by [`init`] (in the master, inherited by the workers).
struct Logs {
    format: LogFormat,
    /// The error log's outputs.
    error: Vec<outputs::Open>,
    capture: bool,
}

impl Logs {
    /// The error log's files and streams (not syslog), with whether each writes JSON.
    fn error_files(&self) -> impl Iterator<Item = (&Sink, bool)> {
        self.error.iter().filter_map(|o| {
            let json = match o.format {
                route::LineFormat::Json => true,
                route::LineFormat::Native => self.format == LogFormat::Json,
                route::LineFormat::Python(_) => false,
            };
            o.file().map(|sink| (sink, json))
        })
    }

    /// Where `--capture-output` points fd 1 and 2 (text format): the first text file or
    /// stream of the error log.
    fn capture_sink(&self) -> Option<&Sink> {
        self.error_files()
            .find(|(_, json)| !json)
            .map(|(sink, _)| sink)
    }
}

static LOGS: OnceLock<Logs> = OnceLock::new();

/// A log file that cannot be opened: a startup error naming the option and the path.
#[derive(Debug)]
pub struct LogError {
    /// The option that named the file, e.g. `--error-logfile`.
    pub option: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Why it cannot be opened.
    pub source: std::io::Error,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot open {} {}: {}",
            self.option,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for LogError {}

/// Opens the logs `config` names and installs the error log as the `tracing` subscriber.
/// Called once, in the master, before anything is bound; the workers inherit it all.
pub fn init(config: &LogSettings) -> Result<(), LogError> {
    if let Some(statsd) = &config.statsd {
        statsd::install(statsd);
    }
    let mut opened = outputs::Opened::new();
    let error = config
        .routes
        .error
        .iter()
        .map(|o| outputs::open(o, "--error-logfile", &mut opened))
        .collect::<Result<Vec<_>, _>>()?;
    let access = config
        .routes
        .access
        .iter()
        .map(|o| outputs::open(o, "--access-logfile", &mut opened))
        .collect::<Result<Vec<_>, _>>()?;
    if !access.is_empty() {
        access::install(access, config.access_log_format.clone(), config.format);
    }
    let logs = LOGS.get_or_init(|| Logs {
        format: config.format,
        error,
        capture: config.capture_output,
    });
    error::install(logs);
    if logs.capture && logs.format == LogFormat::Text {
        if let Some(sink) = logs.capture_sink() {
            capture::redirect_to(sink);
        }
    }
    Ok(())
}

/// Starts what a worker needs of its own, right after the fork: its pid in access lines,
/// its StatsD socket, and the `--capture-output` reader thread with `--log-format json`.
pub fn worker_init() {
    access::refresh_pid();
    statsd::reopen();
    if let Some(logs) = LOGS.get() {
        if logs.capture && logs.format == LogFormat::Json {
            capture::start();
        }
    }
}

/// SIGUSR1: reopens every log file (after logrotate moved them). Called in the master and in
/// every worker; a file that cannot be reopened is reported to the old one, which stays.
pub fn reopen() {
    let Some(logs) = LOGS.get() else { return };
    for (sink, _) in logs.error_files() {
        if let Err(err) = sink.reopen() {
            tracing::error!("cannot reopen the error log: {err}");
        }
    }
    if logs.capture && logs.format == LogFormat::Text {
        if let Some(sink) = logs.capture_sink() {
            capture::redirect_to(sink);
        }
    }
    if let Err(err) = access::reopen() {
        tracing::error!("cannot reopen the access log: {err}");
    }
    tracing::info!("Reopened the log files");
}

/// Gives the log files to the user and group the workers run as (`--user`/`--group`), as
/// gunicorn does, so they can still be reopened after privileges are dropped. Call it
/// before dropping them; standard streams are left alone.
pub fn chown_files(uid: Option<u32>, gid: Option<u32>) -> std::io::Result<()> {
    if let Some(logs) = LOGS.get() {
        for (sink, _) in logs.error_files() {
            sink.chown(uid, gid)?;
        }
    }
    access::chown(uid, gid)
}

/// `--daemon`: the server now runs in the background and its standard streams left the
/// terminal; logs that went to a standard stream (`-`) go nowhere from here on, as with
/// gunicorn, not even to a pipe (it would keep the command's caller waiting for the end of
/// its output) or a file. With `-R` (`inherit`), only a terminal is left: a pipe or a
/// file the streams were redirected to keeps receiving them, as gunicorn's `-R` does.
pub fn detached_from_terminal(inherit: bool) {
    if let Some(logs) = LOGS.get() {
        for (sink, _) in logs.error_files() {
            let _ = sink.leave_terminal(inherit);
        }
    }
    access::leave_terminal(inherit);
}

/// Writes buffered access lines and ends output capture; the process is about to exit.
pub fn finish() {
    access::flush();
    capture::stop();
}

/// The error log's format and sink, once [`init`] ran.
fn logs() -> Option<&'static Logs> {
    LOGS.get()
}
