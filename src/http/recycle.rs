//! The buffers of the last request and response heads dropped on a thread, kept for the
//! next heads built there.
//!
//! Every request builds a request head (a copy of its bytes and an index of its fields)
//! and a response head, and drops them when it ends. glibc's `malloc` and `free` of those
//! three buffers cost about 480 instructions of a keep-alive hello's 12,000
//! (`bench/callgrind.sh`); a keep-alive connection's heads are alike in size, so one spare
//! of each, per thread, is reused nearly every time. Nothing here is shared between
//! threads, and a buffer larger than [`KEEP_BYTES`] is freed rather than kept.

use std::cell::Cell;
use std::ops::Range;
use std::thread::LocalKey;

/// The largest buffer kept: a usual head is well under it, a huge one is not worth holding
/// on to between requests.
const KEEP_BYTES: usize = 16 * 1024;

/// A field's name and value, as ranges of the head's bytes.
pub(crate) type FieldIndex = Vec<(Range<usize>, Range<usize>)>;

thread_local! {
    static REQUEST_BYTES: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static REQUEST_FIELDS: Cell<FieldIndex> = const { Cell::new(Vec::new()) };
    static RESPONSE_TEXT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// An empty buffer for a request head's bytes, with room for `capacity`.
pub(crate) fn request_bytes(capacity: usize) -> Vec<u8> {
    take(&REQUEST_BYTES, capacity)
}

/// An empty index for a request head's fields, with room for `capacity`.
pub(crate) fn request_fields(capacity: usize) -> FieldIndex {
    take(&REQUEST_FIELDS, capacity)
}

/// An empty buffer for a response head's text, with room for `capacity`.
pub(crate) fn response_text(capacity: usize) -> Vec<u8> {
    take(&RESPONSE_TEXT, capacity)
}

/// Keeps a dropped request head's buffers.
pub(crate) fn give_request(bytes: Vec<u8>, fields: FieldIndex) {
    give(&REQUEST_BYTES, bytes);
    give(&REQUEST_FIELDS, fields);
}

/// Keeps a dropped response head's text.
pub(crate) fn give_response(text: Vec<u8>) {
    give(&RESPONSE_TEXT, text);
}

fn take<T: 'static>(spare: &'static LocalKey<Cell<Vec<T>>>, capacity: usize) -> Vec<T> {
    // During the thread's exit the spare may be gone already: then a new buffer.
    let mut buf = spare.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    buf.reserve(capacity);
    buf
}

fn give<T: 'static>(spare: &'static LocalKey<Cell<Vec<T>>>, mut buf: Vec<T>) {
    if buf.capacity() == 0 || buf.capacity() * size_of::<T>() > KEEP_BYTES {
        return;
    }
    buf.clear();
    // Replaces (frees) any buffer already kept; during the thread's exit, frees this one.
    let _ = spare.try_with(|cell| cell.set(buf));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_empty_with_its_allocation() {
        let mut buf = Vec::with_capacity(300);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let ptr = buf.as_ptr();
        give_response(buf);
        let again = response_text(100);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.capacity() >= 300);
        // Taken: the next one is new.
        let other = response_text(10);
        assert_ne!(other.as_ptr(), ptr);
    }

    #[test]
    fn a_large_buffer_is_not_kept() {
        let _ = request_bytes(0);
        give_request(vec![0; KEEP_BYTES + 1], Vec::new());
        assert_eq!(request_bytes(0).capacity(), 0);
    }

    #[test]
    fn a_taken_buffer_grows_to_the_capacity_asked_for() {
        give_request(Vec::with_capacity(8), Vec::with_capacity(1));
        assert!(request_bytes(64).capacity() >= 64);
        assert!(request_fields(5).capacity() >= 5);
    }
}
