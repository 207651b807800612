//! Client-controlled header values thrown at the parsers a request reaches before any file
//! is opened (conditional and range headers, `Accept-Encoding`, the path), by a seeded
//! generator that mixes the tokens they look for with arbitrary bytes: nothing may panic
//! (a panic would take the worker and its connections down: a non-ASCII date once did),
//! and a range served must lie within the file.

use super::conditional::{Decision, Preconditions, Validators, decide};
use super::{encoding, path};

/// xorshift64*: reproducible, and good enough to reach every branch.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces the parsers look for, and bytes they must survive.
const PIECES: &[&[u8]] = &[
    b"bytes=",
    b"-",
    b",",
    b" ",
    b"0",
    b"1",
    b"9",
    b"18446744073709551615",
    b"99999999999999999999",
    b"\"",
    b"W/",
    b"*",
    b"Sun, 06 Nov 1994 08:49:37 GMT",
    b", ",
    b" GMT",
    b"Nov",
    b"gzip",
    b"br",
    b"zstd",
    b";q=",
    b"0.5",
    b"1.000",
    b"identity",
    b"%",
    b"%2e",
    b"%2F",
    b"%00",
    b"..",
    b"/",
    b".",
    b"\\",
    b"\xe2\x82\xac",
    b"\xff",
    b"\xc0\xae",
    b"\t",
    b"\r",
];

/// A valid date with a few bytes changed in place: what reaches a parser that reads fixed
/// offsets (a multi-byte character straddling one of them panicked it once).
fn mangled_date(rng: &mut Rng) -> Vec<u8> {
    let mut date = b"Sun, 06 Nov 1994 08:49:37 GMT".to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(date.len());
        if rng.below(2) == 0 {
            date[at] = rng.next() as u8;
        } else {
            let euro = "\u{20ac}".as_bytes();
            let end = (at + euro.len()).min(date.len());
            date[at..end].copy_from_slice(&euro[..end - at]);
        }
    }
    date
}

fn value(rng: &mut Rng) -> Vec<u8> {
    if rng.below(4) == 0 {
        return mangled_date(rng);
    }
    let mut out = Vec::new();
    for _ in 0..rng.below(8) {
        if rng.below(4) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
    }
    out
}

fn maybe(rng: &mut Rng) -> Option<Vec<u8>> {
    (rng.below(3) > 0).then(|| value(rng))
}

#[test]
fn arbitrary_header_values_never_panic_and_ranges_stay_within_the_file() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..100_000 {
        let len = match rng.below(4) {
            0 => 0,
            1 => 1,
            2 => rng.next() % 100_000,
            _ => rng.next(),
        };
        let v = Validators::new(len, (rng.next() >> 32) as i64, 5, "");
        let p = Preconditions {
            head: rng.below(2) == 0,
            if_match: maybe(&mut rng),
            if_unmodified_since: maybe(&mut rng),
            if_none_match: maybe(&mut rng),
            if_modified_since: maybe(&mut rng),
            range: maybe(&mut rng),
            if_range: maybe(&mut rng),
            accept_encoding: maybe(&mut rng),
        };
        if let Decision::Partial { start, len: n } = decide(&p, &v) {
            assert!(
                n > 0 && start.checked_add(n).is_some_and(|end| end <= len),
                "{p:?}"
            );
        }
        let _ = encoding::acceptable(p.accept_encoding.as_deref());
        if let Ok(rel) = path::decode(&value(&mut rng)) {
            // What decoding lets through names nothing above the mount.
            assert!(
                rel.rel.split('/').all(|s| s != ".." && !s.starts_with('.')),
                "{:?}",
                rel.rel
            );
        }
    }
}
