//! The `uwsgi_packet` target: `parse_packet` and `into_request` on arbitrary bytes, under a
//! small and the default head limit.
//!
//! Beyond "nothing panics" it checks what the engine relies on: a packet fed in pieces
//! decodes exactly as when fed whole; while a packet is incomplete, what the caller buffers
//! stays within the header plus the head limit; an accepted packet consumed exactly its
//! header and announced block, has at most 1000 variables, and re-encodes to the same
//! bytes; its head's framing is its CONTENT_LENGTH; and a tighter limit only ever turns an
//! answer into a refusal.

use crate::split;
use rsgi_server::http::Limits;
use rsgi_server::http::body::BodyFraming;
use rsgi_server::uwsgi::packet::{HEADER_LEN, encode};
use rsgi_server::uwsgi::{MAX_VARS, Modifier, UwsgiError, into_request, parse_packet};

/// A head limit small enough for the fuzzer to cross with short inputs.
pub fn small_limits() -> Limits {
    Limits {
        head_size: 64,
        ..Limits::default()
    }
}

/// Everything observable about a decoded packet, comparable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The modifier.
    pub modifier: Modifier,
    /// The variables in order.
    pub vars: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes the header and block took.
    pub consumed: usize,
    /// The head's framing, or why the variables were refused.
    pub framing: Result<BodyFraming, UwsgiError>,
}

/// One decode, comparable.
pub type Outcome = Result<Option<Summary>, UwsgiError>;

/// Decodes `data` under `limits`.
pub fn decode(data: &[u8], limits: &Limits) -> Outcome {
    parse_packet(data, limits).map(|o| {
        o.map(|(packet, consumed)| Summary {
            modifier: packet.modifier,
            vars: packet
                .vars
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
            consumed,
            framing: into_request(packet).map(|(head, _)| head.framing),
        })
    })
}

/// Runs every check on `data`; panics (with the input) on the first broken invariant.
pub fn check(data: &[u8]) {
    let small = check_with(data, &small_limits());
    let default = check_with(data, &Limits::default());
    if let Ok(Some(_)) = small {
        assert_eq!(small, default, "small vs default limits for {data:?}");
    }
}

/// Decodes `data` whole and in pieces under `limits`, checks the result, and returns it.
pub fn check_with(data: &[u8], limits: &Limits) -> Outcome {
    let whole = decode(data, limits);
    match &whole {
        Ok(Some(s)) => check_packet(data, s, limits),
        Ok(None) => assert!(
            data.len() < HEADER_LEN + limits.head_size.min(65_535),
            "still waiting after {} bytes: {data:?}",
            data.len()
        ),
        Err(_) => {}
    }
    for pieces in split::patterns(data, 256) {
        let mut len = 0;
        let mut first = Ok(None);
        for piece in &pieces {
            len += piece.len();
            first = decode(&data[..len], limits);
            if first != Ok(None) {
                break;
            }
        }
        assert_eq!(first, whole, "fed in {} pieces: {data:?}", pieces.len());
    }
    whole
}

/// The invariants of an accepted packet.
fn check_packet(data: &[u8], s: &Summary, limits: &Limits) {
    let size = usize::from(u16::from_le_bytes([data[1], data[2]]));
    assert_eq!(s.consumed, HEADER_LEN + size, "{data:?}");
    assert!(size <= limits.head_size, "{data:?}");
    assert!(s.vars.len() <= MAX_VARS, "{data:?}");
    assert!(s.vars.iter().all(|(k, _)| !k.is_empty()), "{data:?}");
    let vars: Vec<(&[u8], &[u8])> = s.vars.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let mut again = encode(data[0], &vars, b"");
    // encode writes modifier2 0; the decoder ignores it.
    again[3] = data[3];
    assert_eq!(
        again,
        data[..s.consumed],
        "re-encoded differently: {data:?}"
    );
    if let Ok(framing) = s.framing {
        let announced = vars
            .iter()
            .rev()
            .find(|(k, _)| *k == b"CONTENT_LENGTH")
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty());
        let expected = match announced.map(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok()) {
            None | Some(Some(0)) => BodyFraming::Empty,
            Some(Some(n)) => BodyFraming::Length(n),
            Some(None) => panic!("accepted a CONTENT_LENGTH that is no number: {data:?}"),
        };
        assert_eq!(framing, expected, "{data:?}");
    }
}
