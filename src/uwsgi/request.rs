//! A decoded packet as a request: the head the engine dispatches (method, target, framing,
//! header fields for the access log) and the [`Gateway`] facts the environ is built from.
//!
//! The variables are nginx's `uwsgi_params` (Debian's stock file): `REQUEST_METHOD`,
//! `REQUEST_URI`, `PATH_INFO` (already percent-decoded by nginx), `QUERY_STRING`,
//! `CONTENT_TYPE`, `CONTENT_LENGTH`, `SERVER_PROTOCOL`, `REQUEST_SCHEME`, `HTTPS`,
//! `REMOTE_ADDR`, `REMOTE_PORT`, `SERVER_NAME`, `SERVER_PORT`, `DOCUMENT_ROOT`, and every
//! client header as `HTTP_<NAME>`. Only the body's framing is judged strictly here
//! (`CONTENT_LENGTH`); the rest is reported as sent, since only allowed peers may send it.

use super::{Modifier, Packet, UwsgiError, Vars};
use crate::http::body::BodyFraming;
use crate::http::request::{Parts, RequestHead, parse_digits};

/// What a packet tells the environ: its variables, as nginx sent them.
#[derive(Debug)]
pub struct Gateway {
    /// The packet's variables.
    pub vars: Vars,
    /// Its `modifier1`.
    pub modifier: Modifier,
}

impl Gateway {
    /// A variable's value as text (latin-1, one char per byte), if it was sent non-empty.
    pub fn text(&self, key: &str) -> Option<String> {
        self.vars
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().map(|&b| char::from(b)).collect())
    }

    /// `https` when the front end says the client used TLS (`HTTPS` on, as nginx's
    /// `$https` sets it, or `REQUEST_SCHEME` https), `http` when it says otherwise, else
    /// `listener`'s scheme.
    pub fn url_scheme(&self, listener: &'static str) -> &'static str {
        if let Some(https) = self.vars.get("HTTPS") {
            let on = [&b"on"[..], b"1", b"true"]
                .iter()
                .any(|t| https.eq_ignore_ascii_case(t));
            return if on { "https" } else { "http" };
        }
        match self.vars.get("REQUEST_SCHEME") {
            Some(s) if s.eq_ignore_ascii_case(b"https") => "https",
            Some(s) if s.eq_ignore_ascii_case(b"http") => "http",
            _ => listener,
        }
    }
}

/// The body length `CONTENT_LENGTH` announces: empty or absent is none (nginx's stock
/// `uwsgi_params` send `$content_length`, empty without a body); anything but digits, or
/// two values that differ, is refused.
fn content_length(vars: &Vars) -> Result<u64, UwsgiError> {
    let mut length: Option<u64> = None;
    for (_, value) in vars.iter().filter(|(k, _)| *k == b"CONTENT_LENGTH") {
        let n = if value.is_empty() {
            0
        } else {
            parse_digits(value).ok_or(UwsgiError::BadContentLength)?
        };
        if length.is_some_and(|l| l != n) {
            return Err(UwsgiError::BadContentLength);
        }
        length = Some(n);
    }
    Ok(length.unwrap_or(0))
}

/// A header field name from a CGI variable name: `HTTP_USER_AGENT` → `USER-AGENT` (the
/// case is lost, and so is a `_` the client sent: the CGI form cannot tell them apart).
fn field_name(key: &[u8], out: &mut Vec<u8>) {
    out.extend(key.iter().map(|&b| if b == b'_' { b'-' } else { b }));
}

