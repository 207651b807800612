//! `start_response` and the `write()` callable it returns (PEP 3333 "The start_response()
//! Callable").
//!
//! Validates what the application declares before a byte of it reaches the wire: a status of
//! three digits and a reason, header names that are tokens, values without CR, LF or NUL
//! (response splitting), no hop-by-hop headers (the server owns connection management), and a
//! well-formed Content-Length. A rejected call raises in the application and marks the
//! response broken, so even an app that swallows the exception gets a 500, not its headers.

use super::file_wrapper::SendableFile;
use super::native::to_latin1;
use super::{Flow, Link, Outcome, Transport, try_with_transport, with_transport};
use crate::http::response::{ResponseHead, parse_content_length};
use pyo3::exceptions::{PyAssertionError, PyConnectionError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Headers an application must not set (RFC 9110 §7.6.1; PEP 3333 "Other HTTP Features").
/// Not `Proxy-Authenticate`: RFC 2616 §13.5.1 (which PEP 3333 cites) called it hop-by-hop,
/// but RFC 9110 §7.6.1 no longer does, and §15.5.8 requires it in a 407, which an app
/// acting as a proxy (or demonstrating one, as httpbin's `/status/407`) must be able to send.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where the response head is in its life.
enum HeadState {
    /// `start_response` has not been called.
    Waiting,
    /// Declared and valid, not yet on the wire (it may still be replaced with `exc_info`).
    Ready(ResponseHead),
    /// Handed to the transport; from now on `exc_info` re-raises.
    Sent,
    /// `start_response` rejected the declaration; the response will be a 500 unless the app
    /// calls `start_response` again with something valid.
    Broken,
}

/// What became of a body chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Sent; keep going.
    More,
    /// The response needs no more body (HEAD, declared length reached): stop iterating.
    Enough,
    /// Accepted, but the client is behind: pause until the driver has sent what is buffered.
    Full,
    /// The client is gone: stop iterating, close the connection.
    Gone,
}

/// Whether a body chunk may wait in the transport for the driver to send after the call
/// (see [`super::Transport::queue_body`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queue {
    /// Send it now: `write()`, whose caller expects the bytes gone when it returns.
    Never,
    /// Queue it if it ends the body (a generator may take its time over the next one).
    IfLast,
    /// Queue it: the rest of the body is in memory (a list or tuple).
    AtHand,
}

/// A transport operation that only queues bytes: `None` when it must be done with I/O.
type QueueOp = fn(&mut dyn Transport) -> Option<std::io::Result<Flow>>;

/// `deliver`'s `queue` for operations that always write now.
const NO_QUEUE: Option<QueueOp> = None;

/// The `start_response` callable; `write` is the `write()` callable it returns.
///
/// Frozen, with its state behind a mutex held only for instants and never across a GIL
/// release: a Python thread calling `write()` while the main thread iterates the body must
/// not be able to panic the worker with a borrow conflict.
///
/// A pair serves one request at a time and, when nothing else holds it once the request is
/// over, the next one on the same transport slot (see `App::end`): allocating its Python
/// objects (this, `write` and the bound method of [`StartResponse`]) per request cost more
/// than the rest of `start_response`. Neither refers to the
/// other from Python (both share a [`Core`]), so an app that keeps one keeps no cycle alive.
#[pyclass(module = "rsgi_server", name = "StartResponse", frozen)]
pub(crate) struct Responder {
    core: Arc<Core>,
    write: Py<Write>,
}

/// The `write()` callable `start_response` returns (PEP 3333's imperative output).
#[pyclass(module = "rsgi_server", name = "write", frozen)]
pub(crate) struct Write {
    core: Arc<Core>,
}

/// What `start_response` and `write` share: the transport and the head's state.
pub(crate) struct Core {
    link: Link,
    state: Mutex<HeadState>,
}

