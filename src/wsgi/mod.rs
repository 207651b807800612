//! The WSGI (PEP 3333) layer: the only code that touches Python.
//!
//! [`App::start`] begins one request: it builds the environ, calls the application with a
//! `start_response` ([`responder`]) and iterates the returned body into the [`Transport`] until
//! the body ends or the transport says its client is behind ([`Flow::Full`]). A paused
//! [`Call`] is resumed by the I/O driver once the client has taken the buffered bytes, so a
//! slow reader costs a buffer, not a thread. The body's `close()` is always called.
//! The WSGI layer sees the connection only through the [`Transport`] trait, which the I/O
//! driver implements; every transport call that may do I/O is made with the GIL released.
//! Calls that only queue bytes (the head, a small last chunk, the end of the response) are
//! made with the GIL held, so a small response costs one GIL hand-off, not three, and the
//! driver writes it once the call has returned ([`Transport::queue_body`]).
//!
//! Rule: the transport's mutex is only ever waited for with the GIL released
//! ([`with_transport`], [`Call::with_transport`]); with the GIL held it is only tried
//! ([`try_with_transport`]). A thread holding it never waits for the GIL, so the two locks
//! cannot deadlock.

mod app_loader;
pub mod config_file;
mod environ;
mod environ_gateway;
mod environ_reuse;
mod errors;
mod file_wrapper;
pub mod hooks;
mod input;
pub mod interp;
pub mod interrupt;
mod native;
mod reload_wake;
pub mod reloader;
mod responder;
pub mod stack_pipe;

pub(crate) use app_loader::prepend_sys_path;
pub use environ::ConnView;

use crate::http::body::BodyFraming;
use crate::http::request::RequestHead;
use crate::http::response::ResponseHead;
use crate::proxy::underscore::Underscores;
use file_wrapper::FileWrapper;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyTuple};
use responder::{Progress, Queue, StartResponse};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What the WSGI layer needs from a connection. Implemented by the I/O driver.
pub trait Transport: Send + 'static {
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
    /// Sends up to `count` bytes of `file` from `offset` (to the end of the file when
    /// `None`), with sendfile(2) where the framing allows. The transport keeps the descriptor
    /// while the client is behind and says so with [`Flow::Full`]; [`Flow::Enough`] once it
    /// has all been sent.
    fn send_file(&mut self, file: OwnedFd, offset: u64, count: Option<u64>) -> io::Result<Flow>;
    /// Queues body bytes for the driver to send once the call returns, when that needs no
    /// I/O now: the rest of the body is already in memory (`at_hand`: a list the app
    /// returned) or these bytes end it, and they are small. Called with the GIL held, so it
    /// must never block. `None`: send them with [`Transport::send_body`] instead.
    fn queue_body(&mut self, _data: &[u8], _at_hand: bool) -> Option<io::Result<Flow>> {
        None
    }
    /// Ends the response (chunked terminator). Bytes the client has not taken yet may stay
    /// buffered for the driver to send.
    fn finish(&mut self) -> io::Result<()>;
    /// Ends the response by queueing what is left for the driver to send once the call
    /// returns; like [`Transport::queue_body`], never blocks. `None`: use
    /// [`Transport::finish`].
    fn queue_finish(&mut self) -> Option<io::Result<()>> {
        None
    }
    /// Waits until every buffered byte has been sent (bounded by the driver's send timeout).
    /// Used by `write()`, which PEP 3333 lets block.
    fn flush(&mut self) -> io::Result<()>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    #[inline]
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_body(buf)
    }
    #[inline]
    fn send_head(&mut self, head: ResponseHead, known_length: Option<u64>) -> io::Result<()> {
        (**self).send_head(head, known_length)
    }
    #[inline]
    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow> {
        (**self).send_body(data)
    }
    #[inline]
    fn send_file(&mut self, file: OwnedFd, offset: u64, count: Option<u64>) -> io::Result<Flow> {
        (**self).send_file(file, offset, count)
    }
    #[inline]
    fn queue_body(&mut self, data: &[u8], at_hand: bool) -> Option<io::Result<Flow>> {
        (**self).queue_body(data, at_hand)
    }
    #[inline]
    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
    #[inline]
    fn queue_finish(&mut self) -> Option<io::Result<()>> {
        (**self).queue_finish()
    }
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
}

