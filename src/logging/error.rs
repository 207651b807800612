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
use super::{LogFormat, LogLevel};
use super::{escape, logs};
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Installs the error log as the process's `tracing` subscriber.
pub(super) fn install(level: LogLevel, format: LogFormat) {
    let filter = LevelFilter::from_level(level.tracing_level());
    let subscriber = tracing_subscriber::registry().with(ErrorLog { format }.with_filter(filter));
    // Only fails if a subscriber is already set (a second init): the first one stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The `tracing` layer.
struct ErrorLog {
    format: LogFormat,
}

/// Per-thread buffers: formatting a line allocates nothing once they have grown.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    message: String,
    /// Fields other than the message, already formatted for the line's format.
    fields: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl<S: Subscriber> Layer<S> for ErrorLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(logs) = logs() else { return };
        let level = *event.metadata().level();
        let write = |b: &mut Buffers| {
            b.line.clear();
            b.message.clear();
            b.fields.clear();
            let json = self.format == LogFormat::Json;
            event.record(&mut Fields {
                json,
                message: &mut b.message,
                fields: &mut b.fields,
            });
            let message = b.message.trim_end_matches('\n');
            match self.format {
                LogFormat::Text => text_line(&mut b.line, level_text(level), message, &b.fields),
                LogFormat::Json => json_line(
                    &mut b.line,
                    level_json(level),
                    message.as_bytes(),
                    &b.fields,
                ),
            }
            logs.error.write(&b.line);
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

/// Collects an event's message and formats its other fields.
struct Fields<'a> {
    json: bool,
    message: &'a mut String,
    fields: &'a mut Vec<u8>,
}

impl Fields<'_> {
    fn raw(&mut self, field: &Field, value: &str, quoted: bool) {
        if self.json {
            self.fields.push(b',');
            escape::json(self.fields, field.name().as_bytes());
            self.fields.push(b':');
            if quoted {
                escape::json(self.fields, value.as_bytes());
            } else {
                self.fields.extend_from_slice(value.as_bytes());
            }
        } else {
            self.fields.push(b' ');
            self.fields.extend_from_slice(field.name().as_bytes());
            self.fields.push(b'=');
            self.fields.extend_from_slice(value.as_bytes());
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
/// Text: the bytes as they are (as gunicorn does). JSON: one object per line.
pub fn app_line(stream: &str, line: &[u8]) {
    let Some(logs) = logs() else { return };
    let mut out = Vec::with_capacity(line.len() + 128);
    match logs.format {
        LogFormat::Text => {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        LogFormat::Json => {
            let level = if stream == "stdout" { "info" } else { "error" };
            let mut member = Vec::with_capacity(stream.len() + 12);
            member.extend_from_slice(b",\"stream\":");
            escape::json(&mut member, stream.as_bytes());
            json_line(&mut out, level, line, &member);
        }
    }
    logs.error.write(&out);
}

/// What `wsgi.errors` received and has not ended with a newline yet (JSON only).
static WSGI_ERRORS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// `wsgi.errors.write`: text goes to the error log as it is; JSON is cut into lines, the
/// last partial one kept until its newline or [`wsgi_errors_flush`].
pub fn wsgi_errors_write(text: &[u8]) {
    let Some(logs) = logs() else {
        // No logs set up (unit tests, embedding): standard error is the error log.
        use std::io::Write;
        let _ = std::io::stderr().lock().write_all(text);
        return;
    };
    if logs.format == LogFormat::Text {
        logs.error.write(text);
        return;
    }
    let mut partial = WSGI_ERRORS.lock().unwrap_or_else(|p| p.into_inner());
    partial.extend_from_slice(text);
    let mut start = 0;
    while let Some(nl) = partial[start..].iter().position(|&b| b == b'\n') {
        app_line("wsgi.errors", &partial[start..start + nl]);
        start += nl + 1;
    }
    partial.drain(..start);
}

/// `wsgi.errors.flush`: a partial JSON line is written as it is.
pub fn wsgi_errors_flush() {
    let mut partial = WSGI_ERRORS.lock().unwrap_or_else(|p| p.into_inner());
    if !partial.is_empty() {
        app_line("wsgi.errors", &partial);
        partial.clear();
    }
}
