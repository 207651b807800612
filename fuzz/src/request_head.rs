//! The `request_head` target: `parse_head` on arbitrary bytes, under three sets of limits.
//!
//! Beyond "nothing panics" it checks what the engine relies on: a head fed in pieces parses
//! exactly as when fed whole; an incomplete head never makes the caller buffer more than the
//! limits allow; a parsed head obeys the grammar and framing rules the WSGI layer trusts (so a
//! smuggling-shaped request cannot come out as a valid head); and tightening the limits can
//! only turn a result into an error, never change it.

use crate::split;
use rsgi_server::http::body::BodyFraming;
use rsgi_server::http::request::{RequestHead, parse_head};
use rsgi_server::http::{HttpError, Limits, Version};

/// Limits small enough for the fuzzer to reach every limit error with short inputs.
pub fn small_limits() -> Limits {
    Limits {
        request_line: 48,
        header_count: 4,
        header_field_size: 40,
        ..Limits::default()
    }
}

/// The defaults with room for more header fields than the parser keeps on its stack, so the
/// heap fallback is fuzzed too.
pub fn wide_limits() -> Limits {
    Limits {
        header_count: 1000,
        ..Limits::default()
    }
}

/// Everything observable about a parsed head, for comparing results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// `RequestHead::method_bytes`.
    pub method: Vec<u8>,
    /// `RequestHead::target`.
    pub target: Vec<u8>,
    /// `RequestHead::path`.
    pub path: Vec<u8>,
    /// `RequestHead::query`.
    pub query: Vec<u8>,
    /// `RequestHead::absolute_authority`.
    pub authority: Option<Vec<u8>>,
    /// `RequestHead::headers`.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The protocol version.
    pub version: Version,
    /// The body framing.
    pub framing: BodyFraming,
    /// Whether the connection may persist.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue`.
    pub expect_continue: bool,
    /// Bytes the head took, including its final empty line.
    pub consumed: usize,
}

/// The result of one `parse_head` call, comparable.
pub type Outcome = Result<Option<Summary>, HttpError>;

/// Turns a `parse_head` result into an [`Outcome`].
pub fn summarize(r: Result<Option<(RequestHead, usize)>, HttpError>) -> Outcome {
    r.map(|o| {
        o.map(|(h, consumed)| Summary {
            method: h.method_bytes().to_vec(),
            target: h.target().to_vec(),
            path: h.path().to_vec(),
            query: h.query().to_vec(),
            authority: h.absolute_authority().map(<[u8]>::to_vec),
            headers: h.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
            version: h.version,
            framing: h.framing,
            keep_alive: h.keep_alive,
            expect_continue: h.expect_continue,
            consumed,
        })
    })
}

/// Runs every check on `data`; panics (with the input) on the first broken invariant.
pub fn check(data: &[u8]) {
    let small = check_with(data, &small_limits());
    let default = check_with(data, &Limits::default());
    let wide = check_with(data, &wide_limits());
    // Limits only ever cut a parse short: a head accepted under tighter limits is accepted,
    // unchanged, under looser ones.
    if let Ok(Some(_)) = small {
        assert_eq!(small, default, "small vs default limits for {data:?}");
    }
    if let Ok(Some(_)) = default {
        assert_eq!(default, wide, "default vs wide limits for {data:?}");
    }
    // Pipelined requests: whatever follows a head is parsed as the next one.
    let mut rest = data;
    let limits = Limits::default();
    for _ in 0..16 {
        match summarize(parse_head(rest, &limits)) {
            Ok(Some(s)) => {
                check_head(rest, &s, &limits);
                rest = &rest[s.consumed..];
            }
            _ => break,
        }
    }
}

/// Parses `data` whole and in pieces under `limits`, checks the result, and returns it.
pub fn check_with(data: &[u8], limits: &Limits) -> Outcome {
    let whole = summarize(parse_head(data, limits));
    if let Ok(Some(s)) = &whole {
        check_head(data, s, limits);
    }
    if whole == Ok(None) {
        assert_buffer_bounded(data.len(), limits, data);
    }
    // Like the engine: append each read to a buffer and parse the buffer again. Every error
    // and every head depends only on the bytes before it, so the first answer that is not
    // "need more" must be the answer for the whole input.
    for pieces in split::patterns(data, 256) {
        let mut len = 0;
        let mut first = Ok(None);
        for piece in &pieces {
            len += piece.len();
            first = summarize(parse_head(&data[..len], limits));
            match first {
                Ok(None) => assert_buffer_bounded(len, limits, data),
                _ => break,
            }
        }
        assert_eq!(first, whole, "fed in {} pieces: {data:?}", pieces.len());
    }
    whole
}

/// While a head is incomplete the caller keeps buffering: the limits must bound that.
fn assert_buffer_bounded(buffered: usize, limits: &Limits, data: &[u8]) {
    // Request line (and the empty lines allowed before it) with its CRLF, each field line with
    // its CRLF, and the CR of the final empty line; one byte of slack for a pending CR.
    let bound = limits.request_line + 2 + limits.header_count * (limits.header_field_size + 2) + 2;
    assert!(
        buffered <= bound,
        "{buffered} bytes buffered without an answer (bound {bound}): {data:?}"
    );
}