/// Whether the response wants more body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep sending.
    More,
    /// The body is complete as far as the wire is concerned; stop producing it.
    Enough,
    /// Accepted, but the client is behind: pause producing until the driver has sent the
    /// buffered bytes, then resume the [`Call`].
    Full,
}

/// The transport of the request in progress, as its [`Call`] holds it. Emptied when the
/// request ends, so Python objects that outlive it (an app that keeps `environ`) find it
/// closed (see the `Option` transport) instead of reaching the next request.
type Held<T> = Arc<Mutex<Option<T>>>;

/// The same transport as `wsgi.input` and `start_response`'s `write()` reach it, whatever
/// its type (Python classes cannot be generic): the held `Option<T>`, unsized.
pub(crate) type Link = Arc<Mutex<dyn Transport>>;

/// A transport whose request has ended: every operation fails (or declines), as for a
/// client that is gone.
impl<T: Transport> Transport for Option<T> {
    #[inline]
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.as_mut().ok_or_else(ended)?.read_body(buf)
    }
    #[inline]
    fn send_head(&mut self, head: ResponseHead, known_length: Option<u64>) -> io::Result<()> {
        self.as_mut()
            .ok_or_else(ended)?
            .send_head(head, known_length)
    }
    #[inline]
    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow> {
        self.as_mut().ok_or_else(ended)?.send_body(data)
    }
    #[inline]
    fn send_file(&mut self, file: OwnedFd, offset: u64, count: Option<u64>) -> io::Result<Flow> {
        self.as_mut()
            .ok_or_else(ended)?
            .send_file(file, offset, count)
    }
    #[inline]
    fn queue_body(&mut self, data: &[u8], at_hand: bool) -> Option<io::Result<Flow>> {
        self.as_mut()?.queue_body(data, at_hand)
    }
    #[inline]
    fn finish(&mut self) -> io::Result<()> {
        self.as_mut().ok_or_else(ended)?.finish()
    }
    #[inline]
    fn queue_finish(&mut self) -> Option<io::Result<()>> {
        self.as_mut()?.queue_finish()
    }
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        self.as_mut().ok_or_else(ended)?.flush()
    }
}

/// The held transport's guard. A panic while sending poisons the mutex; the transport itself
/// is still consistent enough to be closed, which is all that happens after an error.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The error of an operation on a transport whose request has ended.
fn ended() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the request this object belonged to has ended",
    )
}

/// Runs `f` on the transport with the GIL released.
pub(crate) fn with_transport<R: Send>(
    py: Python<'_>,
    link: &Link,
    f: impl FnOnce(&mut dyn Transport) -> io::Result<R> + Send,
) -> io::Result<R> {
    py.detach(|| f(&mut *lock(link)))
}

/// Runs `f` on the transport with the GIL held, if its mutex is free: for operations that
/// only queue bytes. `None` when another thread holds it (waiting would hold the GIL).
pub(crate) fn try_with_transport<R>(
    link: &Link,
    f: impl FnOnce(&mut dyn Transport) -> Option<io::Result<R>>,
) -> Option<io::Result<R>> {
    let mut guard = match link.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    f(&mut *guard)
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
    /// What becomes of header names with `_` (`--header-map`, `--forwarder-headers`).
    pub underscores: Underscores,
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
    /// `--soft-timeout`'s exception ended the app before anything was sent: the driver
    /// answers 504.
    TimedOut,
}

impl Outcome {
    /// The app failed before a response head was sent (the driver answers for it).
    pub fn failed_before_head(self) -> bool {
        matches!(self, Outcome::FailedBeforeHead | Outcome::TimedOut)
    }
}

/// A loaded WSGI application and the per-worker objects every environ shares.
pub struct App {
    callable: Py<PyAny>,
    environ: environ::EnvironTemplate,
    /// A finished request's transport slot and `start_response` pair, nothing else holding
    /// them, for the next request (see [`App::end`]): a `Box<Option<Spare<T>>>` for the
    /// transport type `T` the driver uses, allocated once.
    spare: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

/// A transport slot and the `start_response` pair bound to it, ready for another request.
type Spare<T> = (Held<T>, StartResponse);

/// The application could not be loaded.
#[derive(Debug)]
pub struct AppLoadError {
    /// The app spec as configured.
    pub spec: String,
    /// The Python traceback, formatted.
    pub traceback: String,
    /// The files the failure points at (what `--reload` watches to retry).
    pub files: Vec<std::path::PathBuf>,
}

impl std::fmt::Display for AppLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to load app '{}'", self.spec)
    }
}

