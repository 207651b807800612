//! Request heads: httparse plus the RFC 9112 rules httparse leaves to us (framing, keep-alive,
//! Expect, Host, target form).

use super::body::BodyFraming;
use super::leniency;
use super::recycle;
use super::{HttpError, Leniency, Limits, Version, is_token, trim_ows};
use std::mem::MaybeUninit;
use std::ops::Range;

/// A parsed request head. Owns one copy of the head bytes; every field is a range into it,
/// so a request costs two allocations (the bytes and the header index) however many headers.
#[derive(Clone, Debug)]
pub struct RequestHead {
    buf: Vec<u8>,
    method: Range<usize>,
    target: Range<usize>,
    /// The path part of the target; empty only for an absolute-form target without a path.
    path: Range<usize>,
    /// The query part of the target, without the `?`.
    query: Range<usize>,
    /// The authority of an absolute-form target.
    authority: Option<Range<usize>>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    /// The protocol version.
    pub version: Version,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the client allows the connection to persist after this exchange.
    pub keep_alive: bool,
    /// Whether the client sent `Expect: 100-continue` and waits before sending the body.
    pub expect_continue: bool,
    /// Where in `buf` the version as sent starts, when it was neither 1.0 nor 1.1 and
    /// `--permit-unconventional-http-version` let it be served as `version`; 0 when not
    /// (no version starts a head). Kept this small so that the head, moved by value from
    /// parser to app, does not grow.
    sent_version_at: u32,
    /// One more than the index in `headers` of the Host field, 0 without one (found while
    /// the head is checked, where every request's environ would look for it again).
    host_at: u32,
}

impl RequestHead {
    /// The method token, e.g. `GET`.
    pub fn method(&self) -> &str {
        // The method was checked to be a token (ASCII), so this never falls back.
        std::str::from_utf8(&self.buf[self.method.clone()]).unwrap_or("")
    }
    /// The method's bytes, without the UTF-8 check of [`RequestHead::method`].
    pub fn method_bytes(&self) -> &[u8] {
        &self.buf[self.method.clone()]
    }
    /// The request target exactly as received (`RAW_URI`).
    pub fn target(&self) -> &[u8] {
        &self.buf[self.target.clone()]
    }
    /// The path of the target, still percent-encoded; for absolute-form the part after the
    /// authority ("/" when empty).
    pub fn path(&self) -> &[u8] {
        if self.path.is_empty() {
            b"/"
        } else {
            &self.buf[self.path.clone()]
        }
    }
    /// The query string after `?`, without the `?` ("" when absent).
    pub fn query(&self) -> &[u8] {
        &self.buf[self.query.clone()]
    }
    /// The authority of an absolute-form target (`http://host:port/...`), if that form was used.
    pub fn absolute_authority(&self) -> Option<&[u8]> {
        self.authority.clone().map(|r| &self.buf[r])
    }
    /// Header fields in arrival order, names as sent (case preserved), values trimmed of
    /// optional whitespace.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.headers
            .iter()
            .map(|(n, v)| (&self.buf[n.clone()], &self.buf[v.clone()]))
    }
    /// The Host field's value (never repeated: a head with two is refused).
    pub fn host(&self) -> Option<&[u8]> {
        let (_, value) = self.headers.get((self.host_at as usize).checked_sub(1)?)?;
        Some(&self.buf[value.clone()])
    }
    /// The first value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
    /// The version as the client sent it (`SERVER_PROTOCOL`): `version`'s, or an
    /// unconventional one (`HTTP/2.0`) served as `version`.
    pub fn protocol(&self) -> &[u8] {
        self.unconventional_version()
            .unwrap_or(self.version.as_str().as_bytes())
    }
    /// The version as sent when it was neither 1.0 nor 1.1
    /// (`--permit-unconventional-http-version`).
    pub fn unconventional_version(&self) -> Option<&[u8]> {
        let at = self.sent_version_at as usize;
        (at != 0).then(|| &self.buf[at..at + 8])
    }
    /// Whether this is a HEAD request (its response carries no body).
    pub fn is_head(&self) -> bool {
        self.method_bytes() == b"HEAD"
    }
}

/// The parts of a request another protocol carried already parsed (a uwsgi packet's
/// variables), for [`RequestHead::assembled`]. Nothing in them is checked against the HTTP
/// grammar: the protocol that carried them vouches for them, and the head only describes
/// the request to the access log and the body machinery.
pub struct Parts<'a> {
    /// The method.
    pub method: &'a [u8],
    /// The request target as sent (`REQUEST_URI`).
    pub target: &'a [u8],
    /// The query string, without `?`.
    pub query: &'a [u8],
    /// The protocol as the client spoke it (`SERVER_PROTOCOL`), reported by
    /// [`RequestHead::protocol`] when it has the shape `HTTP/<digit>.<digit>`.
    pub protocol: &'a [u8],
    /// How the body is delimited.
    pub framing: BodyFraming,
}

impl Drop for RequestHead {
    fn drop(&mut self) {
        recycle::give_request(
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.headers),
        );
    }
}

impl RequestHead {
    /// A head for a request whose parts another protocol carried, with header fields
    /// `fields` (names in HTTP form). It asks for no persistence and no `100 Continue`, and
    /// its version is HTTP/1.0, so a response without a length ends with the connection
    /// rather than being chunked (a gateway protocol's response body is raw bytes).
    pub fn assembled<'f>(
        parts: &Parts<'_>,
        fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    ) -> RequestHead {
        let mut buf = recycle::request_bytes(parts.method.len() + parts.target.len() + 64);
        let push = |buf: &mut Vec<u8>, bytes: &[u8]| {
            let start = buf.len();
            buf.extend_from_slice(bytes);
            start..buf.len()
        };
        let method = push(&mut buf, parts.method);
        let target = push(&mut buf, parts.target);
        let path_len = parts
            .target
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(parts.target.len());
        let path = target.start..target.start + path_len;
        let query = push(&mut buf, parts.query);
        let mut sent_version_at = 0;
        if let [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] = parts.protocol
            && major.is_ascii_digit()
            && minor.is_ascii_digit()
        {
            sent_version_at = buf.len() as u32;
            buf.extend_from_slice(parts.protocol);
        }
        let mut headers = recycle::request_fields(fields.size_hint().0);
        headers.extend(fields.map(|(name, value)| (push(&mut buf, name), push(&mut buf, value))));
        let host_at = headers
            .iter()
            .position(|(name, _)| buf[name.clone()].eq_ignore_ascii_case(b"host"))
            .map_or(0, |i| i as u32 + 1);
        RequestHead {
            buf,
            method,
            target,
            path,
            query,
            authority: None,
            headers,
            version: Version::Http10,
            framing: parts.framing,
            keep_alive: false,
            expect_continue: false,
            sent_version_at,
            host_at,
        }
    }
}

