//! The `response_chunked` target: the response body encoder, round-tripped.
//!
//! The input is cut into the pieces an application might yield; they go through the chunked
//! [`BodyEncoder`] and the wire bytes come back through the request-side chunked decoder,
//! which must return exactly the concatenated pieces and end exactly at the end of the wire.
//! The same pieces under Content-Length framing must be truncated at the declared length, with
//! `overflow` and `finish` telling the truth.

use crate::chunked_body::{self, End};
use crate::split::{self, Rng};
use rsgi_server::http::Limits;
use rsgi_server::http::response::{BodyEncoder, ResponseFraming};

/// Runs every check on `data`; panics (with the input) on the first broken invariant.
pub fn check(data: &[u8]) {
    let mut rng = Rng::from_input(data, 7);
    let pieces = split::pieces(data, &mut rng);
    check_chunked(&pieces, data);
    let declared = rng.below(data.len() + 2) as u64;
    check_length(&pieces, declared, data);
}

/// Chunked framing: encode, then decode with the request-side decoder.
fn check_chunked(pieces: &[&[u8]], data: &[u8]) {
    let mut encoder = BodyEncoder::new(ResponseFraming::Chunked);
    let mut wire = Vec::new();
    for piece in pieces {
        let mut prefix = Vec::new();
        let framed = encoder.encode(piece, &mut prefix);
        assert!(!framed.overflow, "chunked framing overflowed: {data:?}");
        assert_eq!(
            framed.data, *piece,
            "chunked framing altered data: {data:?}"
        );
        wire.extend_from_slice(&prefix);
        wire.extend_from_slice(framed.data);
        wire.extend_from_slice(framed.suffix);
    }
    assert!(
        encoder.finish(&mut wire),
        "chunked finish reported a short body"
    );
    // Nothing may follow the terminator.
    let mut after = Vec::new();
    let late = encoder.encode(b"late", &mut after);
    assert!(
        after.is_empty() && late.data.is_empty(),
        "data after the last chunk"
    );

    let (body, end) = chunked_body::drive(&[&wire], &Limits::default(), &wire);
    assert_eq!(body, data, "round trip changed the body; wire {wire:?}");
    assert_eq!(
        end,
        End::Done(wire.len()),
        "round trip ended wrong; wire {wire:?}"
    );
}

/// Content-Length framing: at most `declared` bytes pass, the rest is reported as overflow.
fn check_length(pieces: &[&[u8]], declared: u64, data: &[u8]) {
    let mut encoder = BodyEncoder::new(ResponseFraming::Length(declared));
    let mut sent = Vec::new();
    let mut overflow = false;
    for piece in pieces {
        let mut prefix = Vec::new();
        let framed = encoder.encode(piece, &mut prefix);
        assert!(
            prefix.is_empty() && framed.suffix.is_empty(),
            "framing bytes in Length"
        );
        sent.extend_from_slice(framed.data);
        overflow |= framed.overflow;
    }
    let expected = &data[..data.len().min(declared as usize)];
    assert_eq!(
        sent, expected,
        "Length({declared}) sent the wrong bytes: {data:?}"
    );
    assert_eq!(
        overflow,
        data.len() as u64 > declared,
        "overflow flag wrong for Length({declared}): {data:?}"
    );
    assert_eq!(
        encoder.remaining(),
        Some(declared - sent.len() as u64),
        "remaining wrong: {data:?}"
    );
    let complete = encoder.finish(&mut Vec::new());
    assert_eq!(
        complete,
        sent.len() as u64 == declared,
        "finish wrong: {data:?}"
    );
}
