//! A connection's next request gets the environ dict its previous request got, when the
//! app neither kept nor changed it and the new request sets the same keys.
//!
//! A later request on a keep-alive connection copies the connection's environ (a 64-slot
//! table), and the copy is freed when the request ends: about 1,100 of a keep-alive hello's
//! 11,700 instructions (`bench/callgrind.sh`). A dict that only the server still holds
//! (reference count 1) and whose version tag is the one it had when the app got it is
//! exactly as the server built it. CPython 3.9-3.13 give every dict a new `ma_version_tag`
//! on every change (insert, replace, delete, clear), and keep it on reads. When the next
//! request sets the same keys (the same header names in the same order, the same request
//! line keys), its values set over the previous ones give, key for key and in the same
//! order, the dict a copy would have become. Without the tag (CPython 3.14 and later, the
//! free-threaded build) every request gets a copy.

use crate::http::Version;
use crate::http::body::BodyFraming;
use crate::http::request::RequestHead;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Arc, Mutex, PoisonError};

/// Where a connection keeps the environ its previous request got, for the next one. Its
/// requests run one at a time, so the lock is never contended.
pub(super) type SharedLast = Arc<Mutex<LastEnviron>>;

/// The environ a connection's previous request got, and what it needs to serve the next.
#[derive(Default)]
pub(super) struct LastEnviron {
    /// The dict, put here when its request ended unchanged and held by nothing else.
    env: Option<Py<PyDict>>,
    /// Its version tag once built.
    tag: u64,
    /// Which keys its request set ([`shape`]).
    shape: Vec<u8>,
}

/// An environ that may serve its connection's next request, held by its request until the
/// request ends: [`Keeper::release`] then keeps it, or lets it go with whatever the app put
/// in it (nothing the app attached outlives its request).
pub(crate) struct Keeper {
    last: SharedLast,
    env: Py<PyDict>,
}

impl Keeper {
    /// The request is over (its body closed, the hooks' references gone): the environ is
    /// kept if it is unchanged and nothing else holds it, else released now, with the GIL.
    pub(crate) fn release(self, py: Python<'_>) {
        let Keeper { last, env } = self;
        let env = env.into_bound(py);
        let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
        if unchanged_and_alone(&env, last.tag) {
            last.env = Some(env.unbind());
        }
    }
}

impl LastEnviron {
    /// The previous request's environ, for `head`, if it may be reused: it sets the same
    /// keys, nobody but this holds it, and it is unchanged since it was built.
    pub(super) fn take<'py>(
        &mut self,
        py: Python<'py>,
        head: &RequestHead,
    ) -> Option<Bound<'py, PyDict>> {
        let env = self.env.as_ref()?.bind(py);
        // Checked again, which is cheap: it was alone and unchanged when its request
        // ended, but `gc.get_objects()` could have reached it since. One that may not
        // serve stays until the new request's own is made ([`LastEnviron::prepare`]), so
        // that is never made in its place: a reused dict is the only one with the
        // previous request's `id()`, which tests rely on.
        if !(unchanged_and_alone(env, self.tag) && same_shape(&self.shape, head)) {
            return None;
        }
        self.env.take().map(|env| env.into_bound(py))
    }

    /// Records `env`, just built for `head` from the connection's environ, as the one the
    /// next request may reuse once this one ends: the [`Keeper`] its request holds, if it
    /// may. `joined`: a repeated field was joined into one key, which a reuse would not
    /// redo (it sets each key once), so that environ may not.
    pub(super) fn prepare(
        shared: SharedLast,
        env: &Bound<'_, PyDict>,
        head: &RequestHead,
        joined: bool,
    ) -> Option<Keeper> {
        {
            let mut last = shared.lock().unwrap_or_else(PoisonError::into_inner);
            last.env = None;
            if joined || !plain(head) {
                return None;
            }
            last.tag = version_tag(env)?;
            shape(head, &mut last.shape);
        }
        Some(Keeper {
            last: shared,
            env: env.clone().unbind(),
        })
    }
}

/// Whether only the caller holds `env` (reference count 1) and its version tag is `tag`.
fn unchanged_and_alone(env: &Bound<'_, PyDict>, tag: u64) -> bool {
    // SAFETY: `env` is a live dict and the GIL is held.
    let alone = unsafe { pyo3::ffi::Py_REFCNT(env.as_ptr()) } == 1;
    alone && version_tag(env) == Some(tag)
}