/// Header index entries kept on the stack; a larger `header_count` limit falls back to the heap.
const STACK_HEADERS: usize = 100;

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((head, n)))` when the head ends at
/// byte `n` (the body, if any, starts there), or the error to answer with. Limits are enforced
/// even on incomplete input, so a client cannot make the caller buffer an unbounded head.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HttpError> {
    let Some(extent) = scan_head(buf, limits)? else {
        return Ok(None);
    };
    let head = &buf[extent.start..extent.end];
    let leniency = &limits.leniency;
    let request = if extent.folded {
        let err = HttpError::Malformed("obsolete line folding");
        parse_relaxed(head, extent.fields, leniency, err)?
    } else if let Some(parsed) = tokenize_plain(head, extent.fields) {
        finish(head, parsed, leniency)?
    } else {
        match tokenize_head(head, extent.fields) {
            Ok(parsed) => finish(head, parsed, leniency)?,
            Err(err) => parse_relaxed(head, extent.fields, leniency, err)?,
        }
    };
    Ok(Some((request, extent.end)))
}

/// Parses a head the strict rules refused with `err` as the compatibility switches make it
/// (`err` stands when they change nothing).
#[cold]
#[inline(never)]
fn parse_relaxed(
    head: &[u8],
    fields: usize,
    leniency: &Leniency,
    err: HttpError,
) -> Result<RequestHead, HttpError> {
    let Some(relaxed) = leniency::relax(head, leniency) else {
        return Err(err);
    };
    let parsed = tokenize_head(&relaxed.bytes, fields)?;
    let mut request = finish(&relaxed.bytes, parsed, leniency)?;
    if let Some((at, sent)) = relaxed.version {
        // No range covers the version's bytes: the ones the client sent can go back.
        request.buf[at..at + 8].copy_from_slice(&sent);
        request.sent_version_at = u32::try_from(at).map_err(|_| HttpError::HeadTooLarge)?;
    }
    Ok(request)
}

/// Checks the method as gunicorn does (`--permit-unconventional-http-method`,
/// `--casefold-http-method`), then builds the head from a copy of `head`.
#[inline(always)]
fn finish(head: &[u8], parsed: Parsed, leniency: &Leniency) -> Result<RequestHead, HttpError> {
    // gunicorn refuses what is a token but no conventional method (400).
    let method = &head[parsed.method.clone()];
    if !leniency::conventional_method(method) && !leniency.unconventional_method {
        return Err(HttpError::Malformed("unconventional method"));
    }
    let mut bytes = recycle::request_bytes(head.len());
    bytes.extend_from_slice(head);
    if leniency.casefold_method {
        bytes[parsed.method.clone()].make_ascii_uppercase();
    }
    build(bytes, parsed)
}

/// Tokenizes a complete, pre-scanned head of `fields` fields in the shape nearly every
/// client sends: `token SP target SP HTTP/1.x CRLF`, then `token ":" value CRLF` lines, the
/// target printable ASCII. `None` for anything else, which httparse then tokenizes (and
/// refuses, or the compatibility switches relax) exactly as before.
///
/// Heads in this shape are a subset of those httparse accepts, tokenized the same way; the
/// scan already holds every byte to what httparse checks in field values (no CTL but HTAB,
/// no DEL), so a value is only searched for its end. One pass instead of two: httparse
/// re-read every byte the scan had just read.
#[inline]
fn tokenize_plain(head: &[u8], fields: usize) -> Option<Parsed> {
    let method_end = token_end(head, 0)?;
    if method_end == 0 || head[method_end] != b' ' {
        return None;
    }
    let target_start = method_end + 1;
    let target_end = head[target_start..]
        .iter()
        .position(|&b| !(0x21..=0x7e).contains(&b))
        .map(|n| target_start + n)?;
    if target_end == target_start || head[target_end] != b' ' {
        return None;
    }
    let version_start = target_end + 1;
    let version = match head.get(version_start..version_start + 10)? {
        b"HTTP/1.1\r\n" => Version::Http11,
        b"HTTP/1.0\r\n" => Version::Http10,
        _ => return None,
    };
    let mut at = version_start + 10;
    let mut headers = recycle::request_fields(fields);
    while head.get(at..at + 2)? != b"\r\n" {
        let name_end = token_end(head, at)?;
        if name_end == at || head[name_end] != b':' {
            return None;
        }
        let value_start = name_end + 1;
        // The scan saw every CR followed by LF.
        let value_end = value_start + super::scan::find_byte(&head[value_start..], b'\r')?;
        let value = trim_ows(&head[value_start..value_end]);
        let value_at = value.as_ptr() as usize - head.as_ptr() as usize;
        headers.push((at..name_end, value_at..value_at + value.len()));
        at = value_end + 2;
    }
    if at + 2 != head.len() || headers.len() != fields {
        return None;
    }
    Some(Parsed {
        method: 0..method_end,
        target: target_start..target_end,
        version,
        headers,
    })
}

/// Where the token starting at `from` ends (the first byte that is no `tchar`).
#[inline(never)]
fn token_end(head: &[u8], from: usize) -> Option<usize> {
    head[from..]
        .iter()
        .position(|&b| !super::is_tchar(b))
        .map(|n| from + n)
}

/// Runs httparse over a complete, pre-scanned head of `fields` fields, with their index on
/// the stack when it fits.
#[inline(always)]
fn tokenize_head(head: &[u8], fields: usize) -> Result<Parsed, HttpError> {
    // Uninitialised: httparse writes each header before it reads it, so the usual request
    // does not pay for clearing a hundred of them.
    if fields <= STACK_HEADERS {
        let mut headers = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        tokenize(head, &mut headers[..fields])
    } else {
        let mut headers = Vec::with_capacity(fields);
        headers.resize_with(fields, MaybeUninit::uninit);
        tokenize(head, &mut headers)
    }
}

/// Where a complete head lies in the buffer, as found by [`scan_head`].
struct Extent {
    /// First byte of the request line (after any ignored empty lines).
    start: usize,
    /// One past the CRLF that ends the head.
    end: usize,
    /// Number of fields (a folded one counts once).
    fields: usize,
    /// Some field continues on an obs-fold line (only with `--permit-obsolete-folding`).
    folded: bool,
}

/// Which line of the head the scanner is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// The request line (or empty lines before it).
    Request,
    /// A header field line, or the empty line ending the head.
    Field,
}

/// Finds the end of the head and enforces what httparse is lenient about or cannot bound.
///
/// It walks the bytes once, left to right, and every error depends only on the bytes up to
/// where it is detected: so a prefix of the input yields either `None` or the same error as
/// the whole, and limits trip as soon as they are exceeded, complete line or not.
fn scan_head(buf: &[u8], limits: &Limits) -> Result<Option<Extent>, HttpError> {
    scan::<false>(buf, limits)
}

/// [`scan_head`], which with `FOLDS` accepts obs-fold lines (`--permit-obsolete-folding`).
/// The scan without them restarts as this one at the first permitted fold, so that the
/// usual head pays nothing for the switch.
#[inline(always)]
fn scan<const FOLDS: bool>(buf: &[u8], limits: &Limits) -> Result<Option<Extent>, HttpError> {
    let mut kind = LineKind::Request;
    let mut start = 0;
    let mut line_start = 0;
    // Where the field being scanned starts: its line's start, or an earlier line's when
    // obs-fold continues it, so that the limit holds for the whole field.
    let mut field_start = 0;
    let mut fields = 0;
    let mut i = 0;
    while let Some(&b) = buf.get(i) {
        match b {
            b'\r' => {
                // RFC 9112 §2.2: a CR must be followed by LF; a bare CR is rejected.
                match buf.get(i + 1) {
                    None => return Ok(None),
                    Some(b'\n') => {}
                    Some(_) => return Err(HttpError::Malformed("bare CR in request head")),
                }
                let empty = i == line_start;
                let next = i + 2;
                // Checked per line, not per byte: the line being received is bounded by its
                // own limit, and the driver stops buffering at `head_size` bytes.
                if next > limits.head_size {
                    return Err(HttpError::HeadTooLarge);
                }
                match kind {
                    LineKind::Request if empty => {
                        // RFC 9112 §2.2: ignore empty lines before the request line, but count
                        // them against its limit so they cannot be sent forever.
                        if next > limits.request_line {
                            return Err(HttpError::RequestLineTooLong);
                        }
                        start = next;
                    }
                    LineKind::Request => kind = LineKind::Field,
                    LineKind::Field if empty => {
                        return Ok(Some(Extent {
                            start,
                            end: next,
                            fields,
                            folded: FOLDS,
                        }));
                    }
                    LineKind::Field => {}
                }
                line_start = next;
                i = next;
                continue;
            }
            // RFC 9112 §2.2 lets a recipient accept a bare LF; we do not, since an upstream
            // proxy that disagrees would see a different message boundary.
            b'\n' => return Err(HttpError::Malformed("bare LF in request head")),
            b'\t' => {}
            // RFC 9110 §5.5: field values must not contain CTLs (NUL included); the request
            // line admits none either.
            0x00..=0x1f | 0x7f => {
                return Err(HttpError::Malformed("control character in request head"));
            }
            _ => {}
        }
        if kind == LineKind::Field && i == line_start {
            if b == b' ' || b == b'\t' {
                // RFC 9112 §5.2: obs-fold is rejected in requests (gunicorn's
                // --permit-obsolete-folding accepts it); RFC 9112 §2.2: whitespace between
                // the request line and the first field always is.
                if fields == 0 || !limits.leniency.obs_fold {
                    return Err(HttpError::Malformed("obsolete line folding"));
                }
                if !FOLDS {
                    return scan_folded(buf, limits);
                }
            } else {
                fields += 1;
                if fields > limits.header_count {
                    return Err(HttpError::TooManyHeaders);
                }
                if FOLDS {
                    field_start = i;
                }
            }
        }
        // This byte and the ordinary ones after it need no look each: only the line's
        // length, whose limit holds for its last byte if it holds at all.
        let end = ordinary_run_end(buf, i + 1);
        match kind {
            LineKind::Request if end > limits.request_line => {
                return Err(HttpError::RequestLineTooLong);
            }
            LineKind::Field
                if end - if FOLDS { field_start } else { line_start }
                    > limits.header_field_size =>
            {
                return Err(HttpError::HeaderFieldTooLong);
            }
            _ => {}
        }
        i = end;
    }
    Ok(None)
}

/// [`scan_head`] of a head with a permitted obs-fold line, from the start.
#[cold]
#[inline(never)]
fn scan_folded(buf: &[u8], limits: &Limits) -> Result<Option<Extent>, HttpError> {
    scan::<true>(buf, limits)
}

/// The index of the first byte from `from` on that is a control character (tab included) or
/// DEL, or the end of `buf`: eight bytes per step while there is none.
fn ordinary_run_end(buf: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = from;
    while let Some(word) = buf.get(i..i + 8) {
        let x = u64::from_ne_bytes(word.try_into().expect("eight bytes"));
        // Whether any byte is below 0x20, or equal to 0x7f (a zero byte of x ^ 0x7f7f...):
        // exact as a yes/no (the borrow can only flag bytes above a true hit).
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let del = x ^ (ONES * 0x7f);
        let has_del = del.wrapping_sub(ONES) & !del & HIGHS;
        if below_space | has_del != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = buf.get(i) {
        if b < 0x20 || b == 0x7f {
            break;
        }
        i += 1;
    }
    i
}

/// A head tokenized by httparse, as ranges into the head bytes.
struct Parsed {
    method: Range<usize>,
    target: Range<usize>,
    version: Version,
    headers: Vec<(Range<usize>, Range<usize>)>,
}

/// The range `part` occupies inside `base`; httparse hands out subslices of its input.
fn range_in(base: &[u8], part: &[u8]) -> Result<Range<usize>, HttpError> {
    let start = (part.as_ptr() as usize)
        .checked_sub(base.as_ptr() as usize)
        .filter(|s| s + part.len() <= base.len())
        .ok_or(HttpError::Malformed("parser returned a foreign slice"))?;
    Ok(start..start + part.len())
}

/// Runs httparse over a complete, pre-scanned head.
fn tokenize<'b>(
    head: &'b [u8],
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Parsed, HttpError> {
    let mut req = httparse::Request::new(&mut []);
    let status = req
        .parse_with_uninit_headers(head, headers)
        .map_err(|e| match e {
            httparse::Error::Version => version_error(head),
            httparse::Error::TooManyHeaders => HttpError::TooManyHeaders,
            httparse::Error::HeaderName => HttpError::Malformed("invalid header field name"),
            httparse::Error::HeaderValue => HttpError::Malformed("invalid header field value"),
            httparse::Error::Token => HttpError::Malformed("invalid method"),
            _ => HttpError::Malformed("invalid request line"),
        })?;
    match status {
        httparse::Status::Complete(n) if n == head.len() => {}
        _ => return Err(HttpError::Malformed("inconsistent head length")),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HttpError::Malformed("incomplete request line"));
    };
    let version = match minor {
        0 => Version::Http10,
        1 => Version::Http11,
        _ => return Err(HttpError::UnsupportedVersion),
    };
    let mut fields = recycle::request_fields(req.headers.len());
    for h in req.headers.iter() {
        let name = range_in(head, h.name.as_bytes())?;
        let value = range_in(head, trim_ows(h.value))?;
        fields.push((name, value));
    }
    Ok(Parsed {
        method: range_in(head, method.as_bytes())?,
        target: range_in(head, target.as_bytes())?,
        version,
        headers: fields,
    })
}

/// Tells a well-formed but unsupported version (505) from a malformed request line (400).
fn version_error(head: &[u8]) -> HttpError {
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let line = &head[..line_end];
    // RFC 9112 §3: method SP request-target SP HTTP-version, so exactly two spaces; anything
    // else is a malformed line whatever its last word looks like.
    let mut words = line.split(|&b| b == b' ');
    let version = match (words.next(), words.next(), words.next(), words.next()) {
        (Some(_), Some(_), Some(version), None) => version,
        _ => return HttpError::Malformed("invalid request line"),
    };
    // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive).
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HttpError::UnsupportedVersion
        }
        _ => HttpError::Malformed("invalid HTTP version"),
    }
}

/// The shape of a request target (RFC 9112 §3.2).
struct TargetParts {
    path: Range<usize>,
    query: Range<usize>,
    authority: Option<Range<usize>>,
}

/// Splits and validates the request target; `target` is its range in `buf`.
#[inline(always)]
fn split_target(buf: &[u8], target: Range<usize>, method: &[u8]) -> Result<TargetParts, HttpError> {
    let t = &buf[target.clone()];
    // httparse admits obs-text in the target; RFC 3986 does not, and neither does a fragment.
    if t.iter().any(|&b| !(0x21..=0x7e).contains(&b) || b == b'#') {
        return Err(HttpError::Malformed("invalid character in request target"));
    }
    let base = target.start;
    if method == b"CONNECT" {
        // RFC 9112 §3.2.3: CONNECT takes authority-form and nothing else. A well-formed one
        // is a valid request for a tunnel we do not offer (RFC 9110 §15.6.2: 501).
        // The port is required here (RFC 9112 §3.2.3), and so is the host.
        let well_formed = is_host_port(t)
            && t.first() != Some(&b':')
            && t.iter()
                .rposition(|&b| b == b':')
                .is_some_and(|c| c + 1 < t.len())
            && t.last() != Some(&b']');
        return Err(if well_formed {
            HttpError::UnsupportedMethod
        } else {
            HttpError::Malformed("CONNECT needs an authority-form target")
        });
    }
    if t == b"*" {
        // RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS.
        if method != b"OPTIONS" {
            return Err(HttpError::Malformed("asterisk-form target outside OPTIONS"));
        }
        return Ok(TargetParts {
            path: target.clone(),
            query: target.end..target.end,
            authority: None,
        });
    }
    // Where the path-and-query starts, and the authority if absolute-form (RFC 9112 §3.2.2).
    let (rest_start, authority) = if t.first() == Some(&b'/') {
        (0, None)
    } else {
        let after_scheme = [&b"http://"[..], b"https://"]
            .iter()
            .find(|s| t.len() >= s.len() && t[..s.len()].eq_ignore_ascii_case(s))
            .map(|s| s.len())
            // Authority-form (CONNECT) and any other shape are not served.
            .ok_or(HttpError::Malformed("unsupported request target form"))?;
        let auth_len = t[after_scheme..]
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(t.len() - after_scheme);
        let auth = &t[after_scheme..after_scheme + auth_len];
        // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid; §4.2.4: userinfo
        // ('@') is deprecated and a classic way to disguise the real host.
        if auth.is_empty() || auth[0] == b':' || !is_host_port(auth) {
            return Err(HttpError::Malformed(
                "invalid authority in absolute-form target",
            ));
        }
        let a = base + after_scheme;
        (after_scheme + auth_len, Some(a..a + auth_len))
    };
    let rest = &t[rest_start..];
    let path_len = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
    let path = base + rest_start..base + rest_start + path_len;
    let query = if path_len < rest.len() {
        path.end + 1..target.end
    } else {
        target.end..target.end
    };
    Ok(TargetParts {
        path,
        query,
        authority,
    })
}

/// Whether `s` is `uri-host [":" port]` (RFC 9110 §7.2; RFC 3986 §3.2.2, §3.2.3): an
/// IP-literal in brackets, or a reg-name / IPv4 address (no userinfo, no colon), then an
/// optional port of digits. An empty `s` passes (an empty Host is allowed).
fn is_host_port(s: &[u8]) -> bool {
    let port = if let Some(rest) = s.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &rest[..close];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        &rest[close + 1..]
    } else {
        let end = s.iter().position(|&b| b == b':').unwrap_or(s.len());
        if !s[..end].iter().all(|&b| REG_NAME[usize::from(b)]) {
            return false;
        }
        &s[end..]
    };
    match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Bytes of a reg-name or IPv4 address (RFC 3986 §3.2.2: unreserved, pct-encoded,
/// sub-delims), by byte value. Per request (every Host), so a table rather than a match.
static REG_NAME: [bool; 256] = super::byte_table!(|c| c.is_ascii_alphanumeric()
    || matches!(
        c,
        b'-' | b'.'
            | b'_'
            | b'~'
            | b'%'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
    ));

/// What the Transfer-Encoding fields, taken together, say (RFC 9112 §6.1).
#[derive(Default)]
struct Codings {
    /// Number of transfer codings listed.
    count: usize,
    /// Number of times `chunked` was listed.
    chunked: usize,
    /// Whether the last coding listed is `chunked`.
    last_chunked: bool,
}

impl Codings {
    /// Adds the codings of one Transfer-Encoding field value.
    fn add(&mut self, value: &[u8]) -> Result<(), HttpError> {
        // RFC 9110 §5.6.1: a list; empty elements are allowed and ignored.
        for element in value.split(|&b| b == b',').map(trim_ows) {
            if element.is_empty() {
                continue;
            }
            let (name, params) = match element.iter().position(|&b| b == b';') {
                Some(i) => (trim_ows(&element[..i]), true),
                None => (element, false),
            };
            if !is_token(name) {
                return Err(HttpError::BadFraming("invalid transfer coding"));
            }
            let chunked = name.eq_ignore_ascii_case(b"chunked");
            if chunked && params {
                // RFC 9112 §7.1: chunked takes no parameters.
                return Err(HttpError::BadFraming("parameters on chunked"));
            }
            self.count += 1;
            self.chunked += usize::from(chunked);
            self.last_chunked = chunked;
        }
        Ok(())
    }

    /// The framing these codings imply (RFC 9112 §6.3 item 4).
    fn framing(&self) -> Result<BodyFraming, HttpError> {
        if self.chunked > 1 {
            // RFC 9112 §6.1: chunked must not be applied more than once.
            return Err(HttpError::BadFraming("chunked applied more than once"));
        }
        if !self.last_chunked {
            // RFC 9112 §6.3: a request whose final coding is not chunked cannot be delimited.
            return Err(HttpError::BadFraming(
                "final transfer coding is not chunked",
            ));
        }
        if self.count > 1 {
            // RFC 9112 §6.1: codings we cannot undo are answered with 501.
            return Err(HttpError::UnsupportedCoding);
        }
        Ok(BodyFraming::Chunked)
    }
}

/// Parses a Content-Length field value into `seen`, which must still be empty.
///
/// RFC 9110 §8.6 lets a recipient accept a repeated field or a list whose values are all the
/// same (`5, 5`) as one value. We refuse every repetition instead: an intermediary that
/// disagrees about which copy counts (or merged two different values) is exactly how a
/// request gets smuggled, and no conforming client sends one. So does gunicorn.
fn add_content_length(seen: &mut Option<u64>, value: &[u8]) -> Result<(), HttpError> {
    if seen.is_some() {
        return Err(HttpError::BadFraming("repeated Content-Length"));
    }
    let n = parse_digits(value).ok_or(HttpError::BadFraming("invalid Content-Length"))?;
    *seen = Some(n);
    Ok(())
}

/// `1*DIGIT` as a u64: no sign, no whitespace, no overflow (RFC 9110 §8.6).
pub(crate) fn parse_digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Whether a comma-separated list value holds `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim_ows(t).eq_ignore_ascii_case(token))
}

