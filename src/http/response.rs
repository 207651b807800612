//! Response framing (RFC 9112 §6.3, RFC 9110 §6.4.1) and the encoders that put it on the wire.
//!
//! The WSGI layer hands over a validated [`ResponseHead`]; this module decides how the body is
//! delimited, whether the connection may persist, and produces the bytes around body data.

use super::{Version, reason_phrase};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// A response head as the application set it: validated (no CR/LF/NUL, no hop-by-hop
/// headers, names are tokens) and already in wire bytes (PEP 3333 native strings are sent
/// as latin-1).
///
/// The reason and every `Name: value\r\n` line live in one buffer: one allocation per
/// response, and the lines are copied to the wire as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code, 100..=999.
    pub status: u16,
    /// The reason phrase, then the header lines.
    text: Vec<u8>,
    /// Where the reason ends in `text`.
    reason_end: usize,
    /// The first valid Content-Length among the headers.
    content_length: Option<u64>,
    /// How many Content-Length lines there are (valid or not).
    length_lines: usize,
    /// The application set `Date`.
    has_date: bool,
    /// The application set `Server`.
    has_server: bool,
}

impl Drop for ResponseHead {
    fn drop(&mut self) {
        super::recycle::give_response(std::mem::take(&mut self.text));
    }
}

impl ResponseHead {
    /// A head with `reason` (latin-1, may be empty) and room for `capacity` bytes of
    /// header lines.
    pub fn new(status: u16, reason: &[u8], capacity: usize) -> Self {
        let mut text = super::recycle::response_text(reason.len() + capacity);
        text.extend_from_slice(reason);
        ResponseHead {
            status,
            text,
            reason_end: reason.len(),
            content_length: None,
            length_lines: 0,
            has_date: false,
            has_server: false,
        }
    }

    /// Appends a header field. The caller has checked it: `name` is a token and `value`
    /// holds no CR, LF or NUL (anything else would split the response).
    pub fn push_header(&mut self, name: &[u8], value: &[u8]) {
        debug_assert!(!name.is_empty() && !name.iter().any(|b| matches!(b, b':' | b' ')));
        debug_assert!(!value.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')));
        // What framing and encoding need to know is noted here, once, so that sending the
        // head is usually a single copy of the lines.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                self.length_lines += 1;
                self.content_length = self.content_length.or(parse_content_length(value));
            }
            4 => self.has_date |= name.eq_ignore_ascii_case(b"date"),
            6 => self.has_server |= name.eq_ignore_ascii_case(b"server"),
            _ => {}
        }
        push_header(&mut self.text, name, value);
    }

    /// The reason phrase as the application gave it.
    pub fn reason(&self) -> &[u8] {
        &self.text[..self.reason_end]
    }

    /// Header fields in the application's order, as `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.lines().map(split_line)
    }

    /// The first value of the header `name` (compared without case).
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a header named `lower` (lowercase ASCII) is set: a plain scan of the lines'
    /// starts, cheaper than [`ResponseHead::header`]'s split of every line.
    pub fn has_header(&self, lower: &[u8]) -> bool {
        let mut rest = self.block();
        while rest.len() > lower.len() {
            if rest[lower.len()] == b':' && rest[..lower.len()].eq_ignore_ascii_case(lower) {
                return true;
            }
            match super::scan::find_byte(rest, b'\n') {
                Some(end) => rest = &rest[end + 1..],
                None => return false,
            }
        }
        false
    }

    /// Every header line, `\r\n` included.
    fn block(&self) -> &[u8] {
        &self.text[self.reason_end..]
    }

    /// Each header's whole line, `\r\n` included.
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.block().split_inclusive(|&b| b == b'\n')
    }
}

