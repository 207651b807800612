//! Request body decoding: Content-Length and chunked (RFC 9112 §6, §7.1). Pure: bytes in,
//! body data out.

use super::{HttpError, Limits, is_field_value_byte, is_tchar, is_token};

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
                    check_trailer_line(&rest[..end])?;
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

/// Checks a trailer field line: `field-name ":" OWS field-value OWS` (RFC 9112 §5).
fn check_trailer_line(line: &[u8]) -> Result<(), HttpError> {
    let colon = line.iter().position(|&b| b == b':');
    let valid = colon.is_some_and(|c| {
        // No whitespace before the colon (RFC 9112 §5.1) and none leading (obs-fold, §5.2):
        // both fall out of requiring a token name.
        is_token(&line[..c]) && line[c + 1..].iter().all(|&b| is_field_value_byte(b))
    });
    if valid {
        Ok(())
    } else {
        Err(HttpError::Malformed("invalid trailer field"))
    }
}
