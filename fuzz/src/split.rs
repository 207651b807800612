//! Deterministic ways to cut one input into the pieces a socket might deliver.
//!
//! The cuts are derived from the input itself (a hash seeds a small PRNG), so a crash input
//! replays exactly, and the corpus stays plain request bytes that other tools can read.

/// A tiny xorshift64* generator: enough to scatter cut points, no dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `data` (FNV-1a), plus a salt to get several independent streams.
    pub fn from_input(data: &[u8], salt: u64) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Zero is xorshift's fixed point.
        Rng(h | 1)
    }

    /// The next pseudo-random value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Cuts `data` into pieces whose sizes follow `rng`: mostly small (the interesting case for a
/// parser that must resume), sometimes large, sometimes empty (a read that returned nothing
/// new must change nothing).
pub fn pieces<'a>(data: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = match rng.below(8) {
            0 => 0,
            1..=5 => 1 + rng.below(8),
            _ => 1 + rng.below(rest.len()),
        }
        .min(rest.len());
        let (piece, tail) = rest.split_at(n);
        out.push(piece);
        rest = tail;
    }
    out
}

/// The cut patterns every check runs: one byte at a time for short inputs (every resume
/// point), plus two pseudo-random patterns.
pub fn patterns(data: &[u8], byte_by_byte_max: usize) -> Vec<Vec<&[u8]>> {
    let mut out = Vec::new();
    if data.len() <= byte_by_byte_max {
        out.push(data.chunks(1).collect());
    }
    for salt in 1..=2 {
        out.push(pieces(data, &mut Rng::from_input(data, salt)));
    }
    out
}