/// Applies the semantic rules httparse leaves to us and builds the head.
#[inline(always)]
fn build(buf: Vec<u8>, parsed: Parsed) -> Result<RequestHead, HttpError> {
    let method = &buf[parsed.method.clone()];
    let parts = split_target(&buf, parsed.target.clone(), method)?;
    let mut hosts = 0usize;
    let mut host_at = 0;
    let mut content_types = 0usize;
    let mut content_length = None;
    let mut codings: Option<Codings> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    for (i, (n, v)) in parsed.headers.iter().enumerate() {
        let (name, value) = (&buf[n.clone()], &buf[v.clone()]);
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            host_at = i as u32 + 1;
            // RFC 9112 §3.2: an invalid Host value is a 400.
            if !is_host_port(value) {
                return Err(HttpError::Malformed("invalid Host"));
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            add_content_length(&mut content_length, value)?;
        } else if name.eq_ignore_ascii_case(b"content-type") {
            content_types += 1;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            codings.get_or_insert_with(Codings::default).add(value)?;
        } else if name.eq_ignore_ascii_case(b"connection") {
            close |= has_token(value, b"close");
            keep_alive_token |= has_token(value, b"keep-alive");
        } else if name.eq_ignore_ascii_case(b"expect") {
            // RFC 9110 §10.1.1: only 100-continue is defined; other expectations are ignored.
            expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    let version = parsed.version;
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, never more than one in any version.
    if hosts > 1 || (hosts == 0 && version == Version::Http11) {
        return Err(HttpError::Malformed("missing or repeated Host"));
    }
    // RFC 9110 §5.3: Content-Type's grammar admits one member, so a repeat cannot be
    // combined: a proxy may have acted on the first while the app would see both joined.
    // Every repeat is refused, equal values too, as gunicorn does.
    if content_types > 1 {
        return Err(HttpError::Malformed("repeated Content-Type"));
    }
    let framing = match (codings, content_length) {
        // RFC 9112 §6.3 item 3: both present is a smuggling attempt; we refuse it outright.
        (Some(_), Some(_)) => {
            return Err(HttpError::BadFraming(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        // RFC 9112 §6.1: an HTTP/1.0 recipient cannot rely on Transfer-Encoding.
        (Some(_), None) if version == Version::Http10 => {
            return Err(HttpError::BadFraming("Transfer-Encoding in HTTP/1.0"));
        }
        (Some(c), None) => c.framing()?,
        (None, Some(0)) | (None, None) => BodyFraming::Empty,
        (None, Some(n)) => BodyFraming::Length(n),
    };
    // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
    let keep_alive = !close && (version == Version::Http11 || keep_alive_token);
    Ok(RequestHead {
        method: parsed.method,
        target: parsed.target,
        path: parts.path,
        query: parts.query,
        authority: parts.authority,
        headers: parsed.headers,
        version,
        framing,
        keep_alive,
        expect_continue: expect_continue && version == Version::Http11,
        sent_version_at: 0,
        host_at,
        buf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Leniency;

    /// The head scanner as it was before it skipped ordinary bytes eight at a time: one
    /// byte per step, every rule checked on every byte. The fast one must agree with it.
    fn scan_head_bytewise(buf: &[u8], limits: &Limits) -> Result<Option<Extent>, HttpError> {
        let mut kind = LineKind::Request;
        let mut start = 0;
        let mut line_start = 0;
        let mut field_start = 0;
        let mut fields = 0;
        let mut folded = false;
        let mut i = 0;
        while let Some(&b) = buf.get(i) {
            match b {
                b'\r' => {
                    // RFC 9112 §2.2: a CR must be followed by LF; a bare CR is rejected.
                    match buf.get(i + 1) {
                        None => return Ok(None),
                        Some(b'\n') => {}
                        Some(_) => return Err(HttpError::Malformed("bare CR in request head")),
                    }
                    let empty = i == line_start;
                    let next = i + 2;
                    // Checked per line, not per byte: the line being received is bounded by its
                    // own limit, and the driver stops buffering at `head_size` bytes.
                    if next > limits.head_size {
                        return Err(HttpError::HeadTooLarge);
                    }
                    match kind {
                        LineKind::Request if empty => {
                            // RFC 9112 §2.2: ignore empty lines before the request line, but count
                            // them against its limit so they cannot be sent forever.
                            if next > limits.request_line {
                                return Err(HttpError::RequestLineTooLong);
                            }
                            start = next;
                        }
                        LineKind::Request => kind = LineKind::Field,
                        LineKind::Field if empty => {
                            return Ok(Some(Extent {
                                start,
                                end: next,
                                fields,
                                folded,
                            }));
                        }
                        LineKind::Field => {}
                    }
                    line_start = next;
                    i = next;
                    continue;
                }
                // RFC 9112 §2.2 lets a recipient accept a bare LF; we do not, since an upstream
                // proxy that disagrees would see a different message boundary.
                b'\n' => return Err(HttpError::Malformed("bare LF in request head")),
                b'\t' => {}
                // RFC 9110 §5.5: field values must not contain CTLs (NUL included); the request
                // line admits none either.
                0x00..=0x1f | 0x7f => {
                    return Err(HttpError::Malformed("control character in request head"));
                }
                _ => {}
            }
            match kind {
                LineKind::Request => {
                    if i + 1 > limits.request_line {
                        return Err(HttpError::RequestLineTooLong);
                    }
                }
                LineKind::Field => {
                    if i == line_start {
                        if b == b' ' || b == b'\t' {
                            if fields == 0 || !limits.leniency.obs_fold {
                                return Err(HttpError::Malformed("obsolete line folding"));
                            }
                            folded = true;
                        } else {
                            fields += 1;
                            if fields > limits.header_count {
                                return Err(HttpError::TooManyHeaders);
                            }
                            field_start = i;
                        }
                    }
                    if i + 1 - field_start > limits.header_field_size {
                        return Err(HttpError::HeaderFieldTooLong);
                    }
                }
            }
            i += 1;
        }
        Ok(None)
    }

    #[test]
    fn the_word_at_a_time_scanner_agrees_with_the_bytewise_one() {
        // Bytes the rules care about, and ordinary ones, in random heads under small limits
        // (so every limit trips), every prefix included.
        const ALPHABET: &[u8] = b"GET /HTP1.\r\n\r\n\r\n:  \t\x00\x01\x1f\x7f\x80\xffaZ~Host";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 90) as usize;
            let head: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let limits = Limits {
                request_line: 4 + (next() % 40) as usize,
                header_count: 1 + (next() % 4) as usize,
                header_field_size: 2 + (next() % 24) as usize,
                head_size: 8 + (next() % 90) as usize,
                leniency: Leniency {
                    obs_fold: next() % 2 == 0,
                    ..Leniency::default()
                },
                ..Limits::default()
            };
            for end in 0..=head.len() {
                let summary = |r: Result<Option<Extent>, HttpError>| {
                    r.map(|e| e.map(|e| (e.start, e.end, e.fields, e.folded)))
                };
                assert_eq!(
                    summary(scan_head(&head[..end], &limits)),
                    summary(scan_head_bytewise(&head[..end], &limits)),
                    "{:?} with {limits:?}",
                    String::from_utf8_lossy(&head[..end])
                );
            }
        }
    }

    /// Everything observable about a parsed head, for comparing results.
    #[derive(Debug, PartialEq, Eq)]
    struct Summary {
        method: String,
        target: Vec<u8>,
        path: Vec<u8>,
        query: Vec<u8>,
        authority: Option<Vec<u8>>,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        version: Version,
        framing: BodyFraming,
        keep_alive: bool,
        expect_continue: bool,
        consumed: usize,
    }

    type Outcome = Result<Option<Summary>, HttpError>;

    fn summarize(r: Result<Option<(RequestHead, usize)>, HttpError>) -> Outcome {
        r.map(|o| {
            o.map(|(h, consumed)| Summary {
                method: h.method().to_owned(),
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

    /// Parses `input` whole and every prefix of it: a prefix must give `None`, the same error,
    /// or (once the head is complete) the same head. Returns the whole result.
    fn parse_split(input: &[u8], limits: &Limits) -> Outcome {
        let whole = summarize(parse_head(input, limits));
        for cut in 0..input.len() {
            let part = summarize(parse_head(&input[..cut], limits));
            match &part {
                Ok(None) => {}
                _ => assert_eq!(part, whole, "prefix of {cut} bytes of {input:?}"),
            }
        }
        whole
    }

    fn ok(input: &[u8]) -> Summary {
        match parse_split(input, &Limits::default()) {
            Ok(Some(s)) => s,
            other => panic!("{input:?}: expected a head, got {other:?}"),
        }
    }

    fn err(input: &[u8]) -> HttpError {
        err_with(input, &Limits::default())
    }

    fn err_with(input: &[u8], limits: &Limits) -> HttpError {
        match parse_split(input, limits) {
            Err(e) => e,
            other => panic!("{input:?}: expected an error, got {other:?}"),
        }
    }

    /// A GET with the given extra header lines (each ending in CRLF).
    fn get(headers: &str) -> Vec<u8> {
        format!("GET / HTTP/1.1\r\nHost: h\r\n{headers}\r\n").into_bytes()
    }

    fn small_limits() -> Limits {
        Limits {
            request_line: 32,
            header_count: 3,
            header_field_size: 24,
            ..Limits::default()
        }
    }

    #[test]
    fn host_is_the_host_fields_value_wherever_it_is() {
        let host = |raw: &[u8]| {
            let (head, _) = parse_head(raw, &Limits::default())
                .expect("valid")
                .expect("complete");
            head.host().map(<[u8]>::to_vec)
        };
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            Some(b"a.example".to_vec())
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nX-A: 1\r\nAccept: */*\r\nhOST:  b:81 \r\n\r\n"),
            Some(b"b:81".to_vec())
        );
        assert_eq!(host(b"GET / HTTP/1.0\r\nX-Host: c\r\n\r\n"), None);
        let parts = Parts {
            method: b"GET",
            target: b"/",
            query: b"",
            protocol: b"HTTP/1.1",
            framing: BodyFraming::Empty,
        };
        let fields = [(&b"Accept"[..], &b"*/*"[..]), (b"Host", b"d.example")];
        let assembled = RequestHead::assembled(&parts, fields.into_iter());
        assert_eq!(assembled.host(), Some(&b"d.example"[..]));
    }

    #[test]
    fn simple_get() {
        let s = ok(b"GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
        assert_eq!(s.method, "GET");
        assert_eq!(s.target, b"/a/b?x=1&y");
        assert_eq!(s.path, b"/a/b");
        assert_eq!(s.query, b"x=1&y");
        assert_eq!(s.authority, None);
        assert_eq!(s.version, Version::Http11);
        assert_eq!(s.framing, BodyFraming::Empty);
        assert!(s.keep_alive);
        assert!(!s.expect_continue);
        assert_eq!(
            s.headers,
            vec![
                (b"Host".to_vec(), b"example.com".to_vec()),
                (b"Accept".to_vec(), b"*/*".to_vec())
            ]
        );
    }

    #[test]
    fn trailing_bytes_are_not_consumed() {
        let head = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
        for tail in [
            &b""[..],
            b"hello",
            b"helloGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"\r\n",
        ] {
            let mut input = head.to_vec();
            input.extend_from_slice(tail);
            let s = ok(&input);
            assert_eq!(s.consumed, head.len());
            assert_eq!(s.framing, BodyFraming::Length(5));
        }
    }

    #[test]
    fn header_accessors() {
        let input =
            b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \t one two \t\r\nX-Empty:\r\nx-a: 2\r\n\r\n";
        let (h, n) = parse_head(input, &Limits::default()).unwrap().unwrap();
        assert_eq!(n, input.len());
        assert_eq!(h.header("x-a"), Some(&b"one two"[..]));
        assert_eq!(h.header("X-EMPTY"), Some(&b""[..]));
        assert_eq!(h.header("missing"), None);
        assert!(!h.is_head());
    }

    #[test]
    fn keep_alive_rules() {
        assert!(ok(&get("")).keep_alive);
        assert!(!ok(&get("Connection: close\r\n")).keep_alive);
        assert!(!ok(&get("Connection: Keep-Alive, CLOSE\r\n")).keep_alive);
        assert!(!ok(&get("Connection: upgrade\r\nConnection: close\r\n")).keep_alive);
        assert!(ok(&get("Connection: closed\r\n")).keep_alive);
        assert!(!ok(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        assert!(ok(b"GET / HTTP/1.0\r\nConnection: foo , Keep-Alive\r\n\r\n").keep_alive);
        assert!(!ok(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
        assert_eq!(ok(b"GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    }

    #[test]
    fn expect_continue() {
        assert!(ok(&get("Expect: 100-continue\r\n")).expect_continue);
        assert!(ok(&get("Expect: 100-Continue\r\n")).expect_continue);
        assert!(!ok(&get("Expect: 100-continue-please\r\n")).expect_continue);
        assert!(!ok(b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
    }

    #[test]
    fn target_forms() {
        let s = ok(b"GET http://example.com:8080/a/b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(s.authority.as_deref(), Some(&b"example.com:8080"[..]));
        assert_eq!(s.path, b"/a/b");
        assert_eq!(s.query, b"q=1");
        let s = ok(b"GET HTTPS://Example.COM HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(s.authority.as_deref(), Some(&b"Example.COM"[..]));
        assert_eq!(s.path, b"/");
        assert_eq!(s.query, b"");
        let s = ok(b"GET http://[::1]?x HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(s.authority.as_deref(), Some(&b"[::1]"[..]));
        assert_eq!(
            (s.path.as_slice(), s.query.as_slice()),
            (&b"/"[..], &b"x"[..])
        );
        let s = ok(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (s.path.as_slice(), s.target.as_slice()),
            (&b"*"[..], &b"*"[..])
        );
        let s = ok(b"GET /? HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (s.path.as_slice(), s.query.as_slice()),
            (&b"/"[..], &b""[..])
        );
        let s = ok(b"GET /%20a?b?c HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (s.path.as_slice(), s.query.as_slice()),
            (&b"/%20a"[..], &b"b?c"[..])
        );
    }

    #[test]
    fn bad_targets() {
        for line in [
            "GET example.com HTTP/1.1",
            "CONNECT / HTTP/1.1",
            "CONNECT example.com HTTP/1.1",
            "CONNECT http://example.com:443/ HTTP/1.1",
            "CONNECT :443 HTTP/1.1",
            "CONNECT a@b:443 HTTP/1.1",
            "CONNECT a:b:443 HTTP/1.1",
            "CONNECT a:443x HTTP/1.1",
            "CONNECT [::1] HTTP/1.1",
            "CONNECT a: HTTP/1.1",
            "GET http://a:b:c/ HTTP/1.1",
            "GET http://:80/ HTTP/1.1",
            "GET http://[::1/ HTTP/1.1",
            "GET example.com:443 HTTP/1.1",
            "GET * HTTP/1.1",
            "GET ftp://example.com/ HTTP/1.1",
            "GET http:///x HTTP/1.1",
            "GET http:// HTTP/1.1",
            "GET http://user@evil/ HTTP/1.1",
            "GET http://a\"b/ HTTP/1.1",
            "GET /a#frag HTTP/1.1",
            "GET /\u{e9} HTTP/1.1",
            "GET  / HTTP/1.1",
            "GET / HTTP/1.1 ",
            "GET / x HTTP/1.1",
            "GET HTTP/1.1",
            "G(T / HTTP/1.1",
        ] {
            let input = format!("{line}\r\nHost: h\r\n\r\n");
            assert_eq!(err(input.as_bytes()).status(), 400, "{line:?}");
        }
    }

    #[test]
    fn connect_is_not_implemented() {
        for target in ["example.com:443", "[::1]:8443", "10.0.0.1:1"] {
            let input = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
            assert_eq!(
                err(input.as_bytes()),
                HttpError::UnsupportedMethod,
                "{target}"
            );
        }
        assert_eq!(HttpError::UnsupportedMethod.status(), 501);
    }

    #[test]
    fn versions() {
        for v in ["HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/3.0"] {
            let input = format!("GET / {v}\r\nHost: h\r\n\r\n");
            assert_eq!(err(input.as_bytes()), HttpError::UnsupportedVersion, "{v}");
        }
        for v in [
            "http/1.1",
            "HTTP/1.1x",
            "HTTP/11",
            "HTTP/1.10",
            "HTTP/1",
            "HTTPS/1.1",
            "",
        ] {
            let input = format!("GET / {v}\r\nHost: h\r\n\r\n");
            assert_eq!(err(input.as_bytes()).status(), 400, "{v:?}");
        }
        // HTTP/0.9's simple request has no version at all.
        assert_eq!(err(b"GET /\r\n\r\n").status(), 400);
    }

    #[test]
    fn host_rules() {
        assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n").status(), 400);
        assert_eq!(err(&get("Host: other\r\n")).status(), 400);
        assert_eq!(err(&get("host: h\r\n")).status(), 400);
        assert_eq!(
            err(b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n").status(),
            400
        );
        for bad in [
            "a b", "u@h", "h/x", "h\\x", "h\"", "h\x7f", "h:x", "h:80:81", "h:-1", "[::1", "::1",
            "[::1]x", "[::1]:8x", "[g::1]", "[]", "a]b", "h:+80",
        ] {
            let input = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(err(input.as_bytes()).status(), 400, "{bad:?}");
        }
        for good in [
            "",
            "example.com:80",
            "[::1]:8000",
            "[::ffff:10.0.0.1]",
            "xn--bcher-kva.example",
            "10.0.0.1:",
            "h",
        ] {
            let input = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
            ok(input.as_bytes());
        }
    }

    #[test]
    fn line_ending_and_character_rules() {
        for input in [
            &b"GET / HTTP/1.1\nHost: h\n\n"[..],
            b"GET / HTTP/1.1\r\nHost: h\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n\n",
            b"GET / HTTP/1.1\rHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n",
            b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x0bb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX\x00: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX(: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
            b"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(err(input).status(), 400, "{input:?}");
        }
        // HTAB and obs-text are allowed inside values.
        let s = ok(&get("X: a\tbé\r\n"));
        assert_eq!(s.headers[1].1, "a\tbé".as_bytes());
    }

    #[test]
    fn leading_empty_lines_are_ignored_but_bounded() {
        let s = ok(b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(s.method, "GET");
        assert_eq!(s.consumed, 31);
        let flood = b"\r\n".repeat(40);
        assert_eq!(
            err_with(&flood, &small_limits()),
            HttpError::RequestLineTooLong
        );
    }

    #[test]
    fn limits_apply_to_complete_and_incomplete_heads() {
        let l = small_limits();
        // Exactly at the limits is fine.
        let line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(32 - 14));
        let field = format!("X: {}\r\n", "b".repeat(24 - 3));
        let input = format!("{line}Host: h\r\n{field}\r\n");
        assert!(matches!(parse_split(input.as_bytes(), &l), Ok(Some(_))));
        // One byte more, complete or not.
        let long_line = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(32 - 13));
        assert_eq!(
            err_with(long_line.as_bytes(), &l),
            HttpError::RequestLineTooLong
        );
        let endless = format!("GET /{}", "a".repeat(100));
        assert_eq!(
            err_with(endless.as_bytes(), &l),
            HttpError::RequestLineTooLong
        );
        let long_field = format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n", "b".repeat(22));
        assert_eq!(
            err_with(long_field.as_bytes(), &l),
            HttpError::HeaderFieldTooLong
        );
        let endless_field = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(100));
        assert_eq!(
            err_with(endless_field.as_bytes(), &l),
            HttpError::HeaderFieldTooLong
        );
        let many = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(err_with(many.as_bytes(), &l), HttpError::TooManyHeaders);
        let many_incomplete = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC";
        assert_eq!(
            err_with(many_incomplete.as_bytes(), &l),
            HttpError::TooManyHeaders
        );
        assert_eq!(HttpError::RequestLineTooLong.status(), 414);
        assert_eq!(HttpError::TooManyHeaders.status(), 431);
    }

    #[test]
    fn the_whole_head_is_capped() {
        let l = Limits {
            head_size: 40,
            ..Limits::default()
        };
        // 16 + 9 + 13 + 2 = 40 bytes: at the cap.
        let at = "GET / HTTP/1.1\r\nHost: h\r\nX: 12345678\r\n\r\n";
        assert_eq!(at.len(), 40);
        assert!(matches!(parse_split(at.as_bytes(), &l), Ok(Some(_))));
        let over = "GET / HTTP/1.1\r\nHost: h\r\nX: 123456789\r\n\r\n";
        assert_eq!(err_with(over.as_bytes(), &l), HttpError::HeadTooLarge);
        // Caught at the end of the line that passes it, before the head is complete.
        let incomplete = "GET / HTTP/1.1\r\nHost: h\r\nX: 1234567890123\r\nY";
        assert_eq!(err_with(incomplete.as_bytes(), &l), HttpError::HeadTooLarge);
        assert_eq!(HttpError::HeadTooLarge.status(), 431);
    }

    #[test]
    fn heap_fallback_for_large_header_limits() {
        let l = Limits {
            header_count: 300,
            ..Limits::default()
        };
        let fields: String = (0..250).map(|i| format!("X-{i}: {i}\r\n")).collect();
        let input = format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n");
        let (h, n) = parse_head(input.as_bytes(), &l).unwrap().unwrap();
        assert_eq!(n, input.len());
        assert_eq!(h.headers().count(), 251);
        assert_eq!(h.header("x-249"), Some(&b"249"[..]));
    }

    #[test]
    fn content_length() {
        assert_eq!(
            ok(&get("Content-Length: 0\r\n")).framing,
            BodyFraming::Empty
        );
        assert_eq!(
            ok(&get("Content-Length: 42\r\n")).framing,
            BodyFraming::Length(42)
        );
        assert_eq!(
            ok(&get("Content-Length:  007 \r\n")).framing,
            BodyFraming::Length(7)
        );
        assert_eq!(
            ok(&get("Content-Length: 18446744073709551615\r\n")).framing,
            BodyFraming::Length(u64::MAX)
        );
        for bad in [
            "+5",
            "-5",
            "0x5",
            "5 5",
            "5,6",
            "5,",
            "",
            "1_0",
            "5\u{a0}",
            "\u{85}5",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            let input = get(&format!("Content-Length: {bad}\r\n"));
            assert_eq!(err(&input).status(), 400, "{bad:?}");
        }
        for bad in ["\x0b5", "5\x0c", "\x1c5"] {
            let input = get(&format!("Content-Length: {bad}\r\n"));
            assert_eq!(err(&input).status(), 400, "{bad:?}");
        }
        // Repeated, even when identical, and lists (RFC 9110 §8.6 allows merging; we refuse).
        for repeated in [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: 5\r\ncontent-length: 5\r\n",
            "Content-Length: 5, 5\r\n",
            "Content-Length: 5,5\r\n",
            "Content-Length: 5, 6\r\n",
        ] {
            assert!(
                matches!(err(&get(repeated)), HttpError::BadFraming(_)),
                "{repeated:?}"
            );
        }
    }

    #[test]
    fn transfer_encoding() {
        let chunked = |te: &str| ok(&get(&format!("Transfer-Encoding: {te}\r\n"))).framing;
        assert_eq!(chunked("chunked"), BodyFraming::Chunked);
        assert_eq!(chunked("Chunked"), BodyFraming::Chunked);
        assert_eq!(chunked("CHUNKED \t"), BodyFraming::Chunked);
        assert_eq!(chunked(", chunked,"), BodyFraming::Chunked);
        let te = |v: &str| err(&get(&format!("Transfer-Encoding: {v}\r\n")));
        for bad in [
            "chunked, chunked",
            "chunked,chunked",
            "gzip",
            "identity",
            "chunked, gzip",
            "chunked;q=1",
            "",
            "chunked\u{a0}",
            "\u{85}chunked",
            "chunk ed",
            "\"chunked\"",
        ] {
            assert!(matches!(te(bad), HttpError::BadFraming(_)), "{bad:?}");
        }
        for ctl in ["chunked\x0b", "\x0cchunked", "chunked\x1f", "\x1cchunked"] {
            assert_eq!(te(ctl).status(), 400, "{ctl:?}");
        }
        assert_eq!(te("gzip, chunked"), HttpError::UnsupportedCoding);
        assert_eq!(te("gzip;level=1, chunked"), HttpError::UnsupportedCoding);
        assert_eq!(te("gzip, chunked").status(), 501);
        // Several fields form one list (RFC 9110 §5.3).
        let input = get("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n");
        assert!(matches!(err(&input), HttpError::BadFraming(_)));
        let input = get("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n");
        assert_eq!(err(&input), HttpError::UnsupportedCoding);
        let input = get("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n");
        assert!(matches!(err(&input), HttpError::BadFraming(_)));
    }

    #[test]
    fn smuggling_combinations() {
        for headers in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
            "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: x\r\n",
        ] {
            assert!(
                matches!(err(&get(headers)), HttpError::BadFraming(_)),
                "{headers:?}"
            );
        }
        let input = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(err(input), HttpError::BadFraming(_)));
    }

    #[test]
    fn method_is_kept_verbatim() {
        let s = ok(b"PATCH /x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(s.method, "PATCH");
        let (h, _) = parse_head(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", &Limits::default())
            .unwrap()
            .unwrap();
        assert!(h.is_head());
    }

    /// Limits with the compatibility switches `set` turns on.
    fn lenient(set: impl FnOnce(&mut Leniency)) -> Limits {
        let mut limits = Limits::default();
        set(&mut limits.leniency);
        limits
    }

    fn ok_with(input: &[u8], limits: &Limits) -> Summary {
        match parse_split(input, limits) {
            Ok(Some(s)) => s,
            other => panic!("{input:?}: expected a head, got {other:?}"),
        }
    }

    #[test]
    fn obsolete_folding_off_and_on() {
        let folded = get("X: a \r\n  b\r\n\tc\r\nY: d\r\n");
        assert_eq!(err(&folded), HttpError::Malformed("obsolete line folding"));
        let l = lenient(|l| l.obs_fold = true);
        let s = ok_with(&folded, &l);
        // gunicorn: the pieces, each stripped, joined by one space; a fold is no new field.
        assert_eq!(
            s.headers,
            [
                (b"Host".to_vec(), b"h".to_vec()),
                (b"X".to_vec(), b"a b c".to_vec()),
                (b"Y".to_vec(), b"d".to_vec())
            ]
        );
        assert_eq!(s.consumed, folded.len());
        // Whitespace before the first field is never a fold (RFC 9112 §2.2).
        for first in [
            &b"GET / HTTP/1.1\r\n Host: h\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\n\tX: 1\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(
                err_with(first, &l),
                HttpError::Malformed("obsolete line folding")
            );
        }
        // A folded Host is one Host.
        let s = ok_with(b"GET / HTTP/1.1\r\nHost:\r\n h\r\n\r\n", &l);
        assert_eq!(s.headers, [(b"Host".to_vec(), b"h".to_vec())]);
    }

    #[test]
    fn a_folded_field_is_held_to_the_field_limit_whole() {
        let l = Limits {
            header_field_size: 24,
            ..lenient(|l| l.obs_fold = true)
        };
        // "X: " + 10 + CRLF + " " + 8 = 24 bytes of field: at the limit.
        let at = get(&format!("X: {}\r\n {}\r\n", "a".repeat(10), "b".repeat(8)));
        assert_eq!(
            ok_with(&at, &l).headers[1].1,
            format!("{} {}", "a".repeat(10), "b".repeat(8)).as_bytes()
        );
        let over = get(&format!("X: {}\r\n {}\r\n", "a".repeat(10), "b".repeat(9)));
        assert_eq!(err_with(&over, &l), HttpError::HeaderFieldTooLong);
        // Each line alone is well within it, so the scanner must not count lines alone.
        let many = get(&format!("X: a\r\n{}", " bbbbbb\r\n".repeat(4)));
        assert_eq!(err_with(&many, &l), HttpError::HeaderFieldTooLong);
        // Folds do not count as fields.
        let l = Limits {
            header_count: 2,
            ..lenient(|l| l.obs_fold = true)
        };
        ok_with(&get("X: a\r\n b\r\n c\r\n"), &l);
    }

    #[test]
    fn whitespace_before_the_colon_off_and_on() {
        for line in ["X : a\r\n", "X\t: a\r\n", "X \t : a\r\n"] {
            assert_eq!(err(&get(line)).status(), 400, "{line:?}");
            let s = ok_with(&get(line), &lenient(|l| l.strip_header_spaces = true));
            assert_eq!(s.headers[1], (b"X".to_vec(), b"a".to_vec()), "{line:?}");
        }
        // What it does to framing is why it is dangerous: this body now has a length.
        let smuggled = get("Content-Length : 5\r\n");
        let s = ok_with(&smuggled, &lenient(|l| l.strip_header_spaces = true));
        assert_eq!(s.framing, BodyFraming::Length(5));
        // Leading whitespace is not stripped (gunicorn strips the end only).
        let l = lenient(|l| l.strip_header_spaces = true);
        assert_eq!(
            err_with(b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", &l).status(),
            400
        );
    }

    #[test]
    fn unconventional_methods_off_and_on() {
        let twenty = "A".repeat(20);
        let twenty_one = "A".repeat(21);
        for m in [
            "get",
            "Get",
            "GE",
            "G",
            "GE#T",
            twenty_one.as_str(),
            "m-search",
        ] {
            let input = format!("{m} / HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(
                err(input.as_bytes()),
                HttpError::Malformed("unconventional method"),
                "{m}"
            );
            let l = lenient(|l| l.unconventional_method = true);
            assert_eq!(ok_with(input.as_bytes(), &l).method, m, "{m}");
        }
        for m in ["PUT", twenty.as_str(), "M-SEARCH", "PURGE"] {
            let input = format!("{m} / HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(ok(input.as_bytes()).method, m);
        }
        // Still a token, switch or not.
        let l = lenient(|l| l.unconventional_method = true);
        assert_eq!(
            err_with(b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", &l).status(),
            400
        );
    }

    #[test]
    fn casefolded_methods() {
        let both = lenient(|l| {
            l.unconventional_method = true;
            l.casefold_method = true;
        });
        let s = ok_with(b"delete /x HTTP/1.1\r\nHost: h\r\n\r\n", &both);
        assert_eq!(s.method, "DELETE");
        let (h, _) = parse_head(b"head / HTTP/1.1\r\nHost: h\r\n\r\n", &both)
            .unwrap()
            .unwrap();
        assert!(h.is_head());
        // Folded before the target's rules, which depend on the method.
        assert_eq!(
            ok_with(b"options * HTTP/1.1\r\nHost: h\r\n\r\n", &both).path,
            b"*"
        );
        // Without the permit a lower case method is refused before it could be folded.
        let fold_only = lenient(|l| l.casefold_method = true);
        assert_eq!(
            err_with(b"get / HTTP/1.1\r\nHost: h\r\n\r\n", &fold_only).status(),
            400
        );
        assert_eq!(
            ok_with(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &fold_only).method,
            "GET"
        );
    }

    #[test]
    fn unconventional_versions_off_and_on() {
        let l = lenient(|l| l.unconventional_version = true);
        for (sent, served, keep_alive) in [
            ("HTTP/1.2", Version::Http11, true),
            ("HTTP/2.0", Version::Http11, true),
            ("HTTP/9.9", Version::Http11, true),
            ("HTTP/0.9", Version::Http10, false),
        ] {
            let input = format!("GET / {sent}\r\nHost: h\r\n\r\n");
            assert_eq!(
                err(input.as_bytes()),
                HttpError::UnsupportedVersion,
                "{sent}"
            );
            let (h, _) = parse_head(input.as_bytes(), &l).unwrap().unwrap();
            assert_eq!((h.version, h.keep_alive), (served, keep_alive), "{sent}");
            assert_eq!(h.protocol(), sent.as_bytes());
            ok_with(input.as_bytes(), &l);
        }
        // Served as 1.0: no chunked body.
        let chunked = b"POST / HTTP/0.9\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(err_with(chunked, &l), HttpError::BadFraming(_)));
        // Malformed versions stay 400.
        for v in ["HTTP/1.10", "HTTP/2", "http/2.0", "HTTP/2.0 x"] {
            let input = format!("GET / {v}\r\nHost: h\r\n\r\n");
            assert_eq!(err_with(input.as_bytes(), &l).status(), 400, "{v}");
        }
        let (h, _) = parse_head(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &l)
            .unwrap()
            .unwrap();
        assert_eq!(h.protocol(), b"HTTP/1.1");
    }

    #[test]
    fn switches_combine() {
        let all = lenient(|l| {
            *l = Leniency {
                obs_fold: true,
                strip_header_spaces: true,
                unconventional_method: true,
                casefold_method: true,
                unconventional_version: true,
            }
        });
        let s = ok_with(b"patch /p HTTP/2.0\r\nHost : h\r\nX: 1\r\n 2\r\n\r\n", &all);
        assert_eq!(s.method, "PATCH");
        assert_eq!(
            s.headers,
            [
                (b"Host".to_vec(), b"h".to_vec()),
                (b"X".to_vec(), b"1 2".to_vec())
            ]
        );
        // A switch that is off keeps its refusal when another one is on.
        let fold_only = lenient(|l| l.obs_fold = true);
        assert_eq!(
            err_with(
                b"GET / HTTP/1.1\r\nHost : h\r\nX: 1\r\n 2\r\n\r\n",
                &fold_only
            )
            .status(),
            400
        );
        assert_eq!(
            err_with(
                b"GET / HTTP/2.0\r\nHost: h\r\nX: 1\r\n 2\r\n\r\n",
                &fold_only
            ),
            HttpError::UnsupportedVersion
        );
    }

    #[test]
    fn incomplete_input_needs_more() {
        let l = Limits::default();
        assert!(matches!(parse_head(b"", &l), Ok(None)));
        assert!(matches!(parse_head(b"GET / HTTP/1.1\r\n", &l), Ok(None)));
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost: h\r\n\r", &l),
            Ok(None)
        ));
    }

    /// A tiny deterministic PRNG (xorshift64) so the mutation test needs no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// The one-pass tokenizer takes only heads httparse accepts, and tokenizes them as
    /// httparse does: mutated heads (every byte class the rules care about) through both.
    #[test]
    fn the_plain_tokenizer_agrees_with_httparse() {
        const SEEDS: [&[u8]; 5] = [
            b"GET /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
            b"POST http://x:1/p HTTP/1.1\r\nHost: x\r\nUser-Agent: a b\tc\r\n\r\n",
            b"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\nX:\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost:  padded  \r\nAccept: */*\r\nCookie: a=1; b=2\r\n\r\n",
            b"get /long/path/with/more/than/eight/bytes?q=1 HTTP/1.1\r\nhost: h\r\n\r\n",
        ];
        const ALPHABET: &[u8] = b"\r\n \t:,;/?*#@\x00\x7f\x85\xa0\xffaZ09-_\"{}HTP1.";
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut plain = 0;
        for _ in 0..20_000 {
            let mut input = SEEDS[rng.below(SEEDS.len())].to_vec();
            let edits = rng.below(4);
            mutate(&mut rng, &mut input, ALPHABET, edits);
            let limits = Limits::default();
            let Ok(Some(extent)) = scan_head(&input, &limits) else {
                continue;
            };
            if extent.folded {
                continue;
            }
            let head = &input[extent.start..extent.end];
            let Some(fast) = tokenize_plain(head, extent.fields) else {
                continue;
            };
            plain += 1;
            let slow = tokenize_head(head, extent.fields).unwrap_or_else(|err| {
                panic!(
                    "{:?}: httparse refuses ({err:?})",
                    String::from_utf8_lossy(head)
                )
            });
            let shown = String::from_utf8_lossy(head);
            assert_eq!(fast.method, slow.method, "{shown:?}");
            assert_eq!(fast.target, slow.target, "{shown:?}");
            assert_eq!(fast.version, slow.version, "{shown:?}");
            assert_eq!(fast.headers, slow.headers, "{shown:?}");
        }
        // Most mutations keep the plain shape: the comparison ran.
        assert!(plain > 5_000, "{plain}");
    }

    /// Applies `edits` random one-byte edits to `input`: an insert, a replacement or a
    /// removal at a random place, the byte drawn from `alphabet`.
    fn mutate(rng: &mut Rng, input: &mut Vec<u8>, alphabet: &[u8], edits: usize) {
        for _ in 0..edits {
            let at = rng.below(input.len() + 1);
            let b = alphabet[rng.below(alphabet.len())];
            match rng.below(3) {
                0 => input.insert(at, b),
                1 if at < input.len() => input[at] = b,
                _ if at < input.len() => {
                    input.remove(at);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn mutated_heads_never_panic_and_split_consistently() {
        const SEEDS: [&[u8]; 4] = [
            b"GET /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
            b"POST http://x:1/p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n",
            b"\r\nGET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n",
        ];
        const ALPHABET: &[u8] = b"\r\n \t:,;/?*#@\x00\x0b\x7f\x85\xa0aZ09-_\"";
        let limits = small_limits_for_fuzz();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..1500 {
            let mut input = SEEDS[rng.below(SEEDS.len())].to_vec();
            let edits = 1 + rng.below(3);
            mutate(&mut rng, &mut input, ALPHABET, edits);
            let whole = parse_split(&input, &limits);
            if let Ok(Some(s)) = whole {
                assert!(s.consumed <= input.len());
                assert!(s.path.starts_with(b"/") || s.path == b"*", "{input:?}");
            }
        }
    }

    fn small_limits_for_fuzz() -> Limits {
        Limits {
            request_line: 40,
            header_count: 4,
            header_field_size: 40,
            ..Limits::default()
        }
    }
}
