//! A packet's header and variables block: sizes checked against the block and the limits
//! before anything is buffered or indexed.
//!
//! Rules, each a refusal ([`UwsgiError`]) rather than a guess:
//! 1. `modifier1` is 0 or 30; `modifier2` is ignored (the WSGI request has no use for it,
//!    and nginx lets operators set it freely).
//! 2. The block's announced size is checked against [`Limits::head_size`] as soon as the
//!    header is in, so a peer cannot make the caller buffer more than a request head.
//! 3. Every key and value size must fit in what is left of the block, and the block must
//!    end exactly after a value: leftover bytes are refused, not skipped.
//! 4. Keys are never empty, and there are at most [`MAX_VARS`] variables (gunicorn's cap).

use super::UwsgiError;
use crate::http::Limits;

/// Most variables one packet may carry (gunicorn's `MAX_UWSGI_VARS`): nginx's stock
/// `uwsgi_params` are 15, plus one per client header field.
pub const MAX_VARS: usize = 1000;

/// Bytes of the packet header.
pub const HEADER_LEN: usize = 4;

/// What `modifier1` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modifier {
    /// 0: a WSGI request, its variables as sent.
    Wsgi,
    /// 30: a WSGI request whose `PATH_INFO` still starts with its `SCRIPT_NAME`, which the
    /// server strips (uWSGI's `UWSGI_MODIFIER_MANAGE_PATH_INFO`).
    StripScriptName,
}

/// A packet's variables: the block as received and where each name and value lies in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vars {
    block: Vec<u8>,
    /// (key start, key end, value start, value end) for each variable, in order.
    index: Vec<[u16; 4]>,
}

impl Vars {
    /// The variables in the order sent, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.index.iter().map(|&[ks, ke, vs, ve]| {
            (
                &self.block[usize::from(ks)..usize::from(ke)],
                &self.block[usize::from(vs)..usize::from(ve)],
            )
        })
    }

    /// The value of the last variable named `key` (a repeated variable: the last wins, as
    /// in uWSGI and gunicorn).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.iter()
            .filter(|(k, _)| *k == key.as_bytes())
            .last()
            .map(|(_, v)| v)
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// A decoded packet header and variables block (its body follows on the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// What `modifier1` asked for.
    pub modifier: Modifier,
    /// The variables.
    pub vars: Vars,
}

/// Decodes a packet's header and variables block from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((packet, n)))` when the block
/// ends at byte `n` (the body, if any, starts there), or why the packet is refused. The
/// header is judged as soon as it is complete, so an oversized or foreign packet is refused
/// before its block is waited for.
pub fn parse_packet(buf: &[u8], limits: &Limits) -> Result<Option<(Packet, usize)>, UwsgiError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let modifier = match header[0] {
        0 => Modifier::Wsgi,
        30 => Modifier::StripScriptName,
        other => return Err(UwsgiError::UnsupportedModifier(other)),
    };
    let size = usize::from(u16::from_le_bytes([header[1], header[2]]));
    if size > limits.head_size {
        return Err(UwsgiError::BlockTooLarge {
            size,
            limit: limits.head_size,
        });
    }
    let Some(block) = buf[HEADER_LEN..].get(..size) else {
        return Ok(None);
    };
    let index = index_vars(block)?;
    let vars = Vars {
        block: block.to_vec(),
        index,
    };
    Ok(Some((Packet { modifier, vars }, HEADER_LEN + size)))
}

/// Indexes a complete variables block (rules 3 and 4).
fn index_vars(block: &[u8]) -> Result<Vec<[u16; 4]>, UwsgiError> {
    let mut index = Vec::new();
    let mut at = 0usize;
    while at < block.len() {
        if index.len() == MAX_VARS {
            return Err(UwsgiError::TooManyVars);
        }
        let key = sized(block, &mut at, "key size", "key past the block")?;
        if key.is_empty() {
            return Err(UwsgiError::EmptyKey);
        }
        let value = sized(block, &mut at, "value size", "value past the block")?;
        // The block is at most 65,535 bytes (its size is a u16), so every offset fits.
        index.push([key.start, key.end, value.start, value.end].map(|o| o as u16));
    }
    Ok(index)
}

/// Reads a u16 LE size at `*at` and the field it announces; moves `*at` past both.
fn sized(
    block: &[u8],
    at: &mut usize,
    size_what: &'static str,
    field_what: &'static str,
) -> Result<std::ops::Range<usize>, UwsgiError> {
    let size = block
        .get(*at..*at + 2)
        .ok_or(UwsgiError::Truncated(size_what))?;
    let len = usize::from(u16::from_le_bytes([size[0], size[1]]));
    let start = *at + 2;
    let end = start + len;
    if end > block.len() {
        return Err(UwsgiError::Truncated(field_what));
    }
    *at = end;
    Ok(start..end)
}

