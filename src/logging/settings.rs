//! The logging settings: where each log goes, in which form, from which level.

use super::access::Format;
use crate::settings::{Check, ConfigError, Raw, group};
use std::path::PathBuf;
use std::str::FromStr;

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

impl LogLevel {
    /// The level's name as written in settings: `debug`, `info`, `warning`, `error`,
    /// `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// The closest `tracing` level (tracing has no "critical"; it maps to ERROR).
    pub fn tracing_level(self) -> tracing::Level {
        match self {
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warning => tracing::Level::WARN,
            LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
        }
    }
}

impl FromStr for LogLevel {
    type Err = ();

    /// Reads a level name, case-insensitively (gunicorn accepts `INFO`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warning" => LogLevel::Warning,
            "error" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            _ => return Err(()),
        })
    }
}

/// Where a log goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard output (`-`).
    Stdout,
    /// A file, opened for appending.
    File(PathBuf),
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// gunicorn's text lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The format's name as written in settings: `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

group! {
    /// What [`super::init`] opens and installs. `env`: the `--env` settings, which the
    /// access log's `%({NAME}e)s` atoms may read.
    #[derive(Clone, Debug, PartialEq)]
    pub struct LogSettings from (s, v, env: &[(String, String)]) {
        /// Minimum level written to the error log.
        pub level: LogLevel = v.choice(
            s.log_level(),
            |level| level.parse().ok(),
            "one of debug, info, warning, error, critical",
        )?,
        /// Text lines or JSON objects, for both logs.
        pub format: LogFormat = v.choice(
            s.log_format(),
            |name| match name.to_ascii_lowercase().as_str() {
                "text" => Some(LogFormat::Text),
                "json" => Some(LogFormat::Json),
                _ => None,
            },
            "text or json",
        )?,
        /// The error log file; `None` is standard error (`-`).
        pub error_logfile: Option<PathBuf> = log_file(s.error_logfile(), v)?,
        /// Where access log lines go; `None`: no access log.
        pub access_logfile: Option<LogTarget> = match s.access_logfile().value {
            Some(f) if f.as_os_str() == "-" => Some(LogTarget::Stdout),
            _ => log_file(s.access_logfile(), v)?.map(LogTarget::File),
        },
        /// The access log line, compiled.
        pub access_log_format: Format = {
            let raw = s.access_log_format();
            let text = raw.value.map_or("", String::as_str);
            Format::compile(text, env).map_err(|why| v.refuse(raw, &why))?
        },
        /// The application's standard output and error go to the error log.
        pub capture_output: bool = v.flag(s.capture_output()),
    }
}

/// A log file (`None` for `-`, a standard stream); an empty path or a directory is an
/// error.
fn log_file(raw: Raw<'_, PathBuf>, v: &Check<'_>) -> Result<Option<PathBuf>, ConfigError> {
    match raw.value {
        Some(file) if file.as_os_str() == "-" => Ok(None),
        Some(file) if file.as_os_str().is_empty() || file.is_dir() => {
            Err(v.refuse(raw, "a file path, or - for the standard stream"))
        }
        other => Ok(other.cloned()),
    }
}