impl std::error::Error for AppLoadError {}

impl App {
    /// Loads the app `python` names (`module:expr`, or `--paste`'s), after putting
    /// `path_entries` at the front of `sys.path`. The interpreter must be initialised
    /// ([`interp::initialize`]).
    pub fn load(
        python: &crate::config::PythonSettings,
        path_entries: &[String],
        server: ServerInfo,
    ) -> Result<App, AppLoadError> {
        let spec = &python.app;
        Python::attach(|py| {
            let loaded = app_loader::prepend_sys_path(py, path_entries)
                .and_then(|()| app_loader::load(py, python))
                .and_then(|callable| Ok((callable, environ::EnvironTemplate::new(py, server)?)));
            match loaded {
                Ok((callable, environ)) => Ok(App {
                    callable: callable.unbind(),
                    environ,
                    spare: Mutex::new(None),
                }),
                Err(err) => Err(AppLoadError {
                    spec: spec.to_owned(),
                    traceback: format_exception(py, &err),
                    files: crate::wsgi::reloader::files_of_error(py, &err),
                }),
            }
        })
    }

    /// An app that answers every request with 500 and the traceback of `error` (`--reload`
    /// keeps serving while the developer fixes the import).
    pub fn failed_import(error: &AppLoadError, server: ServerInfo) -> Result<App, String> {
        Python::attach(|py| {
            let text = format!("{error}\n\n{}", error.traceback);
            let made = crate::wsgi::reloader::error_app(py, &text)
                .and_then(|callable| Ok((callable, environ::EnvironTemplate::new(py, server)?)));
            match made {
                Ok((callable, environ)) => Ok(App {
                    callable: callable.unbind(),
                    environ,
                    spare: Mutex::new(None),
                }),
                Err(err) => Err(format_exception(py, &err)),
            }
        })
    }

    /// Begins serving one request: calls the app with `transport` as its connection and
    /// sends its response until it ends or the transport is full. The returned [`Call`] holds
    /// the transport until [`Call::into_transport`].
    pub fn start<T: Transport>(&self, request: Request<'_>, transport: T) -> (Call<T>, Step) {
        let (held, responder) = match self.take_spare::<T>() {
            Some((held, responder)) => {
                // Nothing else holds the slot (see `end`): it is this request's alone.
                *lock(&held) = Some(transport);
                responder.get().reset();
                (held, Some(responder))
            }
            None => (Arc::new(Mutex::new(Some(transport))), None),
        };
        let mut call = Call {
            held,
            running: None,
            outcome: Outcome::Complete,
            reusable: None,
        };
        // The request's Python objects share the call's transport, type-erased.
        let link: Link = call.held.clone();
        let step = Python::attach(|py| match self.begin(py, &request, link, responder) {
            Ok((running, paused)) => {
                call.running = Some(running);
                if paused {
                    Step::Paused
                } else {
                    call.advance(py)
                }
            }
            Err(outcome) => {
                call.outcome = outcome;
                Step::Done(outcome)
            }
        });
        (call, step)
    }

    /// Ends a call [`App::start`] began and takes its transport back, as
    /// [`Call::into_transport`] does; keeps the transport slot and `start_response` pair
    /// for the next request when nothing else holds them (an app that kept
    /// `start_response`, `write` or `wsgi.input` keeps them to itself).
    pub fn end<T: Transport>(&self, mut call: Call<T>) -> T {
        call.abort_if_running();
        let transport = lock(&*call.held)
            .take()
            .expect("the transport is only taken here, once per call");
        // The call's reference and the pair's link: no other.
        let spare = call
            .reusable
            .take()
            .filter(|_| Arc::strong_count(&call.held) == 2)
            .map(|responder| (call.held.clone(), responder));
        // The call lets go of the slot (its drop locks it) before another thread can take
        // the slot from the spare and put its own transport in.
        drop(call);
        if let Some(spare) = spare {
            self.keep_spare(spare);
        }
        transport
    }

