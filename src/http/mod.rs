//! Sans-IO HTTP/1.1 (RFC 9112): bytes in, parsed heads and body events out, framed bytes back.
//!
//! Nothing in this module touches a socket, a clock or Python, so every rule is unit-tested on
//! byte slices, and the engine's event loop and the request corpus drive the same code.
//! The three pieces: [`request`] parses a request head and decides its body framing, [`body`]
//! decodes a request body, [`response`] decides and encodes response framing.

/// A `[bool; 256]` of the byte values for which the predicate holds, built at compile time:
/// a per-byte check on the hot path is then one load.
macro_rules! byte_table {
    (|$byte:ident| $predicate:expr) => {{
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $byte = i as u8;
            table[i] = $predicate;
            i += 1;
        }
        table
    }};
}
pub(crate) use byte_table;

pub mod body;
mod head_reader;
pub mod leniency;
mod percent;
mod recycle;
pub mod request;
pub mod response;
pub mod scan;

pub use head_reader::{HeadReader, Look};
pub use leniency::Leniency;
pub use percent::percent_decode;

use std::fmt;

/// The HTTP versions a request may carry; anything else is refused with 505.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: close-delimited unless `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: persistent unless `Connection: close`.
    Http11,
}

impl Version {
    /// The protocol token as it appears on the wire and in `SERVER_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// Size limits that bound what a client can make us buffer, and the compatibility switches
/// that relax the syntax the codec accepts ([`Leniency`], all off by default). Defaults
/// follow gunicorn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line (method, target, version) in bytes; beyond → 414.
    pub request_line: usize,
    /// Most header fields in one request head; beyond → 431.
    pub header_count: usize,
    /// Longest single header field line (name, colon, value) in bytes; beyond → 431.
    pub header_field_size: usize,
    /// Most bytes of a whole request head (request line, fields, line endings); beyond →
    /// 431. Without it the line and field limits alone would let one head reach 100 fields
    /// of 8190 bytes, about 800 KB, per connection.
    pub head_size: usize,
    /// Longest chunk-size line including extensions; beyond → 400.
    pub chunk_line: usize,
    /// Most bytes of trailer section after the last chunk; beyond → 431.
    pub trailer_size: usize,
    /// Most bytes of an unread request body the server will read and discard to keep a
    /// connection alive; a longer leftover closes the connection instead (gunicorn: 64 KiB).
    pub drain_max: u64,
    /// gunicorn's `--permit-*` switches: where the parser departs from its strict rules.
    pub leniency: Leniency,
}

impl Limits {
    /// Most bytes of a head the server buffers before refusing it: what the line and field
    /// limits allow (a request line and every field, each with its CRLF, and the blank
    /// line), capped one byte past `head_size`, so that a line over its own limit right at
    /// the cap is still told apart (414) from a head over the cap (431).
    pub fn most_head_bytes(&self) -> usize {
        (self.request_line + 2 + self.header_count * (self.header_field_size + 2) + 2)
            .min(self.head_size.saturating_add(1))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_line: 4094,
            header_count: 100,
            header_field_size: 8190,
            head_size: 64 * 1024,
            chunk_line: 4096,
            trailer_size: 8190,
            drain_max: 64 * 1024,
            leniency: Leniency::default(),
        }
    }
}

/// Why a request could not be parsed; each variant knows its status code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Request line longer than [`Limits::request_line`].
    RequestLineTooLong,
    /// More header fields than [`Limits::header_count`].
    TooManyHeaders,
    /// A header field longer than [`Limits::header_field_size`].
    HeaderFieldTooLong,
    /// A request head larger than [`Limits::head_size`].
    HeadTooLarge,
    /// Trailer section larger than [`Limits::trailer_size`].
    TrailersTooLarge,
    /// Syntax the grammar does not allow; the text says which rule was broken.
    Malformed(&'static str),
    /// Ambiguous or contradictory body framing (CL+TE, bad TE, conflicting CL): smuggling risk.
    BadFraming(&'static str),
    /// A transfer coding we do not implement.
    UnsupportedCoding,
    /// A well-formed request for a method this server does not implement (`CONNECT`: a
    /// WSGI server is no tunnel).
    UnsupportedMethod,
    /// HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// Body larger than the configured maximum.
    BodyTooLarge,
    /// The client did not deliver a complete request head within the head timeout.
    HeadTimeout,
    /// The client stopped sending its body for longer than the body timeout.
    BodyTimeout,
}

impl HttpError {
    /// The status code to answer with (the connection is always closed afterwards).
    pub fn status(&self) -> u16 {
        match self {
            HttpError::RequestLineTooLong => 414,
            HttpError::TooManyHeaders
            | HttpError::HeaderFieldTooLong
            | HttpError::HeadTooLarge
            | HttpError::TrailersTooLarge => 431,
            HttpError::Malformed(_) | HttpError::BadFraming(_) => 400,
            HttpError::UnsupportedCoding | HttpError::UnsupportedMethod => 501,
            HttpError::UnsupportedVersion => 505,
            HttpError::BodyTooLarge => 413,
            HttpError::HeadTimeout | HttpError::BodyTimeout => 408,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::RequestLineTooLong => f.write_str("request line too long"),
            HttpError::TooManyHeaders => f.write_str("too many header fields"),
            HttpError::HeaderFieldTooLong => f.write_str("header field too long"),
            HttpError::HeadTooLarge => f.write_str("request head too large"),
            HttpError::TrailersTooLarge => f.write_str("trailer section too large"),
            HttpError::Malformed(why) => write!(f, "malformed request: {why}"),
            HttpError::BadFraming(why) => write!(f, "bad message framing: {why}"),
            HttpError::UnsupportedCoding => f.write_str("unsupported transfer coding"),
            HttpError::UnsupportedMethod => f.write_str("method not implemented"),
            HttpError::UnsupportedVersion => f.write_str("unsupported HTTP version"),
            HttpError::BodyTooLarge => f.write_str("request body too large"),
            HttpError::HeadTimeout => f.write_str("request head timed out"),
            HttpError::BodyTimeout => f.write_str("request body timed out"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The standard reason phrase for a status code, or "" when there is none.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The `tchar` bytes, the alphabet of tokens (RFC 9110 §5.6.2), by byte value.
static TCHAR: [bool; 256] = byte_table!(|b| matches!(b,
    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
    | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
    | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'));

/// Whether `b` is a `tchar`, the alphabet of tokens (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Whether `s` is a non-empty token (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Trims optional whitespace, which is only SP and HTAB (RFC 9110 §5.6.3). Deliberately not
/// `trim_ascii`: stripping VT, FF or other lookalikes is how parsers disagree on framing.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether `b` may appear in a field value: VCHAR, obs-text, SP or HTAB (RFC 9110 §5.5).
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=0x7e | 0x80..=0xff)
}
