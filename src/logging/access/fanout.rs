//! What an access line goes through besides being buffered as it is: syslog (each line sent
//! at once, in its own message) and a Python logging format around the line (a logging
//! config's formatter on the access log's file).

use crate::logging::LogLevel;
use crate::logging::outputs::{Open, OutSink};
use crate::logging::pyformat::{PyFormat, Record};
use crate::logging::route::LineFormat;
use crate::logging::syslog::{Syslog, severity};
use std::sync::Arc;

/// The extra steps of the access log, when there are any.
#[derive(Debug)]
pub(super) struct Fanout {
    /// No file or stream: the line is only sent to syslog.
    no_file: bool,
    wrap: Option<PyFormat>,
    syslogs: Vec<(Arc<Syslog>, Option<PyFormat>)>,
}

impl Fanout {
    /// `None` when a line is only buffered as it is.
    pub fn new(no_file: bool, wrap: Option<PyFormat>, outputs: Vec<Open>) -> Option<Fanout> {
        let syslogs: Vec<_> = outputs
            .into_iter()
            .filter_map(|o| match (o.sink, o.format) {
                (OutSink::Syslog(s), LineFormat::Python(f)) => Some((s, Some(f))),
                (OutSink::Syslog(s), _) => Some((s, None)),
                (OutSink::File(_), _) => None,
            })
            .collect();
        (no_file || wrap.is_some() || !syslogs.is_empty()).then_some(Fanout {
            no_file,
            wrap,
            syslogs,
        })
    }

    /// The line just written at `out[start..]` (ending with a newline): sent to syslog,
    /// then removed (no file) or rewritten in the file's Python format.
    pub fn apply(&self, out: &mut Vec<u8>, start: usize, secs: i64, micros: u32) {
        let message = out[start..]
            .strip_suffix(b"\n")
            .unwrap_or(&out[start..])
            .to_vec();
        let record = Record {
            name: "gunicorn.access",
            level: LogLevel::Info,
            message: &message,
            secs,
            micros,
        };
        let mut line = Vec::new();
        for (syslog, format) in &self.syslogs {
            let sent = match format {
                Some(format) => {
                    line.clear();
                    format.write(&mut line, &record);
                    &line[..]
                }
                None => &message[..],
            };
            if let Some(notice) = syslog.send(severity(LogLevel::Info), sent) {
                crate::logging::error::syslog_notice(&notice);
            }
        }
        if self.no_file {
            out.truncate(start);
        } else if let Some(wrap) = &self.wrap {
            out.truncate(start);
            wrap.write(out, &record);
            out.push(b'\n');
        }
    }
}
