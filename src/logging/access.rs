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

use super::LogFormat;
use super::clock::{self, Civil};
use super::escape;
use super::json::Object;
use super::sink::Sink;
use crate::http::Version;
use crate::http::request::RequestHead;
use crate::http::response::ResponseHead;
use crate::peer::ConnInfo;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// gunicorn's default format (the Apache combined log without the ident lookup).
pub const DEFAULT_FORMAT: &str = crate::settings::DEFAULT_ACCESS_LOG_FORMAT;

/// Buffered lines are written once they pass this many bytes, even mid-wake-up.
pub const FLUSH_AT: usize = 32 * 1024;

/// At most this many bytes per `write(2)` to a pipe or terminal: up to `PIPE_BUF` a write is
/// atomic, so the workers' lines cannot interleave inside one another.
const PIPE_CHUNK: usize = 4096;

/// One step of a compiled format: what it writes, then the literal of at most 8 bytes that
/// follows (padded, possibly empty), written as one word (see [`escape::word`]). Small and
/// `Copy`, with names kept in [`Format`]'s tables: the per-request loop makes one dispatch
/// per atom, on one tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    what: What,
    tail: [u8; 8],
    tail_len: u8,
}

/// What a [`Piece`] writes before its tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    /// A value of the request.
    Atom(Atom),
    /// Text longer than 8 bytes, as written: `len` bytes of [`Format::text`] from `start`.
    Literal { start: u32, len: u32 },
    /// Only the tail (a short literal at the start of the line).
    Nothing,
}

impl Piece {
    fn new(what: What) -> Piece {
        Piece {
            what,
            tail: [0; 8],
            tail_len: 0,
        }
    }
}

/// gunicorn's atoms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Atom {
    /// `h`: remote address.
    RemoteAddr,
    /// `l`: always `-`.
    Ident,
    /// `u`: the user of HTTP Basic authentication.
    User,
    /// `t`: the time, `[21/Nov/2026:10:00:00 +0000]`.
    Time,
    /// `r`: the request line.
    RequestLine,
    /// `m`: the method.
    Method,
    /// `U`: the path, percent-decoded.
    Path,
    /// `q`: the query string.
    Query,
    /// `H`: the protocol.
    Protocol,
    /// `s`: the status.
    Status,
    /// `B`: body bytes sent.
    Bytes,
    /// `b`: body bytes sent, `-` for none.
    BytesOrDash,
    /// `f`: the Referer header.
    Referer,
    /// `a`: the User-Agent header.
    UserAgent,
    /// `T`: duration in whole seconds.
    Seconds,
    /// `M`: duration in whole milliseconds.
    Millis,
    /// `D`: duration in microseconds.
    Micros,
    /// `L`: duration in decimal seconds, `0.001234`.
    DecimalSeconds,
    /// `p`: `<pid>`.
    Pid,
    /// `{name}i`: a request header, by its slot in [`Format::headers`].
    RequestHeader(u16),
    /// `{name}o`: a response header, by its index in [`Format::response_headers`].
    ResponseHeader(u16),
    /// `{name}e`: a WSGI environ key, by its index in [`Format::environ`].
    Environ(u16),
}

/// What a `{name}e` atom reads. The line is written without Python, so keys are computed
/// from the request as the server builds the environ (changes the app makes to its environ
/// are not seen); any other name is read from the process environment at startup.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Environ {
    RemoteAddr,
    RemotePort,
    ServerName,
    ServerPort,
    ServerProtocol,
    RequestMethod,
    PathInfo,
    QueryString,
    RawUri,
    UrlScheme,
    /// `HTTP_*`, `CONTENT_TYPE`, `CONTENT_LENGTH`: the header in this slot of
    /// [`Format::headers`].
    Header(usize),
    /// Fixed when the format was compiled.
    Fixed(Option<String>),
}

/// A compiled `--access-log-format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// It is [`DEFAULT_FORMAT`], which has a loop-free writer.
    default: bool,
    /// It has `{...}i`, `{...}o` or `{...}e` atoms (JSON lines then have extra objects).
    extras: bool,
    pieces: Vec<Piece>,
    /// The literal text the pieces point into.
    text: Vec<u8>,
    /// Names of `{name}o` atoms, lowercased (matched case-insensitively).
    response_headers: Vec<String>,
    /// `{name}e` atoms: the name as written and what it reads.
    environ: Vec<(String, Environ)>,
    /// Every request header a line may show, lowercased: gathered in one pass over the
    /// request's headers. The first three are always [`AUTHORIZATION`], [`REFERER`] and
    /// [`USER_AGENT`] (the JSON keys need them whatever the format).
    headers: Vec<String>,
    /// It shows Authorization, Referer or User-Agent (`%(u)s`, `%(f)s`, `%(a)s`, or one of
    /// them by name): the one pass over the request's headers is needed.
    common_headers: bool,
}

/// Slots of [`Format::headers`].
const AUTHORIZATION: usize = 0;
const REFERER: usize = 1;
const USER_AGENT: usize = 2;

const ATOMS_HELP: &str = "atoms written %(name)s: h l u t r m U q H s B b f a T M D L p, \
                          {header}i, {header}o, {variable}e; %% for a literal %";

