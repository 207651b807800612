//! Request body decoding: Content-Length and chunked (RFC 9112 §6, §7.1). Pure: bytes in,
//! body data out.

use super::{HttpError, Leniency, Limits, is_field_value_byte, is_tchar, is_token};

/// How a request body is delimited, decided from the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no Content-Length, no Transfer-Encoding, or Content-Length: 0).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`, ended by a zero-size chunk and trailers.
    Chunked,
}

/// What one call to [`BodyDecoder::decode`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Body bytes, borrowed from the input.
    Data(&'a [u8]),
    /// The input held no complete piece of body or framing; feed more bytes (keeping any
    /// unconsumed tail of this input in front of them).
    NeedMore,
    /// The body is complete; the next request (if any) starts after the consumed bytes.
    Done,
}

/// Incremental request body decoder.
#[derive(Clone, Debug)]
pub struct BodyDecoder {
    state: State,
    /// Longest chunk-size line (without its CRLF).
    chunk_line: usize,
    /// Most bytes of trailer field lines (with their CRLFs, without the final empty line).
    trailer_size: usize,
    /// The compatibility switches, which apply to trailer fields as to header fields.
    leniency: Leniency,
}

/// Where the decoder is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Content-Length framing (Empty is a length of 0): this many bytes still to come.
    Length {
        /// Body bytes not yet returned.
        remaining: u64,
    },
    /// Chunked framing.
    Chunked(Chunk),
}

/// The chunked-coding machine (RFC 9112 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Expecting `chunk-size [chunk-ext] CRLF`.
    SizeLine,
    /// Inside chunk data.
    Data {
        /// Bytes of this chunk not yet returned.
        remaining: u64,
    },
    /// Expecting the CRLF that closes chunk data.
    DataEnd,
    /// After the last chunk: trailer field lines until an empty line.
    Trailers {
        /// Trailer bytes read so far.
        seen: usize,
    },
    /// The final CRLF has been read.
    Done,
}

impl BodyDecoder {
    /// A decoder for a body with the given framing.
    pub fn new(framing: BodyFraming, limits: &Limits) -> Self {
        let state = match framing {
            BodyFraming::Empty => State::Length { remaining: 0 },
            BodyFraming::Length(n) => State::Length { remaining: n },
            BodyFraming::Chunked => State::Chunked(Chunk::SizeLine),
        };
        BodyDecoder {
            state,
            chunk_line: limits.chunk_line,
            trailer_size: limits.trailer_size,
            leniency: limits.leniency,
        }
    }

    /// Decodes from `input`, returning how many bytes were consumed and what they yielded.
    /// Unconsumed bytes must be presented again, followed by more input.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), HttpError> {
        match self.state {
            State::Length { remaining: 0 } => Ok((0, Decoded::Done)),
            State::Length { remaining } => {
                if input.is_empty() {
                    return Ok((0, Decoded::NeedMore));
                }
                let n = take(remaining, input.len());
                self.state = State::Length {
                    remaining: remaining - n as u64,
                };
                Ok((n, Decoded::Data(&input[..n])))
            }
            State::Chunked(chunk) => self.decode_chunked(chunk, input),
        }
    }

    /// The chunked machine: runs framing steps until it has data, needs more, or is done.
    fn decode_chunked<'a>(
        &mut self,
        mut chunk: Chunk,
        input: &'a [u8],
    ) -> Result<(usize, Decoded<'a>), HttpError> {
        let mut pos = 0;
        let result = loop {
            let rest = &input[pos..];
            match chunk {
                Chunk::SizeLine => {
                    let too_long = HttpError::Malformed("chunk size line too long");
                    let Some(end) = find_line(rest, self.chunk_line, too_long)? else {
                        break (pos, Decoded::NeedMore);
                    };
                    let size = parse_size_line(&rest[..end])?;
                    pos += end + 2;
                    chunk = match size {
                        0 => Chunk::Trailers { seen: 0 },
                        n => Chunk::Data { remaining: n },
                    };
                }
                Chunk::Data { remaining } => {
                    if rest.is_empty() {
                        break (pos, Decoded::NeedMore);
                    }
                    let n = take(remaining, rest.len());
                    chunk = match remaining - n as u64 {
                        0 => Chunk::DataEnd,
                        left => Chunk::Data { remaining: left },
                    };
                    break (pos + n, Decoded::Data(&rest[..n]));
                }
                // RFC 9112 §7.1: chunk-data is followed by exactly CRLF; anything else means
                // the size lied, and guessing would desynchronise us from the client.
                Chunk::DataEnd => match rest {
                    [] | [b'\r'] => break (pos, Decoded::NeedMore),
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        chunk = Chunk::SizeLine;
                    }
                    _ => return Err(HttpError::Malformed("chunk data not followed by CRLF")),
                },
                Chunk::Trailers { seen } => {
                    let budget = self.trailer_size.saturating_sub(seen);
                    let Some(end) = find_line(rest, budget, HttpError::TrailersTooLarge)? else {
                        break (pos, Decoded::NeedMore);
                    };
                    pos += end + 2;
                    if end == 0 {
                        chunk = Chunk::Done;
                        break (pos, Decoded::Done);
                    }
                    // RFC 9112 §7.1.2: trailers are field lines; we discard them (none of
                    // them may change framing) but still insist they are well formed.
                    let total = seen + end + 2;
                    if total > self.trailer_size {
                        return Err(HttpError::TrailersTooLarge);
                    }
                    check_trailer_line(&rest[..end], seen == 0, &self.leniency)?;
                    chunk = Chunk::Trailers { seen: total };
                }
                Chunk::Done => break (pos, Decoded::Done),
            }
        };
        self.state = State::Chunked(chunk);
        Ok(result)
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        matches!(
            self.state,
            State::Length { remaining: 0 } | State::Chunked(Chunk::Done)
        )
    }

    /// Body bytes still expected when the length is known (Content-Length framing; an empty
    /// body is a known length of 0).
    pub fn remaining_hint(&self) -> Option<u64> {
        match self.state {
            State::Length { remaining } => Some(remaining),
            State::Chunked(_) => None,
        }
    }
}

