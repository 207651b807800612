//! Request IDs (`--request-id-header`): one name per request, shared by the proxy in front,
//! the application (its environ), the response and the access log, so that one request can
//! be followed through every log it touches.
//!
//! A trusted proxy's ID is kept when it is sane (bounded, visible ASCII: it is echoed in a
//! response header and written to logs); otherwise the worker makes one: 128 bits as 32 hex
//! digits, nginx's `$request_id` format. They come from a per-worker generator seeded from
//! the kernel's random source at worker start, then a few arithmetic instructions per ID, no
//! system call. IDs need to be unique, not secret: SplitMix64 is a bijection of its counter,
//! so a worker never repeats an ID, and two workers' random 64-bit starting points make a
//! collision between them vanishingly unlikely.

use crate::http::is_token;
use crate::settings::{Check, ConfigError, Settings, group};
use std::io::Read;
use std::sync::Arc;

/// Longest ID taken from a proxy (Heroku's limit for its `X-Request-ID`).
pub const MAX_LEN: usize = 200;

/// Headers the ID may not be carried in: the ones that frame, route or describe the
/// message, which the server itself writes.
const RESERVED: [&str; 12] = [
    "connection",
    "content-length",
    "content-type",
    "date",
    "host",
    "keep-alive",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

group! {
    /// Request IDs.
    #[derive(Clone, Debug, PartialEq)]
    pub struct RequestIdSettings from (s, v) {
        /// The header that carries them; `None`: no request IDs.
        pub header: Option<Arc<IdHeader>> = id_header(s, v)?,
    }
}

fn id_header(s: &Settings, v: &Check<'_>) -> Result<Option<Arc<IdHeader>>, ConfigError> {
    let raw = s.request_id_header();
    let Some(name) = raw.value.map(|n| n.trim()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let lower = name.to_ascii_lowercase();
    if !is_token(name.as_bytes()) || name.contains('_') || RESERVED.contains(&lower.as_str()) {
        return Err(v.refuse(
            raw,
            "a header name (letters, digits and '-', such as X-Request-ID), not one the server \
             writes itself (Connection, Content-Length, Date, Host, Server...)",
        ));
    }
    let cgi = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
    Ok(Some(Arc::new(IdHeader {
        name: name.to_owned(),
        lower,
        cgi,
    })))
}

/// The header request IDs travel in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdHeader {
    /// As configured: the response header's spelling.
    pub name: String,
    /// Lowercase, for matching request headers.
    pub lower: String,
    /// Its CGI name in the environ (`HTTP_X_REQUEST_ID`).
    pub cgi: String,
}

impl IdHeader {
    /// Makes `id` the ID of a request with `headers`: the one it carries if `vouched` (its
    /// sender is a trusted proxy) and sane, else a new one from `ids`. Written in place: an
    /// ID is a few hundred bytes, not worth moving per request.
    pub fn choose<'h>(
        &self,
        headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
        vouched: bool,
        ids: &mut Generator,
        id: &mut RequestId,
    ) {
        if vouched {
            let mut headers = headers;
            let sent = headers
                .find(|(n, _)| {
                    n.len() == self.lower.len() && n.eq_ignore_ascii_case(self.lower.as_bytes())
                })
                .map(|(_, v)| v);
            if sent.is_some_and(|v| id.take(v)) {
                return;
            }
        }
        ids.fill(id);
    }
}

/// One request's ID: up to [`MAX_LEN`] visible ASCII bytes, held inline (no allocation).
#[derive(Clone)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl RequestId {
    /// An empty ID, to be written by [`IdHeader::choose`].
    pub fn empty() -> RequestId {
        RequestId {
            len: 0,
            bytes: [0; MAX_LEN],
        }
    }

    /// Becomes `value` if it is sane: 1 to [`MAX_LEN`] visible ASCII characters (no spaces,
    /// no control bytes: it goes into a header and log lines as it is); returns whether.
    pub fn take(&mut self, value: &[u8]) -> bool {
        let sane = !value.is_empty()
            && value.len() <= MAX_LEN
            && value.iter().all(|b| b.is_ascii_graphic());
        if sane {
            self.bytes[..value.len()].copy_from_slice(value);
            self.len = value.len() as u8;
        }
        sane
    }

    /// The ID's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A worker's source of new IDs (SplitMix64; see the module docs). Not shared between