/// `(name, value)` of a line [`ResponseHead::push_header`] wrote: the name ends at the
/// first colon (a token has none), the value follows ": " and runs to the CR.
fn split_line(line: &[u8]) -> (&[u8], &[u8]) {
    let colon = line.iter().position(|&b| b == b':').unwrap_or(0);
    let value_end = line.len().saturating_sub(2).max(colon);
    (&line[..colon], &line[(colon + 2).min(value_end)..value_end])
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

/// What the framing decision needs to know about the request being answered.
#[derive(Clone, Copy, Debug)]
pub struct RequestTerms {
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
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    super::request::parse_digits(value)
}

/// Whether a status forbids a body whatever the request (RFC 9110 §15.2, §15.3.5, §15.4.5).
fn status_forbids_body(status: u16) -> bool {
    matches!(status, 100..=199 | 204 | 304)
}

/// Whether a status forbids Content-Length (RFC 9110 §8.6: 1xx and 204).
fn status_forbids_length(status: u16) -> bool {
    matches!(status, 100..=199 | 204)
}

/// Decides framing for a response. `known_length` is the body's total size when the server
/// knows it before sending (a single-item body); the app's Content-Length wins over it.
pub fn decide(terms: RequestTerms, head: &ResponseHead, known_length: Option<u64>) -> Framing {
    // RFC 9112 §6.3 items 1-2: these responses end at the head, whatever headers say.
    let body = if terms.head_request || status_forbids_body(head.status) {
        ResponseFraming::NoBody
    } else if let Some(n) = head.content_length.or(known_length) {
        ResponseFraming::Length(n)
    } else if terms.version == Version::Http11 {
        ResponseFraming::Chunked
    } else {
        // RFC 9112 §6.1: no chunked for an HTTP/1.0 client; the close marks the end.
        ResponseFraming::CloseDelimited
    };
    Framing {
        body,
        keep_alive: terms.keep_alive
            && !terms.server_close
            && body != ResponseFraming::CloseDelimited,
        version: terms.version,
    }
}

/// The `Server` header value.
const SERVER: &[u8] = b"rsgi-server";

/// Appends one `name: value` line (checked by the caller as for
/// [`ResponseHead::push_header`]).
pub fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends the status line.
fn push_status_line(out: &mut Vec<u8>, status: u16, reason: &[u8]) {
    // Most responses: one copy of the whole line.
    if status == 200 && reason == b"OK" {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    // Per response, so by hand rather than through the formatting machinery.
    let digits = [
        b'0' + (status / 100 % 10) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ];
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&digits);
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::decimal::Decimal::new(n).as_bytes());
}

