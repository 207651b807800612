//! The logging settings: where each log goes, in which form, from which level.

use super::access::Format;
use super::python_config::{self, Source};
use super::route::{GunicornLogging, Routes};
use super::syslog::SyslogAddr;
use super::syslog::address::{ADDR_FORMS, FACILITY_NAMES, facility};
use crate::settings::{Check, ConfigError, Raw, Settings, group};
use std::path::PathBuf;
use std::str::FromStr;

/// Error log verbosity, gunicorn's names, from the most verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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
        /// `--log-syslog`: where, with which facility and program-name prefix.
        pub syslog: Option<(SyslogAddr, u8, String)> = syslog(s, v)?,
        /// `--disable-redirect-access-to-syslog`.
        pub access_not_to_syslog: bool = v.flag(s.disable_redirect_access_to_syslog()),
        /// StatsD metrics (`--statsd-host` and its companions), if sent.
        pub statsd: Option<super::statsd::StatsdSettings> = super::statsd::check(s, v)?,
        /// `-R`: with `--daemon`, standard output and error stay where they were redirected.
        pub stdio_inheritance: bool = v.flag(s.enable_stdio_inheritance()),
        /// Where each log's lines go: gunicorn's settings, then a Python logging config.
        pub routes: Routes = routes(s, v, &GunicornLogging {
            level,
            error_logfile: error_logfile.as_ref(),
            access_logfile: match &access_logfile {
                None => None,
                Some(LogTarget::Stdout) => Some(None),
                Some(LogTarget::File(f)) => Some(Some(f)),
            },
            syslog: syslog.clone(),
            access_not_to_syslog,
        })?,
    }
}

impl LogSettings {
    /// The options whose change `new` brings that only a restart applies: the logs are
    /// opened once, in the master, and every worker inherits them. StatsD is not among
    /// them (its own settings are reported apart).
    pub fn changes_needing_a_restart(&self, new: &LogSettings) -> Vec<&'static str> {
        let options = [
            (self.level != new.level, "--log-level"),
            (self.format != new.format, "--log-format"),
            (self.error_logfile != new.error_logfile, "--error-logfile"),
            (
                self.access_logfile != new.access_logfile,
                "--access-logfile",
            ),
            (
                self.access_log_format != new.access_log_format,
                "--access-log-format",
            ),
            (
                self.capture_output != new.capture_output,
                "--capture-output",
            ),
            (self.syslog != new.syslog, "--log-syslog"),
            (
                self.access_not_to_syslog != new.access_not_to_syslog,
                "--disable-redirect-access-to-syslog",
            ),
            (
                self.stdio_inheritance != new.stdio_inheritance,
                "--enable-stdio-inheritance",
            ),
        ];
        let mut changed: Vec<&'static str> = options
            .into_iter()
            .filter_map(|(differs, option)| differs.then_some(option))
            .collect();
        // The routes follow from the options above, or else from a logging config.
        if changed.is_empty() && self.routes != new.routes {
            changed.push("--log-config");
        }
        changed
    }
}

/// `--log-syslog` with its address, facility and prefix (checked even when off, as their
/// defaults are valid).
fn syslog(s: &Settings, v: &Check<'_>) -> Result<Option<(SyslogAddr, u8, String)>, ConfigError> {
    let addr = v.choice(s.syslog_addr(), |a| SyslogAddr::parse(a).ok(), ADDR_FORMS)?;
    let facility = v.choice(s.syslog_facility(), facility, FACILITY_NAMES)?;
    if !v.flag(s.syslog()) {
        return Ok(None);
    }
    // gunicorn's default is the process name, whose default is the application.
    let prefix = [s.syslog_prefix(), s.proc_name(), s.app()]
        .iter()
        .find_map(|raw| raw.value.filter(|p| !p.is_empty()))
        .map_or("rsgi", String::as_str)
        .replace(':', ".");
    Ok(Some((addr, facility, prefix)))
}

/// gunicorn's routes, through the logging config if one is given (a dictionary first,
/// then a JSON file, then an ini file, as gunicorn picks).
fn routes(s: &Settings, v: &Check<'_>, g: &GunicornLogging<'_>) -> Result<Routes, ConfigError> {
    let base = Routes::gunicorn(g);
    let translate = |source| {
        let routes = python_config::translate(source, &base, g.level)?;
        let files = routes.access.iter().filter(|o| !o.is_syslog()).count();
        if files > 1 {
            return Err(format!(
                "the access log reaches {files} stream or file handlers; rsgi-server writes \
                 it to one (and to syslog handlers): keep one, e.g. with \"propagate\": false \
                 on gunicorn.access"
            ));
        }
        Ok(routes)
    };
    if let Some(dict) = s.logconfig_dict().value.filter(|d| !is_empty_dict(d)) {
        let shown = if dict.len() > 60 {
            "(the dictionary)"
        } else {
            dict.as_str()
        };
        return translate(Source::Dict(dict))
            .map_err(|why| v.invalid("logconfig_dict", &shown, &why));
    }
    for (raw, ini) in [(s.logconfig_json(), false), (s.logconfig(), true)] {
        let Some(path) = raw.value else { continue };
        if !path.is_file() {
            return Err(v.refuse(raw, "an existing Python logging config file"));
        }
        let source = if ini {
            Source::Ini(path)
        } else {
            Source::JsonFile(path)
        };
        return translate(source).map_err(|why| v.invalid(raw.name, &path.display(), &why));
    }
    Ok(base)
}

/// gunicorn applies a logging dictionary only when it is not empty.
fn is_empty_dict(text: &str) -> bool {
    let t = text.trim();
    t.is_empty()
        || t.strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .is_some_and(|r| r.trim().is_empty())
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
