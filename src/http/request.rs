//! Request heads: httparse plus the RFC 9112 rules httparse leaves to us (framing, keep-alive,
//! Expect, Host, target form).

use super::body::BodyFraming;
use super::{HttpError, Limits, Version};
use std::ops::Range;

/// A parsed request head. Owns one copy of the head bytes; every field is a range into it,
/// so a request costs two allocations (the bytes and the header index) however many headers.
#[derive(Clone, Debug)]
pub struct RequestHead {
    buf: Vec<u8>,
    method: Range<usize>,
    target: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    /// The protocol version.
    pub version: Version,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the client allows the connection to persist after this exchange.
    pub keep_alive: bool,
    /// Whether the client sent `Expect: 100-continue` and waits before sending the body.
    pub expect_continue: bool,
}

impl RequestHead {
    /// The method token, e.g. `GET`.
    pub fn method(&self) -> &str {
        todo!()
    }
    /// The request target exactly as received (`RAW_URI`).
    pub fn target(&self) -> &[u8] {
        todo!()
    }
    /// The path of the target, still percent-encoded; for absolute-form the part after the
    /// authority ("/" when empty).
    pub fn path(&self) -> &[u8] {
        todo!()
    }
    /// The query string after `?`, without the `?` ("" when absent).
    pub fn query(&self) -> &[u8] {
        todo!()
    }
    /// The authority of an absolute-form target (`http://host:port/...`), if that form was used.
    pub fn absolute_authority(&self) -> Option<&[u8]> {
        todo!()
    }
    /// Header fields in arrival order, names as sent (case preserved), values trimmed of
    /// optional whitespace.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.headers
            .iter()
            .map(|(n, v)| (&self.buf[n.clone()], &self.buf[v.clone()]))
    }
    /// The first value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
    /// Whether this is a HEAD request (its response carries no body).
    pub fn is_head(&self) -> bool {
        self.method() == "HEAD"
    }
}

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((head, n)))` when the head ends at
/// byte `n` (the body, if any, starts there), or the error to answer with. Limits are enforced
/// even on incomplete input, so a client cannot make the caller buffer an unbounded head.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HttpError> {
    let _ = (buf, limits);
    todo!()
}
