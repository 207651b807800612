//! glibc malloc settings for a worker that handles request and response bodies of up to
//! `--body-buffer-size` (1 MiB by default) at a steady rate.
//!
//! By default glibc adapts: after the first such buffer (served by mmap) is freed, it
//! serves the following ones from the heap, but trims the heap top whenever more than
//! about twice that is free. A worker freeing a body (and the app's copy of it) after
//! every request then gives the memory back and faults it in again, zero-filled, on the
//! next one: hundreds of page faults per 1 MiB request, which cost more CPU than the rest
//! of serving it. Fixed thresholds instead keep buffers of body size on the heap and keep
//! as much free heap as the worker's body budget, which the engine already bounds, so peak
//! memory does not grow (`bench/apps/echo.py`: ~18 MiB per worker either way).

/// glibc's own default for both thresholds; smaller values are never set.
const GLIBC_DEFAULT: u64 = 128 * 1024;
/// The largest mmap threshold glibc accepts on 64-bit systems (`HEAP_MAX_SIZE / 2`).
const MMAP_THRESHOLD_MAX: u64 = 32 * 1024 * 1024;

/// The (mmap, trim) thresholds for bodies kept in memory up to `body_buffer_size` bytes,
/// `budget` bytes of them at once.
pub fn thresholds(body_buffer_size: u64, budget: u64) -> (u64, u64) {
    let mmap = body_buffer_size
        .saturating_mul(2)
        .clamp(GLIBC_DEFAULT, MMAP_THRESHOLD_MAX);
    let trim = budget.saturating_mul(2).max(GLIBC_DEFAULT);
    (mmap, trim)
}

/// Applies [`thresholds`] to this process (a no-op where the C library is not glibc).
pub fn tune(body_buffer_size: u64, budget: u64) {
    let (mmap, trim) = thresholds(body_buffer_size, budget);
    set(mmap, trim);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set(mmap: u64, trim: u64) {
    let clamp = |v: u64| nix::libc::c_int::try_from(v).unwrap_or(nix::libc::c_int::MAX);
    // SAFETY: mallopt only changes allocator parameters (under the allocator's own lock);
    // it takes plain integers and touches no memory of ours.
    let ok = unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, clamp(mmap)) == 1
            && nix::libc::mallopt(nix::libc::M_TRIM_THRESHOLD, clamp(trim)) == 1
    };
    if !ok {
        tracing::debug!("malloc thresholds not applied (mmap {mmap}, trim {trim})");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set(_mmap: u64, _trim: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_body_size_and_budget_within_glibc_limits() {
        let mib = 1024 * 1024;
        assert_eq!(thresholds(mib, 2 * mib), (2 * mib, 4 * mib));
        assert_eq!(thresholds(0, 0), (GLIBC_DEFAULT, GLIBC_DEFAULT));
        assert_eq!(thresholds(4096, 8192), (GLIBC_DEFAULT, GLIBC_DEFAULT));
        assert_eq!(
            thresholds(u64::from(u32::MAX), u64::MAX).0,
            MMAP_THRESHOLD_MAX
        );
    }
}
