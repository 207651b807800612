//! The error log: a `tracing` layer that writes each event as one line, gunicorn's text
//! (`[2026-11-21 10:00:00 +0000] [1234] [INFO] Listening at: ...`) or a JSON object
//! (`{"time":"...","level":"info","pid":1234,"message":"...", ...fields}`), plus what the
//! application writes to `wsgi.errors` or (with `--capture-output`) to its standard streams.
//!
//! Each line is formatted into a per-thread buffer and written with one `write(2)`; no lock
//! is shared between threads or processes.
//!
//! JSON keys: `time` (RFC 3339, local, microseconds), `level` (`debug`, `info`, `warning`,
//! `error`), `pid` (number), `message` (string), then one key per structured field of the
//! event (numbers and booleans typed), and `stream` (`stdout`, `stderr`, `wsgi.errors`) for
//! application output.

use super::clock::{self, Civil};
use super::json::Object;
use super::outputs::OutSink;
use super::pyformat::Record;
use super::route::LineFormat;
use super::syslog::{Notice, severity};
use super::{LogFormat, LogLevel, Logs};
use super::{escape, logs};
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Installs the error log as the process's `tracing` subscriber, at the lowest level its
/// outputs take.
pub(super) fn install(logs: &Logs) {
    let lowest = logs.error.iter().map(|o| threshold(o.level)).max();
    // StatsD counts warnings and errors whatever the log shows (gunicorn counts before
    // its logger filters): they must reach the layer.
    let counted = super::statsd::enabled().then_some(Level::WARN);
    let lowest = lowest.max(counted);
    let filter = lowest.map_or(LevelFilter::OFF, LevelFilter::from_level);
    let native_json = logs.format == LogFormat::Json;
    let json = logs.error.iter().any(|o| match o.format {
        LineFormat::Json => true,
        LineFormat::Native => native_json,
        LineFormat::Python(_) => false,
    });
    let text = logs.error.iter().any(|o| match o.format {
        LineFormat::Json => false,
        LineFormat::Native => !native_json,
        LineFormat::Python(_) => true,
    });
    let layer = ErrorLog { json, text };
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter));
    // Only fails if a subscriber is already set (a second init): the first one stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The `tracing` level an output's minimum stands for (tracing has no "critical").
fn threshold(level: LogLevel) -> Level {
    level.tracing_level()
}

/// Our level for a `tracing` one.
fn log_level(level: Level) -> LogLevel {
    match level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG | Level::TRACE => LogLevel::Debug,
    }
}

/// The `tracing` layer: which shapes of the fields its outputs need.
struct ErrorLog {
    json: bool,
    text: bool,
}

/// Per-thread buffers: formatting a line allocates nothing once they have grown.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    message: String,
    /// Fields other than the message, as ` key=value` text.
    fields: Vec<u8>,
    /// The same, as JSON members.
    json_fields: Vec<u8>,
    /// The message with its text fields (Python formats and syslog).
    full: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl<S: Subscriber> Layer<S> for ErrorLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(logs) = logs() else { return };
        let level = *event.metadata().level();
        count(level, event.metadata().target());
        if !logs.error.iter().any(|o| level <= threshold(o.level)) {
            return;
        }
        let write = |b: &mut Buffers| {
            b.message.clear();
            b.fields.clear();
            b.json_fields.clear();
            event.record(&mut Fields {
                json: self.json.then_some(&mut b.json_fields),
                text: self.text.then_some(&mut b.fields),
                message: &mut b.message,
            });
            write_event(logs, level, b);
        };
        // A thread that logs while formatting (it should not) gets fresh buffers.
        let done = BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut b) => {
                write(&mut b);
                true
            }
            Err(_) => false,
        });
        if !done {
            write(&mut Buffers::default());
        }
    }
}

/// Events logged with this target count as gunicorn's `log.critical` in StatsD (and are
/// errors otherwise): what gunicorn logs at CRITICAL.
pub const CRITICAL: &str = "rsgi::critical";