/// Encodes a packet (for tests and the fuzz seeds): `modifier1`, the variables, `body`.
pub fn encode(modifier1: u8, vars: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (key, value) in vars {
        block.extend_from_slice(&(key.len() as u16).to_le_bytes());
        block.extend_from_slice(key);
        block.extend_from_slice(&(value.len() as u16).to_le_bytes());
        block.extend_from_slice(value);
    }
    let mut packet = vec![modifier1];
    packet.extend_from_slice(&(block.len() as u16).to_le_bytes());
    packet.push(0);
    packet.extend_from_slice(&block);
    packet.extend_from_slice(body);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nginx_like() -> Vec<u8> {
        encode(
            0,
            &[
                (b"QUERY_STRING", b"a=1"),
                (b"REQUEST_METHOD", b"POST"),
                (b"CONTENT_TYPE", b"text/plain"),
                (b"CONTENT_LENGTH", b"5"),
                (b"REQUEST_URI", b"/x%20y?a=1"),
                (b"PATH_INFO", b"/x y"),
                (b"SERVER_PROTOCOL", b"HTTP/1.1"),
                (b"HTTP_HOST", b"example.com"),
                (b"EMPTY", b""),
            ],
            b"hello",
        )
    }

    #[test]
    fn decodes_every_variable_in_order() {
        let packet = nginx_like();
        let (p, n) = parse_packet(&packet, &Limits::default())
            .expect("valid")
            .expect("complete");
        assert_eq!(&packet[n..], b"hello");
        assert_eq!(p.modifier, Modifier::Wsgi);
        assert_eq!(p.vars.len(), 9);
        assert_eq!(p.vars.get("PATH_INFO"), Some(&b"/x y"[..]));
        assert_eq!(p.vars.get("EMPTY"), Some(&b""[..]));
        assert_eq!(p.vars.get("MISSING"), None);
        let keys: Vec<&[u8]> = p.vars.iter().map(|(k, _)| k).collect();
        assert_eq!(keys[0], b"QUERY_STRING");
        assert_eq!(keys[8], b"EMPTY");
    }

    #[test]
    fn split_at_every_byte_it_waits_then_decodes_the_same() {
        let packet = nginx_like();
        let limits = Limits::default();
        let whole = parse_packet(&packet, &limits)
            .expect("valid")
            .expect("complete");
        for cut in 0..packet.len() {
            let part = parse_packet(&packet[..cut], &limits).expect("a prefix is no error");
            if cut < whole.1 {
                assert_eq!(part, None, "cut at {cut}");
            } else {
                assert_eq!(part.as_ref(), Some(&whole), "cut at {cut}");
            }
        }
    }

    #[test]
    fn an_empty_block_is_a_packet_without_variables() {
        let (p, n) = parse_packet(&[30, 0, 0, 0], &Limits::default())
            .expect("valid")
            .expect("complete");
        assert_eq!(
            (p.modifier, p.vars.is_empty(), n),
            (Modifier::StripScriptName, true, 4)
        );
    }

    #[test]
    fn refuses_every_malformed_shape() {
        let limits = Limits {
            head_size: 100,
            ..Limits::default()
        };
        let with_block = |block: &[u8]| {
            let mut p = vec![0, block.len() as u8, (block.len() >> 8) as u8, 0];
            p.extend_from_slice(block);
            p
        };
        let cases: Vec<(Vec<u8>, UwsgiError)> = vec![
            (vec![5, 0, 0, 0], UwsgiError::UnsupportedModifier(5)),
            (vec![100, 0, 0, 0], UwsgiError::UnsupportedModifier(100)),
            (
                vec![0, 101, 0, 0],
                UwsgiError::BlockTooLarge {
                    size: 101,
                    limit: 100,
                },
            ),
            (with_block(&[1]), UwsgiError::Truncated("key size")),
            (
                with_block(&[5, 0, b'A']),
                UwsgiError::Truncated("key past the block"),
            ),
            (
                with_block(&[1, 0, b'A']),
                UwsgiError::Truncated("value size"),
            ),
            (
                with_block(&[1, 0, b'A', 1]),
                UwsgiError::Truncated("value size"),
            ),
            (
                with_block(&[1, 0, b'A', 9, 0, b'x']),
                UwsgiError::Truncated("value past the block"),
            ),
            (
                with_block(&[1, 0, b'A', 0, 0, 7]),
                UwsgiError::Truncated("key size"),
            ),
            (with_block(&[0, 0, 0, 0]), UwsgiError::EmptyKey),
        ];
        for (packet, expected) in cases {
            assert_eq!(parse_packet(&packet, &limits), Err(expected), "{packet:?}");
        }
    }

    #[test]
    fn the_header_is_judged_before_the_block_arrives() {
        let limits = Limits {
            head_size: 100,
            ..Limits::default()
        };
        assert!(parse_packet(&[0, 200, 0, 0], &limits).is_err());
        assert_eq!(parse_packet(&[0, 100, 0, 0], &limits), Ok(None));
        assert_eq!(
            parse_packet(&[7, 100, 0, 0], &limits),
            Err(UwsgiError::UnsupportedModifier(7))
        );
    }

    #[test]
    fn at_most_a_thousand_variables() {
        let names: Vec<String> = (0..=MAX_VARS).map(|i| format!("V{i}")).collect();
        let vars: Vec<(&[u8], &[u8])> = names.iter().map(|n| (n.as_bytes(), &b""[..])).collect();
        let limits = Limits::default();
        let most = encode(0, &vars[..MAX_VARS], b"");
        assert_eq!(
            parse_packet(&most, &limits)
                .expect("valid")
                .expect("complete")
                .0
                .vars
                .len(),
            MAX_VARS
        );
        let over = encode(0, &vars, b"");
        assert_eq!(parse_packet(&over, &limits), Err(UwsgiError::TooManyVars));
    }

    #[test]
    fn the_largest_block_fits_the_default_limit() {
        let value = vec![b'v'; 65_535 - 2 - 1 - 2];
        let packet = encode(0, &[(b"K", &value)], b"");
        assert_eq!(packet.len(), 4 + 65_535);
        let (p, _) = parse_packet(&packet, &Limits::default())
            .expect("valid")
            .expect("complete");
        assert_eq!(p.vars.get("K").map(<[u8]>::len), Some(value.len()));
    }
}
