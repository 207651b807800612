//! The access log: one line per request, in gunicorn's `--access-log-format` or as JSON.
//!
//! The format is compiled once ([`Format::compile`]); each request then costs one pass over
//! its pieces into a reusable buffer, with no allocation in the common case and no system
//! call: lines are buffered and written by [`flush`], which the worker's event loop calls
//! every quarter of a second (its deadline sweep), and which runs by itself when the buffer
//! passes [`FLUSH_AT`], on reopen and at exit. A line is thus at most a quarter of a second
//! late (nginx's `access_log ... buffer= flush=` trade-off), and a worker makes one
//! `write(2)` per 32 KiB of lines or per quarter second, whichever comes first, however
//! the requests arrive: flushing per event-loop wake-up would still cost one write per
//! request for a client that sends one request at a time.
//!
//! Every value that comes from a client is escaped ([`super::escape`]): a header holding
//! quotes or a line break cannot end its field or forge a line.
//!
//! # JSON (`--log-format json`)
//!
//! One object per line with fixed keys, so a log pipeline sees one schema whatever the text
//! format: `time` (RFC 3339), `remote_addr`, `user`, `request` (the request line), `method`,
//! `path` (percent-decoded), `query`, `protocol`, `status` (number), `bytes` (number: body
//! bytes sent), `referer`, `user_agent`, `duration_us` (number), `pid` (number). Unknown
//! values are `null`. The `{...}i`, `{...}o` and `{...}e` atoms of `--access-log-format`
//! add objects `request_headers`, `response_headers` and `environ`, keyed by the names as
//! written in the format.
//!
//! # Requests the server answers itself
//!
//! Refused requests (400, 408, 413, 431, 500...) are logged with what is known: a request
//! whose head could not be parsed has `%(r)s` set to the (escaped) bytes of its first line
//! and `-` for method, path and protocol. [`log_aborted`] logs a request cut short by a
//! worker timeout.

mod basic_auth;
mod entry;
mod fanout;
mod format;
mod json;
mod text;

pub use entry::{Entry, LoggedRequest};
pub use format::Format;

use super::LogFormat;
use super::clock::{self, Civil};
use super::escape;
use super::outputs::{Open, OutSink};
use super::route::LineFormat;
use super::sink::Sink;
use crate::peer::ConnInfo;
use json::write_json;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use text::{write_default, write_text};

/// gunicorn's default format (the Apache combined log without the ident lookup).
pub const DEFAULT_FORMAT: &str = crate::settings::DEFAULT_ACCESS_LOG_FORMAT;

/// Buffered lines are written once they pass this many bytes, even mid-wake-up.
pub const FLUSH_AT: usize = 32 * 1024;

/// At most this many bytes per `write(2)` to a pipe or terminal: up to `PIPE_BUF` a write is
/// atomic, so the workers' lines cannot interleave inside one another.
const PIPE_CHUNK: usize = 4096;

/// The process's access log.
struct AccessLog {
    /// The file or stream lines are buffered for (none: syslog only).
    sink: Option<Sink>,
    format: Format,
    json: bool,
    /// Anything besides writing the line as it is to `sink`: syslog, a Python format.
    /// `None` on the common path, which then costs this one check.
    extra: Option<fanout::Fanout>,
    /// Whether writes must be cut to [`PIPE_CHUNK`] (the sink is not a regular file).
    chunked: bool,
    state: Mutex<State>,
}

/// Lines not yet written, and the time as last formatted.
struct State {
    out: Vec<u8>,
    /// The second `clf` and `iso` are for.
    secs: i64,
    clf: Vec<u8>,
    /// The RFC 3339 time with `000000` microseconds (each line writes its own).
    iso: Vec<u8>,
}

static ACCESS: OnceLock<AccessLog> = OnceLock::new();

/// This process's pid in decimal (set again in each worker after the fork), rendered once:
/// see [`pid_word`].
static PID: AtomicU64 = AtomicU64::new(0);

/// Starts the access log with its outputs (at most one file or stream: the settings check
/// refuses more); called once by [`super::init`].
pub(super) fn install(outputs: Vec<Open>, format: Format, log_format: LogFormat) {
    refresh_pid();
    let (files, syslogs): (Vec<Open>, Vec<Open>) =
        outputs.into_iter().partition(|o| o.file().is_some());
    let file = files.into_iter().next();
    let json = match file.as_ref().map(|o| &o.format) {
        Some(LineFormat::Json) => true,
        _ => log_format == LogFormat::Json,
    };
    let (sink, wrap) = match file {
        Some(Open {
            sink: OutSink::File(sink),
            format: LineFormat::Python(wrap),
            ..
        }) => (Some(sink), Some(wrap)),
        Some(Open {
            sink: OutSink::File(sink),
            ..
        }) => (Some(sink), None),
        _ => (None, None),
    };
    let chunked = sink.as_ref().is_some_and(|s| !s.is_regular_file());
    let extra = fanout::Fanout::new(sink.is_none(), wrap, syslogs);
    let _ = ACCESS.set(AccessLog {
        sink,
        format,
        json,
        extra,
        chunked,
        state: Mutex::new(State {
            out: Vec::with_capacity(FLUSH_AT * 2),
            secs: i64::MIN,
            clf: Vec::with_capacity(32),
            iso: Vec::with_capacity(32),
        }),
    });
}

/// Remembers this process's pid (after a fork).
pub(super) fn refresh_pid() {
    PID.store(pid_word(std::process::id()), Ordering::Relaxed);
}

