//! PEP 3333 "native strings": `str` objects that stand for bytes, one code point per byte
//! (latin-1), in both directions: wire bytes into the environ, and the application's status
//! and headers back onto the wire.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::types::string::PyStringData;
use std::borrow::Cow;

/// Decodes bytes as latin-1 into a `str`, one code point per byte.
pub(crate) fn from_latin1<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    // Straight to CPython's latin-1 decoder: one pass over the bytes (an ASCII check and
    // a UTF-8 decode, the usual route for `&str`, are three), and its cached one-character
    // strings for "/" and the like.
    // SAFETY: PyUnicode_DecodeLatin1 reads exactly `len` bytes from a valid pointer and
    // cannot fail on any input except memory exhaustion; we hold the GIL (`py`).
    let decoded = unsafe {
        let ptr = ffi::PyUnicode_DecodeLatin1(
            bytes.as_ptr().cast(),
            bytes.len() as ffi::Py_ssize_t,
            std::ptr::null(),
        );
        Bound::from_owned_ptr_or_err(py, ptr)
    };
    match decoded {
        // SAFETY: PyUnicode_DecodeLatin1 returns a str.
        Ok(s) => unsafe { s.cast_into_unchecked::<PyString>() },
        Err(_) => PyString::new(py, ""),
    }
}

/// The bytes a `str` stands for: its code points as latin-1, or `None` if one is above
/// U+00FF. Borrowed from the string itself in the usual case.
#[inline]
pub(crate) fn to_latin1<'a>(s: &'a Bound<'_, PyString>) -> Option<Cow<'a, [u8]>> {
    let ptr = s.as_ptr();
    // Runs for the status and every response header name and value: read the one-byte
    // kind straight from the string (pyo3's `data()` builds a `PyResult` of a three-way
    // enum around the same reads, several times the cost for these short strings).
    // SAFETY: `ptr` is a live `str` (we hold `s`, and with it the GIL). PyUnicode_READY
    // only canonicalises a legacy string (before 3.12; a no-op after); then KIND, DATA and
    // GET_LENGTH read the compact layout of the non-limited API we build against, and the
    // slice borrows `s`, which keeps the immutable string alive.
    unsafe {
        if ffi::PyUnicode_READY(ptr) == 0 && ffi::PyUnicode_KIND(ptr) == ffi::PyUnicode_1BYTE_KIND {
            let data = ffi::PyUnicode_DATA(ptr).cast::<u8>();
            let len = ffi::PyUnicode_GET_LENGTH(ptr) as usize;
            return Some(Cow::Borrowed(std::slice::from_raw_parts(data, len)));
        }
    }
    to_latin1_wide(s)
}

/// [`to_latin1`] of a string stored two or four bytes per code point.
#[cold]
#[inline(never)]
fn to_latin1_wide<'a>(s: &'a Bound<'_, PyString>) -> Option<Cow<'a, [u8]>> {
    // SAFETY: as in `to_latin1`; `data` reads the same layout through pyo3.
    match unsafe { s.data() }.ok()? {
        // A one-byte string holds code points 0..=255: its storage is the latin-1 bytes.
        PyStringData::Ucs1(bytes) => Some(Cow::Borrowed(bytes)),
        // CPython stores a string in the narrowest kind its largest code point fits, so a
        // wider kind means something above U+00FF; checked anyway rather than assumed.
        PyStringData::Ucs2(units) => narrow(units.iter().map(|&u| u32::from(u))),
        PyStringData::Ucs4(units) => narrow(units.iter().copied()),
    }
}

/// Code points as latin-1 bytes, or `None` if one does not fit.
fn narrow(points: impl Iterator<Item = u32>) -> Option<Cow<'static, [u8]>> {
    points
        .map(|p| u8::try_from(p).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Cow::Owned)
}
