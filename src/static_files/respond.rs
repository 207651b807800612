//! The response heads the server answers files with: the file (200, 206), its validators
//! (304), and the refusals (404, 405, 412, 416, and 500 for an offload outside
//! `--sendfile-root`), each a complete head the engine sends as it is.

use super::conditional::{Decision, Validators};
use crate::decimal::Decimal;
use crate::http::reason_phrase;
use crate::http::response::ResponseHead;
use std::os::fd::OwnedFd;

/// A complete answer: the head, and what follows it.
#[derive(Debug)]
pub struct Reply {
    /// The head (`Content-Length` included when there is a body).
    pub head: ResponseHead,
    /// The body.
    pub body: Body,
}

/// What follows a reply's head.
#[derive(Debug)]
pub enum Body {
    /// Nothing (304, HEAD).
    Empty,
    /// A short text the server wrote.
    Text(Vec<u8>),
    /// `len` bytes of an open file from `offset`.
    File {
        /// The file.
        fd: OwnedFd,
        /// Where the bytes start.
        offset: u64,
        /// How many.
        len: u64,
    },
}

impl Body {
    /// The body's length.
    pub fn length(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Text(t) => t.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// A status the server answers itself, with a one-line text body.
pub fn status(code: u16) -> Reply {
    let reason = reason_phrase(code);
    let text = format!("{code} {reason}\n").into_bytes();
    let mut head = ResponseHead::new(code, reason.as_bytes(), 128);
    head.push_header(b"Content-Type", b"text/plain; charset=utf-8");
    head.push_header(b"Content-Length", text.len().to_string().as_bytes());
    if code == 405 {
        head.push_header(b"Allow", b"GET, HEAD");
    }
    Reply {
        head,
        body: Body::Text(text),
    }
}

/// A redirect to `location` (a directory asked for without its trailing slash).
pub fn moved(location: &[u8]) -> Reply {
    let mut reply = status(301);
    reply.head.push_header(b"Location", location);
    reply
}

/// What a file response says about the file beyond its bytes.
pub struct Described<'a> {
    /// `Content-Type`.
    pub content_type: &'a str,
    /// `Content-Encoding` of a precompressed sibling.
    pub encoding: Option<&'a str>,
    /// `Cache-Control`, if any.
    pub cache_control: Option<&'a str>,
}

/// The answer for an open file with validators `v`, as `decision` says.
pub fn file(
    fd: OwnedFd,
    v: &Validators,
    decision: Decision,
    d: &Described<'_>,
    head_only: bool,
) -> Reply {
    let (code, range) = match decision {
        Decision::Whole => (200, None),
        Decision::Partial { start, len } => (206, Some((start, len))),
        Decision::NotModified => (304, None),
        Decision::PreconditionFailed => return status(412),
        Decision::Unsatisfiable => {
            let mut reply = status(416);
            let range = format!("bytes */{}", v.len);
            reply.head.push_header(b"Content-Range", range.as_bytes());
            return reply;
        }
    };
    let mut head = ResponseHead::new(code, reason_phrase(code).as_bytes(), 384);
    if code != 304 {
        head.push_header(b"Content-Type", d.content_type.as_bytes());
        if let Some(enc) = d.encoding {
            head.push_header(b"Content-Encoding", enc.as_bytes());
        }
    }
    head.push_header(b"ETag", v.etag.as_bytes());
    head.push_header(b"Last-Modified", v.last_modified().as_bytes());
    if let Some(cc) = d.cache_control {
        head.push_header(b"Cache-Control", cc.as_bytes());
    }
    head.push_header(b"Vary", b"Accept-Encoding");
    if code == 304 {
        return Reply {
            head,
            body: Body::Empty,
        };
    }
    head.push_header(b"Accept-Ranges", b"bytes");
    let (offset, len) = range.unwrap_or((0, v.len));
    if let Some((start, len)) = range {
        let cr = format!("bytes {start}-{}/{}", start + len - 1, v.len);
        head.push_header(b"Content-Range", cr.as_bytes());
    }
    head.push_header(b"Content-Length", Decimal::new(len).as_bytes());
    let body = if head_only || len == 0 {
        Body::Empty
    } else {
        Body::File { fd, offset, len }
    };
    Reply { head, body }
}

/// Headers of the file's own that an application's offloading response never overrides.
const FILE_HEADERS: [&[u8]; 8] = [
    b"content-length",
    b"content-range",
    b"content-encoding",
    b"etag",
    b"last-modified",
    b"accept-ranges",
    b"vary",
    b"allow",
];

/// Headers the application's offloading response may set instead of the server's.
const APP_MAY_SET: [&[u8]; 3] = [b"content-type", b"cache-control", b"expires"];

/// The reply to an offloading response: the file's (200, 206, 304) keeps the
/// application's other headers (`Content-Disposition`, cookies, its `Content-Type` and
/// `Cache-Control`), never its offload header; an error (404, 412, 416, 500) is the
/// server's alone.
pub fn merge(app: &ResponseHead, ours: Reply, offload_header: &[u8]) -> Reply {
    if !matches!(ours.head.status, 200 | 206 | 304) {
        return ours;
    }
    let status = ours.head.status;
    let mut head = ResponseHead::new(status, reason_phrase(status).as_bytes(), 512);
    let mut app_set: Vec<Vec<u8>> = Vec::new();
    for (name, value) in app.headers() {
        let lower = name.to_ascii_lowercase();
        if lower == offload_header || FILE_HEADERS.contains(&lower.as_slice()) {
            continue;
        }
        if status == 304 && lower == b"content-type" {
            continue;
        }
        head.push_header(name, value);
        app_set.push(lower);
    }
    for (name, value) in ours.head.headers() {
        let lower = name.to_ascii_lowercase();
        if APP_MAY_SET.contains(&lower.as_slice()) && app_set.contains(&lower) {
            continue;
        }
        head.push_header(name, value);
    }
    Reply {
        head,
        body: ours.body,
    }
}

/// `name` carries a content hash as Django's `ManifestStaticFilesStorage` writes it
/// (`name.<12 hex>.ext`), so its content never changes under that name.
pub fn fingerprinted(name: &str) -> bool {
    // A middle part: not the first (the stem) nor the last (the extension).
    let mut parts = name.split('.').skip(1).peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return false;
        }
        if part.len() == 12
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_manifest_names_are_fingerprinted() {
        assert!(fingerprinted("app.3f2a9c0b1d4e.css"));
        assert!(fingerprinted("app.3f2a9c0b1d4e.css.gz"));
        assert!(!fingerprinted("app.css"));
        assert!(!fingerprinted("app.3f2a9c0b1d4.css"));
        assert!(!fingerprinted("3f2a9c0b1d4e.css"));
        assert!(!fingerprinted("app.3F2A9C0B1D4E.css"));
    }
}