/// Appends the status line and headers for `head` to `out`, adding `Content-Length`,
/// `Transfer-Encoding: chunked` and `Connection` as the framing requires, and `Date` and
/// `Server` unless the application set them. Always answers `HTTP/1.1` (RFC 9110 §2.5).
pub fn encode_head(out: &mut Vec<u8>, head: &ResponseHead, framing: Framing, date: &HttpDate) {
    push_status_line(out, head.status, head.reason());
    // Exactly one Content-Length, and only one that agrees with the framing; a second or a
    // wrong one would let a downstream parser frame the body differently.
    let keep_length = |value: Option<u64>| {
        !status_forbids_length(head.status)
            && match framing.body {
                ResponseFraming::Length(n) => value == Some(n),
                // HEAD and 304 may announce the length of the representation (§8.6).
                ResponseFraming::NoBody => value.is_some(),
                ResponseFraming::Chunked | ResponseFraming::CloseDelimited => false,
            }
    };
    let length_written = match head.length_lines {
        // The usual case: every line goes out as it is.
        0 => {
            out.extend_from_slice(head.block());
            false
        }
        1 if keep_length(head.content_length) => {
            out.extend_from_slice(head.block());
            true
        }
        _ => {
            let mut written = false;
            for line in head.lines() {
                if line.get(14) == Some(&b':') && line[..14].eq_ignore_ascii_case(b"content-length")
                {
                    if written || !keep_length(parse_content_length(split_line(line).1)) {
                        continue;
                    }
                    written = true;
                }
                out.extend_from_slice(line);
            }
            written
        }
    };
    let (has_date, has_server) = (head.has_date, head.has_server);
    match framing.body {
        ResponseFraming::Length(n) if !length_written => {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n");
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
    if !has_date && !has_server {
        out.extend_from_slice(date.head_end());
        return;
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
    error_response_with(status, close, head_request, date, &[])
}

/// [`error_response`] with `extra` header fields (checked by the caller as for
/// [`ResponseHead::push_header`]), such as `Retry-After`.
pub fn error_response_with(
    status: u16,
    close: bool,
    head_request: bool,
    date: &HttpDate,
    extra: &[(&[u8], &[u8])],
) -> Vec<u8> {
    let reason = reason_phrase(status);
    let mut body = Vec::with_capacity(48);
    let _ = if reason.is_empty() {
        writeln!(body, "{status:03}")
    } else {
        writeln!(body, "{status:03} {reason}")
    };
    let mut out = Vec::with_capacity(192);
    push_status_line(&mut out, status, reason.as_bytes());
    push_header(&mut out, b"Content-Type", b"text/plain; charset=utf-8");
    let _ = write!(out, "Content-Length: {}\r\n", body.len());
    push_header(&mut out, b"Date", date.as_bytes());
    push_header(&mut out, b"Server", SERVER);
    for (name, value) in extra {
        push_header(&mut out, name, value);
    }
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
    /// `Date: <IMF-fixdate>\r\nServer: rsgi-server\r\n\r\n`: the end of most response
    /// heads, appended in one copy.
    lines: [u8; DATE_LINES],
    secs: u64,
}

/// Where the date sits in [`HttpDate::lines`], and how long they are.
const DATE_AT: usize = b"Date: ".len();
const DATE_LEN: usize = 29;
const DATE_LINES: usize = DATE_AT + DATE_LEN + b"\r\nServer: rsgi-server\r\n\r\n".len();

/// 9999-12-31T23:59:59Z: the last instant a four-digit year can show.
const MAX_SECS: u64 = 253_402_300_799;

impl HttpDate {
    /// Formats `at`.
    pub fn new(at: SystemTime) -> Self {
        let mut lines = [0; DATE_LINES];
        lines[..DATE_AT].copy_from_slice(b"Date: ");
        lines[DATE_AT + DATE_LEN..].copy_from_slice(b"\r\nServer: rsgi-server\r\n\r\n");
        let mut date = HttpDate { lines, secs: 0 };
        date.set(unix_secs(at));
        date
    }
    /// Re-formats only if `now` is in a later second than the cached value.
    pub fn refresh(&mut self, now: SystemTime) {
        self.refresh_secs(unix_secs(now));
    }
    /// [`HttpDate::refresh`] to `secs` after the Unix epoch.
    pub fn refresh_secs(&mut self, secs: u64) {
        let secs = secs.min(MAX_SECS);
        if secs > self.secs {
            self.set(secs);
        }
    }
    fn set(&mut self, secs: u64) {
        self.lines[DATE_AT..DATE_AT + DATE_LEN].copy_from_slice(&format_imf(secs));
        self.secs = secs;
    }
    /// The formatted date.
    pub fn as_bytes(&self) -> &[u8] {
        &self.lines[DATE_AT..DATE_AT + DATE_LEN]
    }
    /// The `Date` and `Server` lines and the blank line that ends a head.
    fn head_end(&self) -> &[u8] {
        &self.lines
    }
}

/// Whole seconds since the epoch, clamped to what IMF-fixdate can show.
pub fn unix_secs(at: SystemTime) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn date() -> HttpDate {
        HttpDate::new(at(784_111_777))
    }

    fn head(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
        with_reason(status, reason_phrase(status), headers)
    }

    fn with_reason(status: u16, reason: &str, headers: &[(&str, &str)]) -> ResponseHead {
        let mut head = ResponseHead::new(status, reason.as_bytes(), 0);
        for (name, value) in headers {
            head.push_header(name.as_bytes(), value.as_bytes());
        }
        head
    }

    #[test]
    fn has_header_matches_whole_names_without_case() {
        let h = head(
            200,
            &[("Content-Type", "x-request-id: no"), ("X-Request-ID", "a")],
        );
        assert!(h.has_header(b"x-request-id"));
        assert!(h.has_header(b"content-type"));
        assert!(!h.has_header(b"x-request"));
        assert!(!h.has_header(b"content-type-x"));
        let value_only = head(200, &[("Content-Type", "x-request-id: no")]);
        assert!(!value_only.has_header(b"x-request-id"));
        assert!(!head(204, &[]).has_header(b"x-request-id"));
    }

    fn exchange(version: Version) -> RequestTerms {
        RequestTerms {
            head_request: false,
            version,
            keep_alive: true,
            server_close: false,
        }
    }

    fn encoded(h: &ResponseHead, framing: Framing) -> String {
        let mut out = Vec::new();
        encode_head(&mut out, h, framing, &date());
        String::from_utf8(out).unwrap()
    }

    const DATE: &str = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
    const SERVER_LINE: &str = "Server: rsgi-server\r\n";

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"0012"), Some(12));
        assert_eq!(
            parse_content_length(b"18446744073709551615"),
            Some(u64::MAX)
        );
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "0x1",
            "1,1",
            "18446744073709551616",
            "١",
        ] {
            assert_eq!(parse_content_length(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn framing_decision_table() {
        use ResponseFraming::*;
        use Version::*;
        let cl = head(200, &[("Content-Length", "5")]);
        let plain = head(200, &[]);
        let bad_cl = head(200, &[("content-length", "five")]);
        // (version, head request, head, known length) -> body framing
        let table: [(Version, bool, &ResponseHead, Option<u64>, ResponseFraming); 12] = [
            (Http11, false, &cl, None, Length(5)),
            (Http11, false, &cl, Some(9), Length(5)),
            (Http11, false, &plain, Some(9), Length(9)),
            (Http11, false, &plain, None, Chunked),
            (Http11, false, &bad_cl, None, Chunked),
            (Http10, false, &plain, None, CloseDelimited),
            (Http10, false, &plain, Some(0), Length(0)),
            (Http10, false, &cl, None, Length(5)),
            (Http11, true, &cl, None, NoBody),
            (Http11, true, &plain, Some(9), NoBody),
            (Http10, true, &plain, None, NoBody),
            (
                Http11,
                false,
                &head(200, &[("Content-Length", "5"), ("Content-Length", "6")]),
                None,
                Length(5),
            ),
        ];
        for (version, head_request, h, known, expected) in table {
            let ex = RequestTerms {
                head_request,
                ..exchange(version)
            };
            let f = decide(ex, h, known);
            assert_eq!(
                f.body, expected,
                "{version:?} head={head_request} {h:?} {known:?}"
            );
            assert_eq!(f.keep_alive, expected != CloseDelimited);
            assert_eq!(f.version, version);
        }
        for status in [100, 101, 199, 204, 304] {
            let f = decide(
                exchange(Http11),
                &head(status, &[("Content-Length", "5")]),
                Some(3),
            );
            assert_eq!(f.body, NoBody, "{status}");
        }
        for status in [200, 205, 404, 500] {
            assert_eq!(
                decide(exchange(Http11), &head(status, &[]), None).body,
                Chunked
            );
        }
    }

    #[test]
    fn keep_alive_decision() {
        let h = head(200, &[]);
        let cases = [
            (true, false, Version::Http11, true),
            (false, false, Version::Http11, false),
            (true, true, Version::Http11, false),
            (true, false, Version::Http10, false), // close-delimited
        ];
        for (keep_alive, server_close, version, expected) in cases {
            let ex = RequestTerms {
                keep_alive,
                server_close,
                ..exchange(version)
            };
            assert_eq!(decide(ex, &h, None).keep_alive, expected);
        }
        let ex = exchange(Version::Http10);
        assert!(decide(ex, &h, Some(3)).keep_alive);
    }

    #[test]
    fn encode_known_length() {
        let h = head(200, &[("Content-Type", "text/plain")]);
        let f = decide(exchange(Version::Http11), &h, Some(11));
        assert_eq!(
            encoded(&h, f),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n{DATE}{SERVER_LINE}\r\n"
            )
        );
    }

    #[test]
    fn encode_app_length_kept_in_place() {
        let h = head(200, &[("content-length", "5"), ("X", "y")]);
        let f = decide(exchange(Version::Http11), &h, Some(99));
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX: y\r\n{DATE}{SERVER_LINE}\r\n")
        );
        // A second, conflicting or invalid Content-Length never reaches the wire.
        let h = head(
            200,
            &[
                ("Content-Length", "5"),
                ("Content-Length", "6"),
                ("Content-Length", "5"),
            ],
        );
        let f = decide(exchange(Version::Http11), &h, None);
        assert_eq!(encoded(&h, f).matches("Content-Length").count(), 1);
        let h = head(200, &[("Content-Length", "x")]);
        let f = decide(exchange(Version::Http11), &h, None);
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{DATE}{SERVER_LINE}\r\n")
        );
    }

    #[test]
    fn encode_chunked_and_close() {
        let h = head(200, &[]);
        let f = decide(exchange(Version::Http11), &h, None);
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{DATE}{SERVER_LINE}\r\n")
        );
        let ex = RequestTerms {
            server_close: true,
            ..exchange(Version::Http11)
        };
        let f = decide(ex, &h, None);
        assert_eq!(
            encoded(&h, f),
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n{DATE}{SERVER_LINE}\r\n"
            )
        );
        let f = decide(exchange(Version::Http10), &h, None);
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 200 OK\r\nConnection: close\r\n{DATE}{SERVER_LINE}\r\n")
        );
    }

    #[test]
    fn encode_http10_keep_alive() {
        let h = head(200, &[]);
        let f = decide(exchange(Version::Http10), &h, Some(2));
        assert_eq!(
            encoded(&h, f),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n{DATE}{SERVER_LINE}\r\n"
            )
        );
    }

    #[test]
    fn encode_no_body_statuses() {
        for status in [204, 101] {
            let h = head(status, &[("Content-Length", "5")]);
            let f = decide(exchange(Version::Http11), &h, Some(5));
            let reason = reason_phrase(status);
            assert_eq!(
                encoded(&h, f),
                format!("HTTP/1.1 {status} {reason}\r\n{DATE}{SERVER_LINE}\r\n")
            );
        }
        // 304 and HEAD may describe the representation's length.
        let h = head(304, &[("Content-Length", "5")]);
        let f = decide(exchange(Version::Http11), &h, None);
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n{DATE}{SERVER_LINE}\r\n")
        );
        let h = head(200, &[("Content-Length", "5")]);
        let ex = RequestTerms {
            head_request: true,
            ..exchange(Version::Http11)
        };
        let f = decide(ex, &h, Some(5));
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n{DATE}{SERVER_LINE}\r\n")
        );
        let h = head(200, &[]);
        let f = decide(ex, &h, Some(5));
        assert_eq!(
            encoded(&h, f),
            format!("HTTP/1.1 200 OK\r\n{DATE}{SERVER_LINE}\r\n")
        );
    }

    #[test]
    fn header_lines_split_back_into_the_fields_pushed() {
        let h = with_reason(
            200,
            "Caf\u{e9}",
            &[
                ("X-Empty", ""),
                ("X-Colons", "a: b:c"),
                ("content-length", "7"),
            ],
        );
        assert_eq!(h.reason(), "Caf\u{e9}".as_bytes());
        let fields: Vec<_> = h.headers().collect();
        assert_eq!(
            fields,
            [
                (&b"X-Empty"[..], &b""[..]),
                (b"X-Colons", b"a: b:c"),
                (b"content-length", b"7"),
            ]
        );
        assert_eq!(h.header(b"x-colons"), Some(&b"a: b:c"[..]));
        assert_eq!(h.header(b"missing"), None);
        let f = decide(exchange(Version::Http11), &h, None);
        assert_eq!(f.body, ResponseFraming::Length(7));
    }

    #[test]
    fn encode_respects_app_date_and_server() {
        let h = with_reason(404, "Nope", &[("server", "mine"), ("DATE", "then")]);
        let f = decide(exchange(Version::Http11), &h, Some(0));
        assert_eq!(
            encoded(&h, f),
            "HTTP/1.1 404 Nope\r\nserver: mine\r\nDATE: then\r\nContent-Length: 0\r\n\r\n"
        );
        let h = with_reason(599, "", &[]);
        let f = decide(exchange(Version::Http11), &h, Some(0));
        assert!(encoded(&h, f).starts_with("HTTP/1.1 599 \r\n"));
    }

    #[test]
    fn body_encoder_length() {
        let mut e = BodyEncoder::new(ResponseFraming::Length(5));
        let mut prefix = Vec::new();
        assert_eq!(e.remaining(), Some(5));
        let f = e.encode(b"abc", &mut prefix);
        assert_eq!(
            (f.data, f.suffix, f.overflow),
            (&b"abc"[..], &b""[..], false)
        );
        assert!(!e.finish(&mut Vec::new()), "short body");
        let f = e.encode(b"defg", &mut prefix);
        assert_eq!((f.data, f.overflow), (&b"de"[..], true));
        let f = e.encode(b"h", &mut prefix);
        assert_eq!((f.data, f.overflow), (&b""[..], true));
        let f = e.encode(b"", &mut prefix);
        assert_eq!((f.data, f.overflow), (&b""[..], false));
        assert!(prefix.is_empty());
        let mut out = Vec::new();
        assert!(e.finish(&mut out));
        assert!(out.is_empty());
        // sendfile accounting
        let mut e = BodyEncoder::new(ResponseFraming::Length(10));
        e.advance(4);
        assert_eq!(e.remaining(), Some(6));
        e.advance(100);
        assert_eq!(e.remaining(), Some(0));
        assert!(e.finish(&mut out));
    }

    #[test]
    fn body_encoder_chunked() {
        let mut e = BodyEncoder::new(ResponseFraming::Chunked);
        let mut prefix = Vec::new();
        assert_eq!(e.remaining(), None);
        let f = e.encode(b"", &mut prefix);
        assert_eq!(
            f,
            Framed {
                data: b"",
                suffix: b"",
                overflow: false
            }
        );
        assert!(prefix.is_empty());
        let data = [b'x'; 300];
        let f = e.encode(&data, &mut prefix);
        assert_eq!(prefix, b"12c\r\n");
        assert_eq!(
            (f.data.len(), f.suffix, f.overflow),
            (300, &b"\r\n"[..], false)
        );
        let mut out = Vec::new();
        assert!(e.finish(&mut out));
        assert_eq!(out, b"0\r\n\r\n");
        // The terminator is written once.
        assert!(e.finish(&mut out));
        assert_eq!(out, b"0\r\n\r\n");
    }

    #[test]
    fn body_encoder_nobody_and_close_delimited() {
        let mut prefix = Vec::new();
        let mut e = BodyEncoder::new(ResponseFraming::NoBody);
        let f = e.encode(b"dropped", &mut prefix);
        assert_eq!((f.data, f.overflow), (&b""[..], false));
        assert!(e.finish(&mut prefix));
        let mut e = BodyEncoder::new(ResponseFraming::CloseDelimited);
        let f = e.encode(b"all of it", &mut prefix);
        assert_eq!((f.data, f.suffix), (&b"all of it"[..], &b""[..]));
        assert!(e.finish(&mut prefix));
        assert!(prefix.is_empty());
        assert_eq!(e.remaining(), None);
    }

    #[test]
    fn error_responses() {
        let r = error_response(400, true, false, &date());
        assert_eq!(
            String::from_utf8(r).unwrap(),
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n{DATE}{SERVER_LINE}Connection: close\r\n\r\n400 Bad Request\n"
            )
        );
        let r = String::from_utf8(error_response(503, false, true, &date())).unwrap();
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(r.contains("Content-Length: 24\r\n"));
        assert!(!r.contains("Connection"));
        assert!(r.ends_with("\r\n\r\n"));
        let r = String::from_utf8(error_response(599, true, false, &date())).unwrap();
        assert!(r.starts_with("HTTP/1.1 599 \r\n"));
        assert!(r.contains("Content-Length: 4\r\n") && r.ends_with("\r\n\r\n599\n"));
    }

    #[test]
    fn http_date_known_values() {
        for (secs, text) in [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
            (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 GMT"),
            (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ] {
            assert_eq!(
                HttpDate::new(at(secs)).as_bytes(),
                text.as_bytes(),
                "{secs}"
            );
        }
        // Out of range instants clamp instead of overflowing the format.
        assert_eq!(
            HttpDate::new(UNIX_EPOCH - Duration::from_secs(5)).as_bytes(),
            b"Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate::new(at(u64::MAX / 2)).as_bytes(),
            b"Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn civil_from_days_walks_the_calendar() {
        // Day by day over 800 years: each date is the successor of the previous one.
        let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let mut prev = civil_from_days(0);
        assert_eq!(prev, (1970, 1, 1));
        for days in 1..(800 * 366) {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = prev;
            let month_len = match pm {
                2 if leap(py) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if pd < month_len {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), expected, "day {days}");
            prev = (y, m, d);
        }
    }

    #[test]
    fn http_date_refresh() {
        let mut d = HttpDate::new(at(784_111_777));
        d.refresh(at(784_111_777) + Duration::from_millis(999));
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        d.refresh(at(784_111_778));
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:38 GMT");
        d.refresh(at(784_111_000));
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