impl Format {
    /// Compiles a gunicorn format. `env` (the `--env` settings) and the process environment
    /// supply `{NAME}e` atoms that are not request values. The error says what is wrong.
    pub fn compile(format: &str, env: &[(String, String)]) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut tables = Tables {
            headers: ["authorization", "referer", "user-agent"]
                .map(str::to_owned)
                .to_vec(),
            response_headers: Vec::new(),
            environ: Vec::new(),
        };
        let mut pieces_atoms: Vec<(usize, Atom)> = Vec::new();
        let mut rest = format;
        while let Some(at) = rest.find('%') {
            literal.extend_from_slice(&rest.as_bytes()[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('%') {
                literal.push(b'%');
                rest = after;
                continue;
            }
            let Some(inner) = rest.strip_prefix('(') else {
                return Err(format!("a '%' that is not %(name)s or %%; {ATOMS_HELP}"));
            };
            let Some(close) = inner.find(')') else {
                return Err(format!("an unclosed %(; {ATOMS_HELP}"));
            };
            let name = &inner[..close];
            let after = &inner[close + 1..];
            // `s` as gunicorn documents it; `d` also works there for numeric atoms.
            let Some(after) = after.strip_prefix('s').or_else(|| after.strip_prefix('d')) else {
                return Err(format!("%({name}) must be followed by 's'; {ATOMS_HELP}"));
            };
            let atom = tables
                .atom(name, env)
                .ok_or_else(|| format!("unknown atom %({name})s; {ATOMS_HELP}"))?;
            if atom == Atom::Ident {
                // Always `-`: part of the literal around it.
                literal.push(b'-');
                rest = after;
                continue;
            }
            if !literal.is_empty() {
                pieces.push(std::mem::take(&mut literal));
            }
            pieces_atoms.push((pieces.len(), atom));
            pieces.push(Vec::new());
            rest = after;
        }
        literal.extend_from_slice(rest.as_bytes());
        // The line's end is part of the last literal: one piece fewer per line.
        literal.push(b'\n');
        pieces.push(literal);
        if pieces.len() > u16::MAX as usize || format.len() > u32::MAX as usize / 2 {
            return Err("a shorter format".to_owned());
        }
        // Literals become pieces pointing into one text (or words); atoms stay in place.
        let mut text = Vec::new();
        let mut compiled: Vec<Piece> = Vec::with_capacity(pieces.len());
        let mut atoms = pieces_atoms.into_iter().peekable();
        for (i, literal) in pieces.into_iter().enumerate() {
            if let Some((_, atom)) = atoms.next_if(|(at, _)| *at == i) {
                compiled.push(Piece::new(What::Atom(atom)));
                continue;
            }
            if literal.len() > 8 {
                compiled.push(Piece::new(What::Literal {
                    start: text.len() as u32,
                    len: literal.len() as u32,
                }));
                text.extend_from_slice(&literal);
                continue;
            }
            // The tail of the atom before (literals never follow literals), or alone.
            if compiled.last().is_none_or(|p| p.tail_len != 0) {
                compiled.push(Piece::new(What::Nothing));
            }
            let last = compiled.last_mut().expect("pushed");
            last.tail[..literal.len()].copy_from_slice(&literal);
            last.tail_len = literal.len() as u8;
        }
        let extras = compiled.iter().any(|p| {
            matches!(
                p.what,
                What::Atom(Atom::RequestHeader(_) | Atom::ResponseHeader(_) | Atom::Environ(_))
            )
        });
        let common_headers = compiled.iter().any(|p| match p.what {
            What::Atom(Atom::User | Atom::Referer | Atom::UserAgent) => true,
            What::Atom(Atom::RequestHeader(slot)) => usize::from(slot) <= USER_AGENT,
            _ => false,
        }) || tables
            .environ
            .iter()
            .any(|(_, reads)| matches!(reads, Environ::Header(slot) if *slot <= USER_AGENT));
        Ok(Format {
            default: format == DEFAULT_FORMAT,
            common_headers,
            extras,
            pieces: compiled,
            text,
            response_headers: tables.response_headers,
            environ: tables.environ,
            headers: tables.headers,
        })
    }
}

/// The names a format's atoms refer to, while it is compiled.
struct Tables {
    headers: Vec<String>,
    response_headers: Vec<String>,
    environ: Vec<(String, Environ)>,
}

impl Tables {
    /// The slot of request header `name` (lowercase), added if new.
    fn slot(&mut self, name: &str) -> usize {
        match self.headers.iter().position(|h| h == name) {
            Some(i) => i,
            None => {
                self.headers.push(name.to_owned());
                self.headers.len() - 1
            }
        }
    }

