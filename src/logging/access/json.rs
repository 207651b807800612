//! The JSON line (`--log-format json`): fixed keys whatever the text format, plus objects
//! for the format's `{...}i`, `{...}o` and `{...}e` atoms.

use super::basic_auth::basic_user;
use super::entry::{CommonHeaders, Entry, LoggedRequest};
use super::format::{AUTHORIZATION, Atom, Format, Piece, REFERER, Source, USER_AGENT};
use super::pid;
use super::text::{environ_value, status};
use crate::logging::escape;
use crate::logging::json::Object;

/// `iso`: this second's RFC 3339 time with zero microseconds, `micros` replaces them.
/// Keys are written as constant bytes (copied inline, not through `memcpy`).
pub(super) fn write_json(
    out: &mut Vec<u8>,
    format: &Format,
    e: &Entry<'_>,
    iso: &[u8],
    micros: u32,
) {
    let found = CommonHeaders::gather(e.head(), &format.headers, true);
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
        LoggedRequest::Parsed(h) => {
            // The method is a token (checked by the parser): nothing to escape.
            out.push(b'"');
            escape::put(out, h.method_bytes());
            out.push(b' ');
            escape::json_body(out, h.target());
            out.push(b' ');
            super::text::put_protocol(out, h);
            out.push(b'"');
        }
        LoggedRequest::Unparsed(bytes) => json_or_null(out, Some(bytes).filter(|b| !b.is_empty())),
        LoggedRequest::Known { method, target } => {
            escape::json_parts(out, &[method, b" ", target]);
        }
    }
    out.extend_from_slice(b",\"method\":");
    match e.request {
        LoggedRequest::Parsed(h) => {
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
        Some(h) => {
            out.push(b'"');
            super::text::put_protocol(out, h);
            out.push(b'"');
        }
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
    // Only with `--request-id-header`: lines without it keep their keys.
    if let Some(id) = e.request_id {
        out.extend_from_slice(b",\"request_id\":");
        escape::json(out, id);
    }
    if format.extras {
        let mut o = Object::continuing(out);
        write_json_extras(&mut o, format, e, &found);
    }
    out.extend_from_slice(b"}\n");
}

/// A JSON string, or `null`.
#[inline]
pub(super) fn json_or_null(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => escape::json(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// The `request_headers`, `response_headers` and `environ` objects of the format's
/// `{...}i`, `{...}o` and `{...}e` atoms.
pub(super) fn write_json_extras(
    o: &mut Object<'_>,
    format: &Format,
    e: &Entry<'_>,
    found: &CommonHeaders<'_>,
) {
    let mut request_slots = format
        .pieces
        .iter()
        .filter_map(|p| match p {
            Piece {
                what: Source::Atom(Atom::RequestHeader(slot)),
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
