//! Escaping client-supplied bytes so they cannot forge or break a log line.
//!
//! Text logs escape like nginx: every byte outside printable ASCII becomes `\xNN`, and `"`
//! and `\` are backslash-escaped, so a value never contains a line break, a quote that
//! closes its field, or a terminal control sequence. JSON strings escape what JSON requires,
//! and map bytes that are not UTF-8 to the code point of the same number (latin-1, as
//! PEP 3333 presents them to the app), so no byte is lost.

/// Whether a byte must be escaped in a text log value.
const fn escape_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x7f || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
}

static TEXT_ESCAPE: [bool; 256] = escape_table();

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends a few bytes. Log lines are made of many short pieces; for those, byte pushes
/// cost a fraction of `extend_from_slice`'s call into `memcpy`.
#[inline]
pub fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() <= 8 {
        for &b in bytes {
            out.push(b);
        }
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Appends the first `len` (at most 8) bytes of `word`: a constant-size copy (one store)
/// and a shorter length, where a copy of `len` bytes would call `memcpy`.
#[inline]
pub fn word(out: &mut Vec<u8>, word: &[u8; 8], len: usize) {
    out.extend_from_slice(word);
    // A `len` above 8 (never passed) would leave all eight: truncate only shortens.
    out.truncate(out.len() + len - 8);
}

/// Appends `value` escaped for a text log line. Short values (a method, a path, a query)
/// are checked byte by byte and pushed; longer ones go by whole runs of safe bytes, found
/// a word at a time ([`safe_run`]). Out of line but small, so a call saves few registers.
#[inline(never)]
pub fn text(out: &mut Vec<u8>, value: &[u8]) {
    if value.len() < 8 && !value.iter().any(|&b| TEXT_ESCAPE[usize::from(b)]) {
        put(out, value);
        return;
    }
    text_long(out, value);
}

/// [`text`] for values of 8 bytes and more, or with something to escape.
#[inline(never)]
fn text_long(out: &mut Vec<u8>, value: &[u8]) {
    let run = safe_run(value);
    out.extend_from_slice(&value[..run]);
    if run < value.len() {
        text_escaping(out, &value[run..]);
    }
}

/// [`text`] from a byte that needs escaping on.
#[cold]
#[inline(never)]
fn text_escaping(out: &mut Vec<u8>, value: &[u8]) {
    let mut rest = value;
    loop {
        let run = safe_run(rest);
        out.extend_from_slice(&rest[..run]);
        let Some(&b) = rest.get(run) else { return };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
        rest = &rest[run + 1..];
    }
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `x` that is zero (exact: no borrow between bytes).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x) & HIGH
}