impl std::ops::Deref for Responder {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

/// A [`Responder`] with the `start_response` an application is given: the responder's
/// bound `start_response` method. Python calls that builtin method by vectorcall, with the
/// arguments where they lie; calling the responder itself would go through `tp_call` and a
/// new argument tuple each time (pyo3 gives classes no vectorcall, PyO3/pyo3#4252).
pub(crate) struct StartResponse {
    responder: Py<Responder>,
    callable: Py<PyAny>,
}

impl StartResponse {
    /// A new pair sending through `link`, with its bound method.
    pub(crate) fn new(py: Python<'_>, link: Link) -> PyResult<Self> {
        let responder = Bound::new(py, Responder::new(py, link)?)?;
        let callable = responder
            .getattr(pyo3::intern!(py, "start_response"))?
            .unbind();
        Ok(StartResponse {
            responder: responder.unbind(),
            callable,
        })
    }

    /// The responder.
    pub(crate) fn get(&self) -> &Responder {
        self.responder.get()
    }

    /// The `start_response` callable the application is given.
    pub(crate) fn callable<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.callable.bind(py)
    }

    /// Whether only this holds the pair (the bound method's reference to the responder
    /// aside), so that it can serve another request: no app, hook or thread kept
    /// `start_response` or `write`, not even by a weak reference (the two pyclasses take
    /// none; a builtin method does, without a count).
    pub(crate) fn unshared(&self, _py: Python<'_>) -> bool {
        // SAFETY: all three are live objects and we hold the GIL (`_py`), under which
        // reference counts only change; reading one is what sys.getrefcount does.
        let counted = unsafe {
            ffi::Py_REFCNT(self.callable.as_ptr()) == 1
                && ffi::Py_REFCNT(self.responder.as_ptr()) == 2
                && ffi::Py_REFCNT(self.get().write.as_ptr()) == 1
        };
        counted && !weakly_referenced(self.callable.as_ptr())
    }
}

/// Whether `object` may have weak references: its type's weak reference list head (at
/// `tp_weaklistoffset` in the instance, NULL while there are none) is set, or the type
/// keeps that list somewhere this cannot read (then the answer is yes, to be safe).
fn weakly_referenced(object: *mut ffi::PyObject) -> bool {
    // SAFETY: `object` is live and the caller holds the GIL, under which its weak reference
    // list only changes. A positive `tp_weaklistoffset` is, as the C API documents it, the
    // offset of that list's head, a `PyObject *`, inside every instance of the type.
    unsafe {
        let offset = (*ffi::Py_TYPE(object)).tp_weaklistoffset;
        if offset <= 0 {
            return true;
        }
        let head = object
            .cast::<u8>()
            .offset(offset)
            .cast::<*mut ffi::PyObject>();
        !head.read().is_null()
    }
}

#[pymethods]
impl Responder {
    /// PEP 3333's `start_response(status, response_headers, exc_info=None)`.
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn start_response<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Write>> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        let this = slf.get();
        {
            let state = this.state();
            match (&*state, exc_info) {
                (HeadState::Sent, Some(exc_info)) => {
                    // Too late to replace the response: re-raise so the app unwinds and the
                    // server closes the connection.
                    drop(state);
                    return Err(PyErr::from_value(exc_info.get_item(1)?));
                }
                (HeadState::Ready(_) | HeadState::Sent, None) => {
                    return Err(PyAssertionError::new_err(
                        "start_response called a second time without exc_info",
                    ));
                }
                _ => {}
            }
            drop(state);
            let validated = validate(status, headers);
            let mut state = this.state();
            if matches!(*state, HeadState::Sent) {
                return Err(PyAssertionError::new_err(
                    "response already started by another thread",
                ));
            }
            match validated {
                Ok(head) => *state = HeadState::Ready(head),
                Err(err) => {
                    *state = HeadState::Broken;
                    return Err(err);
                }
            }
        }
        Ok(this.write.bind(slf.py()).clone())
    }

    /// The `write()` callable, as `start_response` returns it.
    #[getter]
    fn write<'py>(&self, py: Python<'py>) -> Bound<'py, Write> {
        self.write.bind(py).clone()
    }
}

#[pymethods]
impl Write {
    /// PEP 3333's imperative `write(data)`: sends the bytes now (headers first if needed).
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core.write(py, data)
    }
}

