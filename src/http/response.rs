//! Response framing (RFC 9112 §6.3, RFC 9110 §6.4.1) and the encoders that put it on the wire.
//!
//! The WSGI layer hands over a validated [`ResponseHead`]; this module decides how the body is
//! delimited, whether the connection may persist, and produces the bytes around body data.

use super::{Version, reason_phrase};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// A response head as the application set it (already validated: no CR/LF/NUL, no hop-by-hop
/// headers, names are tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code, 100..=999.
    pub status: u16,
    /// Reason phrase as the application gave it (may be empty).
    pub reason: String,
    /// Header fields in the application's order.
    pub headers: Vec<(String, String)>,
}

/// How a response body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// HEAD, 1xx, 204 and 304: no body bytes are sent whatever the app yields.
    NoBody,
    /// Exactly this many bytes: from the app's Content-Length or a body known in advance.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 clients only).
    Chunked,
    /// Body ends when the connection closes (HTTP/1.0 without a length).
    CloseDelimited,
}

/// What the framing decision needs to know about the exchange.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    /// The request was HEAD.
    pub head_request: bool,
    /// The request's protocol version.
    pub version: Version,
    /// The request allows persistence (see [`super::request::RequestHead::keep_alive`]).
    pub keep_alive: bool,
    /// The server wants this connection closed after the response (draining, errors).
    pub server_close: bool,
}

/// The framing decision for one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// How the body is delimited.
    pub body: ResponseFraming,
    /// Whether the connection persists after this response.
    pub keep_alive: bool,
    /// The request's version: an HTTP/1.0 client is told `Connection: keep-alive` explicitly.
    pub version: Version,
}

/// Parses a Content-Length value set by the application: ASCII digits only, no sign, no
/// overflow. `None` means the value is invalid.
pub fn parse_content_length(value: &str) -> Option<u64> {
    super::request::parse_digits(value.as_bytes())
}

/// Whether a status forbids a body whatever the request (RFC 9110 §15.2, §15.3.5, §15.4.5).
fn status_forbids_body(status: u16) -> bool {
    matches!(status, 100..=199 | 204 | 304)
}

/// Whether a status forbids Content-Length (RFC 9110 §8.6: 1xx and 204).
fn status_forbids_length(status: u16) -> bool {
    matches!(status, 100..=199 | 204)
}

/// The first valid Content-Length the application set.
fn app_content_length(head: &ResponseHead) -> Option<u64> {
    head.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .find_map(|(_, v)| parse_content_length(v))
}

/// Decides framing for a response. `known_length` is the body's total size when the server
/// knows it before sending (a single-item body); the app's Content-Length wins over it.
pub fn decide(exchange: Exchange, head: &ResponseHead, known_length: Option<u64>) -> Framing {
    // RFC 9112 §6.3 items 1-2: these responses end at the head, whatever headers say.
    let body = if exchange.head_request || status_forbids_body(head.status) {
        ResponseFraming::NoBody
    } else if let Some(n) = app_content_length(head).or(known_length) {
        ResponseFraming::Length(n)
    } else if exchange.version == Version::Http11 {
        ResponseFraming::Chunked
    } else {
        // RFC 9112 §6.1: no chunked for an HTTP/1.0 client; the close marks the end.
        ResponseFraming::CloseDelimited
    };
    Framing {
        body,
        keep_alive: exchange.keep_alive
            && !exchange.server_close
            && body != ResponseFraming::CloseDelimited,
        version: exchange.version,
    }
}

/// The `Server` header value.
const SERVER: &[u8] = b"rsgi-server";

/// Appends one `name: value` line.
fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the status line.
fn push_status_line(out: &mut Vec<u8>, status: u16, reason: &str) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "HTTP/1.1 {status:03} {reason}\r\n");
}