/// The high bit of each byte of `x` that [`TEXT_ESCAPE`] marks: below 0x20, 0x7f and above,
/// `"` and `\`. Each sum stays inside its byte (at most 0x7f + 0x60), so bytes do not mix.
#[inline]
fn unsafe_bytes(x: u64) -> u64 {
    let low = x & LOW7;
    // Bit 7 of low + 0x60 is set from 0x20 up; of low + 0x01, from 0x7f up.
    let control = !low.wrapping_add(ONES * 0x60) & HIGH;
    let high = (low.wrapping_add(ONES) | x) & HIGH;
    let quote = zero_bytes(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(x ^ (ONES * u64::from(b'\\')));
    control | high | quote | backslash
}

/// The length of the prefix of `value` that needs no escaping, in text or in JSON (printable
/// ASCII without `"` and `\`): eight bytes per step, then byte by byte.
#[inline]
pub fn safe_run(value: &[u8]) -> usize {
    let mut words = value.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let marks = unsafe_bytes(x);
        if marks != 0 {
            return at + (marks.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .position(|&b| TEXT_ESCAPE[usize::from(b)])
        .unwrap_or(words.remainder().len())
}

/// Appends `value` as a quoted JSON string.
#[inline]
pub fn json(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    json_body(out, value);
    out.push(b'"');
}

/// Appends the parts, concatenated, as one quoted JSON string.
pub fn json_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'"');
    for part in parts {
        json_body(out, part);
    }
    out.push(b'"');
}

/// Appends `value` escaped for the inside of a JSON string (the quotes are the caller's):
/// short values checked byte by byte and pushed, longer ones by runs (as [`text`]).
#[inline(never)]
pub fn json_body(out: &mut Vec<u8>, value: &[u8]) {
    if value.len() < 8 && !value.iter().any(|&b| TEXT_ESCAPE[usize::from(b)]) {
        put(out, value);
        return;
    }
    json_long(out, value);
}

/// [`json_body`] for values of 8 bytes and more, or with something to escape.
#[inline(never)]
fn json_long(out: &mut Vec<u8>, value: &[u8]) {
    // Printable ASCII without quote or backslash, the usual case, needs no escaping.
    let run = safe_run(value);
    out.extend_from_slice(&value[..run]);
    if run < value.len() {
        json_escaping(out, &value[run..]);
    }
}

/// [`json_body`] from a byte that needs escaping on.
#[cold]
#[inline(never)]
fn json_escaping(out: &mut Vec<u8>, value: &[u8]) {
    for chunk in value.utf8_chunks() {
        json_str(out, chunk.valid());
        for &b in chunk.invalid() {
            // Not UTF-8: the byte as the latin-1 code point of the same number.
            json_u00(out, b);
        }
    }
}

/// Appends valid UTF-8, escaping what a JSON string cannot hold as is.
fn json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escaped.is_empty() {
            json_u00(out, b);
        } else {
            out.extend_from_slice(escaped);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

fn json_u00(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        b'0',
        b'0',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

/// Appends `n` in decimal, without the formatting machinery (per request).
pub fn decimal(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    out.extend_from_slice(crate::decimal::Decimal::new(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[u8]) -> String {
        let mut out = Vec::new();
        text(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn j(v: &[u8]) -> String {
        let mut out = Vec::new();
        json(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_escapes_everything_that_could_forge_a_line() {
        assert_eq!(t(b"Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)");
        assert_eq!(t(b"a\"b\nc"), "a\\\"b\\x0ac");
        assert_eq!(t(b"\\x0a"), "\\\\x0a");
        assert_eq!(t(b"\r\n\t\x1b[31m\x7f"), "\\x0d\\x0a\\x09\\x1b[31m\\x7f");
        assert_eq!(t("é".as_bytes()), "\\xc3\\xa9");
        assert_eq!(t(b""), "");
    }

    #[test]
    fn json_strings() {
        assert_eq!(j(b"plain"), "\"plain\"");
        assert_eq!(j(b"a\"b\nc\\"), "\"a\\\"b\\nc\\\\\"");
        assert_eq!(j(b"\x00\x1b\x7f"), "\"\\u0000\\u001b\\u007f\"");
        assert_eq!(j("é€".as_bytes()), "\"é€\"");
        assert_eq!(j(b"\xff\xfe ok"), "\"\\u00ff\\u00fe ok\"");
    }

    #[test]
    fn safe_runs_stop_at_the_first_byte_to_escape() {
        // Every byte value, at every position of a word and of the tail.
        for b in 0..=255u8 {
            for at in 0..19 {
                let mut value = vec![b'a'; 19];
                value[at] = b;
                let expected = if TEXT_ESCAPE[usize::from(b)] { at } else { 19 };
                assert_eq!(safe_run(&value), expected, "byte {b:#x} at {at}");
            }
        }
        assert_eq!(safe_run(b""), 0);
        // Neighbours of the escaped ranges do not disturb one another within a word.
        assert_eq!(safe_run(b"\x7f\x80\x1f\x20"), 0);
        assert_eq!(safe_run(b" !#[]~}{ !#[]~}{x\""), 16 + 1);
        assert_eq!(
            t(b"0123456789abcdef\"\\\x00-0123456789"),
            "0123456789abcdef\\\"\\\\\\x00-0123456789"
        );
    }

    #[test]
    fn decimals() {
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            1234567890,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            decimal(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }
}