impl Responder {
    /// A `start_response` and its `write`, sending through `link`.
    pub(crate) fn new(py: Python<'_>, link: Link) -> PyResult<Self> {
        let core = Arc::new(Core {
            link,
            state: Mutex::new(HeadState::Waiting),
        });
        let write = Py::new(py, Write { core: core.clone() })?;
        Ok(Responder { core, write })
    }

    /// Makes a pair whose request is over ready for the next one.
    pub(crate) fn reset(&self) {
        *self.state() = HeadState::Waiting;
    }
}

impl Core {
    /// `write(data)`: sends the bytes now (headers first if needed).
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let progress = match self.send_chunk(py, data, None, Queue::Never)? {
            // write() may block (PEP 3333), and the app expects the bytes gone when it
            // returns: wait for the client here rather than pausing.
            Progress::Full => self.transmit(py, |t| t.flush().map(|()| Flow::More)),
            other => other,
        };
        match progress {
            Progress::More | Progress::Enough | Progress::Full => Ok(()),
            Progress::Gone => Err(PyConnectionError::new_err("client disconnected")),
        }
    }

    fn state(&self) -> MutexGuard<'_, HeadState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any of the response has gone to the transport.
    pub(crate) fn head_sent(&self) -> bool {
        matches!(*self.state(), HeadState::Sent)
    }

    /// Takes the head to send now, or fails if there is none to send.
    fn take_head(&self) -> PyResult<Option<ResponseHead>> {
        let mut state = self.state();
        match std::mem::replace(&mut *state, HeadState::Sent) {
            HeadState::Ready(head) => Ok(Some(head)),
            HeadState::Sent => Ok(None),
            HeadState::Waiting => {
                *state = HeadState::Waiting;
                Err(PyAssertionError::new_err(
                    "the application sent body data before calling start_response",
                ))
            }
            HeadState::Broken => {
                *state = HeadState::Broken;
                Err(PyValueError::new_err(
                    "the application sent body data after start_response rejected its headers",
                ))
            }
        }
    }

    /// Sends one body chunk (the head with the first non-empty one).
    pub(crate) fn send_chunk(
        &self,
        py: Python<'_>,
        item: &Bound<'_, PyAny>,
        known_length: Option<u64>,
        queue: Queue,
    ) -> PyResult<Progress> {
        let bytes = item.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "response body items must be bytes, not {}",
                item.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })?;
        let data = bytes.as_bytes();
        if data.is_empty() {
            // PEP 3333: headers go out with the first non-empty chunk, so an empty one must
            // not fix the status yet (exc_info may still replace it).
            return Ok(Progress::More);
        }
        let head = self.take_head()?;
        let queue_now = |t: &mut dyn Transport| t.queue_body(data, queue == Queue::AtHand);
        Ok(self.deliver(
            py,
            head,
            known_length,
            (queue != Queue::Never).then_some(queue_now),
            |t| t.send_body(data),
        ))
    }

    /// Sends a file with sendfile (the head first if needed).
    pub(crate) fn send_file(&self, py: Python<'_>, file: SendableFile) -> PyResult<Progress> {
        let head = self.take_head()?;
        let length = Some(file.remaining);
        Ok(self.deliver(py, head, length, NO_QUEUE, move |t| {
            t.send_file(file.fd, file.offset, Some(file.remaining))
        }))
    }

    /// Ends the response once the body iterable is exhausted.
    pub(crate) fn finish(&self, py: Python<'_>, known_length: Option<u64>) -> Outcome {
        let head = match std::mem::replace(&mut *self.state(), HeadState::Sent) {
            // Nothing was yielded: the body is empty, whatever the iterable's type.
            HeadState::Ready(head) => Some(head),
            HeadState::Sent => None,
            HeadState::Waiting => {
                tracing::error!("the application returned without calling start_response");
                return Outcome::FailedBeforeHead;
            }
            HeadState::Broken => {
                tracing::error!("the application's start_response call was rejected");
                return Outcome::FailedBeforeHead;
            }
        };
        // The end of the response is queued for the driver to send once the call returns,
        // unless the transport must write it now.
        let finished = self.deliver(
            py,
            head,
            Some(known_length.unwrap_or(0)),
            Some(|t: &mut dyn Transport| t.queue_finish().map(|r| r.map(|()| Flow::More))),
            |t| t.finish().map(|()| Flow::More),
        );
        if finished == Progress::Gone {
            Outcome::Aborted
        } else {
            Outcome::Complete
        }
    }

    /// Sends the head if it is still to go, then the rest: first with `queue`, with the GIL
    /// held, when given (queueing needs no I/O, so no GIL hand-off); then, if the transport
    /// declined or was busy, with `send` without the GIL.
    fn deliver(
        &self,
        py: Python<'_>,
        mut head: Option<ResponseHead>,
        known_length: Option<u64>,
        queue: Option<impl FnOnce(&mut dyn Transport) -> Option<std::io::Result<Flow>>>,
        send: impl FnOnce(&mut dyn Transport) -> std::io::Result<Flow> + Send,
    ) -> Progress {
        if let Some(queue) = queue {
            let queued = try_with_transport(&self.link, |t| {
                if let Some(head) = head.take() {
                    if let Err(err) = t.send_head(head, known_length) {
                        return Some(Err(err));
                    }
                }
                queue(t)
            });
            if let Some(result) = queued {
                return progress(result);
            }
        }
        self.transmit(py, |t| {
            if let Some(head) = head {
                t.send_head(head, known_length)?;
            }
            send(t)
        })
    }

    /// Runs a transport operation without the GIL; an I/O error means the client is gone.
    fn transmit(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&mut dyn Transport) -> std::io::Result<Flow> + Send,
    ) -> Progress {
        progress(with_transport(py, &self.link, op))
    }
}