/// `min(remaining, available)` as a slice length.
fn take(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

/// Finds the CRLF ending the line at the start of `input`, returning the line length.
///
/// `Ok(None)` means the line is incomplete but still within `limit`, so waiting is bounded.
/// Like the head scanner, each error depends only on the bytes before it, so the answer for a
/// prefix is `None` or the answer for the whole.
fn find_line(input: &[u8], limit: usize, too_long: HttpError) -> Result<Option<usize>, HttpError> {
    for (i, &b) in input.iter().enumerate() {
        match b {
            b'\r' => {
                return match input.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(HttpError::Malformed("bare CR in chunked framing")),
                };
            }
            b'\n' => return Err(HttpError::Malformed("bare LF in chunked framing")),
            _ if i >= limit => return Err(too_long),
            _ => {}
        }
    }
    Ok(None)
}

/// Parses `chunk-size [chunk-ext]` (RFC 9112 §7.1, §7.1.1) and returns the size.
fn parse_size_line(line: &[u8]) -> Result<u64, HttpError> {
    // chunk-size = 1*HEXDIG: no sign, no "0x", no leading whitespace.
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(HttpError::Malformed("invalid chunk size"));
    }
    let size = line[..digits].iter().try_fold(0u64, |acc, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        };
        acc.checked_mul(16)?.checked_add(u64::from(d))
    });
    let size = size.ok_or(HttpError::BadFraming("chunk size overflows"))?;
    check_chunk_ext(&line[digits..])?;
    Ok(size)
}

/// Validates `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`; extensions are ignored.
fn check_chunk_ext(mut rest: &[u8]) -> Result<(), HttpError> {
    const BAD: HttpError = HttpError::Malformed("invalid chunk extension");
    while !rest.is_empty() {
        rest = skip_bws(rest).strip_prefix(b";").ok_or(BAD)?;
        rest = skip_bws(rest);
        let name = token_len(rest);
        if name == 0 {
            return Err(BAD);
        }
        rest = &rest[name..];
        if let Some(value) = skip_bws(rest).strip_prefix(b"=") {
            let value = skip_bws(value);
            let len = match value.first() {
                Some(b'"') => quoted_string_len(value).ok_or(BAD)?,
                _ => token_len(value),
            };
            if len == 0 {
                return Err(BAD);
            }
            rest = &value[len..];
        }
    }
    Ok(())
}

/// Skips bad whitespace (SP / HTAB only, RFC 9110 §5.6.3).
fn skip_bws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Length of the token at the start of `s` (0 if none).
fn token_len(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| is_tchar(b)).count()
}