/// Turns a decoded packet into the head to dispatch and its [`Gateway`].
pub fn into_request(packet: Packet) -> Result<(RequestHead, Gateway), UwsgiError> {
    let vars = &packet.vars;
    let method = vars.get("REQUEST_METHOD").unwrap_or(b"GET");
    if !crate::http::is_token(method) {
        return Err(UwsgiError::BadMethod);
    }
    let length = content_length(vars)?;
    let query = vars.get("QUERY_STRING").unwrap_or_default();
    let composed;
    let target = match vars.get("REQUEST_URI").filter(|t| !t.is_empty()) {
        Some(uri) => uri,
        None => {
            let mut t = vars.get("PATH_INFO").unwrap_or(b"/").to_vec();
            if !query.is_empty() {
                t.push(b'?');
                t.extend_from_slice(query);
            }
            composed = t;
            &composed
        }
    };
    // Header fields for the access log's `%({name}i)s`: names converted into one buffer,
    // then paired with their values.
    let mut names = Vec::new();
    let mut spans = Vec::new();
    for (key, value) in vars.iter() {
        let name = match key {
            b"CONTENT_TYPE" | b"CONTENT_LENGTH" => key,
            _ => match key.strip_prefix(b"HTTP_") {
                Some(name) if !name.is_empty() => name,
                _ => continue,
            },
        };
        let start = names.len();
        field_name(name, &mut names);
        spans.push((start..names.len(), value));
    }
    let parts = Parts {
        method,
        target,
        query,
        protocol: vars.get("SERVER_PROTOCOL").unwrap_or(b"HTTP/1.1"),
        framing: match length {
            0 => BodyFraming::Empty,
            n => BodyFraming::Length(n),
        },
    };
    let head = RequestHead::assembled(
        &parts,
        spans
            .into_iter()
            .map(|(range, value)| (&names[range], value)),
    );
    Ok((
        head,
        Gateway {
            modifier: packet.modifier,
            vars: packet.vars,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::uwsgi::packet::{encode, parse_packet};

    fn request(vars: &[(&[u8], &[u8])]) -> Result<(RequestHead, Gateway), UwsgiError> {
        let bytes = encode(0, vars, b"");
        let (packet, _) = parse_packet(&bytes, &Limits::default())
            .expect("valid")
            .expect("complete");
        into_request(packet)
    }

    #[test]
    fn nginx_variables_make_the_head() {
        let (head, gateway) = request(&[
            (b"REQUEST_METHOD", b"POST"),
            (b"REQUEST_URI", b"/a%20b?x=1"),
            (b"QUERY_STRING", b"x=1"),
            (b"PATH_INFO", b"/a b"),
            (b"CONTENT_LENGTH", b"12"),
            (b"CONTENT_TYPE", b"text/plain"),
            (b"SERVER_PROTOCOL", b"HTTP/1.1"),
            (b"HTTP_USER_AGENT", b"curl/8"),
            (b"HTTPS", b"on"),
        ])
        .expect("valid");
        assert_eq!(head.method(), "POST");
        assert_eq!(head.target(), b"/a%20b?x=1");
        assert_eq!(head.path(), b"/a%20b");
        assert_eq!(head.query(), b"x=1");
        assert_eq!(head.protocol(), b"HTTP/1.1");
        assert_eq!(head.framing, BodyFraming::Length(12));
        assert!(!head.keep_alive && !head.expect_continue);
        assert_eq!(head.header("user-agent"), Some(&b"curl/8"[..]));
        assert_eq!(head.header("content-type"), Some(&b"text/plain"[..]));
        assert_eq!(gateway.url_scheme("http"), "https");
    }

    #[test]
    fn defaults_when_variables_are_missing() {
        let (head, gateway) =
            request(&[(b"PATH_INFO", b"/p"), (b"QUERY_STRING", b"q")]).expect("valid");
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), b"/p?q");
        assert_eq!(head.framing, BodyFraming::Empty);
        assert_eq!(gateway.url_scheme("http"), "http");
        assert_eq!(gateway.text("REMOTE_ADDR"), None);
    }

    #[test]
    fn the_scheme_follows_https_then_request_scheme() {
        let scheme = |vars: &[(&[u8], &[u8])]| request(vars).expect("valid").1.url_scheme("http");
        assert_eq!(scheme(&[(b"HTTPS", b"ON")]), "https");
        assert_eq!(
            scheme(&[(b"HTTPS", b"off"), (b"REQUEST_SCHEME", b"https")]),
            "http"
        );
        assert_eq!(scheme(&[(b"REQUEST_SCHEME", b"https")]), "https");
        assert_eq!(scheme(&[(b"REQUEST_SCHEME", b"gopher")]), "http");
    }

    #[test]
    fn content_length_is_digits_or_empty() {
        let length = |v: &[u8]| request(&[(b"CONTENT_LENGTH", v)]).map(|(h, _)| h.framing);
        assert_eq!(length(b""), Ok(BodyFraming::Empty));
        assert_eq!(length(b"0"), Ok(BodyFraming::Empty));
        assert_eq!(length(b"7"), Ok(BodyFraming::Length(7)));
        for bad in [
            &b"-1"[..],
            b"+1",
            b" 1",
            b"1x",
            b"0x10",
            b"99999999999999999999999",
        ] {
            assert_eq!(
                length(bad).err(),
                Some(UwsgiError::BadContentLength),
                "{bad:?}"
            );
        }
        let two = request(&[(b"CONTENT_LENGTH", b"1"), (b"CONTENT_LENGTH", b"2")]);
        assert_eq!(two.err(), Some(UwsgiError::BadContentLength));
        let same = request(&[(b"CONTENT_LENGTH", b"2"), (b"CONTENT_LENGTH", b"2")]);
        assert!(same.is_ok());
    }

    #[test]
    fn a_method_must_be_a_token() {
        for bad in [&b""[..], b"GE T", b"G\r\n"] {
            let r = request(&[(b"REQUEST_METHOD", bad)]);
            assert_eq!(r.err(), Some(UwsgiError::BadMethod), "{bad:?}");
        }
    }
}
