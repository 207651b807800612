//! The text line: gunicorn's format, written piece by piece, with a loop-free writer for
//! the default format that nearly every server logs.

use super::basic_auth::basic_user;
use super::entry::{CommonHeaders, Entry, LoggedRequest};
use super::format::{AUTHORIZATION, Atom, Environ, Format, REFERER, Source, USER_AGENT};
use super::pid;
use crate::http::Version;
use crate::http::request::RequestHead;
use crate::logging::escape;
use std::time::Duration;

pub(super) fn dash_or(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => escape::text(out, v),
        _ => out.push(b'-'),
    }
}

/// [`DEFAULT_FORMAT`], what nearly every server logs, written straight: about half the
/// instructions of the general loop ([`write_text`]), with the same output (tested).
pub(super) fn write_default(out: &mut Vec<u8>, e: &Entry<'_>, clf: &[u8]) {
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
pub(super) fn status(out: &mut Vec<u8>, status: Option<u16>) {
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

pub(super) fn write_text(out: &mut Vec<u8>, format: &Format, e: &Entry<'_>, clf: &[u8]) {
    let found = CommonHeaders::gather(e.head(), &format.headers, format.common_headers);
    for piece in &format.pieces {
        write_what(out, format, e, &found, clf, piece.what);
        escape::word(out, &piece.tail, usize::from(piece.tail_len));
    }
}

/// What a piece writes before its tail: one `match` on one tag.
#[inline(always)]
pub(super) fn write_what(
    out: &mut Vec<u8>,
    format: &Format,
    e: &Entry<'_>,
    found: &CommonHeaders<'_>,
    clf: &[u8],
    what: Source,
) {
    match what {
        Source::Nothing => {}
        Source::Literal { start, len } => {
            let start = start as usize;
            out.extend_from_slice(&format.text[start..start + len as usize]);
        }
        Source::Atom(Atom::RemoteAddr) => dash_or(out, Some(e.conn.remote_addr.as_bytes())),
        Source::Atom(Atom::Ident) => out.push(b'-'),
        Source::Atom(Atom::User) => match found.get(AUTHORIZATION).and_then(basic_user) {
            Some(user) => dash_or(out, Some(&user)),
            None => out.push(b'-'),
        },
        Source::Atom(Atom::Time) => out.extend_from_slice(clf),
        Source::Atom(Atom::RequestLine) => request_line(out, e.request),
        Source::Atom(Atom::Method) => match e.request {
            // A token (checked by the parser): nothing to escape.
            LoggedRequest::Parsed(head) => escape::put(out, head.method_bytes()),
            _ => dash_or(out, e.method()),
        },
        Source::Atom(Atom::Path) => dash_or(out, e.path().as_deref()),
        Source::Atom(Atom::Query) => escape::text(out, e.query().unwrap_or_default()),
        Source::Atom(Atom::Protocol) => match e.head() {
            // As the client spoke it (a uwsgi packet's SERVER_PROTOCOL, an unconventional
            // version served as another): always `HTTP/<digit>.<digit>`.
            Some(head) => put_protocol(out, head),
            None => out.push(b'-'),
        },
        Source::Atom(Atom::Status) => status(out, e.status),
        Source::Atom(Atom::Bytes) => escape::decimal(out, e.body_bytes),
        Source::Atom(Atom::BytesOrDash) if e.body_bytes == 0 => out.push(b'-'),
        Source::Atom(Atom::BytesOrDash) => escape::decimal(out, e.body_bytes),
        Source::Atom(Atom::Referer) => dash_or(out, found.get(REFERER)),
        Source::Atom(Atom::UserAgent) => dash_or(out, found.get(USER_AGENT)),
        Source::Atom(
            atom @ (Atom::Seconds | Atom::Millis | Atom::Micros | Atom::DecimalSeconds),
        ) => duration(out, atom, e.duration),
        Source::Atom(Atom::Pid) => {
            out.push(b'<');
            pid(out);
            out.push(b'>');
        }
        Source::Atom(Atom::RequestId) => dash_or(out, e.request_id),
        Source::Atom(Atom::RequestHeader(slot)) => dash_or(out, found.get(usize::from(slot))),
        Source::Atom(Atom::ResponseHeader(i)) => {
            let name = &format.response_headers[usize::from(i)];
            dash_or(out, e.response_header(name));
        }
        Source::Atom(Atom::Environ(i)) => {
            match environ_value(e, found, &format.environ[usize::from(i)].1) {
                Some(value) => dash_or(out, Some(&value)),
                None => out.push(b'-'),
            }
        }
    }
}

/// The request's protocol: as the client spoke it (a uwsgi packet's SERVER_PROTOCOL, an
/// unconventional version served as another; always `HTTP/<digit>.<digit>`, nothing to
/// escape), else the version's constant.
pub(super) fn put_protocol(out: &mut Vec<u8>, head: &RequestHead) {
    match head.unconventional_version() {
        Some(sent) => out.extend_from_slice(sent),
        None => out.extend_from_slice(protocol(head.version)),
    }
}

/// The protocol as a constant, copied without `memcpy`.
pub(super) fn protocol(version: Version) -> &'static [u8; 8] {
    match version {
        Version::Http10 => b"HTTP/1.0",
        Version::Http11 => b"HTTP/1.1",
    }
}

/// `%(T)s`, `%(M)s`, `%(D)s` or `%(L)s`. Not inlined: in the loop of [`write_text`], the
/// compiler would compute all four for every line whatever the format.
#[inline(never)]
pub(super) fn duration(out: &mut Vec<u8>, atom: Atom, duration: Duration) {
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
pub(super) fn request_line(out: &mut Vec<u8>, request: LoggedRequest<'_>) {
    match request {
        LoggedRequest::Parsed(head) => {
            // The parser checked the method is a token: nothing in it to escape.
            escape::put(out, head.method_bytes());
            out.push(b' ');
            escape::text(out, head.target());
            out.push(b' ');
            put_protocol(out, head);
        }
        LoggedRequest::Unparsed(bytes) => dash_or(out, Some(bytes)),
        LoggedRequest::Known { method, target } => {
            escape::text(out, method);
            out.push(b' ');
            escape::text(out, target);
            out.extend_from_slice(b" -");
        }
    }
}

pub(super) fn environ_value(
    e: &Entry<'_>,
    found: &CommonHeaders<'_>,
    key: &Environ,
) -> Option<Vec<u8>> {
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
