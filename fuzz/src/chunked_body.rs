//! The `chunked_body` target: the chunked decoder on arbitrary bytes, under two sets of limits.
//!
//! The decoder is driven the way the engine drives it (append each read, decode until it needs
//! more, drop what it consumed), whole and in pieces, and its result is compared with a
//! reference decoder written here straight from RFC 9112 §7.1: same body bytes, same end
//! (done at the same offset, needs more, or an error with the same status). On the way it
//! checks that data events borrow from the input, the body never exceeds the input, and an
//! incomplete line never makes the caller buffer more than the limits allow.

use crate::split;
use rsgi_server::http::Limits;
use rsgi_server::http::body::{BodyDecoder, BodyFraming, Decoded};

/// Limits small enough for the fuzzer to reach both limit errors with short inputs.
pub fn small_limits() -> Limits {
    Limits {
        chunk_line: 16,
        trailer_size: 40,
        ..Limits::default()
    }
}

/// How decoding ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The body ended after this many input bytes (the next request starts there).
    Done(usize),
    /// All input was used and the body is not complete.
    NeedMore,
    /// The input is refused with this status.
    Error(u16),
}

/// The decoded body and how decoding ended.
pub type Outcome = (Vec<u8>, End);

/// Runs every check on `data`; panics (with the input) on the first broken invariant.
pub fn check(data: &[u8]) {
    for limits in [small_limits(), Limits::default()] {
        check_with(data, &limits);
    }
}

/// Decodes `data` whole, in pieces and with the reference under `limits`; returns the result.
pub fn check_with(data: &[u8], limits: &Limits) -> Outcome {
    let whole = drive(&[data], limits, data);
    let (body, end) = &whole;
    assert!(
        body.len() <= data.len(),
        "body longer than the input: {data:?}"
    );
    if let End::Done(n) = end {
        assert!(*n <= data.len(), "consumed past the input: {data:?}");
        assert!(
            body.len() <= *n,
            "body longer than what was consumed: {data:?}"
        );
    }
    for pieces in split::patterns(data, 512) {
        let split = drive(&pieces, limits, data);
        assert_eq!(split, whole, "fed in {} pieces: {data:?}", pieces.len());
    }
    let reference = reference(data, limits);
    assert_eq!(whole, reference, "decoder vs reference: {data:?}");
    whole
}

/// Feeds `pieces` like the engine: append to a buffer, decode until NeedMore or the end,
/// drop what was consumed.
pub fn drive(pieces: &[&[u8]], limits: &Limits, data: &[u8]) -> Outcome {
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked, limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut body = Vec::new();
    let mut fed = 0;
    // Bytes of the input dropped from the buffer so far.
    let mut consumed = 0;
    loop {
        let (n, event) = match decoder.decode(&buf) {
            Ok(r) => r,
            Err(e) => return (body, End::Error(e.status())),
        };
        assert!(
            n <= buf.len(),
            "consumed {n} of {} bytes: {data:?}",
            buf.len()
        );
        let need_more = event == Decoded::NeedMore;
        match event {
            Decoded::Data(d) => {
                assert!(!d.is_empty(), "empty Data event: {data:?}");
                assert_eq!(d, &buf[n - d.len()..n], "Data not borrowed from the input");
                body.extend_from_slice(d);
            }
            Decoded::Done => {
                assert!(decoder.is_done(), "Done but not is_done: {data:?}");
                return (body, End::Done(consumed + n));
            }
            Decoded::NeedMore => {
                assert!(!decoder.is_done(), "NeedMore but is_done: {data:?}");
                // An incomplete chunk-size or trailer line is all that may be held back.
                let bound = limits.chunk_line.max(limits.trailer_size) + 1;
                assert!(
                    buf.len() - n <= bound,
                    "{} bytes held back (bound {bound}): {data:?}",
                    buf.len() - n
                );
            }
        }
        buf.drain(..n);
        consumed += n;
        if need_more {
            match pieces.get(fed) {
                Some(p) => {
                    buf.extend_from_slice(p);
                    fed += 1;
                }
                None => return (body, End::NeedMore),
            }
        }
    }
}