/// What a transport operation's result means for the response; an I/O error means the client
/// is gone.
fn progress(result: std::io::Result<Flow>) -> Progress {
    match result {
        Ok(Flow::More) => Progress::More,
        Ok(Flow::Enough) => Progress::Enough,
        Ok(Flow::Full) => Progress::Full,
        Err(err) => {
            tracing::debug!("response not delivered: {err}");
            Progress::Gone
        }
    }
}

/// Checks a `start_response` declaration and turns it into a head.
fn validate(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<ResponseHead> {
    let status = status
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("status must be a str such as '200 OK'"))?;
    let status_bytes = to_latin1(status);
    let Some((code, reason)) = status_bytes.as_deref().and_then(parse_status) else {
        return Err(PyValueError::new_err(format!(
            "invalid status line {status}"
        )));
    };
    if let Ok(list) = headers.cast::<PyList>() {
        let mut head = ResponseHead::new(code, reason, HEADER_LINE_GUESS * list.len());
        for item in list.iter() {
            header(&item, &mut head)?;
        }
        Ok(head)
    } else if let Ok(tuple) = headers.cast::<PyTuple>() {
        let mut head = ResponseHead::new(code, reason, HEADER_LINE_GUESS * tuple.len());
        for item in tuple.iter() {
            header(&item, &mut head)?;
        }
        Ok(head)
    } else {
        Err(PyTypeError::new_err(
            "response headers must be a list of (name, value) tuples",
        ))
    }
}

/// Bytes reserved per header line, so a typical head is built without regrowing.
const HEADER_LINE_GUESS: usize = 40;

