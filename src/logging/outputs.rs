//! Opening a log's [`route`](super::route) outputs: a file or standard stream
//! ([`Sink`]), or a syslog socket ([`Syslog`]).

use super::LogError;
use super::route::{Destination, LineFormat, Output};
use super::sink::Sink;
use super::syslog::Syslog;
use super::syslog::SyslogAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Syslog destinations opened so far: outputs to the same one share its socket, its
/// count of dropped lines and its one report of failure.
pub(super) type Opened = Vec<((SyslogAddr, u8), Arc<Syslog>)>;

/// Where an open output writes.
#[derive(Debug)]
pub(super) enum OutSink {
    /// A file or a standard stream.
    File(Sink),
    /// A syslog server.
    Syslog(Arc<Syslog>),
}

/// An open output.
#[derive(Debug)]
pub(super) struct Open {
    /// Where.
    pub sink: OutSink,
    /// From which level.
    pub level: super::LogLevel,
    /// How.
    pub format: LineFormat,
}

/// Opens `output`; `option` names the setting that routed there, for the error.
pub(super) fn open(
    output: &Output,
    option: &'static str,
    opened: &mut Opened,
) -> Result<Open, LogError> {
    let sink = match &output.to {
        Destination::Stdout => OutSink::File(Sink::stdout()),
        Destination::Stderr => OutSink::File(Sink::stderr()),
        Destination::File(path) => OutSink::File(Sink::open(path).map_err(|source| LogError {
            option,
            path: path.clone(),
            source,
        })?),
        Destination::Syslog(addr, facility) => {
            let key = (addr.clone(), *facility);
            match opened.iter().find(|(k, _)| *k == key) {
                Some((_, syslog)) => OutSink::Syslog(Arc::clone(syslog)),
                None => {
                    let syslog =
                        Arc::new(Syslog::open(addr, *facility).map_err(|source| LogError {
                            option: "--log-syslog-to",
                            path: PathBuf::from(addr.to_string()),
                            source,
                        })?);
                    opened.push((key, Arc::clone(&syslog)));
                    OutSink::Syslog(syslog)
                }
            }
        }
    };
    Ok(Open {
        sink,
        level: output.level,
        format: output.format.clone(),
    })
}

impl Open {
    /// The file or stream, unless it is syslog.
    pub fn file(&self) -> Option<&Sink> {
        match &self.sink {
            OutSink::File(sink) => Some(sink),
            OutSink::Syslog(_) => None,
        }
    }
}