    fn atom(&mut self, name: &str, env: &[(String, String)]) -> Option<Atom> {
        atom(name, env, self)
    }
}

fn atom(name: &str, env: &[(String, String)], tables: &mut Tables) -> Option<Atom> {
    Some(match name {
        "h" => Atom::RemoteAddr,
        "l" => Atom::Ident,
        "u" => Atom::User,
        "t" => Atom::Time,
        "r" => Atom::RequestLine,
        "m" => Atom::Method,
        "U" => Atom::Path,
        "q" => Atom::Query,
        "H" => Atom::Protocol,
        "s" => Atom::Status,
        "B" => Atom::Bytes,
        "b" => Atom::BytesOrDash,
        "f" => Atom::Referer,
        "a" => Atom::UserAgent,
        "T" => Atom::Seconds,
        "M" => Atom::Millis,
        "D" => Atom::Micros,
        "L" => Atom::DecimalSeconds,
        "p" => Atom::Pid,
        _ => {
            let inner = name.strip_prefix('{')?;
            let (key, kind) = inner.rsplit_once('}')?;
            if key.is_empty() {
                return None;
            }
            match kind {
                "i" => Atom::RequestHeader(tables.slot(&key.to_ascii_lowercase()) as u16),
                "o" => {
                    tables.response_headers.push(key.to_ascii_lowercase());
                    Atom::ResponseHeader((tables.response_headers.len() - 1) as u16)
                }
                "e" => {
                    let reads = environ(key, env, tables);
                    tables.environ.push((key.to_owned(), reads));
                    Atom::Environ((tables.environ.len() - 1) as u16)
                }
                _ => return None,
            }
        }
    })
}

fn environ(key: &str, env: &[(String, String)], tables: &mut Tables) -> Environ {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "remote_addr" => Environ::RemoteAddr,
        "remote_port" => Environ::RemotePort,
        "server_name" => Environ::ServerName,
        "server_port" => Environ::ServerPort,
        "server_protocol" => Environ::ServerProtocol,
        "request_method" => Environ::RequestMethod,
        "path_info" => Environ::PathInfo,
        "query_string" => Environ::QueryString,
        "raw_uri" => Environ::RawUri,
        "wsgi.url_scheme" => Environ::UrlScheme,
        "content_type" => Environ::Header(tables.slot("content-type")),
        "content_length" => Environ::Header(tables.slot("content-length")),
        _ => match lower.strip_prefix("http_") {
            Some(header) => Environ::Header(tables.slot(&header.replace('_', "-"))),
            None => Environ::Fixed(
                env.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(key).ok()),
            ),
        },
    }
}

/// What the request was, as far as the server got.
#[derive(Clone, Copy, Debug)]
pub enum RequestLine<'a> {
    /// A parsed head.
    Parsed(&'a RequestHead),
    /// The head could not be parsed: the bytes of its first line received so far.
    Unparsed(&'a [u8]),
    /// Only the method and target are known (a request cut short by a worker abort).
    Known {
        /// The method.
        method: &'a [u8],
        /// The request target as received.
        target: &'a [u8],
    },
}

/// Everything one access log line can show.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The connection.
    pub conn: &'a ConnInfo,
    /// The request.
    pub request: RequestLine<'a>,
    /// The response status; `None` when no response head was sent.
    pub status: Option<u16>,
    /// Response body bytes sent (without headers and chunk framing).
    pub body_bytes: u64,
    /// The response head as the application set it; `None` when the server answered.
    pub response: Option<&'a ResponseHead>,
    /// From the request's first byte to the response being complete.
    pub duration: Duration,
}

impl<'a> Entry<'a> {
    fn head(&self) -> Option<&'a RequestHead> {
        match self.request {
            RequestLine::Parsed(head) => Some(head),
            RequestLine::Unparsed(_) | RequestLine::Known { .. } => None,
        }
    }

    fn method(&self) -> Option<&'a [u8]> {
        match self.request {
            RequestLine::Parsed(head) => Some(head.method_bytes()),
            RequestLine::Known { method, .. } => Some(method),
            RequestLine::Unparsed(_) => None,
        }
    }

    fn target(&self) -> Option<&'a [u8]> {
        match self.request {
            RequestLine::Parsed(head) => Some(head.target()),
            RequestLine::Known { target, .. } => Some(target),
            RequestLine::Unparsed(_) => None,
        }
    }

    /// The path, still percent-encoded.
    fn raw_path(&self) -> Option<&'a [u8]> {
        match self.request {
            RequestLine::Parsed(head) => Some(head.path()),
            RequestLine::Known { target, .. } => target.split(|&b| b == b'?').next(),
            RequestLine::Unparsed(_) => None,
        }
    }

    /// The path, percent-decoded (gunicorn's `PATH_INFO`).
    fn path(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        self.raw_path().map(crate::http::percent_decode)
    }

    fn query(&self) -> Option<&'a [u8]> {
        match self.request {
            RequestLine::Parsed(head) => Some(head.query()),
            RequestLine::Known { target, .. } => Some(
                target
                    .iter()
                    .position(|&b| b == b'?')
                    .map_or(&[][..], |q| &target[q + 1..]),
            ),
            RequestLine::Unparsed(_) => None,
        }
    }

    fn protocol(&self) -> Option<&'static [u8]> {
        self.head().map(|h| h.version.as_str().as_bytes())
    }

    fn response_header(&self, lowercase: &str) -> Option<&'a [u8]> {
        self.response?.header(lowercase.as_bytes())
    }
}