/// Events logged with this target count as gunicorn's `log.exception` in StatsD (and are
/// errors otherwise): an application error with its traceback, which gunicorn logs with
/// `log.exception`.
pub const EXCEPTION: &str = "rsgi::exception";

/// Counts a warning or error event in StatsD, as gunicorn's `Statsd` logger does.
fn count(level: Level, target: &str) {
    use super::statsd::{LogEvent, enabled, log_event};
    if level > Level::WARN || !enabled() {
        return;
    }
    log_event(match (level, target) {
        (Level::WARN, _) => LogEvent::Warning,
        (_, CRITICAL) => LogEvent::Critical,
        (_, EXCEPTION) => LogEvent::Exception,
        _ => LogEvent::Error,
    });
}

/// Writes one event to each output that takes its level.
fn write_event(logs: &Logs, level: Level, b: &mut Buffers) {
    let message = b.message.trim_end_matches('\n');
    let ours = log_level(level);
    b.full.clear();
    b.full.extend_from_slice(message.as_bytes());
    b.full.extend_from_slice(&b.fields);
    for output in logs.error.iter().filter(|o| level <= threshold(o.level)) {
        b.line.clear();
        let json = match &output.format {
            LineFormat::Python(format) => {
                format.write(&mut b.line, &record(ours, &b.full));
                None
            }
            LineFormat::Json => Some(true),
            LineFormat::Native => Some(logs.format == LogFormat::Json),
        };
        match json {
            None => {}
            Some(true) => json_line(
                &mut b.line,
                level_json(level),
                message.as_bytes(),
                &b.json_fields,
            ),
            Some(false) => text_line(&mut b.line, level_text(level), message, &b.fields),
        }
        match &output.sink {
            OutSink::File(sink) => {
                if !b.line.ends_with(b"\n") {
                    b.line.push(b'\n');
                }
                sink.write(&b.line);
            }
            OutSink::Syslog(syslog) => {
                let line = b.line.strip_suffix(b"\n").unwrap_or(&b.line);
                if let Some(notice) = syslog.send(severity(ours), line) {
                    self::notice(logs, &notice);
                }
            }
        }
    }
}

fn record<'a>(level: LogLevel, message: &'a [u8]) -> Record<'a> {
    let (secs, micros) = clock::now();
    Record {
        name: "gunicorn.error",
        level,
        message,
        secs,
        micros,
    }
}

/// Says something about a syslog destination in the error log's files and streams (never
/// to syslog itself).
pub(super) fn notice(logs: &Logs, notice: &Notice) {
    let (level, text) = match notice {
        Notice::Failing(text) => (Level::WARN, text),
        Notice::Recovered(text) => (Level::INFO, text),
    };
    let mut line = Vec::with_capacity(text.len() + 64);
    for (sink, json) in logs.error_files() {
        line.clear();
        if json {
            json_line(&mut line, level_json(level), text.as_bytes(), b"");
        } else {
            text_line(&mut line, level_text(level), text, b"");
        }
        sink.write(&line);
    }
}

/// [`notice`] from the access log.
pub(super) fn syslog_notice(notice: &Notice) {
    if let Some(logs) = logs() {
        self::notice(logs, notice);
    }
}

fn level_text(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

fn level_json(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    }
}

/// `[time] [pid] [LEVEL] message key=value...`
fn text_line(out: &mut Vec<u8>, level: &str, message: &str, fields: &[u8]) {
    Civil::local(clock::now().0).write_error_log(out);
    out.extend_from_slice(b" [");
    escape::decimal(out, u64::from(std::process::id()));
    out.extend_from_slice(b"] [");
    out.extend_from_slice(level.as_bytes());
    out.extend_from_slice(b"] ");
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(fields);
    out.push(b'\n');
}

/// `{"time":...,"level":...,"pid":...,"message":...,<fields>}`; `fields` are formatted
/// members (`,"key":value`).
fn json_line(out: &mut Vec<u8>, level: &str, message: &[u8], fields: &[u8]) {
    let (secs, micros) = clock::now();
    let mut o = Object::begin(out);
    o.quoted("time", |out| Civil::local(secs).write_rfc3339(out, micros));
    o.str("level", level.as_bytes());
    o.num("pid", u64::from(std::process::id()));
    o.str("message", message);
    o.members(fields);
    o.end();
}