    /// The kept slot and pair, if there is one for transport type `T`.
    fn take_spare<T: Transport>(&self) -> Option<Spare<T>> {
        let mut slot = self.spare.try_lock().ok()?;
        slot.as_mut()?.downcast_mut::<Option<Spare<T>>>()?.take()
    }

    /// Keeps `spare` for the next request, unless one is kept already (several threads).
    fn keep_spare<T: Transport>(&self, spare: Spare<T>) {
        let Ok(mut slot) = self.spare.try_lock() else {
            return;
        };
        match slot.as_mut() {
            Some(kept) => {
                if let Some(kept @ None) = kept.downcast_mut::<Option<Spare<T>>>() {
                    *kept = Some(spare);
                }
            }
            None => *slot = Some(Box::new(Some(spare))),
        }
    }

    /// Calls the application and, for a `wsgi.file_wrapper` body, hands the file to the
    /// transport (`true`: it is still sending). The error is how the request ends when it
    /// fails before the body could be iterated. `responder` is a kept pair already bound
    /// to `link`'s slot.
    fn begin(
        &self,
        py: Python<'_>,
        request: &Request<'_>,
        link: Link,
        responder: Option<StartResponse>,
    ) -> Result<(Running, bool), Outcome> {
        let input = (request.head.framing != BodyFraming::Empty).then(|| link.clone());
        let responder = match responder {
            Some(kept) => kept,
            None => StartResponse::new(py, link)
                .map_err(|err| log_app_error(py, "creating start_response", &err, false))?,
        };
        // None (and no Python work) unless pre_request or post_request is defined.
        let hooked = crate::wsgi::hooks::pre_request(py, request.head, responder.callable(py));
        let start_response = match hooked.as_ref().and_then(|h| h.recorder.as_ref()) {
            Some(recorder) => recorder.bind(py).clone(),
            None => responder.callable(py).clone(),
        };
        let mut environ = None;
        let mut keeper = None;
        let result = environ::build(py, &self.environ, request, input).and_then(|(env, kept)| {
            if hooked.is_some() {
                environ = Some(env.clone().into_any().unbind());
            }
            keeper = kept;
            self.callable.bind(py).call1((env, &start_response))
        });
        let hooked = hooked.map(|hooks| {
            Box::new(Hooked {
                hooks,
                environ: environ.unwrap_or_else(|| py.None()),
            })
        });
        let body = match result {
            Ok(body) => body,
            Err(err) => {
                let sent = responder.get().head_sent();
                let outcome = log_app_error(py, "calling the application", &err, sent);
                if let Some(h) = &hooked {
                    let failed = outcome.failed_before_head();
                    crate::wsgi::hooks::post_request(py, &h.hooks, h.environ.bind(py), failed);
                }
                return Err(outcome);
            }
        };
        let mut running = Running {
            responder,
            body: body.clone().unbind(),
            iter: None,
            known_length: None,
            at_hand: body.is_exact_instance_of::<PyList>()
                || body.is_exact_instance_of::<PyTuple>(),
            hooked,
            keeper,
        };
        if let Ok(wrapper) = body.cast::<FileWrapper>() {
            if let Some(file) = wrapper.borrow().sendable(py) {
                running.known_length = Some(file.remaining);
                // Sent (or queued) now; with no iterator, `advance` only finishes.
                return match running.responder.get().send_file(py, file) {
                    Ok(Progress::Gone) => Err(close_body(py, &running, Outcome::Aborted)),
                    Ok(Progress::Full) => Ok((running, true)),
                    Ok(_) => Ok((running, false)),
                    Err(err) => {
                        let sent = running.responder.get().head_sent();
                        let outcome = log_app_error(py, "sending the file", &err, sent);
                        Err(close_body(py, &running, outcome))
                    }
                };
            }
        }
        running.known_length = known_length(&body);
        match body.try_iter() {
            Ok(iter) => running.iter = Some(iter.unbind()),
            Err(err) => {
                let outcome = log_app_error(py, "iterating the response", &err, false);
                return Err(close_body(py, &running, outcome));
            }
        }
        Ok((running, false))
    }
}

