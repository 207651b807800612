//! Request body decoding: Content-Length and chunked (RFC 9112 §6, §7.1). Pure: bytes in,
//! body data out.

use super::{HttpError, Limits};

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
    _todo: (),
}

impl BodyDecoder {
    /// A decoder for a body with the given framing.
    pub fn new(framing: BodyFraming, limits: &Limits) -> Self {
        let _ = (framing, limits);
        todo!()
    }

    /// Decodes from `input`, returning how many bytes were consumed and what they yielded.
    /// Unconsumed bytes must be presented again, followed by more input.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), HttpError> {
        let _ = input;
        todo!()
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        todo!()
    }

    /// Body bytes still expected when the length is known (Content-Length framing).
    pub fn remaining_hint(&self) -> Option<u64> {
        todo!()
    }
}