/// A request whose environ may be reused: without a body, whose `wsgi.input` and
/// `CONTENT_LENGTH` would differ from request to request.
fn plain(head: &RequestHead) -> bool {
    head.framing == BodyFraming::Empty
}

/// What decides which keys a request without a body sets: whether its method, query and
/// version differ from the template's usual ones (each sets its key then), and its header
/// names in order (each gives a key or none, as its name alone decides).
fn shape(head: &RequestHead, out: &mut Vec<u8>) {
    out.clear();
    out.push(line_flags(head));
    for (name, _) in head.headers() {
        out.extend_from_slice(name);
        // Never in a field name (a token).
        out.push(b'\n');
    }
}

/// Whether `head` has the shape `shape` records, without building it.
fn same_shape(shape: &[u8], head: &RequestHead) -> bool {
    let Some((&flags, mut rest)) = shape.split_first() else {
        return false;
    };
    if flags != line_flags(head) {
        return false;
    }
    for (name, _) in head.headers() {
        match rest.strip_prefix(name) {
            Some([b'\n', after @ ..]) => rest = after,
            _ => return false,
        }
    }
    rest.is_empty()
}

/// The request line's keys that `environ::set_request_line` sets only when they differ
/// from the template's.
fn line_flags(head: &RequestHead) -> u8 {
    u8::from(head.method_bytes() != b"GET")
        | u8::from(!head.query().is_empty()) << 1
        | u8::from(head.version == Version::Http10) << 2
        | u8::from(head.unconventional_version().is_some()) << 3
        | u8::from(plain(head)) << 4
}

/// The dict's version tag, where CPython has one that every change renews.
#[cfg(not(any(Py_3_14, Py_GIL_DISABLED, PyPy, GraalPy)))]
#[allow(deprecated)] // Deprecated (not yet removed) in 3.12; read on 3.9-3.13 only.
fn version_tag(env: &Bound<'_, PyDict>) -> Option<u64> {
    // SAFETY: an exact dict (the server made it) is a PyDictObject, alive while `env`
    // is; the GIL is held, so no change is under way.
    Some(unsafe { (*env.as_ptr().cast::<pyo3::ffi::PyDictObject>()).ma_version_tag })
}

/// Without a version tag, nothing proves a dict unchanged: never reused.
#[cfg(any(Py_3_14, Py_GIL_DISABLED, PyPy, GraalPy))]
fn version_tag(_env: &Bound<'_, PyDict>) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;

    fn head(raw: &[u8]) -> RequestHead {
        parse_head(raw, &Limits::default()).unwrap().unwrap().0
    }

    #[test]
    fn the_same_names_in_the_same_order_are_the_same_shape() {
        let mut recorded = Vec::new();
        shape(
            &head(b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n"),
            &mut recorded,
        );
        let same = [
            &b"GET /b HTTP/1.1\r\nHost: h\r\nX-A: 2\r\n\r\n"[..],
            b"GET /a%20b HTTP/1.1\r\nHost: other\r\nX-A: \r\n\r\n",
        ];
        for raw in same {
            assert!(same_shape(&recorded, &head(raw)), "{raw:?}");
        }
        let different = [
            &b"GET /a HTTP/1.1\r\nX-A: 1\r\nHost: h\r\n\r\n"[..],
            b"GET /a HTTP/1.1\r\nHost: h\r\nx-a: 1\r\n\r\n",
            b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
            b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /a HTTP/1.1\r\nHost: h\r\nX-AB: 1\r\n\r\n",
            b"HEAD /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n",
            b"GET /a?q HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n",
            b"GET /a HTTP/1.0\r\nHost: h\r\nX-A: 1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 1\r\n\r\n",
        ];
        for raw in different {
            assert!(!same_shape(&recorded, &head(raw)), "{raw:?}");
        }
        assert!(!same_shape(&[], &head(same[0])));
    }

    #[test]
    fn a_query_method_or_version_set_in_both_is_the_same_shape() {
        let mut recorded = Vec::new();
        shape(
            &head(b"DELETE /a?x=1 HTTP/1.0\r\nHost: h\r\n\r\n"),
            &mut recorded,
        );
        assert!(same_shape(
            &recorded,
            &head(b"OPTIONS /b?y HTTP/1.0\r\nHost: h\r\n\r\n")
        ));
    }
}