/// Collects an event's message and formats its other fields, as text and/or JSON.
struct Fields<'a> {
    json: Option<&'a mut Vec<u8>>,
    text: Option<&'a mut Vec<u8>>,
    message: &'a mut String,
}

impl Fields<'_> {
    fn raw(&mut self, field: &Field, value: &str, quoted: bool) {
        if let Some(out) = self.json.as_deref_mut() {
            out.push(b',');
            escape::json(out, field.name().as_bytes());
            out.push(b':');
            if quoted {
                escape::json(out, value.as_bytes());
            } else {
                out.extend_from_slice(value.as_bytes());
            }
        }
        if let Some(out) = self.text.as_deref_mut() {
            out.push(b' ');
            out.extend_from_slice(field.name().as_bytes());
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let text = format!("{value:?}");
            self.raw(field, &text, true);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.raw(field, value, true);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, &value.to_string(), false);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, &value.to_string(), false);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { "true" } else { "false" }, false);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, &value.to_string(), false);
        } else {
            self.raw(field, &value.to_string(), true);
        }
    }
}

/// Output the application wrote, as error log lines: `stream` names where it came from.
/// Text outputs get the bytes as they are (as gunicorn does), JSON ones one object per
/// line. Not to syslog: gunicorn writes it to the error log's streams only.
pub fn app_line(stream: &str, line: &[u8]) {
    let Some(logs) = logs() else { return };
    let mut out = Vec::with_capacity(line.len() + 128);
    for (sink, json) in logs.error_files() {
        out.clear();
        if json {
            let level = if stream == "stdout" { "info" } else { "error" };
            let mut member = Vec::with_capacity(stream.len() + 12);
            member.extend_from_slice(b",\"stream\":");
            escape::json(&mut member, stream.as_bytes());
            json_line(&mut out, level, line, &member);
        } else {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        sink.write(&out);
    }
}

/// What `wsgi.errors` received and has not ended with a newline yet (JSON outputs only).
static WSGI_ERRORS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// `wsgi.errors.write`: text outputs get it as it is; for JSON ones it is cut into lines,
/// the last partial one kept until its newline or [`wsgi_errors_flush`].
pub fn wsgi_errors_write(text: &[u8]) {
    let Some(logs) = logs() else {
        // No logs set up (unit tests, embedding): standard error is the error log.
        use std::io::Write;
        let _ = std::io::stderr().lock().write_all(text);
        return;
    };
    let mut any_json = false;
    for (sink, json) in logs.error_files() {
        if json {
            any_json = true;
        } else {
            sink.write(text);
        }
    }
    if !any_json {
        return;
    }
    let mut partial = WSGI_ERRORS.lock().unwrap_or_else(|p| p.into_inner());
    partial.extend_from_slice(text);
    let mut start = 0;
    while let Some(nl) = partial[start..].iter().position(|&b| b == b'\n') {
        json_app_line(logs, &partial[start..start + nl]);
        start += nl + 1;
    }
    partial.drain(..start);
}

/// A `wsgi.errors` line to the JSON outputs.
fn json_app_line(logs: &Logs, line: &[u8]) {
    let mut out = Vec::with_capacity(line.len() + 128);
    json_line(&mut out, "error", line, b",\"stream\":\"wsgi.errors\"");
    for (sink, json) in logs.error_files() {
        if json {
            sink.write(&out);
        }
    }
}

/// `wsgi.errors.flush`: a partial JSON line is written as it is.
pub fn wsgi_errors_flush() {
    let mut partial = WSGI_ERRORS.lock().unwrap_or_else(|p| p.into_inner());
    if !partial.is_empty() {
        if let Some(logs) = logs() {
            json_app_line(logs, &partial);
        }
        partial.clear();
    }
}
