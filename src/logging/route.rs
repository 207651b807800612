//! Where each log's lines go: a list of outputs per log, each with its destination, its
//! minimum level and its line format. gunicorn's own settings give the default routes
//! ([`Routes::gunicorn`]); a Python logging config (`--log-config`...) may replace them
//! ([`super::python_config`]).

use super::LogLevel;
use super::pyformat::PyFormat;
use super::syslog::SyslogAddr;
use std::path::PathBuf;

/// Where an output writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A file, opened for appending (reopened on SIGUSR1).
    File(PathBuf),
    /// A syslog server, with the facility code.
    Syslog(SyslogAddr, u8),
}

/// How an output writes a line.
#[derive(Clone, Debug, PartialEq)]
pub enum LineFormat {
    /// The log's own line: gunicorn's text or JSON (`--log-format`) for the error log, the
    /// `--access-log-format` line (or JSON) for the access log.
    Native,
    /// A Python `logging.Formatter` format around the message.
    Python(PyFormat),
    /// One JSON object per line (a JSON formatter class in a logging config).
    Json,
}

/// One destination of a log.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Where.
    pub to: Destination,
    /// Lines below this level are not written here.
    pub level: LogLevel,
    /// How.
    pub format: LineFormat,
}

impl Output {
    /// Whether it goes to syslog (a log may have several of those, but one file or stream).
    pub fn is_syslog(&self) -> bool {
        matches!(self.to, Destination::Syslog(..))
    }
}

/// The outputs of both logs (empty: the log is off).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Routes {
    /// The error log's.
    pub error: Vec<Output>,
    /// The access log's (lines are at level info).
    pub access: Vec<Output>,
}

/// gunicorn's own settings, as its `Logger.setup` reads them.
#[derive(Clone, Debug)]
pub struct GunicornLogging<'a> {
    /// `--log-level`.
    pub level: LogLevel,
    /// `--error-logfile` (`None`: standard error).
    pub error_logfile: Option<&'a PathBuf>,
    /// `--access-logfile`: `None` no access log, `Some(None)` standard output.
    pub access_logfile: Option<Option<&'a PathBuf>>,
    /// `--log-syslog`: the address, facility and program-name prefix.
    pub syslog: Option<(SyslogAddr, u8, String)>,
    /// `--disable-redirect-access-to-syslog`.
    pub access_not_to_syslog: bool,
}

impl Routes {
    /// The routes gunicorn's settings give, before any logging config.
    pub fn gunicorn(g: &GunicornLogging<'_>) -> Routes {
        let mut error = vec![Output {
            to: g
                .error_logfile
                .map_or(Destination::Stderr, |f| Destination::File(f.clone())),
            level: LogLevel::Debug,
            format: LineFormat::Native,
        }];
        let mut access: Vec<Output> = g
            .access_logfile
            .map(|file| Output {
                to: file.map_or(Destination::Stdout, |f| Destination::File(f.clone())),
                level: LogLevel::Debug,
                format: LineFormat::Native,
            })
            .into_iter()
            .collect();
        if let Some((addr, facility, prefix)) = &g.syslog {
            error.push(syslog_output(addr, *facility, prefix, "error"));
            if !g.access_not_to_syslog {
                access.push(syslog_output(addr, *facility, prefix, "access"));
            }
        }
        Routes { error, access }
    }
}

/// gunicorn's syslog handler: `gunicorn.<prefix>.<log>: [%(process)d] %(message)s`.
fn syslog_output(addr: &SyslogAddr, facility: u8, prefix: &str, log: &str) -> Output {
    let format = format!(
        "gunicorn.{}.{log}: [%(process)d] %(message)s",
        escape(prefix)
    );
    Output {
        to: Destination::Syslog(addr.clone(), facility),
        level: LogLevel::Debug,
        format: LineFormat::Python(
            PyFormat::compile(&format, None).unwrap_or_else(|_| PyFormat::message_only()),
        ),
    }
}

/// A prefix as literal text in a Python format.
fn escape(prefix: &str) -> String {
    prefix.replace('%', "%%")
}