/// threads: the event loop, which sees every request first, owns it.
#[derive(Debug)]
pub struct Generator {
    state: u64,
}

impl Generator {
    /// A generator seeded from the kernel's random source; to be made in each worker after
    /// the fork, so that workers do not share a sequence.
    pub fn seeded() -> Generator {
        let mut seed = [0u8; 8];
        let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed));
        let state = match read {
            Ok(()) => u64::from_ne_bytes(seed),
            // No /dev/urandom (a bare chroot): the clock and pid still differ by worker.
            Err(_) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                mix(nanos ^ (u64::from(std::process::id()) << 32))
            }
        };
        Generator { state }
    }

    /// A generator starting at `state`, for tests.
    pub fn from_state(state: u64) -> Generator {
        Generator { state }
    }

    /// Makes `id` a new ID: 128 bits as 32 lowercase hex digits.
    pub fn fill(&mut self, id: &mut RequestId) {
        let digits: &mut [u8; 32] = (&mut id.bytes[..32]).try_into().expect("MAX_LEN >= 32");
        for half in digits.chunks_exact_mut(16) {
            self.state = self.state.wrapping_add(GAMMA);
            let word = mix(self.state);
            for (pair, byte) in half.chunks_exact_mut(2).zip(word.to_be_bytes()) {
                pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
            }
        }
        id.len = 32;
    }

    /// A new ID (see [`Generator::fill`]).
    pub fn new_id(&mut self) -> RequestId {
        let mut id = RequestId::empty();
        self.fill(&mut id);
        id
    }
}

/// Each byte's two lowercase hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    pairs
};

/// SplitMix64's increment (the golden ratio).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijection on 64-bit words.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn header() -> IdHeader {
        IdHeader {
            name: "X-Request-ID".to_owned(),
            lower: "x-request-id".to_owned(),
            cgi: "HTTP_X_REQUEST_ID".to_owned(),
        }
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_do_not_repeat() {
        let mut ids = Generator::seeded();
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let id = ids.new_id();
            let bytes = id.as_bytes();
            assert_eq!(bytes.len(), 32);
            assert!(
                bytes
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(seen.insert(bytes.to_vec()), "repeated {id:?}");
        }
    }

    #[test]
    fn a_sane_id_from_a_trusted_proxy_is_kept_and_anything_else_replaced() {
        let header = header();
        let mut ids = Generator::from_state(7);
        let sent: [(&[u8], &[u8]); 2] = [(b"Host", b"x"), (b"x-request-id", b"abc-123")];
        let mut id = RequestId::empty();
        header.choose(sent.iter().copied(), true, &mut ids, &mut id);
        assert_eq!(id.as_bytes(), b"abc-123");
        header.choose(sent.iter().copied(), false, &mut ids, &mut id);
        assert_eq!(id.as_bytes().len(), 32, "an untrusted client's is replaced");
        let long = vec![b'a'; MAX_LEN + 1];
        for bad in [&b""[..], b"a b", b"caf\xc3\xa9", b"x\x01", &long] {
            let sent: [(&[u8], &[u8]); 1] = [(b"X-Request-Id", bad)];
            header.choose(sent.iter().copied(), true, &mut ids, &mut id);
            assert_eq!(id.as_bytes().len(), 32, "{bad:?} is replaced");
        }
        let longest = vec![b'z'; MAX_LEN];
        assert!(id.take(&longest));
        assert_eq!(id.as_bytes(), &longest[..]);
    }
}
