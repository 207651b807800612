//! The WSGI (PEP 3333) layer: the only code that touches Python.
//!
//! [`App::call`] runs one request: it builds the environ, calls the application with a
//! `start_response` ([`responder`]), iterates the returned body and always calls its `close()`.
//! It sees the connection only through the [`Transport`] trait, which the I/O driver implements:
//! reading request body bytes and sending the response head and body. Every transport call is
//! made with the GIL released, so socket I/O never blocks other Python threads.
//!
//! Rule: the transport's mutex is only ever locked with the GIL released ([`with_transport`]),
//! or, at the very end of a request, by the thread that owns the request. A thread holding it
//! never waits for the GIL, so the two locks cannot deadlock.

mod app_loader;
mod environ;
mod errors;
mod file_wrapper;
mod input;
pub mod interp;
mod responder;

pub use environ::ConnInfo;

use crate::http::request::RequestHead;
use crate::http::response::ResponseHead;
use file_wrapper::FileWrapper;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use responder::{Progress, Responder};
use std::any::Any;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What the WSGI layer needs from a connection. Implemented by the I/O driver.
pub trait Transport: Any + Send {
    /// Reads request body bytes into `buf`; `Ok(0)` at the end of the body. Sends
    /// `100 Continue` first if the client is waiting for it.
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Records the response head; it goes out with the first body bytes or at `finish`.
    /// `known_length` is the body's total size when the server knows it in advance.
    fn send_head(&mut self, head: ResponseHead, known_length: Option<u64>) -> io::Result<()>;
    /// Sends body bytes (framed as the head decided). Returns [`Flow::Enough`] once the
    /// response can take no more body (HEAD, 304, a declared length reached), so the app's
    /// iterable is not advanced for bytes that would be thrown away.
    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow>;
    /// Sends up to `count` bytes of `file` from `offset` with sendfile(2), or to the end of
    /// the file when `count` is `None`. Returns the bytes sent.
    fn send_file(
        &mut self,
        file: BorrowedFd<'_>,
        offset: u64,
        count: Option<u64>,
    ) -> io::Result<u64>;
    /// Ends the response (chunked terminator, flush).
    fn finish(&mut self) -> io::Result<()>;
}

/// Whether the response wants more body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep sending.
    More,
    /// The body is complete as far as the wire is concerned; stop producing it.
    Enough,
}

/// The transport of the request in progress, shared by `wsgi.input`, `start_response`'s
/// `write()` and [`App::call`]. Emptied when the request ends, so Python objects that outlive
/// it (an app that keeps `environ`) find it closed instead of reaching the next request.
pub(crate) type Link = Arc<Mutex<Option<Box<dyn Transport>>>>;

fn lock(link: &Link) -> MutexGuard<'_, Option<Box<dyn Transport>>> {
    // A panic while sending poisons the mutex; the transport itself is still consistent
    // enough to be closed, which is all that happens after an error.
    link.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on the transport with the GIL released.
pub(crate) fn with_transport<R: Send>(
    py: Python<'_>,
    link: &Link,
    f: impl FnOnce(&mut dyn Transport) -> io::Result<R> + Send,
) -> io::Result<R> {
    py.detach(|| match lock(link).as_deref_mut() {
        Some(transport) => f(transport),
        None => Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "the request this object belonged to has ended",
        )),
    })
}

/// Facts about the server that are the same for every request a worker serves.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// `SCRIPT_NAME`: where the app is mounted ("" for the root).
    pub root_path: String,
    /// `wsgi.multiprocess`: more than one worker process serves the app.
    pub multiprocess: bool,
    /// `wsgi.multithread`: more than one thread per worker calls the app.
    pub multithread: bool,
}

/// How a request ended, from the application's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The response was produced and handed to the transport completely.
    Complete,
    /// The app failed (or misused `start_response`) before anything was sent: the driver
    /// answers 500.
    FailedBeforeHead,
    /// The response was cut short: the app failed after the head was sent or the client went
    /// away. The connection must be closed.
    Aborted,
}

/// A loaded WSGI application and the per-worker objects every environ shares.
pub struct App {
    callable: Py<PyAny>,
    shared: environ::Shared,
}

/// The application could not be loaded.
#[derive(Debug)]
pub struct LoadError {
    /// The app spec as configured.
    pub spec: String,
    /// The Python traceback, formatted.
    pub traceback: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to load app '{}'", self.spec)
    }
}

impl std::error::Error for LoadError {}

impl App {
    /// Imports the app named by `spec` (`module:expr`), after putting `path_entries` at the
    /// front of `sys.path`. The interpreter must be initialised ([`interp::initialize`]).
    pub fn load(spec: &str, path_entries: &[String], server: ServerInfo) -> Result<App, LoadError> {
        Python::attach(|py| {
            let loaded = app_loader::prepend_sys_path(py, path_entries)
                .and_then(|()| app_loader::load(py, spec))
                .and_then(|callable| Ok((callable, environ::Shared::new(py, server)?)));
            match loaded {
                Ok((callable, shared)) => Ok(App {
                    callable: callable.unbind(),
                    shared,
                }),
                Err(err) => Err(LoadError {
                    spec: spec.to_owned(),
                    traceback: format_exception(py, &err),
                }),
            }
        })
    }

