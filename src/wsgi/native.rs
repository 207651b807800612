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
pub(crate) fn to_latin1<'a>(s: &'a Bound<'_, PyString>) -> Option<Cow<'a, [u8]>> {
    // SAFETY: `data` reads CPython's compact string layout, which is stable for the
    // non-limited API we build against (x86_64 and aarch64 are tested by pyo3). The slice
    // borrows `s`, which keeps the string alive, and a `str` is immutable once shared.
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