/// Checks one `(name, value)` of a `start_response` header list and adds it to `head`.
fn header(item: &Bound<'_, PyAny>, head: &mut ResponseHead) -> PyResult<()> {
    let pair = item
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "response header {item} is not a (name, value) tuple"
            ))
        })?;
    let (name, value) = (pair.get_borrowed_item(0)?, pair.get_borrowed_item(1)?);
    let (Ok(name), Ok(value)) = (name.cast::<PyString>(), value.cast::<PyString>()) else {
        return Err(PyTypeError::new_err(format!(
            "response header {pair} must hold two str"
        )));
    };
    // PEP 3333: both are native strings, sent as latin-1.
    let Some(name_bytes) = to_latin1(&name) else {
        return Err(PyValueError::new_err(format!(
            "response header name {:?} is not a valid token (RFC 9110 §5.1)",
            name.to_string_lossy()
        )));
    };
    let Some(value_bytes) = to_latin1(&value) else {
        return Err(PyValueError::new_err(format!(
            "response header {:?} has a value that is not latin-1",
            name.to_string_lossy()
        )));
    };
    check_header(&name_bytes, &value_bytes).map_err(PyValueError::new_err)?;
    head.push_header(&name_bytes, trim_ows(&value_bytes));
    Ok(())
}

/// `value` without the optional whitespace around it, which is not part of a field value
/// (RFC 9110 §5.5), as gunicorn sends it: Django's `Set-Cookie` values start with a space.
#[inline]
fn trim_ows(value: &[u8]) -> &[u8] {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    match (value.first(), value.last()) {
        (Some(first), Some(last)) if blank(first) || blank(last) => {
            let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|b| !blank(b))
                .map_or(start, |i| i + 1);
            &value[start..end]
        }
        _ => value,
    }
}

/// Splits `"200 OK"` into its code and reason; `None` if it is not three digits (200-999)
/// optionally followed by a space and a reason free of control characters.
fn parse_status(status: &[u8]) -> Option<(u16, &[u8])> {
    let digits = status.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let reason = match &status[3..] {
        [] => &[][..],
        [b' ', rest @ ..] => rest,
        _ => return None,
    };
    let clean = reason
        .iter()
        .all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f));
    // 1xx are interim responses (RFC 9110 §15.2): sent as a final one, the client would
    // read the next response as this request's answer and the connection would desync.
    (code >= 200 && clean).then_some((code, reason))
}

/// Response header names most responses carry, as apps spell them: tokens that are not
/// hop-by-hop, so a name equal to one of them needs neither check (a compare is cheaper
/// than a pass over its bytes).
fn is_common_name(name: &[u8]) -> bool {
    matches!(
        name,
        b"Content-Type"
            | b"Content-Length"
            | b"Cache-Control"
            | b"Set-Cookie"
            | b"Location"
            | b"Vary"
            | b"ETag"
            | b"Last-Modified"
            | b"Expires"
            | b"Content-Encoding"
            | b"Content-Disposition"
            | b"X-Frame-Options"
            | b"X-Content-Type-Options"
            | b"Referrer-Policy"
    )
}

/// Why a header cannot be sent, or `Ok`. Runs per header per response, so each check is
/// one pass over bytes, and the hop-by-hop list is only consulted for names of those lengths.
fn check_header(name: &[u8], value: &[u8]) -> Result<(), String> {
    let common = is_common_name(name);
    if !common && !crate::http::is_token(name) {
        return Err(format!(
            "response header name {} is not a valid token (RFC 9110 §5.1)",
            shown(name)
        ));
    }
    if splits_lines(value) {
        return Err(format!(
            "response header {} has a value containing CR, LF or NUL",
            shown(name)
        ));
    }
    if !common
        && matches!(name.len(), 2 | 7 | 10 | 16..=19)
        && HOP_BY_HOP
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
    {
        return Err(format!(
            "hop-by-hop header {} is not allowed from a WSGI application (PEP 3333)",
            shown(name)
        ));
    }
    if name.len() == 14
        && name.eq_ignore_ascii_case(b"content-length")
        && parse_content_length(value).is_none()
    {
        return Err(format!("invalid Content-Length {}", shown(value)));
    }
    Ok(())
}