    /// Serves one request: calls the app and streams its response into `transport`, which is
    /// handed back afterwards.
    pub fn call<T: Transport>(
        &self,
        head: &RequestHead,
        conn: &ConnInfo,
        transport: T,
    ) -> (Outcome, T) {
        let link: Link = Arc::new(Mutex::new(Some(Box::new(transport))));
        let outcome = Python::attach(|py| self.run(py, head, conn, &link));
        let transport = lock(&link)
            .take()
            .expect("the transport is only taken here, once per request");
        let transport: Box<dyn Any> = transport;
        let transport = transport
            .downcast::<T>()
            .expect("the link holds the transport this call put there");
        (outcome, *transport)
    }

    fn run(&self, py: Python<'_>, head: &RequestHead, conn: &ConnInfo, link: &Link) -> Outcome {
        let responder = match Bound::new(py, Responder::new(link.clone())) {
            Ok(r) => r,
            Err(err) => return log_app_error(py, "creating start_response", &err, false),
        };
        let result = environ::build(py, &self.shared, head, conn, link)
            .and_then(|env| self.callable.bind(py).call1((env, &responder)));
        let responder = responder.get();
        let body = match result {
            Ok(body) => body,
            Err(err) => {
                return log_app_error(py, "calling the application", &err, responder.head_sent());
            }
        };
        let outcome = self.send_body(py, responder, &body);
        // PEP 3333: close() is called whatever happened, even if the client went away.
        if let Ok(close) = body.getattr(pyo3::intern!(py, "close")) {
            if let Err(err) = close.call0() {
                let sent = responder.head_sent();
                return log_app_error(py, "closing the response iterable", &err, sent);
            }
        } else {
            // getattr failed because there is no close(): nothing to call. Clear the
            // AttributeError it raised.
            let _ = PyErr::take(py);
        }
        outcome
    }

    /// Iterates the app's body and sends it; the caller closes it.
    fn send_body(&self, py: Python<'_>, responder: &Responder, body: &Bound<'_, PyAny>) -> Outcome {
        if let Ok(wrapper) = body.cast::<FileWrapper>() {
            if let Some(outcome) = self.send_file(py, responder, wrapper) {
                return outcome;
            }
        }
        let known_length = known_length(body);
        let iter = match body.try_iter() {
            Ok(iter) => iter,
            Err(err) => return log_app_error(py, "iterating the response", &err, false),
        };
        for item in iter {
            match item.and_then(|item| responder.send_chunk(py, &item, known_length)) {
                Ok(Progress::More) => {}
                Ok(Progress::Enough) => break,
                Ok(Progress::Gone) => return Outcome::Aborted,
                Err(err) => {
                    let sent = responder.head_sent();
                    return log_app_error(py, "iterating the response", &err, sent);
                }
            }
        }
        responder.finish(py, known_length)
    }

    /// Sends a `wsgi.file_wrapper` body with sendfile; `None` if the file has no usable
    /// descriptor, in which case the caller iterates it like any body.
    fn send_file(
        &self,
        py: Python<'_>,
        responder: &Responder,
        wrapper: &Bound<'_, FileWrapper>,
    ) -> Option<Outcome> {
        let file = wrapper.borrow().sendable(py)?;
        let known = file.remaining;
        match responder.send_file(py, file) {
            Ok(Progress::Gone) => Some(Outcome::Aborted),
            Ok(_) => Some(responder.finish(py, Some(known))),
            Err(err) => Some(log_app_error(
                py,
                "sending the file",
                &err,
                responder.head_sent(),
            )),
        }
    }
}

/// The total body length when the body is a list or tuple of bytes (PEP 3333 lets the server
/// add Content-Length when it can compute it, which saves chunked framing).
fn known_length(body: &Bound<'_, PyAny>) -> Option<u64> {
    fn sum<'py>(mut items: impl Iterator<Item = Bound<'py, PyAny>>) -> Option<u64> {
        items.try_fold(0u64, |acc, item| {
            item.cast::<PyBytes>()
                .ok()
                .map(|b| acc + b.as_bytes().len() as u64)
        })
    }
    // Exact types only: a subclass may override __iter__ and yield something else.
    if let Ok(list) = body.cast_exact::<PyList>() {
        sum(list.iter())
    } else if let Ok(tuple) = body.cast_exact::<PyTuple>() {
        sum(tuple.iter())
    } else {
        None
    }
}

/// Logs an application error with its traceback and says how the request ends.
fn log_app_error(py: Python<'_>, during: &str, err: &PyErr, head_sent: bool) -> Outcome {
    let traceback = format_exception(py, err);
    tracing::error!("error while {during}:\n{}", traceback.trim_end());
    if head_sent {
        Outcome::Aborted
    } else {
        Outcome::FailedBeforeHead
    }
}

/// Formats an exception like the interpreter would print it. Uses `traceback` rather than
/// `PyErr::print`, which would also keep the last exception (and every frame it references)
/// alive in `sys.last_value`.
pub(crate) fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import(pyo3::intern!(py, "traceback"))
        .and_then(|tb| tb.call_method1("format_exception", (err.value(py),)))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat(),
        Err(_) => format!("{err}\n"),
    }
}