/// The request headers a line shows: Authorization, Referer and User-Agent (the atoms of
/// the default format and JSON keys) found in one pass that skips other headers on their
/// length alone; the rarer `{name}i` headers are looked up when written.
struct Found<'a> {
    head: Option<&'a RequestHead>,
    names: &'a [String],
    /// The slots [`AUTHORIZATION`], [`REFERER`] and [`USER_AGENT`].
    common: [Option<&'a [u8]>; 3],
}

impl<'a> Found<'a> {
    /// `common`: whether the line shows any of the three (otherwise the pass is skipped).
    #[inline]
    fn gather(head: Option<&'a RequestHead>, names: &'a [String], common: bool) -> Found<'a> {
        let mut found = Found {
            head,
            names,
            common: [None; 3],
        };
        let Some(request) = head.filter(|_| common) else {
            return found;
        };
        for (name, value) in request.headers() {
            let slot = match name.len() {
                13 if name.eq_ignore_ascii_case(b"authorization") => AUTHORIZATION,
                7 if name.eq_ignore_ascii_case(b"referer") => REFERER,
                10 if name.eq_ignore_ascii_case(b"user-agent") => USER_AGENT,
                _ => continue,
            };
            // The first value wins, as for the environ's single value.
            found.common[slot].get_or_insert(value);
        }
        found
    }

    /// The header in `slot` of [`Format::headers`].
    fn get(&self, slot: usize) -> Option<&'a [u8]> {
        match self.common.get(slot) {
            Some(value) => *value,
            None => self.head.and_then(|h| h.header(&self.names[slot])),
        }
    }
}