/// Whether `value` holds a CR, LF or NUL (which would split the response or end it early
/// for some clients): eight bytes a step, as every header value of every response is
/// checked.
fn splits_lines(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `w` is zero: exact as a yes/no (the borrow can only flag bytes
    // above a true zero).
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS != 0;
    let mut words = value.chunks_exact(8);
    for word in words.by_ref() {
        let w = u64::from_ne_bytes(word.try_into().expect("eight bytes"));
        if has_zero(w)
            || has_zero(w ^ (ONES * u64::from(b'\r')))
            || has_zero(w ^ (ONES * u64::from(b'\n')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| matches!(b, b'\r' | b'\n' | b'\0'))
}

/// Latin-1 bytes as a quoted, escaped string for an error message.
fn shown(bytes: &[u8]) -> String {
    format!(
        "{:?}",
        bytes.iter().map(|&b| char::from(b)).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_names_need_no_checks_because_they_would_pass_them() {
        for name in [
            "Content-Type",
            "Content-Length",
            "Cache-Control",
            "Set-Cookie",
            "Location",
            "Vary",
            "ETag",
            "Last-Modified",
            "Expires",
            "Content-Encoding",
            "Content-Disposition",
            "X-Frame-Options",
            "X-Content-Type-Options",
            "Referrer-Policy",
        ] {
            assert!(is_common_name(name.as_bytes()), "{name}");
            assert!(crate::http::is_token(name.as_bytes()), "{name}");
            assert!(
                !HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()),
                "{name}"
            );
        }
        // Other spellings take the checks.
        assert!(!is_common_name(b"content-type"));
        assert!(check_header(b"Connection", b"close").is_err());
        assert!(check_header(b"Content-Length", b"x").is_err());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"200 OK"), Some((200, &b"OK"[..])));
        assert_eq!(
            parse_status(b"404 Not Found"),
            Some((404, &b"Not Found"[..]))
        );
        assert_eq!(parse_status(b"204"), Some((204, &b""[..])));
        assert_eq!(
            parse_status(b"999 Custom reason"),
            Some((999, &b"Custom reason"[..]))
        );
        // Latin-1 reasons are allowed (PEP 3333 native strings).
        assert_eq!(parse_status(b"200 Caf\xe9"), Some((200, &b"Caf\xe9"[..])));
        for bad in [
            "",
            "20",
            "2000 OK",
            "200OK",
            "099 Low",
            "abc OK",
            "200 O\r\nX: y",
            "200 \0",
        ] {
            assert_eq!(parse_status(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn line_splitting_bytes_are_found_anywhere_in_a_value() {
        for len in 0..40 {
            let clean = vec![b'a'; len];
            assert!(!splits_lines(&clean), "{len}");
            for at in 0..len {
                for bad in [b'\r', b'\n', b'\0'] {
                    let mut value = clean.clone();
                    value[at] = bad;
                    assert!(splits_lines(&value), "{len} {at} {bad}");
                }
            }
        }
        // Bytes one off the three, and latin-1, are fine.
        assert!(!splits_lines(
            b"\x0c\x0e\x0b\x09\x01\xff\x80\x8d\x8a caf\xe9 \t"
        ));
    }

    #[test]
    fn headers_rejected() {
        assert!(check_header(b"X-Ok", b"fine value").is_ok());
        assert!(check_header(b"X-Bad", b"a\r\nSet-Cookie: x").is_err());
        assert!(check_header(b"X-Bad", b"a\nb").is_err());
        assert!(check_header(b"X-Bad", b"a\0b").is_err());
        assert!(check_header(b"X Bad", b"v").is_err());
        assert!(check_header(b"X-Bad\r\n", b"v").is_err());
        assert!(check_header(b"", b"v").is_err());
        assert!(check_header(b"Connection", b"close").is_err());
        assert!(check_header(b"transfer-encoding", b"chunked").is_err());
        assert!(check_header(b"Content-Length", b"12").is_ok());
        assert!(check_header(b"Content-Length", b"-1").is_err());
        assert!(check_header(b"X-Latin", b"caf\xe9").is_ok());
        assert!(check_header(b"X-Caf\xe9", b"v").is_err());
        for name in HOP_BY_HOP {
            assert!(check_header(name.as_bytes(), b"x").is_err(), "{name}");
            let upper = name.to_uppercase();
            assert!(check_header(upper.as_bytes(), b"x").is_err(), "{name}");
        }
    }
}