/// Appends the status line and headers for `head` to `out`, adding `Content-Length`,
/// `Transfer-Encoding: chunked` and `Connection` as the framing requires, and `Date` and
/// `Server` unless the application set them. Always answers `HTTP/1.1` (RFC 9110 §2.5).
pub fn encode_head(out: &mut Vec<u8>, head: &ResponseHead, framing: Framing, date: &HttpDate) {
    push_status_line(out, head.status, &head.reason);
    let mut length_written = false;
    let mut has_date = false;
    let mut has_server = false;
    for (name, value) in &head.headers {
        if name.eq_ignore_ascii_case("content-length") {
            // Exactly one Content-Length, and only one that agrees with the framing; a second
            // or a wrong one would let a downstream parser frame the body differently.
            let keep = !length_written
                && !status_forbids_length(head.status)
                && match framing.body {
                    ResponseFraming::Length(n) => parse_content_length(value) == Some(n),
                    // HEAD and 304 may announce the length of the representation (§8.6).
                    ResponseFraming::NoBody => parse_content_length(value).is_some(),
                    ResponseFraming::Chunked | ResponseFraming::CloseDelimited => false,
                };
            if !keep {
                continue;
            }
            length_written = true;
        }
        has_date |= name.eq_ignore_ascii_case("date");
        has_server |= name.eq_ignore_ascii_case("server");
        push_header(out, name.as_bytes(), value.as_bytes());
    }
    match framing.body {
        ResponseFraming::Length(n) if !length_written => {
            let _ = write!(out, "Content-Length: {n}\r\n");
        }
        ResponseFraming::Chunked => push_header(out, b"Transfer-Encoding", b"chunked"),
        _ => {}
    }
    // RFC 9112 §9.6: announce the close; §9.3: a 1.0 client needs keep-alive spelled out.
    if !framing.keep_alive {
        push_header(out, b"Connection", b"close");
    } else if framing.version == Version::Http10 {
        push_header(out, b"Connection", b"keep-alive");
    }
    if !has_date {
        push_header(out, b"Date", date.as_bytes());
    }
    if !has_server {
        push_header(out, b"Server", SERVER);
    }
    out.extend_from_slice(b"\r\n");
}

/// Frames response body data according to the chosen [`ResponseFraming`], enforcing an
/// application Content-Length (excess bytes are dropped, a short body is reported).
#[derive(Clone, Debug)]
pub struct BodyEncoder {
    state: Encoding,
}

/// What the encoder does with data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Drop everything.
    NoBody,
    /// Pass through at most this many more bytes.
    Length {
        /// Bytes still owed.
        remaining: u64,
    },
    /// Wrap each piece in a chunk.
    Chunked,
    /// The chunked terminator has been written; nothing more may follow.
    ChunkedDone,
    /// Pass through everything.
    CloseDelimited,
}

/// One piece of framed body: send `prefix`, then `data`, then `suffix`.
#[derive(Debug, PartialEq, Eq)]
pub struct Framed<'a> {
    /// The part of the input to send (truncated at the declared length; empty for NoBody).
    pub data: &'a [u8],
    /// Bytes to send after `data` (`\r\n` closing a chunk, or empty).
    pub suffix: &'static [u8],
    /// The application produced more than its declared Content-Length: the connection must
    /// close after this response.
    pub overflow: bool,
}

impl Framed<'_> {
    /// Nothing to send.
    const NOTHING: Framed<'static> = Framed {
        data: b"",
        suffix: b"",
        overflow: false,
    };
}

impl BodyEncoder {
    /// An encoder for the given framing.
    pub fn new(framing: ResponseFraming) -> Self {
        let state = match framing {
            ResponseFraming::NoBody => Encoding::NoBody,
            ResponseFraming::Length(n) => Encoding::Length { remaining: n },
            ResponseFraming::Chunked => Encoding::Chunked,
            ResponseFraming::CloseDelimited => Encoding::CloseDelimited,
        };
        BodyEncoder { state }
    }