/// The digits of `pid` in the low 7 bytes of a word and their count in the top byte, so a
/// line copies them as one store ([`escape::word`]). Linux pids have at most 7 digits
/// (`pid_max` is at most 2^22); a longer one keeps its number, written digit by digit.
fn pid_word(pid: u32) -> u64 {
    let mut digits = Vec::with_capacity(10);
    escape::decimal(&mut digits, u64::from(pid));
    if digits.len() > 7 {
        return u64::from(pid);
    }
    let mut word = [0u8; 8];
    word[..digits.len()].copy_from_slice(&digits);
    word[7] = digits.len() as u8;
    u64::from_le_bytes(word)
}

/// Appends this process's pid.
pub(super) fn pid(out: &mut Vec<u8>) {
    let word = PID.load(Ordering::Relaxed).to_le_bytes();
    match word[7] {
        0 => escape::decimal(out, u64::from_le_bytes(word)),
        len => escape::word(out, &word, usize::from(len)),
    }
}

/// Whether requests are logged at all, to the access log or as StatsD metrics (callers
/// skip gathering an [`Entry`] otherwise).
pub fn enabled() -> bool {
    ACCESS.get().is_some() || super::statsd::enabled()
}

fn lock(log: &AccessLog) -> MutexGuard<'_, State> {
    log.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Buffers the line for one request; it is written by the next [`flush`]. With StatsD on,
/// the request's metrics are sent now.
pub fn log(entry: &Entry<'_>) {
    // gunicorn's StatsD logger measures requests in its access method, access log or not.
    if let Some(status) = entry.status {
        super::statsd::request(status, entry.duration);
    }
    let Some(log) = ACCESS.get() else { return };
    let (secs, micros) = clock::now();
    let mut state = lock(log);
    if state.secs != secs {
        state.secs = secs;
        let civil = Civil::local(secs);
        state.clf.clear();
        civil.write_clf(&mut state.clf);
        state.iso.clear();
        civil.write_rfc3339(&mut state.iso, 0);
    }
    let State { out, clf, iso, .. } = &mut *state;
    let start = out.len();
    if log.json {
        write_json(out, &log.format, entry, iso, micros);
    } else if log.format.default {
        write_default(out, entry, clf);
    } else {
        write_text(out, &log.format, entry, clf);
    }
    if let Some(extra) = &log.extra {
        extra.apply(out, start, secs, micros);
    }
    if out.len() >= FLUSH_AT {
        write_out(log, out);
    }
}

/// A request the worker answered itself as it aborted after a timeout (the 504 of
/// SIGABRT), with what the abort path knows of it.
#[derive(Clone, Copy, Debug)]
pub struct Aborted<'a> {
    /// The method.
    pub method: &'a str,
    /// The request target as received.
    pub target: &'a str,
    /// The request's connection facts (its client, as a proxy may have named it).
    pub conn: &'a ConnInfo,
    /// The status sent (504).
    pub status: u16,
    /// Body bytes of that response.
    pub body_bytes: u64,
    /// Since the request began.
    pub elapsed: Duration,
}

/// Logs a request cut short by a worker abort and writes the buffer at once (the process
/// is about to `_exit`). Callable from any thread. Its headers are not known: header atoms
/// show `-`, and `%(H)s` too.
pub fn log_aborted(request: &Aborted<'_>) {
    log(&Entry {
        conn: request.conn,
        request: LoggedRequest::Known {
            method: request.method.as_bytes(),
            target: request.target.as_bytes(),
        },
        status: Some(request.status),
        body_bytes: request.body_bytes,
        response: None,
        duration: request.elapsed,
        request_id: None,
    });
    flush();
}

/// Writes the buffered lines.
pub fn flush() {
    let Some(log) = ACCESS.get() else { return };
    let mut state = lock(log);
    if !state.out.is_empty() {
        write_out(log, &mut state.out);
    }
}

/// Lets go of the terminal (see [`super::detached_from_terminal`]).
pub(super) fn leave_terminal(inherit: bool) {
    if let Some(sink) = ACCESS.get().and_then(|log| log.sink.as_ref()) {
        let _ = sink.leave_terminal(inherit);
    }
}

/// Gives the access log file to `uid`/`gid` (see [`super::chown_files`]).
pub(super) fn chown(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    match ACCESS.get().and_then(|log| log.sink.as_ref()) {
        Some(sink) => sink.chown(uid, gid),
        None => Ok(()),
    }
}

/// Writes buffered lines, then reopens the file (SIGUSR1).
pub(super) fn reopen() -> io::Result<()> {
    let Some(log) = ACCESS.get() else {
        return Ok(());
    };
    let mut state = lock(log);
    write_out(log, &mut state.out);
    log.sink.as_ref().map_or(Ok(()), Sink::reopen)
}

fn write_out(log: &AccessLog, out: &mut Vec<u8>) {
    let Some(sink) = &log.sink else {
        out.clear();
        return;
    };
    if !log.chunked {
        sink.write(out);
    } else {
        // Whole lines, at most PIPE_CHUNK bytes per write (a longer line goes alone).
        let mut rest = &out[..];
        while !rest.is_empty() {
            let window = &rest[..rest.len().min(PIPE_CHUNK)];
            let cut = match window.iter().rposition(|&b| b == b'\n') {
                Some(nl) if rest.len() > PIPE_CHUNK => nl + 1,
                _ if rest.len() <= PIPE_CHUNK => rest.len(),
                _ => rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |nl| nl + 1),
            };
            sink.write(&rest[..cut]);
            rest = &rest[cut..];
        }
    }
    out.clear();
}

#[cfg(test)]
mod tests;
