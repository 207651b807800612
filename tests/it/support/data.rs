//! Test data and app parameters: position-dependent byte patterns and their CRC-32, query
//! escaping, and the gate files the gated apps wait for.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use super::TempDir;

/// CRC-32 (the zlib one, so Python's `zlib.crc32` agrees), continued from `crc`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(crc);
    hasher.update(data);
    hasher.finalize()
}

/// Deterministic, position-dependent test data: block `k` of `block.len()` bytes.
pub fn pattern_block(k: u64, block: &mut [u8]) {
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// `n` bytes of pattern data.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    for (k, block) in v.chunks_mut(4096).enumerate() {
        pattern_block(k as u64, block);
    }
    v
}

/// Percent-encodes a query value.
pub fn qs_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Distinct values, for "every worker served" style checks.
pub fn distinct<T: std::hash::Hash + Eq + Clone>(items: &[T]) -> HashSet<T> {
    items.iter().cloned().collect()
}

/// A file a gated app (`?until=<path>`) waits for; `open_gate_file` lets it go on.
pub fn gate_path(dir: &TempDir, id: &str) -> PathBuf {
    dir.join(&format!("gate-{id}"))
}

/// `until=<escaped gate path>` for a query string.
pub fn gate_param(dir: &TempDir, id: &str) -> String {
    format!("until={}", qs_escape(gate_path(dir, id).to_str().unwrap()))
}

/// Opens gate `id`: the gated request waiting for it goes on.
pub fn open_gate_file(dir: &TempDir, id: &str) {
    fs::write(gate_path(dir, id), b"").unwrap();
}