/// What the request needs besides the transport.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The parsed request head.
    pub head: &'a RequestHead,
    /// The connection, as the environ sees it.
    pub conn: &'a ConnView,
    /// The body's total size when it was received whole before the call (request
    /// buffering): the app then sees it as `CONTENT_LENGTH` even for a chunked request.
    pub body_length: Option<u64>,
    /// The request's ID (`--request-id-header`): its environ key (`HTTP_X_REQUEST_ID`) and
    /// value, which replaces whatever the client sent under that key.
    pub request_id: Option<(&'a str, &'a [u8])>,
}

/// Where a [`Call`] stands after [`App::start`] or [`Call::resume`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The transport is full: resume once the client has taken the buffered bytes.
    Paused,
    /// The response is produced and the body closed; the transport may still hold bytes
    /// to send.
    Done(Outcome),
}

/// One request in progress: the response iterable and the transport it writes to.
pub struct Call<T: Transport> {
    held: Held<T>,
    /// The Python side, until the body is closed.
    running: Option<Running>,
    /// How it ended, once `running` is gone.
    outcome: Outcome,
    /// The `start_response` pair once the request is over, when nothing else holds it.
    reusable: Option<StartResponse>,
}

/// The Python objects of a response being produced.
struct Running {
    responder: StartResponse,
    /// The app's return value, whose `close()` ends the request.
    body: Py<PyAny>,
    /// Its iterator; `None` for a body sent as a file (only finishing is left).
    iter: Option<Py<PyIterator>>,
    known_length: Option<u64>,
    /// The body is a list or tuple: all of it is in memory, so small chunks are queued for
    /// one write after the call instead of written one by one.
    at_hand: bool,
    /// The request as the request hooks see it, when `pre_request`/`post_request` exist.
    hooked: Option<Box<Hooked>>,
    /// What keeps the environ for the connection's next request, when it may serve it.
    keeper: Option<environ_reuse::Keeper>,
}

/// What `post_request` needs at the end of the request.
struct Hooked {
    hooks: crate::wsgi::hooks::RequestHooks,
    environ: Py<PyAny>,
}

impl<T: Transport> Call<T> {
    /// Continues a paused response (with the GIL, which this takes).
    pub fn resume(&mut self) -> Step {
        Python::attach(|py| self.advance(py))
    }

    /// Ends the response early because the client is gone or too slow: closes the body.
    pub fn abort(&mut self) {
        if let Some(running) = self.running.take() {
            Python::attach(|py| {
                self.outcome = close_body(py, &running, Outcome::Aborted);
                drop(running);
            });
        }
        self.outcome = Outcome::Aborted;
    }

    /// Runs `f` on the transport; call it without holding the GIL (the I/O driver's loop,
    /// flushing a paused response).
    pub fn with_transport<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        lock(&*self.held).as_mut().map(f)
    }

    /// Takes the transport back once the call is done; later use of the request's Python
    /// objects (an app that kept `environ`) finds the connection closed.
    pub fn into_transport(mut self) -> T {
        self.abort_if_running();
        lock(&*self.held)
            .take()
            .expect("the transport is only taken here, once per call")
    }

    fn abort_if_running(&mut self) {
        if self.running.is_some() {
            self.abort();
        }
    }

    /// Iterates the body until it ends or the transport fills up.
    fn advance(&mut self, py: Python<'_>) -> Step {
        let Some(running) = self.running.as_ref() else {
            return Step::Done(self.outcome);
        };
        let responder = running.responder.get();
        let known_length = running.known_length;
        let queue = if running.at_hand {
            Queue::AtHand
        } else {
            Queue::IfLast
        };
        let ended = match running.iter.as_ref() {
            None => responder.finish(py, known_length),
            Some(iter) => {
                let mut iter = iter.bind(py).clone();
                loop {
                    // The iterator's own error and a rejected chunk end the same way.
                    let sent = match iter.next() {
                        None => Ok(Progress::Enough),
                        Some(item) => item.and_then(|item| {
                            if let Some(h) = &running.hooked {
                                let len =
                                    item.cast::<PyBytes>().map_or(0, |b| b.len().unwrap_or(0));
                                h.hooks.sent.set(h.hooks.sent.get() + len as u64);
                            }
                            responder.send_chunk(py, &item, known_length, queue)
                        }),
                    };
                    match sent {
                        Ok(Progress::More) => {}
                        Ok(Progress::Full) => return Step::Paused,
                        Ok(Progress::Enough) => break responder.finish(py, known_length),
                        Ok(Progress::Gone) => break Outcome::Aborted,
                        Err(err) => {
                            let sent = responder.head_sent();
                            break log_app_error(py, "iterating the response", &err, sent);
                        }
                    }
                }
            }
        };
        let running = self.running.take().expect("checked above");
        self.outcome = close_body(py, &running, ended);
        let Running {
            responder,
            body,
            iter,
            hooked,
            keeper,
            ..
        } = running;
        drop((body, iter, hooked));
        if let Some(keeper) = keeper {
            keeper.release(py);
        }
        // The body, its iterator and the hooks' objects are gone now: what still holds
        // the pair is the app's.
        if responder.unshared(py) {
            self.reusable = Some(responder);
        }
        Step::Done(self.outcome)
    }
}

