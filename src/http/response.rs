//! Response framing (RFC 9112 §6.3, RFC 9110 §6.4.1) and the encoders that put it on the wire.
//!
//! The WSGI layer hands over a validated [`ResponseHead`]; this module decides how the body is
//! delimited, whether the connection may persist, and produces the bytes around body data.

use super::Version;
use std::time::SystemTime;

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
}

/// Parses a Content-Length value set by the application: ASCII digits only, no sign, no
/// overflow. `None` means the value is invalid.
pub fn parse_content_length(value: &str) -> Option<u64> {
    let _ = value;
    todo!()
}

/// Decides framing for a response. `known_length` is the body's total size when the server
/// knows it before sending (a single-item body); the app's Content-Length wins over it.
pub fn decide(exchange: Exchange, head: &ResponseHead, known_length: Option<u64>) -> Framing {
    let _ = (exchange, head, known_length);
    todo!()
}

/// Appends the status line and headers for `head` to `out`, adding `Content-Length`,
/// `Transfer-Encoding: chunked` and `Connection` as the framing requires, and `Date` and
/// `Server` unless the application set them. Always answers `HTTP/1.1` (RFC 9110 §2.5).
pub fn encode_head(out: &mut Vec<u8>, head: &ResponseHead, framing: Framing, date: &HttpDate) {
    let _ = (out, head, framing, date);
    todo!()
}

/// Frames response body data according to the chosen [`ResponseFraming`], enforcing an
/// application Content-Length (excess bytes are dropped, a short body is reported).
#[derive(Clone, Debug)]
pub struct BodyEncoder {
    _todo: (),
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

impl BodyEncoder {
    /// An encoder for the given framing.
    pub fn new(framing: ResponseFraming) -> Self {
        let _ = framing;
        todo!()
    }

    /// Frames `data`: appends any prefix (a chunk-size line) to `prefix`, and returns what to
    /// send after it. Empty data produces nothing (an empty chunk would end the body).
    pub fn encode<'a>(&mut self, data: &'a [u8], prefix: &mut Vec<u8>) -> Framed<'a> {
        let _ = (data, prefix);
        todo!()
    }

    /// Bytes of a declared length still owed (0 for other framings); with a file sent by
    /// sendfile the caller uses this to bound the count and then calls [`Self::advance`].
    pub fn remaining(&self) -> Option<u64> {
        todo!()
    }

    /// Records `n` bytes sent outside [`Self::encode`] (sendfile) under Length framing.
    pub fn advance(&mut self, n: u64) {
        let _ = n;
        todo!()
    }

    /// Ends the body: appends the chunked terminator (`0\r\n\r\n`) when chunked. Returns
    /// `false` if a declared length was not reached, in which case the connection must close.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> bool {
        let _ = out;
        todo!()
    }
}

/// A complete short response for errors the server answers itself (400, 500, 503, ...):
/// `Content-Type: text/plain`, a one-line body naming the status, and `Connection: close`
/// when `close` is set. A HEAD request gets the same head with no body.
pub fn error_response(status: u16, close: bool, head_request: bool, date: &HttpDate) -> Vec<u8> {
    let _ = (status, close, head_request, date);
    todo!()
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), formatted once per second
/// by the caller and reused for every response in that second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpDate {
    bytes: [u8; 29],
    secs: u64,
}

impl HttpDate {
    /// Formats `at`.
    pub fn new(at: SystemTime) -> Self {
        let _ = at;
        todo!()
    }
    /// Re-formats only if `now` is in a later second than the cached value.
    pub fn refresh(&mut self, now: SystemTime) {
        let _ = now;
        todo!()
    }
    /// The formatted date.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}
