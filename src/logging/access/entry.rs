//! What one access line is about: the request as far as the server got ([`LoggedRequest`]),
//! the connection and the response ([`Entry`]), and the request headers a line shows,
//! gathered in one pass ([`CommonHeaders`]).

use super::format::{AUTHORIZATION, REFERER, USER_AGENT};
use crate::http::request::RequestHead;
use crate::http::response::ResponseHead;
use crate::peer::ConnInfo;
use std::time::Duration;

/// What the request was, as far as the server got.
#[derive(Clone, Copy, Debug)]
pub enum LoggedRequest<'a> {
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
    pub request: LoggedRequest<'a>,
    /// The response status; `None` when no response head was sent.
    pub status: Option<u16>,
    /// Response body bytes sent (without headers and chunk framing).
    pub body_bytes: u64,
    /// The response head as the application set it; `None` when the server answered.
    pub response: Option<&'a ResponseHead>,
    /// From the request's first byte to the response being complete.
    pub duration: Duration,
    /// The request's ID (`--request-id-header`); `None` when IDs are off or the request was
    /// never parsed.
    pub request_id: Option<&'a [u8]>,
}

impl<'a> Entry<'a> {
    pub(super) fn head(&self) -> Option<&'a RequestHead> {
        match self.request {
            LoggedRequest::Parsed(head) => Some(head),
            LoggedRequest::Unparsed(_) | LoggedRequest::Known { .. } => None,
        }
    }

    pub(super) fn method(&self) -> Option<&'a [u8]> {
        match self.request {
            LoggedRequest::Parsed(head) => Some(head.method_bytes()),
            LoggedRequest::Known { method, .. } => Some(method),
            LoggedRequest::Unparsed(_) => None,
        }
    }

    pub(super) fn target(&self) -> Option<&'a [u8]> {
        match self.request {
            LoggedRequest::Parsed(head) => Some(head.target()),
            LoggedRequest::Known { target, .. } => Some(target),
            LoggedRequest::Unparsed(_) => None,
        }
    }

    /// The path, still percent-encoded.
    pub(super) fn raw_path(&self) -> Option<&'a [u8]> {
        match self.request {
            LoggedRequest::Parsed(head) => Some(head.path()),
            LoggedRequest::Known { target, .. } => target.split(|&b| b == b'?').next(),
            LoggedRequest::Unparsed(_) => None,
        }
    }

    /// The path, percent-decoded (gunicorn's `PATH_INFO`).
    pub(super) fn path(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        self.raw_path().map(crate::http::percent_decode)
    }

    pub(super) fn query(&self) -> Option<&'a [u8]> {
        match self.request {
            LoggedRequest::Parsed(head) => Some(head.query()),
            LoggedRequest::Known { target, .. } => Some(
                target
                    .iter()
                    .position(|&b| b == b'?')
                    .map_or(&[][..], |q| &target[q + 1..]),
            ),
            LoggedRequest::Unparsed(_) => None,
        }
    }

    pub(super) fn protocol(&self) -> Option<&'a [u8]> {
        self.head().map(|h| h.protocol())
    }

    pub(super) fn response_header(&self, lowercase: &str) -> Option<&'a [u8]> {
        self.response?.header(lowercase.as_bytes())
    }
}

/// The request headers a line shows: Authorization, Referer and User-Agent (the atoms of
/// the default format and JSON keys) found in one pass that skips other headers on their
/// length alone; the rarer `{name}i` headers are looked up when written.
pub(super) struct CommonHeaders<'a> {
    pub(super) head: Option<&'a RequestHead>,
    pub(super) names: &'a [String],
    /// The slots [`AUTHORIZATION`], [`REFERER`] and [`USER_AGENT`].
    pub(super) common: [Option<&'a [u8]>; 3],
}

impl<'a> CommonHeaders<'a> {
    /// `common`: whether the line shows any of the three (otherwise the pass is skipped).
    #[inline]
    pub(super) fn gather(
        head: Option<&'a RequestHead>,
        names: &'a [String],
        common: bool,
    ) -> CommonHeaders<'a> {
        let mut found = CommonHeaders {
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
    pub(super) fn get(&self, slot: usize) -> Option<&'a [u8]> {
        match self.common.get(slot) {
            Some(value) => *value,
            None => self.head.and_then(|h| h.header(&self.names[slot])),
        }
    }
}