/// Length of the quoted-string at the start of `s` (RFC 9110 §5.6.4), or `None` if invalid.
fn quoted_string_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                let escaped = *s.get(i + 1)?;
                if !is_field_value_byte(escaped) {
                    return None;
                }
                i += 2;
            }
            b if is_field_value_byte(b) => i += 1,
            _ => return None,
        }
    }
}

/// Checks a trailer field line: `field-name ":" OWS field-value OWS` (RFC 9112 §5), or,
/// as gunicorn's switches allow, an obs-fold line continuing the field before (not the
/// `first` line) or whitespace before the colon.
fn check_trailer_line(line: &[u8], first: bool, leniency: &Leniency) -> Result<(), HttpError> {
    let value_ok = |value: &[u8]| value.iter().all(|&b| is_field_value_byte(b));
    if leniency.obs_fold && !first && matches!(line.first(), Some(b' ' | b'\t')) {
        return if value_ok(line) {
            Ok(())
        } else {
            Err(HttpError::Malformed("invalid trailer field"))
        };
    }
    let colon = line.iter().position(|&b| b == b':');
    let valid = colon.is_some_and(|c| {
        let mut name = &line[..c];
        if leniency.strip_header_spaces {
            while let [rest @ .., b' ' | b'\t'] = name {
                name = rest;
            }
        }
        // No whitespace before the colon (RFC 9112 §5.1) and none leading (obs-fold, §5.2):
        // both fall out of requiring a token name.
        is_token(name) && value_ok(&line[c + 1..])
    });
    if valid {
        Ok(())
    } else {
        Err(HttpError::Malformed("invalid trailer field"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n";

    fn limits() -> Limits {
        Limits {
            chunk_line: 32,
            trailer_size: 64,
            ..Limits::default()
        }
    }

    /// Feeds `pieces` like a connection would: append to a buffer, decode until NeedMore,
    /// drop what was consumed. Returns the body and everything left after Done.
    fn drive(
        framing: BodyFraming,
        pieces: &[&[u8]],
        l: &Limits,
    ) -> Result<(Vec<u8>, Vec<u8>), HttpError> {
        let mut dec = BodyDecoder::new(framing, l);
        let mut buf = Vec::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            let (n, d) = dec.decode(&buf)?;
            assert!(n <= buf.len());
            let event = match d {
                Decoded::Data(x) => {
                    assert!(!x.is_empty(), "empty Data event");
                    assert_eq!(
                        x,
                        &buf[n - x.len()..n],
                        "data must be borrowed from the input"
                    );
                    body.extend_from_slice(x);
                    None
                }
                Decoded::NeedMore => Some(false),
                Decoded::Done => Some(true),
            };
            buf.drain(..n);
            match event {
                None => {}
                Some(true) => {
                    assert!(dec.is_done());
                    for p in &pieces[fed..] {
                        buf.extend_from_slice(p);
                    }
                    return Ok((body, buf));
                }
                Some(false) => {
                    // The decoder never makes the caller hold more than a bounded line.
                    assert!(
                        buf.len() <= l.chunk_line.max(l.trailer_size) + 1,
                        "buffered {}",
                        buf.len()
                    );
                    let Some(p) = pieces.get(fed) else {
                        // A stall is reported as an error no test expects.
                        return Err(HttpError::BodyTooLarge);
                    };
                    buf.extend_from_slice(p);
                    fed += 1;
                }
            }
        }
    }

    /// Decodes `wire` whole, split at every offset, and byte by byte; all must agree.
    fn decode_every_way(
        framing: BodyFraming,
        wire: &[u8],
        l: &Limits,
    ) -> Result<(Vec<u8>, Vec<u8>), HttpError> {
        let whole = drive(framing, &[wire], l);
        for cut in 0..=wire.len() {
            let split = drive(framing, &[&wire[..cut], &wire[cut..]], l);
            assert_eq!(split, whole, "split at {cut} of {wire:?}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(drive(framing, &bytes, l), whole, "byte by byte: {wire:?}");
        whole
    }

    /// A chunked body followed by the next pipelined request decodes to `expected`.
    fn chunked_ok(wire: &[u8], expected: &[u8]) {
        let mut input = wire.to_vec();
        input.extend_from_slice(NEXT);
        let (body, rest) = decode_every_way(BodyFraming::Chunked, &input, &limits())
            .unwrap_or_else(|e| panic!("{wire:?}: {e}"));
        assert_eq!(body, expected, "{wire:?}");
        assert_eq!(rest, NEXT, "{wire:?}");
    }

    fn chunked_err(wire: &[u8]) -> HttpError {
        chunked_err_with(wire, &limits())
    }

    fn chunked_err_with(wire: &[u8], l: &Limits) -> HttpError {
        let mut input = wire.to_vec();
        input.extend_from_slice(NEXT);
        match decode_every_way(BodyFraming::Chunked, &input, l) {
            Err(e) => e,
            Ok(r) => panic!("{wire:?}: expected an error, got {r:?}"),
        }
    }

    #[test]
    fn content_length() {
        let mut wire = b"hello world".to_vec();
        wire.extend_from_slice(NEXT);
        let (body, rest) = decode_every_way(BodyFraming::Length(11), &wire, &limits()).unwrap();
        assert_eq!(
            (body.as_slice(), rest.as_slice()),
            (&b"hello world"[..], NEXT)
        );
        let (body, rest) = decode_every_way(BodyFraming::Empty, NEXT, &limits()).unwrap();
        assert_eq!((body.as_slice(), rest.as_slice()), (&b""[..], NEXT));
        let (body, rest) = decode_every_way(BodyFraming::Length(0), NEXT, &limits()).unwrap();
        assert_eq!((body.as_slice(), rest.as_slice()), (&b""[..], NEXT));
    }

    #[test]
    fn length_hints_and_done() {
        let l = limits();
        let mut d = BodyDecoder::new(BodyFraming::Length(5), &l);
        assert_eq!(d.remaining_hint(), Some(5));
        assert!(!d.is_done());
        assert_eq!(d.decode(b"").unwrap(), (0, Decoded::NeedMore));
        assert_eq!(d.decode(b"abc").unwrap(), (3, Decoded::Data(b"abc")));
        assert_eq!(d.remaining_hint(), Some(2));
        assert_eq!(d.decode(b"defg").unwrap(), (2, Decoded::Data(b"de")));
        assert!(d.is_done());
        assert_eq!(d.decode(b"fg").unwrap(), (0, Decoded::Done));
        let d = BodyDecoder::new(BodyFraming::Empty, &l);
        assert!(d.is_done());
        assert_eq!(d.remaining_hint(), Some(0));
        let mut d = BodyDecoder::new(BodyFraming::Chunked, &l);
        assert_eq!(d.remaining_hint(), None);
        assert_eq!(d.decode(b"0\r\n\r\nrest").unwrap(), (5, Decoded::Done));
        assert!(d.is_done());
        assert_eq!(d.decode(b"rest").unwrap(), (0, Decoded::Done));
    }

    #[test]
    fn huge_length_does_not_overflow() {
        let mut d = BodyDecoder::new(BodyFraming::Length(u64::MAX), &limits());
        assert_eq!(d.decode(b"abc").unwrap(), (3, Decoded::Data(b"abc")));
        assert_eq!(d.remaining_hint(), Some(u64::MAX - 3));
    }

    #[test]
    fn chunked_valid() {
        chunked_ok(b"0\r\n\r\n", b"");
        chunked_ok(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world");
        chunked_ok(
            b"A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
            b"0123456789abcdefghij",
        );
        chunked_ok(b"0005\r\nhello\r\n000\r\n\r\n", b"hello");
        chunked_ok(b"1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", b"\r\n");
        // Extensions: BWS before ';' and around '=', tokens and quoted strings.
        chunked_ok(b"5;a\r\nhello\r\n0\r\n\r\n", b"hello");
        chunked_ok(b"5 ;a=b\r\nhello\r\n0;last\r\n\r\n", b"hello");
        chunked_ok(
            b"5\t; a = b ;c=\"x y\\\"z\"\r\nhello\r\n0\r\n\r\n",
            b"hello",
        );
        chunked_ok(b"5;a=\"\"\r\nhello\r\n0\r\n\r\n", b"hello");
        // Trailers are read and dropped.
        chunked_ok(
            b"5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\nZ: a b\t\r\n\r\n",
            b"hello",
        );
    }

    #[test]
    fn chunk_size_syntax() {
        for wire in [
            &b"0x1\r\na\r\n0\r\n\r\n"[..],
            b"-1\r\na\r\n0\r\n\r\n",
            b"+1\r\na\r\n0\r\n\r\n",
            b" 1\r\na\r\n0\r\n\r\n",
            b"\t1\r\na\r\n0\r\n\r\n",
            b"1 \r\na\r\n0\r\n\r\n",
            b"\r\na\r\n0\r\n\r\n",
            b"g\r\na\r\n0\r\n\r\n",
            b"1\x0b\r\na\r\n0\r\n\r\n",
            b"1_0\r\na\r\n0\r\n\r\n",
            b"10000000000000000\r\na\r\n0\r\n\r\n",
            b"FFFFFFFFFFFFFFFFF\r\na\r\n0\r\n\r\n",
        ] {
            assert_eq!(chunked_err(wire).status(), 400, "{wire:?}");
        }
    }

    #[test]
    fn chunk_extension_syntax() {
        for wire in [
            &b"1;\r\na\r\n0\r\n\r\n"[..],
            b"1;=b\r\na\r\n0\r\n\r\n",
            b"1;a=\r\na\r\n0\r\n\r\n",
            b"1;a \r\na\r\n0\r\n\r\n",
            b"1;a=b \r\na\r\n0\r\n\r\n",
            b"1;a=\"open\r\na\r\n0\r\n\r\n",
            b"1;a=\"x\"y\r\na\r\n0\r\n\r\n",
            b"1;a=b=c\r\na\r\n0\r\n\r\n",
            b"1;a=\x01\r\na\r\n0\r\n\r\n",
            b"1;a=\"\x01\"\r\na\r\n0\r\n\r\n",
            b"1;a(b\r\na\r\n0\r\n\r\n",
            b"1,a\r\na\r\n0\r\n\r\n",
        ] {
            assert_eq!(chunked_err(wire).status(), 400, "{wire:?}");
        }
    }

    #[test]
    fn line_endings_in_framing() {
        for wire in [
            &b"1\na\r\n0\r\n\r\n"[..],
            b"1\rxa\r\n0\r\n\r\n",
            b"1;a\rb\r\na\r\n0\r\n\r\n",
            b"1\r\na\n0\r\n\r\n",
            b"1\r\naXX0\r\n\r\n",
            b"1\r\nab\r\n0\r\n\r\n",
            b"1\r\na\r0\r\n\r\n",
            b"0\n\r\n",
            b"0\r\n\n",
            b"0\r\n\r\r",
            b"0\r\nX: y\n\r\n",
            b"0\r\nX: y\r\n\n",
            b"0\r\nX: y\rz\r\n\r\n",
        ] {
            assert_eq!(chunked_err(wire).status(), 400, "{wire:?}");
        }
    }

    #[test]
    fn trailer_syntax() {
        for wire in [
            &b"0\r\n: x\r\n\r\n"[..],
            b"0\r\n x: y\r\n\r\n",
            b"0\r\n\tx: y\r\n\r\n",
            b"0\r\nX : y\r\n\r\n",
            b"0\r\nX\r\n\r\n",
            b"0\r\nX: \x00\r\n\r\n",
            b"0\r\nX: a\x7f\r\n\r\n",
            b"0\r\nX: a\r\n b\r\n\r\n",
        ] {
            assert_eq!(chunked_err(wire).status(), 400, "{wire:?}");
        }
    }

    #[test]
    fn trailers_follow_the_compatibility_switches() {
        let mut l = limits();
        l.leniency.obs_fold = true;
        l.leniency.strip_header_spaces = true;
        for wire in [
            &b"1\r\na\r\n0\r\nX: a\r\n b\r\n\tc\r\n\r\n"[..],
            b"1\r\na\r\n0\r\nX \t: y\r\n\r\n",
        ] {
            let mut input = wire.to_vec();
            input.extend_from_slice(NEXT);
            let (body, rest) = decode_every_way(BodyFraming::Chunked, &input, &l)
                .unwrap_or_else(|e| panic!("{wire:?}: {e}"));
            assert_eq!(
                (body.as_slice(), rest.as_slice()),
                (&b"a"[..], NEXT),
                "{wire:?}"
            );
            assert_eq!(chunked_err(wire).status(), 400, "{wire:?}");
        }
        // Not a fold: the first trailer line; nor a fold of control characters.
        for wire in [&b"0\r\n x: y\r\n\r\n"[..], b"0\r\nX: a\r\n \x01\r\n\r\n"] {
            assert_eq!(chunked_err_with(wire, &l).status(), 400, "{wire:?}");
        }
    }

    #[test]
    fn chunk_line_limit() {
        let l = limits();
        // Exactly 32 bytes of size line is accepted.
        let mut wire = b"1;".to_vec();
        wire.extend(std::iter::repeat_n(b'e', 30));
        wire.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
        chunked_ok(&wire, b"a");
        // One more byte is refused, complete or not.
        let mut wire = b"1;".to_vec();
        wire.extend(std::iter::repeat_n(b'e', 31));
        let complete = [wire.as_slice(), b"\r\na\r\n0\r\n\r\n"].concat();
        assert_eq!(chunked_err(&complete).status(), 400);
        let mut dec = BodyDecoder::new(BodyFraming::Chunked, &l);
        assert_eq!(
            dec.decode(&wire).map(|_| ()),
            Err(HttpError::Malformed("chunk size line too long"))
        );
        // Leading zeros count too.
        let zeros = [&[b'0'; 40][..], b"1\r\na\r\n0\r\n\r\n"].concat();
        assert_eq!(chunked_err(&zeros).status(), 400);
    }

    #[test]
    fn trailer_limit() {
        let l = limits();
        // 64 bytes of trailer lines (with CRLFs) fit; 65 do not.
        let line = |n: usize| format!("X: {}\r\n", "v".repeat(n - 5));
        let fits = format!("0\r\n{}{}\r\n", line(32), line(32));
        chunked_ok(fits.as_bytes(), b"");
        let over = format!("0\r\n{}{}\r\n", line(32), line(33));
        assert_eq!(chunked_err(over.as_bytes()), HttpError::TrailersTooLarge);
        let many: String = std::iter::repeat_n("A: b\r\n", 20).collect();
        let over = format!("0\r\n{many}\r\n");
        assert_eq!(chunked_err(over.as_bytes()), HttpError::TrailersTooLarge);
        assert_eq!(HttpError::TrailersTooLarge.status(), 431);
        // An endless trailer line fails without its end.
        let mut dec = BodyDecoder::new(BodyFraming::Chunked, &l);
        let endless = format!("0\r\nX: {}", "v".repeat(100));
        assert_eq!(
            dec.decode(endless.as_bytes()).map(|_| ()),
            Err(HttpError::TrailersTooLarge)
        );
    }

    #[test]
    fn partial_framing_is_left_unconsumed() {
        let mut d = BodyDecoder::new(BodyFraming::Chunked, &limits());
        assert_eq!(d.decode(b"5\r").unwrap(), (0, Decoded::NeedMore));
        assert_eq!(d.decode(b"5\r\nhel").unwrap(), (6, Decoded::Data(b"hel")));
        assert_eq!(d.decode(b"lo\r").unwrap(), (2, Decoded::Data(b"lo")));
        assert_eq!(d.decode(b"\r").unwrap(), (0, Decoded::NeedMore));
        assert_eq!(d.decode(b"\r\n0\r\nX: 1").unwrap(), (5, Decoded::NeedMore));
        assert_eq!(d.decode(b"X: 1\r\n\r").unwrap(), (6, Decoded::NeedMore));
        assert!(!d.is_done());
        assert_eq!(d.decode(b"\r\nNEXT").unwrap(), (2, Decoded::Done));
        assert!(d.is_done());
    }

    #[test]
    fn huge_chunk_size_is_fine_if_it_fits() {
        let mut d = BodyDecoder::new(BodyFraming::Chunked, &limits());
        assert_eq!(
            d.decode(b"FFFFFFFFFFFFFFFF\r\nab").unwrap(),
            (20, Decoded::Data(b"ab"))
        );
        assert_eq!(d.remaining_hint(), None);
    }

    #[test]
    fn mutated_chunked_bodies_never_panic_and_split_consistently() {
        const SEEDS: [&[u8]; 3] = [
            b"5\r\nhello\r\n6;a=b\r\n world\r\n0\r\n\r\n",
            b"A ; x=\"q\"\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
            b"1\r\n\n\r\n0\r\nA: b\r\nC: d\r\n\r\n",
        ];
        const ALPHABET: &[u8] = b"\r\n \t;=\"\\:0fFx-\x00\x0b";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut below = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..800 {
            let mut wire = SEEDS[below(SEEDS.len())].to_vec();
            for _ in 0..1 + below(3) {
                let at = below(wire.len() + 1);
                let b = ALPHABET[below(ALPHABET.len())];
                match below(3) {
                    0 => wire.insert(at, b),
                    1 if at < wire.len() => wire[at] = b,
                    _ if at < wire.len() => {
                        wire.remove(at);
                    }
                    _ => {}
                }
            }
            wire.extend_from_slice(NEXT);
            if let Ok((_, rest)) = decode_every_way(BodyFraming::Chunked, &wire, &limits()) {
                assert!(wire.ends_with(&rest));
            }
        }
    }
}