/// A whole-input chunked decoder written from RFC 9112 §7.1 alone, as the oracle.
///
/// Limits: a chunk-size line (without CRLF) may be `chunk_line` bytes; the trailer field lines
/// together (each with its CRLF) may be `trailer_size` bytes. A line that is already too long
/// is refused even before its CRLF arrives.
pub fn reference(data: &[u8], limits: &Limits) -> Outcome {
    let mut body = Vec::new();
    let mut pos = 0;
    macro_rules! next_line {
        ($limit:expr, $status:expr) => {
            match line(&data[pos..], $limit) {
                Line::Complete(len) => len,
                Line::Incomplete => return (body, End::NeedMore),
                Line::TooLong => return (body, End::Error($status)),
                Line::Bad => return (body, End::Error(400)),
            }
        };
    }
    loop {
        let len = next_line!(limits.chunk_line, 400);
        let Some(size) = chunk_size(&data[pos..pos + len]) else {
            return (body, End::Error(400));
        };
        pos += len + 2;
        if size == 0 {
            break;
        }
        let available = (data.len() - pos) as u64;
        if available < size {
            body.extend_from_slice(&data[pos..]);
            return (body, End::NeedMore);
        }
        let end = pos + size as usize;
        body.extend_from_slice(&data[pos..end]);
        pos = end;
        match &data[pos..] {
            [] | [b'\r'] => return (body, End::NeedMore),
            [b'\r', b'\n', ..] => pos += 2,
            _ => return (body, End::Error(400)),
        }
    }
    // trailer-section = *( field-line CRLF ), then CRLF.
    let mut seen = 0;
    loop {
        let len = next_line!(limits.trailer_size.saturating_sub(seen), 431);
        pos += len + 2;
        if len == 0 {
            return (body, End::Done(pos));
        }
        seen += len + 2;
        if seen > limits.trailer_size {
            return (body, End::Error(431));
        }
        if !field_line(&data[pos - len - 2..pos - 2]) {
            return (body, End::Error(400));
        }
    }
}

/// What is at the start of the input, line-wise.
enum Line {
    /// A line of this many bytes, then CRLF.
    Complete(usize),
    /// No CRLF yet, and the line is within its limit.
    Incomplete,
    /// The line is longer than its limit.
    TooLong,
    /// A CR not followed by LF, or an LF not preceded by CR.
    Bad,
}

fn line(input: &[u8], limit: usize) -> Line {
    let len = input
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(input.len());
    if len > limit {
        return Line::TooLong;
    }
    match (input.get(len), input.get(len + 1)) {
        (None, _) | (Some(b'\r'), None) => Line::Incomplete,
        (Some(b'\r'), Some(b'\n')) => Line::Complete(len),
        _ => Line::Bad,
    }
}

/// `chunk-size [ chunk-ext ]`: the size, or `None` if the line is not in the grammar.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let size = u64::from_str_radix(std::str::from_utf8(&line[..digits]).ok()?, 16).ok()?;
    // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
    let mut p = Cursor(&line[digits..]);
    while !p.0.is_empty() {
        p.bws();
        p.byte(b';')?;
        p.bws();
        p.token()?;
        let save = p.0;
        p.bws();
        if p.byte(b'=').is_some() {
            p.bws();
            if p.0.first() == Some(&b'"') {
                p.quoted()?;
            } else {
                p.token()?;
            }
        } else {
            p.0 = save;
        }
    }
    Some(size)
}

/// A field line: `field-name ":" OWS field-value OWS` (RFC 9112 §5, RFC 9110 §5.5).
fn field_line(line: &[u8]) -> bool {
    let mut p = Cursor(line);
    p.token().is_some() && p.byte(b':').is_some() && p.0.iter().all(|&b| is_value_byte(b))
}

/// A parsing position in a byte string.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        let rest = self.0.strip_prefix(&[b])?;
        self.0 = rest;
        Some(())
    }
    fn bws(&mut self) {
        while let [b' ' | b'\t', rest @ ..] = self.0 {
            self.0 = rest;
        }
    }
    fn token(&mut self) -> Option<()> {
        let n = self
            .0
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            .count();
        (n > 0).then(|| self.0 = &self.0[n..])
    }
    /// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4)
    fn quoted(&mut self) -> Option<()> {
        self.byte(b'"')?;
        loop {
            match *self.0.first()? {
                b'"' => {
                    self.0 = &self.0[1..];
                    return Some(());
                }
                b'\\' => {
                    let escaped = *self.0.get(1)?;
                    if !is_value_byte(escaped) {
                        return None;
                    }
                    self.0 = &self.0[2..];
                }
                b if is_value_byte(b) => self.0 = &self.0[1..],
                _ => return None,
            }
        }
    }
}

/// HTAB, SP, VCHAR or obs-text.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}
