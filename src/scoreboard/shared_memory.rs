//! The one way this server shares memory between its master and workers: an anonymous
//! `MAP_SHARED` mapping made before any fork (so every child inherits it), never unmapped,
//! read and written only through atomics.

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use std::num::NonZeroUsize;

/// Maps `count` zero-filled `T`s shared with every process forked from now on, for the
/// life of the process.
///
/// # Safety
/// The all-zero bit pattern must be a valid `T`, `T` must need no more than page alignment,
/// and every access to it must be through atomics (other processes write it concurrently).
pub unsafe fn map_zeroed<T>(count: usize) -> nix::Result<&'static [T]> {
    let len = NonZeroUsize::new(count.max(1) * std::mem::size_of::<T>().max(1))
        .expect("at least one byte");
    // SAFETY: an anonymous mapping has no aliasing requirements; we check the result.
    let ptr = unsafe {
        mmap_anonymous(
            None,
            len,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )?
    };
    // SAFETY: the mapping is page-aligned, zero-filled (valid `T`s by the caller's
    // contract), exactly `count` `T`s long and never unmapped, so a 'static slice is sound;
    // access through atomics only (the caller's contract) is sound on memory shared between
    // processes.
    Ok(unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<T>(), count) })
}