/// The process's access log.
struct AccessLog {
    sink: Sink,
    format: Format,
    json: bool,
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

/// Starts the access log; called once by [`super::init`].
pub(super) fn install(sink: Sink, format: Format, log_format: LogFormat) {
    refresh_pid();
    let chunked = !sink.is_regular_file();
    let _ = ACCESS.set(AccessLog {
        sink,
        format,
        json: log_format == LogFormat::Json,
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
fn pid(out: &mut Vec<u8>) {
    let word = PID.load(Ordering::Relaxed).to_le_bytes();
    match word[7] {
        0 => escape::decimal(out, u64::from_le_bytes(word)),
        len => escape::word(out, &word, usize::from(len)),
    }
}

/// Whether requests are logged at all (callers skip gathering an [`Entry`] otherwise).
pub fn enabled() -> bool {
    ACCESS.get().is_some()
}

fn lock(log: &AccessLog) -> MutexGuard<'_, State> {
    log.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Buffers the line for one request; it is written by the next [`flush`].
pub fn log(entry: &Entry<'_>) {
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
    if log.json {
        write_json(out, &log.format, entry, iso, micros);
    } else if log.format.default {
        write_default(out, entry, clf);
    } else {
        write_text(out, &log.format, entry, clf);
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
        request: RequestLine::Known {
            method: request.method.as_bytes(),
            target: request.target.as_bytes(),
        },
        status: Some(request.status),
        body_bytes: request.body_bytes,
        response: None,
        duration: request.elapsed,
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
pub(super) fn leave_terminal() {
    if let Some(log) = ACCESS.get() {
        let _ = log.sink.leave_terminal();
    }
}

/// Gives the access log file to `uid`/`gid` (see [`super::chown_files`]).
pub(super) fn chown(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    match ACCESS.get() {
        Some(log) => log.sink.chown(uid, gid),
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
    log.sink.reopen()
}

fn write_out(log: &AccessLog, out: &mut Vec<u8>) {
    if !log.chunked {
        log.sink.write(out);
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
            log.sink.write(&rest[..cut]);
            rest = &rest[cut..];
        }
    }
    out.clear();
}

fn dash_or(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => escape::text(out, v),
        _ => out.push(b'-'),
    }
}

/// [`DEFAULT_FORMAT`], what nearly every server logs, written straight: about half the
/// instructions of the general loop ([`write_text`]), with the same output (tested).
fn write_default(out: &mut Vec<u8>, e: &Entry<'_>, clf: &[u8]) {
    let (mut auth, mut referer, mut agent) = (None, None, None);
    if let Some(head) = e.head() {
        for (name, value) in head.headers() {
            let slot = match name.len() {
                13 if name.eq_ignore_ascii_case(b"authorization") => &mut auth,
                7 if name.eq_ignore_ascii_case(b"referer") => &mut referer,
                10 if name.eq_ignore_ascii_case(b"user-agent") => &mut agent,
                _ => continue,
            };
            // The first value wins, as in the general writer.
            if slot.is_none() {
                *slot = Some(value);
            }
        }
    }
    dash_or(out, Some(e.conn.remote_addr.as_bytes()));
    out.extend_from_slice(b" - ");
    match auth.and_then(basic_user) {
        Some(user) => dash_or(out, Some(&user)),
        None => out.push(b'-'),
    }
    out.push(b' ');
    out.extend_from_slice(clf);
    out.extend_from_slice(b" \"");
    request_line(out, e.request);
    out.extend_from_slice(b"\" ");
    status(out, e.status);
    out.push(b' ');
    if e.body_bytes == 0 {
        out.push(b'-');
    } else {
        escape::decimal(out, e.body_bytes);
    }
    out.extend_from_slice(b" \"");
    dash_or(out, referer);
    out.extend_from_slice(b"\" \"");
    dash_or(out, agent);
    out.extend_from_slice(b"\"\n");
}

/// The status, or `-` when no response head was sent.
fn status(out: &mut Vec<u8>, status: Option<u16>) {
    match status {
        Some(status @ 100..=999) => {
            let digits = [
                b'0' + (status / 100) as u8,
                b'0' + (status / 10 % 10) as u8,
                b'0' + (status % 10) as u8,
                0,
                0,
                0,
                0,
                0,
            ];
            escape::word(out, &digits, 3);
        }
        Some(status) => escape::decimal(out, u64::from(status)),
        None => out.push(b'-'),
    }
}

fn write_text(out: &mut Vec<u8>, format: &Format, e: &Entry<'_>, clf: &[u8]) {
    let found = Found::gather(e.head(), &format.headers, format.common_headers);
    for piece in &format.pieces {
        write_what(out, format, e, &found, clf, piece.what);
        escape::word(out, &piece.tail, usize::from(piece.tail_len));
    }
}

/// What a piece writes before its tail: one `match` on one tag.
#[inline(always)]
fn write_what(
    out: &mut Vec<u8>,
    format: &Format,
    e: &Entry<'_>,
    found: &Found<'_>,
    clf: &[u8],
    what: What,
) {
    match what {
        What::Nothing => {}
        What::Literal { start, len } => {
            let start = start as usize;
            out.extend_from_slice(&format.text[start..start + len as usize]);
        }
        What::Atom(Atom::RemoteAddr) => dash_or(out, Some(e.conn.remote_addr.as_bytes())),
        What::Atom(Atom::Ident) => out.push(b'-'),
        What::Atom(Atom::User) => match found.get(AUTHORIZATION).and_then(basic_user) {
            Some(user) => dash_or(out, Some(&user)),
            None => out.push(b'-'),
        },
        What::Atom(Atom::Time) => out.extend_from_slice(clf),
        What::Atom(Atom::RequestLine) => request_line(out, e.request),
        What::Atom(Atom::Method) => match e.request {
            // A token (checked by the parser): nothing to escape.
            RequestLine::Parsed(head) => escape::put(out, head.method_bytes()),
            _ => dash_or(out, e.method()),
        },
        What::Atom(Atom::Path) => dash_or(out, e.path().as_deref()),
        What::Atom(Atom::Query) => escape::text(out, e.query().unwrap_or_default()),
        What::Atom(Atom::Protocol) => match e.head() {
            Some(head) => out.extend_from_slice(protocol(head.version)),
            None => out.push(b'-'),
        },
        What::Atom(Atom::Status) => status(out, e.status),
        What::Atom(Atom::Bytes) => escape::decimal(out, e.body_bytes),
        What::Atom(Atom::BytesOrDash) if e.body_bytes == 0 => out.push(b'-'),
        What::Atom(Atom::BytesOrDash) => escape::decimal(out, e.body_bytes),
        What::Atom(Atom::Referer) => dash_or(out, found.get(REFERER)),
        What::Atom(Atom::UserAgent) => dash_or(out, found.get(USER_AGENT)),
        What::Atom(atom @ (Atom::Seconds | Atom::Millis | Atom::Micros | Atom::DecimalSeconds)) => {
            duration(out, atom, e.duration)
        }
        What::Atom(Atom::Pid) => {
            out.push(b'<');
            pid(out);
            out.push(b'>');
        }
        What::Atom(Atom::RequestHeader(slot)) => dash_or(out, found.get(usize::from(slot))),
        What::Atom(Atom::ResponseHeader(i)) => {
            let name = &format.response_headers[usize::from(i)];
            dash_or(out, e.response_header(name));
        }
        What::Atom(Atom::Environ(i)) => {
            match environ_value(e, found, &format.environ[usize::from(i)].1) {
                Some(value) => dash_or(out, Some(&value)),
                None => out.push(b'-'),
            }
        }
    }
}

/// The protocol as a constant, copied without `memcpy`.
fn protocol(version: Version) -> &'static [u8; 8] {
    match version {
        Version::Http10 => b"HTTP/1.0",
        Version::Http11 => b"HTTP/1.1",
    }
}

/// `%(T)s`, `%(M)s`, `%(D)s` or `%(L)s`. Not inlined: in the loop of [`write_text`], the
/// compiler would compute all four for every line whatever the format.
#[inline(never)]
fn duration(out: &mut Vec<u8>, atom: Atom, duration: Duration) {
    match atom {
        Atom::Seconds => escape::decimal(out, duration.as_secs()),
        Atom::Millis => escape::decimal(out, duration.as_millis() as u64),
        Atom::DecimalSeconds => {
            escape::decimal(out, duration.as_secs());
            out.push(b'.');
            let mut digits = [b'0'; 6];
            let mut n = duration.subsec_micros();
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            out.extend_from_slice(&digits);
        }
        _ => escape::decimal(out, duration.as_micros() as u64),
    }
}

/// `METHOD TARGET PROTOCOL`, or the unparsed first line, escaped; `-` when nothing came.
fn request_line(out: &mut Vec<u8>, request: RequestLine<'_>) {
    match request {
        RequestLine::Parsed(head) => {
            // The parser checked the method is a token: nothing in it to escape.
            escape::put(out, head.method_bytes());
            out.push(b' ');
            escape::text(out, head.target());
            out.extend_from_slice(match head.version {
                Version::Http10 => b" HTTP/1.0",
                Version::Http11 => b" HTTP/1.1",
            });
        }
        RequestLine::Unparsed(bytes) => dash_or(out, Some(bytes)),
        RequestLine::Known { method, target } => {
            escape::text(out, method);
            out.push(b' ');
            escape::text(out, target);
            out.extend_from_slice(b" -");
        }
    }
}

fn environ_value(e: &Entry<'_>, found: &Found<'_>, key: &Environ) -> Option<Vec<u8>> {
    let bytes = |s: &str| Some(s.as_bytes().to_vec());
    match key {
        Environ::RemoteAddr => bytes(&e.conn.remote_addr),
        Environ::RemotePort => bytes(&e.conn.remote_port),
        Environ::ServerName => bytes(&e.conn.server_name),
        Environ::ServerPort => bytes(&e.conn.server_port),
        Environ::UrlScheme => bytes(e.conn.url_scheme),
        Environ::ServerProtocol => e.protocol().map(<[u8]>::to_vec),
        Environ::RequestMethod => e.method().map(<[u8]>::to_vec),
        Environ::PathInfo => e.path().map(|p| p.into_owned()),
        Environ::QueryString => e.query().map(<[u8]>::to_vec),
        Environ::RawUri => e.target().map(<[u8]>::to_vec),
        Environ::Header(slot) => found.get(*slot).map(<[u8]>::to_vec),
        Environ::Fixed(value) => value.as_ref().map(|v| v.as_bytes().to_vec()),
    }
}

/// `iso`: this second's RFC 3339 time with zero microseconds, `micros` replaces them.
/// Keys are written as constant bytes (copied inline, not through `memcpy`).
fn write_json(out: &mut Vec<u8>, format: &Format, e: &Entry<'_>, iso: &[u8], micros: u32) {
    let found = Found::gather(e.head(), &format.headers, true);
    out.extend_from_slice(b"{\"time\":\"");
    // `2026-11-21T10:00:00.000000+00:00`: the digits after the dot are the micros.
    let at = out.len() + 20;
    out.extend_from_slice(iso);
    let mut n = micros;
    for d in out[at..at + 6].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(b"\",\"remote_addr\":");
    json_or_null(
        out,
        Some(e.conn.remote_addr.as_bytes()).filter(|a| !a.is_empty()),
    );
    out.extend_from_slice(b",\"user\":");
    let user = found.get(AUTHORIZATION).and_then(basic_user);
    json_or_null(out, user.as_deref());
    out.extend_from_slice(b",\"request\":");
    match e.request {
        RequestLine::Parsed(h) => {
            // The method is a token (checked by the parser): nothing to escape.
            out.push(b'"');
            escape::put(out, h.method_bytes());
            out.push(b' ');
            escape::json_body(out, h.target());
            out.extend_from_slice(match h.version {
                Version::Http10 => b" HTTP/1.0\"",
                Version::Http11 => b" HTTP/1.1\"",
            });
        }
        RequestLine::Unparsed(bytes) => json_or_null(out, Some(bytes).filter(|b| !b.is_empty())),
        RequestLine::Known { method, target } => {
            escape::json_parts(out, &[method, b" ", target]);
        }
    }
    out.extend_from_slice(b",\"method\":");
    match e.request {
        RequestLine::Parsed(h) => {
            out.push(b'"');
            escape::put(out, h.method_bytes());
            out.push(b'"');
        }
        _ => json_or_null(out, e.method()),
    }
    out.extend_from_slice(b",\"path\":");
    json_or_null(out, e.path().as_deref());
    out.extend_from_slice(b",\"query\":");
    json_or_null(out, e.query());
    out.extend_from_slice(b",\"protocol\":");
    match e.head() {
        Some(h) => out.extend_from_slice(match h.version {
            Version::Http10 => b"\"HTTP/1.0\"",
            Version::Http11 => b"\"HTTP/1.1\"",
        }),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"status\":");
    match e.status {
        Some(code) => status(out, Some(code)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"bytes\":");
    escape::decimal(out, e.body_bytes);
    out.extend_from_slice(b",\"referer\":");
    json_or_null(out, found.get(REFERER));
    out.extend_from_slice(b",\"user_agent\":");
    json_or_null(out, found.get(USER_AGENT));
    out.extend_from_slice(b",\"duration_us\":");
    escape::decimal(out, e.duration.as_micros() as u64);
    out.extend_from_slice(b",\"pid\":");
    pid(out);
    if format.extras {
        let mut o = Object::continuing(out);
        write_json_extras(&mut o, format, e, &found);
    }
    out.extend_from_slice(b"}\n");
}

/// A JSON string, or `null`.
#[inline]
fn json_or_null(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => escape::json(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// The `request_headers`, `response_headers` and `environ` objects of the format's
/// `{...}i`, `{...}o` and `{...}e` atoms.
fn write_json_extras(o: &mut Object<'_>, format: &Format, e: &Entry<'_>, found: &Found<'_>) {
    let mut request_slots = format
        .pieces
        .iter()
        .filter_map(|p| match p {
            Piece {
                what: What::Atom(Atom::RequestHeader(slot)),
                ..
            } => Some(usize::from(*slot)),
            _ => None,
        })
        .peekable();
    if request_slots.peek().is_some() {
        let mut inner = o.object("request_headers");
        for slot in request_slots {
            let name = &format.headers[slot];
            json_or_null(inner.key(name.as_bytes()), found.get(slot));
        }
        inner.close();
    }
    if !format.response_headers.is_empty() {
        let mut inner = o.object("response_headers");
        for name in &format.response_headers {
            json_or_null(inner.key(name.as_bytes()), e.response_header(name));
        }
        inner.close();
    }
    if !format.environ.is_empty() {
        let mut inner = o.object("environ");
        for (name, reads) in &format.environ {
            let value = environ_value(e, found, reads);
            json_or_null(inner.key(name.as_bytes()), value.as_deref());
        }
        inner.close();
    }
}

/// The user name of an `Authorization: Basic` header (gunicorn's `%(u)s`).
fn basic_user(value: &[u8]) -> Option<Vec<u8>> {
    let (scheme, token) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64_decode(token.trim_ascii())?;
    let user = decoded.split(|&b| b == b':').next()?;
    decoded.contains(&b':').then(|| user.to_vec())
}

/// Standard base64 (padding optional); `None` on anything else.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for group in text.chunks(4) {
        if group.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in group.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;

    fn conn() -> ConnInfo {
        ConnInfo {
            remote_addr: "10.0.0.7".into(),
            remote_port: "5555".into(),
            server_name: "127.0.0.1".into(),
            server_port: "8000".into(),
            url_scheme: "http",
            forwarded_host: None,
            forwarded_port: None,
            proxy_header: None,
        }
    }

    fn head(raw: &str) -> RequestHead {
        parse_head(raw.as_bytes(), &Limits::default())
            .expect("valid")
            .expect("complete")
            .0
    }

    fn text(format: &str, entry: &Entry<'_>) -> String {
        let format = Format::compile(format, &[("SITE".into(), "blue".into())]).unwrap();
        let mut out = Vec::new();
        write_text(&mut out, &format, entry, b"[T]");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn default_format_line() {
        let h = head(
            "GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\nReferer: http://r/\r\n\r\n",
        );
        let c = conn();
        let e = Entry {
            conn: &c,
            request: RequestLine::Parsed(&h),
            status: Some(200),
            body_bytes: 13,
            response: None,
            duration: Duration::from_micros(1500),
        };
        assert_eq!(
            text(DEFAULT_FORMAT, &e),
            "10.0.0.7 - - [T] \"GET /a%20b?x=1 HTTP/1.1\" 200 13 \"http://r/\" \"curl/8\"\n"
        );
        assert_eq!(
            text(
                "%(m)s|%(U)s|%(q)s|%(H)s|%(T)s|%(M)s|%(D)s|%(L)s|%%|%(B)s",
                &e
            ),
            "GET|/a b|x=1|HTTP/1.1|0|1|1500|0.001500|%|13\n"
        );
    }

    #[test]
    fn headers_environ_and_user() {
        let h = head(
            "POST /p HTTP/1.0\r\nHost: h\r\nX-Id: a\"b\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n",
        );
        let c = conn();
        let mut resp = ResponseHead::new(200, b"OK", 0);
        resp.push_header(b"Content-Type", b"text/plain");
        let e = Entry {
            conn: &c,
            request: RequestLine::Parsed(&h),
            status: None,
            body_bytes: 0,
            response: Some(&resp),
            duration: Duration::ZERO,
        };
        assert_eq!(
            text(
                "%(u)s %({x-id}i)s %({missing}i)s %({content-type}o)s %({HTTP_X_ID}e)s \
                 %({REMOTE_PORT}e)s %({SITE}e)s %({NOPE_NOT_SET_ANYWHERE}e)s %(s)s %(b)s %(B)s",
                &e
            ),
            "user a\\\"b - text/plain a\\\"b 5555 blue - - - 0\n"
        );
    }

    #[test]
    fn the_default_writer_matches_the_general_one() {
        let heads = [
            head("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            head(
                "POST /a\"b HTTP/1.0\r\nUser-Agent: u\"a\r\nreferer: r\r\nUser-Agent: second\r\n\
                 AUTHORIZATION: Basic dXNlcjpwYXNz\r\n\r\n",
            ),
        ];
        let c = conn();
        let general = Format {
            default: false,
            ..Format::compile(DEFAULT_FORMAT, &[]).unwrap()
        };
        for (i, h) in heads.iter().enumerate() {
            for request in [RequestLine::Parsed(h), RequestLine::Unparsed(b"BAD \x01")] {
                let e = Entry {
                    conn: &c,
                    request,
                    status: [None, Some(200), Some(1000)][i % 3],
                    body_bytes: i as u64 * 7,
                    response: None,
                    duration: Duration::ZERO,
                };
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                write_default(&mut fast, &e, b"[T]");
                write_text(&mut slow, &general, &e, b"[T]");
                assert_eq!(String::from_utf8(fast), String::from_utf8(slow));
            }
        }
    }

    #[test]
    fn headers_by_name_and_literals_of_every_length() {
        let h = head(
            "GET /p HTTP/1.1\r\nHost: h\r\nReferer: r1\r\nUser-Agent: ua\r\nX-A: 1\r\nReferer: r2\r\n\r\n",
        );
        let c = conn();
        let e = Entry {
            conn: &c,
            request: RequestLine::Parsed(&h),
            status: Some(204),
            body_bytes: 0,
            response: None,
            duration: Duration::from_micros(2_500_001),
        };
        // The common headers by name only (no %(f)s or %(a)s), and an 8-byte, a 9-byte
        // and an empty literal after atoms.
        assert_eq!(
            text(
                "%({user-agent}i)s12345678%({HTTP_REFERER}e)s123456789%({x-a}i)s%(T)s%(M)s %(L)s",
                &e
            ),
            "ua12345678r1123456789122500 2.500001\n"
        );
        let only = Format::compile("%({x-a}i)s %(m)s", &[]).unwrap();
        assert!(!only.common_headers);
        assert!(
            Format::compile("%({Referer}i)s", &[])
                .unwrap()
                .common_headers
        );
    }

    #[test]
    fn pids_are_rendered_once() {
        for pid in [1, 9, 10, 4_194_304, 9_999_999, 10_000_000, u32::MAX] {
            PID.store(pid_word(pid), Ordering::Relaxed);
            let mut out = Vec::new();
            super::pid(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), pid.to_string());
        }
        refresh_pid();
    }

    #[test]
    fn unparsed_requests() {
        let c = conn();
        let e = Entry {
            conn: &c,
            request: RequestLine::Unparsed(b"GET /\x01\"x HTTP/1.1"),
            status: Some(400),
            body_bytes: 16,
            response: None,
            duration: Duration::ZERO,
        };
        assert_eq!(
            text(DEFAULT_FORMAT, &e),
            "10.0.0.7 - - [T] \"GET /\\x01\\\"x HTTP/1.1\" 400 16 \"-\" \"-\"\n"
        );
    }

    #[test]
    fn bad_formats_are_refused() {
        for bad in [
            "%(h", "%(zz)s", "%(h)x", "100%", "%d", "%({}i)s", "%({a}x)s",
        ] {
            let err = Format::compile(bad, &[]).expect_err(bad);
            assert!(err.contains("%(name)s"), "{bad}: {err}");
        }
        assert!(Format::compile("", &[]).is_ok());
        assert!(Format::compile("100%% %(s)d", &[]).is_ok());
    }

    #[test]
    fn basic_auth_users() {
        assert_eq!(
            basic_user(b"Basic dXNlcjpwYXNz").as_deref(),
            Some(&b"user"[..])
        );
        assert_eq!(basic_user(b"basic  YTpi").as_deref(), Some(&b"a"[..]));
        assert_eq!(basic_user(b"Bearer dXNlcjpwYXNz"), None);
        assert_eq!(basic_user(b"Basic !!!!"), None);
        assert_eq!(basic_user(b"Basic dXNlcg=="), None); // no colon
        assert_eq!(base64_decode(b"YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode(b"YWI=").as_deref(), Some(&b"ab"[..]));
    }
}

#[cfg(test)]
mod cost {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;

    /// Not a test: `LINES=n valgrind --tool=callgrind <test binary> --ignored
    /// access_line_cost` counts the instructions of n lines (run twice, divide the
    /// difference).
    #[test]
    #[ignore]
    fn access_line_cost() {
        let n: usize = std::env::var("LINES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        // LOG_FORMAT=json for JSON lines; ACCESS_FORMAT for another format than the default.
        let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
        let format = std::env::var("ACCESS_FORMAT").unwrap_or(DEFAULT_FORMAT.to_owned());
        install(
            Sink::open(std::path::Path::new("/dev/null")).unwrap(),
            Format::compile(&format, &[]).unwrap(),
            if json {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
        );
        let (head, _) = parse_head(
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            &Limits::default(),
        )
        .unwrap()
        .unwrap();
        let conn = ConnInfo {
            remote_addr: "127.0.0.1".into(),
            remote_port: "5555".into(),
            server_name: "127.0.0.1".into(),
            server_port: "8000".into(),
            url_scheme: "http",
            forwarded_host: None,
            forwarded_port: None,
            proxy_header: None,
        };
        for _ in 0..n {
            log(&Entry {
                conn: &conn,
                request: RequestLine::Parsed(&head),
                status: Some(200),
                body_bytes: 14,
                response: None,
                duration: Duration::from_micros(20),
            });
        }
        flush();
    }
}