/// The rules a parsed head must satisfy, whatever the parser's internals.
fn check_head(data: &[u8], s: &Summary, limits: &Limits) {
    let ctx = || format!("{s:?} from {data:?}");
    assert!(
        s.consumed <= data.len(),
        "consumed past the input: {}",
        ctx()
    );
    assert!(
        data[..s.consumed].ends_with(b"\r\n\r\n"),
        "head does not end with an empty line: {}",
        ctx()
    );

    // Request line (RFC 9112 §3): method token, a target of visible ASCII, a known version.
    assert!(is_token(&s.method), "method is not a token: {}", ctx());
    assert_ne!(
        s.method,
        b"CONNECT",
        "a tunnel request came out as a head: {}",
        ctx()
    );
    assert!(
        !s.target.is_empty() && s.target.iter().all(|&b| (0x21..=0x7e).contains(&b)),
        "target holds bytes outside VCHAR: {}",
        ctx()
    );
    assert!(
        !s.target.contains(&b'#'),
        "target holds a fragment: {}",
        ctx()
    );
    let line = s.method.len() + 1 + s.target.len() + 1 + b"HTTP/1.1".len();
    assert!(
        line <= limits.request_line,
        "request line of {line} bytes over the limit: {}",
        ctx()
    );
    match s.target.first() {
        Some(b'/') => {
            assert!(
                s.authority.is_none(),
                "origin-form with authority: {}",
                ctx()
            );
            let mut rebuilt = s.path.clone();
            if s.target.contains(&b'?') {
                rebuilt.push(b'?');
                rebuilt.extend_from_slice(&s.query);
            }
            assert_eq!(rebuilt, s.target, "path and query do not make the target");
        }
        Some(b'*') => {
            assert_eq!(s.target, b"*", "{}", ctx());
            assert_eq!(
                s.method,
                b"OPTIONS",
                "asterisk-form outside OPTIONS: {}",
                ctx()
            );
        }
        _ => {
            let authority = s.authority.as_deref().unwrap_or_default();
            assert!(
                !authority.is_empty(),
                "absolute-form without authority: {}",
                ctx()
            );
            assert!(
                !authority.contains(&b'@'),
                "userinfo in authority: {}",
                ctx()
            );
        }
    }
    assert!(!s.path.contains(&b'?'), "path holds the query: {}", ctx());

    // Field lines (RFC 9112 §5, RFC 9110 §5.5): token names, values without CTLs and trimmed.
    assert!(
        s.headers.len() <= limits.header_count,
        "more fields than the limit: {}",
        ctx()
    );
    for (name, value) in &s.headers {
        assert!(is_token(name), "field name is not a token: {}", ctx());
        assert!(
            value
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
            "control character in a field value: {}",
            ctx()
        );
        assert!(
            !value.starts_with(b" ")
                && !value.starts_with(b"\t")
                && !value.ends_with(b" ")
                && !value.ends_with(b"\t"),
            "field value not trimmed: {}",
            ctx()
        );
        assert!(
            name.len() + 1 + value.len() <= limits.header_field_size,
            "field line over the limit: {}",
            ctx()
        );
    }

    // Host (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in HTTP/1.0.
    let hosts = count(s, b"host");
    assert!(
        values(s, b"host").all(|v| !v.contains(&b'@') && !v.contains(&b' ')),
        "Host with userinfo or spaces: {}",
        ctx()
    );
    match s.version {
        Version::Http11 => assert_eq!(hosts, 1, "Host count in HTTP/1.1: {}", ctx()),
        Version::Http10 => assert!(hosts <= 1, "repeated Host: {}", ctx()),
    }

    // Framing (RFC 9112 §6): never both TE and CL; TE only on 1.1 and then chunked; CL values
    // all agree with the framing.
    let te = count(s, b"transfer-encoding");
    let cl: Vec<&[u8]> = values(s, b"content-length").collect();
    // Any repetition of Content-Length is refused (tests/requests/README.md: decisions).
    assert!(cl.len() <= 1, "repeated Content-Length: {}", ctx());
    if te > 0 {
        assert!(
            cl.is_empty(),
            "Transfer-Encoding with Content-Length: {}",
            ctx()
        );
        assert_eq!(s.version, Version::Http11, "TE in HTTP/1.0: {}", ctx());
        assert_eq!(s.framing, BodyFraming::Chunked, "{}", ctx());
    } else if cl.is_empty() {
        assert_eq!(
            s.framing,
            BodyFraming::Empty,
            "no framing headers: {}",
            ctx()
        );
    } else {
        let expected = match s.framing {
            BodyFraming::Empty => 0,
            BodyFraming::Length(n) => {
                assert!(n > 0, "Length(0) instead of Empty: {}", ctx());
                n
            }
            BodyFraming::Chunked => panic!("chunked without TE: {}", ctx()),
        };
        for v in cl {
            // Empty list elements may be ignored (RFC 9110 §5.6.1) or refused; both are fine.
            for digits in v.split(|&b| b == b',').map(trim).filter(|d| !d.is_empty()) {
                assert!(
                    digits.iter().all(u8::is_ascii_digit),
                    "Content-Length element {digits:?} is not 1*DIGIT: {}",
                    ctx()
                );
                let n = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok());
                assert_eq!(n, Some(expected), "Content-Length disagrees: {}", ctx());
            }
        }
    }

    // Persistence and Expect (RFC 9112 §9.3, RFC 9110 §10.1.1).
    let close = values(s, b"connection").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| trim(t).eq_ignore_ascii_case(b"close"))
    });
    if close {
        assert!(
            !s.keep_alive,
            "keep-alive despite Connection: close: {}",
            ctx()
        );
    }
    if s.expect_continue {
        assert_eq!(s.version, Version::Http11, "100-continue on 1.0: {}", ctx());
    }
}

/// Values of the fields named `name` (case-insensitive).
fn values<'a>(s: &'a Summary, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    s.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Number of fields named `name`.
fn count(s: &Summary, name: &[u8]) -> usize {
    values(s, name).count()
}

/// Trims SP and HTAB only (RFC 9110 §5.6.3 OWS).
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// `1*tchar` (RFC 9110 §5.6.2), written out again rather than borrowed from the codec.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