impl<T: Transport> Drop for Call<T> {
    fn drop(&mut self) {
        // A call dropped mid-response (the worker stopping) still closes the app's body.
        self.abort_if_running();
        // And lets go of the transport as `into_transport` does: Python objects the app kept
        // would otherwise keep the connection (its socket) open and reachable. With none
        // left (the usual case) the transport goes with the Arc, and nothing is locked.
        if Arc::strong_count(&self.held) > 1 {
            drop(lock(&self.held).take());
        }
    }
}

/// Calls the body's `close()` (PEP 3333: whatever happened, even if the client went away);
/// returns the request's outcome, which a failing `close()` turns into a failure.
fn close_body(py: Python<'_>, running: &Running, outcome: Outcome) -> Outcome {
    let outcome = close_body_only(py, running, outcome);
    if let Some(h) = &running.hooked {
        let failed = outcome.failed_before_head();
        crate::wsgi::hooks::post_request(py, &h.hooks, h.environ.bind(py), failed);
    }
    outcome
}

fn close_body_only(py: Python<'_>, running: &Running, outcome: Outcome) -> Outcome {
    let body = running.body.bind(py);
    // The common bodies have no close(); asking would raise (and format) an AttributeError.
    if body.is_exact_instance_of::<PyList>() || body.is_exact_instance_of::<PyTuple>() {
        return outcome;
    }
    match body.getattr(pyo3::intern!(py, "close")) {
        Ok(close) => match close.call0() {
            Ok(_) => outcome,
            Err(err) => {
                let sent = running.responder.get().head_sent();
                let failed = log_app_error(py, "closing the response iterable", &err, sent);
                if outcome == Outcome::Complete {
                    failed
                } else {
                    outcome
                }
            }
        },
        Err(_) => {
            // No close(): nothing to call. getattr raised AttributeError; drop it.
            let _ = PyErr::take(py);
            outcome
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
    let timed_out = interrupt::is_request_timeout(py, err);
    if timed_out {
        tracing::error!(
            target: crate::logging::error::EXCEPTION,
            "request timed out (--soft-timeout) while {during}; {}:\n{}",
            if head_sent {
                "closing the connection"
            } else {
                "answering 504"
            },
            traceback.trim_end()
        );
    } else {
        tracing::error!(
            target: crate::logging::error::EXCEPTION,
            "error while {during}:\n{}",
            traceback.trim_end()
        );
    }
    match (head_sent, timed_out) {
        (true, _) => Outcome::Aborted,
        (false, true) => Outcome::TimedOut,
        (false, false) => Outcome::FailedBeforeHead,
    }
}

/// Formats an exception like the interpreter would print it. Uses `traceback` rather than
/// `PyErr::print`, which would also keep the last exception (and every frame it references)
/// alive in `sys.last_value`.
pub(crate) fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import(pyo3::intern!(py, "traceback"))
        // Type, value and traceback separately: before Python 3.12 a fetched exception's
        // value need not carry its __traceback__.
        .and_then(|tb| {
            tb.call_method1(
                "format_exception",
                (err.get_type(py), err.value(py), err.traceback(py)),
            )
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat(),
        Err(_) => format!("{err}\n"),
    }
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests;