    /// Frames `data`: appends any prefix (a chunk-size line) to `prefix`, and returns what to
    /// send after it. Empty data produces nothing (an empty chunk would end the body).
    pub fn encode<'a>(&mut self, data: &'a [u8], prefix: &mut Vec<u8>) -> Framed<'a> {
        if data.is_empty() {
            return Framed::NOTHING;
        }
        match self.state {
            Encoding::NoBody | Encoding::ChunkedDone => Framed::NOTHING,
            Encoding::Length { remaining } => {
                let n = usize::try_from(remaining).map_or(data.len(), |r| r.min(data.len()));
                self.state = Encoding::Length {
                    remaining: remaining - n as u64,
                };
                Framed {
                    data: &data[..n],
                    suffix: b"",
                    overflow: n < data.len(),
                }
            }
            Encoding::Chunked => {
                let _ = write!(prefix, "{:x}\r\n", data.len());
                Framed {
                    data,
                    suffix: b"\r\n",
                    overflow: false,
                }
            }
            Encoding::CloseDelimited => Framed {
                data,
                suffix: b"",
                overflow: false,
            },
        }
    }

    /// Bytes of a declared length still owed (`None` for other framings); with a file sent by
    /// sendfile the caller uses this to bound the count and then calls [`Self::advance`].
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            Encoding::Length { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// Records `n` bytes sent outside [`Self::encode`] (sendfile) under Length framing.
    pub fn advance(&mut self, n: u64) {
        if let Encoding::Length { remaining } = self.state {
            self.state = Encoding::Length {
                remaining: remaining.saturating_sub(n),
            };
        }
    }

    /// Ends the body: appends the chunked terminator (`0\r\n\r\n`) when chunked. Returns
    /// `false` if a declared length was not reached, in which case the connection must close.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> bool {
        match self.state {
            Encoding::Chunked => {
                // RFC 9112 §7.1: last-chunk and an empty trailer section.
                out.extend_from_slice(b"0\r\n\r\n");
                self.state = Encoding::ChunkedDone;
                true
            }
            Encoding::Length { remaining } => remaining == 0,
            Encoding::NoBody | Encoding::ChunkedDone | Encoding::CloseDelimited => true,
        }
    }
}

/// A complete short response for errors the server answers itself (400, 500, 503, ...):
/// `Content-Type: text/plain`, a one-line body naming the status, and `Connection: close`
/// when `close` is set. A HEAD request gets the same head with no body.
pub fn error_response(status: u16, close: bool, head_request: bool, date: &HttpDate) -> Vec<u8> {
    let reason = reason_phrase(status);
    let mut body = Vec::with_capacity(48);
    let _ = if reason.is_empty() {
        writeln!(body, "{status:03}")
    } else {
        writeln!(body, "{status:03} {reason}")
    };
    let mut out = Vec::with_capacity(192);
    push_status_line(&mut out, status, reason);
    push_header(&mut out, b"Content-Type", b"text/plain; charset=utf-8");
    let _ = write!(out, "Content-Length: {}\r\n", body.len());
    push_header(&mut out, b"Date", date.as_bytes());
    push_header(&mut out, b"Server", SERVER);
    if close {
        push_header(&mut out, b"Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    if !head_request {
        out.extend_from_slice(&body);
    }
    out
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), formatted once per second
/// by the caller and reused for every response in that second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpDate {
    bytes: [u8; 29],
    secs: u64,
}

/// 9999-12-31T23:59:59Z: the last instant a four-digit year can show.
const MAX_SECS: u64 = 253_402_300_799;

impl HttpDate {
    /// Formats `at`.
    pub fn new(at: SystemTime) -> Self {
        let secs = unix_secs(at);
        HttpDate {
            bytes: format_imf(secs),
            secs,
        }
    }
    /// Re-formats only if `now` is in a later second than the cached value.
    pub fn refresh(&mut self, now: SystemTime) {
        let secs = unix_secs(now);
        if secs > self.secs {
            self.bytes = format_imf(secs);
            self.secs = secs;
        }
    }
    /// The formatted date.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Whole seconds since the epoch, clamped to what IMF-fixdate can show.
fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(MAX_SECS)
}

/// (year, month 1-12, day 1-31) from days since 1970-01-01, after Howard Hinnant's
/// `civil_from_days` (proleptic Gregorian, eras of 400 years). Unsigned: days are never negative.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

/// Formats seconds since the epoch (at most [`MAX_SECS`]) as an IMF-fixdate.
fn format_imf(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let tod = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut b = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    // 1970-01-01 was a Thursday.
    b[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    put2(&mut b[5..7], day);
    b[8..11].copy_from_slice(MONTHS[(month - 1) as usize % 12]);
    put2(&mut b[12..14], year / 100);
    put2(&mut b[14..16], year % 100);
    put2(&mut b[17..19], tod / 3600);
    put2(&mut b[20..22], tod / 60 % 60);
    put2(&mut b[23..25], tod % 60);
    b
}

/// Writes `n` (< 100) as two ASCII digits.
fn put2(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}
