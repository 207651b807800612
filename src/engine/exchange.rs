//! The socket side of one connection: its read buffer, the request in progress and the bytes
//! owed to the client. It is the [`Transport`] the WSGI layer writes responses into.
//!
//! The socket is non-blocking. On the event loop thread (`--threads 1`) nothing here ever
//! waits for the client: response bytes the socket will not take are kept, and once more
//! than [`HIGH_WATER`] are waiting the transport answers [`Flow::Full`], so the loop pauses
//! the response and resumes it when the client has caught up. On a pool thread
//! (`blocking`), the transport waits for the socket itself (poll(2), bounded by
//! `--send-timeout`), so a slow reader holds only its own thread.
//!
//! With TLS ([`Session`]) every read and write goes through the connection's rustls session
//! instead of the socket; the plain path only checks that there is none. A file cannot be
//! sent with sendfile(2) then: it is read and encrypted a record at a time.
//!
//! Memory per connection is bounded by the read buffer (16 KiB, growing for a large request
//! head, at most the head limits, and to 64 KiB more while a body is read), the request body
//! in memory (at most `--body-buffer-size`; beyond it, a temporary file) and the unsent
//! response bytes (at most [`HIGH_WATER`] plus the one body chunk the app just yielded;
//! under TLS, plus one write's worth of records queued in the session).

use super::abort::Slot;
use super::spool::BodyReader;
use super::{Beat, Shared};
use crate::http::body::{BodyDecoder, BodyFraming, Decoded};
use crate::http::request::RequestHead;
use crate::http::response::{
    self, BodyEncoder, Exchange as Terms, Framed, Framing, HttpDate, ResponseFraming, ResponseHead,
};
use crate::http::{HttpError, Version};
use crate::listen::Stream;
use crate::tls::Session;
use crate::wsgi::{ConnView, Flow, Outcome, Transport};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The read buffer starts this large and grows only for unusually large request heads.
const INITIAL_BUFFER: usize = 16 * 1024;
/// Free space made available before each socket read of a request head.
const READ_CHUNK: usize = 16 * 1024;
/// Free space made available before each socket read of a request body: larger, so an
/// upload takes fewer system calls (the buffer only grows on connections that upload).
const BODY_READ_CHUNK: usize = 64 * 1024;
/// Unsent response bytes beyond which the app's iterable is paused.
pub const HIGH_WATER: usize = 64 * 1024;
/// The response buffer's usual size: a head and a small body.
const OUT_BUFFER: usize = 1024;
/// The most response bytes queued for the driver to send after the call
/// ([`Transport::queue_body`]) rather than written from it: copying this much costs less
/// than the GIL hand-off and the system call of a write from the call.
const QUEUE_MAX: usize = 16 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A growable byte buffer with a consumed prefix: bytes `data[start..]` are unread. Its
/// free space is the vector's spare capacity, which is never zeroed: the kernel fills it
/// (zeroing 16 KiB per connection cost more than the rest of accepting it).
#[derive(Debug)]
pub struct ReadBuf {
    data: Vec<u8>,
    start: usize,
}

impl ReadBuf {
    fn new() -> ReadBuf {
        ReadBuf {
            data: Vec::with_capacity(INITIAL_BUFFER),
            start: 0,
        }
    }
    /// The unread bytes.
    pub fn data(&self) -> &[u8] {
        &self.data[self.start..]
    }
    /// Whether no bytes are unread.
    pub fn is_empty(&self) -> bool {
        self.start == self.data.len()
    }
    /// Whether the unread bytes reach `max` (a head that big cannot be valid).
    pub fn is_full(&self, max: usize) -> bool {
        self.data.len() - self.start >= max
    }
    /// Marks `n` unread bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.data.len() {
            self.start = 0;
            self.data.clear();
        }
    }
    /// Makes at least `want` bytes of free space after the unread bytes, moving the unread
    /// bytes to the front first and growing only when that is not enough.
    #[inline]
    fn reserve(&mut self, want: usize) {
        if self.data.capacity() - self.data.len() < want && self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.reserve_exact(want);
    }
    /// Gives back space grown beyond the initial size (for a request body) once nothing is
    /// unread.
    fn shrink_if_empty(&mut self) {
        if self.is_empty() && self.data.capacity() > INITIAL_BUFFER {
            self.data = Vec::with_capacity(INITIAL_BUFFER);
            self.start = 0;
        }
    }
    /// Appends the plaintext `tls` has for us, reading the socket as needed.
    #[cold]
    fn read_tls(&mut self, tls: &mut Session, sock: &Stream, want: usize) -> io::Result<usize> {
        self.reserve(want);
        tls.fill(sock, &mut self.data, want)
    }
    /// One read(2) from `fd` into at least `want` bytes of free space.
    fn read_from(&mut self, fd: BorrowedFd<'_>, want: usize) -> io::Result<usize> {
        self.reserve(want);
        let spare = self.data.spare_capacity_mut();
        // SAFETY: the pointer and length describe the vector's spare capacity, memory it owns
        // and nothing else references during the call; read(2) writes at most that many bytes.
        let n = unsafe { nix::libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: read(2) initialised exactly the `n` bytes after the current length.
        unsafe { self.data.set_len(self.data.len() + n) };
        Ok(n)
    }
}

/// Whether the client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Continue {
    /// No `Expect: 100-continue`, or the interim response went out already.
    NotExpected,
    /// The client is waiting; send it on the app's first body read.
    Waiting,
}

/// Where the app's `wsgi.input` reads from.
#[derive(Debug)]
pub enum Body {
    /// The whole body, received before the call (request buffering).
    Buffered(BodyReader),
    /// The socket, decoded as the app reads (request buffering off).
    Streaming {
        /// Decodes the body framing from the read buffer.
        decoder: BodyDecoder,
        /// Decoded body bytes in the read buffer not yet handed to the app.
        pending: (usize, usize),
        /// Body bytes decoded so far, for `--limit-request-body`.
        received: u64,
    },
}

/// A file handed over by `wsgi.file_wrapper`, being sent with sendfile(2).
#[derive(Debug)]
struct PendingFile {
    fd: OwnedFd,
    offset: i64,
    remaining: u64,
}

/// One connection's socket and protocol state.
pub struct Exchange {
    sock: Stream,
    /// The TLS session, on a TLS listener.
    tls: Option<Box<Session>>,
    /// Bytes received and not yet consumed.
    pub rbuf: ReadBuf,
    /// The request's view of its connection (the connection's own, or one its trusted proxy
    /// headers changed), for the environ and the access log.
    pub view: Arc<ConnView>,
    /// How many unread bytes have been searched for the end of the head: the parser rescans
    /// from the start, so it runs only when the head may be complete, never per byte
    /// received (a client trickling a large head one byte at a time would cost O(n²)).
    head_scanned: usize,
    /// Where the line being received starts among the unread bytes (after the last LF
    /// scanned): a line over its limit is refused as soon as it is, not once the whole
    /// head's worth of bytes has been buffered.
    line_start: usize,
    /// The parser has seen this request's first data.
    looked: bool,
    shared: Arc<Shared>,
    /// Wait for the socket instead of answering [`Flow::Full`] (pool threads).
    pub blocking: bool,
    /// Progress reports for the master's timeout watchdog while a request runs.
    pub beat: Option<Beat>,
    /// The running thread's in-flight entry: told when response bytes go out (after which
    /// a timeout abort can no longer answer 504).
    pub inflight: Option<Arc<Slot>>,
    date: HttpDate,
    terms: Terms,
    body: Body,
    expect: Continue,
    /// Why the body could not be read, when that is the client's fault.
    pub body_error: Option<HttpError>,
    /// Bytes of a body the app did not read, discarded so far to keep the connection.
    drained: u64,
    out: Vec<u8>,
    /// Bytes of `out` already sent.
    sent: usize,
    file: Option<PendingFile>,
    encoder: Option<BodyEncoder>,
    framing: Option<Framing>,
    /// Set when something makes the connection unusable after this exchange.
    must_close: bool,
    /// When the request in progress began (its first byte was handled): the access log's
    /// duration runs from here.
    pub started: Instant,
    /// When a pool thread finished the request: its result may reach the loop (and the
    /// access log) much later, when the connection's next request comes or at a sweep.
    pub ended: Option<Instant>,
    /// What the response has been so far, for the access log.
    pub response: Responded,
}

/// What the access log needs to know about a response: recorded as it goes out, because
/// only the transport sees what really went to the client (a 500 the server substituted,
/// the bytes a HEAD or a 304 did not carry).
#[derive(Debug, Default)]
pub struct Responded {
    /// The status of the head sent (0: none yet).
    pub status: u16,
    /// Body bytes handed to the socket, without headers or chunk framing.
    pub body_bytes: u64,
    /// The head as the application set it (kept for `{header}o` atoms).
    pub head: Option<ResponseHead>,
}

impl Exchange {
    /// Wraps an accepted, non-blocking socket.
    pub fn new(sock: Stream, view: Arc<ConnView>, shared: Arc<Shared>) -> Exchange {
        Exchange {
            sock,
            tls: None,
            rbuf: ReadBuf::new(),
            view,
            head_scanned: 0,
            line_start: 0,
            looked: false,
            shared,
            blocking: false,
            beat: None,
            inflight: None,
            date: HttpDate::new(SystemTime::now()),
            terms: Terms {
                head_request: false,
                version: Version::Http11,
                keep_alive: false,
                server_close: false,
            },
            body: Body::Buffered(BodyReader::empty()),
            expect: Continue::NotExpected,
            body_error: None,
            drained: 0,
            out: Vec::with_capacity(OUT_BUFFER),
            sent: 0,
            file: None,
            encoder: None,
            framing: None,
            must_close: false,
            started: Instant::now(),
            ended: None,
            response: Responded::default(),
        }
    }

    /// Speaks TLS on this connection from its first byte.
    pub fn start_tls(&mut self, session: Session) {
        self.tls = Some(Box::new(session));
    }

    /// Whether the connection speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The socket, for the event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// The socket, when request bytes may be read from it directly (not under TLS).
    pub fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        self.tls.is_none().then(|| self.sock.as_fd())
    }

    /// Reads what the socket has into the read buffer, without waiting. `Ok(0)` is the end
    /// of the client's stream; `WouldBlock` means nothing is there yet. `body`: a request
    /// body is arriving, so read in larger pieces.
    pub fn fill(&mut self, body: bool) -> io::Result<usize> {
        let want = if body { BODY_READ_CHUNK } else { READ_CHUNK };
        if let Some(tls) = self.tls.as_deref_mut() {
            let read = self.rbuf.read_tls(tls, &self.sock, want);
            if let Err(e) = &read {
                if e.kind() == io::ErrorKind::InvalidData {
                    tracing::debug!("TLS error from {}: {e}", self.view.info.remote_addr);
                }
            }
            return read;
        }
        loop {
            match self.rbuf.read_from(self.sock.as_fd(), want) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Whether parsing the buffered bytes can produce an answer: the end of a head (blank
    /// line) arrived, this is the first data of a request (so garbage is refused at once),
    /// or the line being received is already longer than its limit (the request line's, or
    /// a field line's).
    pub fn head_may_be_complete(&mut self) -> bool {
        if !self.looked {
            // Straight to the parser: usually the whole head came in one read, and a scan
            // first would only read it twice. The scan starts if the parser wants more.
            self.looked = true;
            return true;
        }
        let data = self.rbuf.data();
        let from = self.head_scanned.saturating_sub(2);
        self.head_scanned = data.len();
        let mut blank_line = false;
        for (i, &b) in data[from..].iter().enumerate() {
            if b == b'\n' {
                self.line_start = from + i + 1;
                if ends_head(&data[self.line_start..]) {
                    blank_line = true;
                    break;
                }
            }
        }
        let limits = &self.shared.limits;
        let line_limit = if self.line_start == 0 {
            limits.request_line
        } else {
            limits.header_field_size
        };
        // Past its limit (CRLF aside), the line cannot be valid, and the parser says why.
        blank_line || data.len() - self.line_start > line_limit + 2
    }

    /// Consumes a parsed head of `len` bytes from the read buffer.
    pub fn consume_head(&mut self, len: usize) {
        self.rbuf.consume(len);
        self.head_scanned = 0;
        self.line_start = 0;
        self.looked = false;
    }

    /// Queues `100 Continue` for a client waiting for it before sending its body.
    pub fn send_continue(&mut self) -> io::Result<()> {
        self.push(CONTINUE, b"")
    }

    /// Resets the per-request state for a request about to be handed to the app.
    pub fn begin(&mut self, head: &RequestHead, draining: bool, body: Body) {
        self.date.refresh(SystemTime::now());
        self.terms = Terms {
            head_request: head.is_head(),
            version: head.version,
            keep_alive: head.keep_alive,
            server_close: draining || !self.shared.keep_alive,
        };
        // With request buffering the loop already answered any Expect: 100-continue.
        self.expect = match body {
            Body::Streaming { .. }
                if head.expect_continue && head.framing != BodyFraming::Empty =>
            {
                Continue::Waiting
            }
            _ => Continue::NotExpected,
        };
        self.body = body;
        self.body_error = None;
        self.drained = 0;
        self.encoder = None;
        self.framing = None;
        self.must_close = false;
        self.response.status = 0;
        self.response.body_bytes = 0;
        self.response.head = None;
    }

    /// Unsent response bytes (a pending file, or encrypted bytes queued in the TLS session,
    /// count as one byte: not done).
    pub fn unsent(&self) -> usize {
        self.out.len() - self.sent
            + usize::from(self.file.is_some())
            + usize::from(self.tls.as_ref().is_some_and(|t| t.pending()))
    }

    /// Sends what the socket takes now; `Ok(true)` once nothing is left to send.
    pub fn try_flush(&mut self) -> io::Result<bool> {
        if self.unsent() > 0 {
            self.claim_write()?;
        }
        if let Some(tls) = self.tls.as_deref_mut() {
            match tls.flush(&self.sock) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => return Err(self.broken(e)),
            }
        }
        while self.sent < self.out.len() {
            let written = match self.tls.as_deref_mut() {
                None => (&mut &self.sock).write(&self.out[self.sent..]),
                Some(tls) => tls.write(&self.sock, &self.out[self.sent..]),
            };
            match written {
                Ok(0) => return Err(self.broken(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(self.broken(e)),
            }
        }
        self.out_sent();
        while let Some(file) = self.file.as_mut() {
            if file.remaining == 0 {
                self.file = None;
                break;
            }
            if let Some(tls) = self.tls.as_deref_mut() {
                // sendfile(2) cannot encrypt: a record's worth at a time through the session.
                match send_file_block(tls, &self.sock, file) {
                    Ok(Some(0)) => {
                        self.file = None;
                        self.must_close = true;
                    }
                    Ok(Some(n)) => {
                        self.response.body_bytes += n as u64;
                        self.tick();
                    }
                    Ok(None) => return Ok(false),
                    Err(e) => return Err(self.broken(e)),
                }
                continue;
            }
            let want = file.remaining.min(1 << 30) as usize;
            match nix::sys::sendfile::sendfile64(&self.sock, &file.fd, Some(&mut file.offset), want)
            {
                // The file is shorter than it was: nothing more to send from it.
                Ok(0) => {
                    self.file = None;
                    self.must_close = true;
                }
                Ok(n) => {
                    file.remaining -= n as u64;
                    self.response.body_bytes += n as u64;
                    self.tick();
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return Ok(false),
                Err(e) => return Err(self.broken(e.into())),
            }
        }
        Ok(true)
    }

    /// Sends everything, waiting for the socket (at most `--send-timeout` per wait).
    pub fn flush_blocking(&mut self) -> io::Result<()> {
        while !self.try_flush()? {
            self.wait(PollFlags::POLLOUT, self.shared.send_timeout)?;
        }
        Ok(())
    }

    /// Waits until the socket is ready for `events`.
    fn wait(&mut self, events: PollFlags, limit: Option<Duration>) -> io::Result<()> {
        match self.beat.clone() {
            Some(beat) => beat.waiting_for_client(|| self.wait_for_socket(events, limit)),
            None => self.wait_for_socket(events, limit),
        }
    }

    /// [`Exchange::wait`], without telling the watchdog.
    fn wait_for_socket(&mut self, events: PollFlags, limit: Option<Duration>) -> io::Result<()> {
        let deadline = limit.map(|l| Instant::now() + l);
        loop {
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(self
                            .broken(io::Error::new(io::ErrorKind::TimedOut, "client timed out")));
                    }
                    PollTimeout::try_from(left.as_millis().clamp(1, i32::MAX as u128) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let mut fds = [PollFd::new(self.sock.as_fd(), events)];
            match poll(&mut fds, timeout) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => return Ok(()),
                Err(e) => return Err(self.broken(e.into())),
            }
        }
    }

    /// Marks the connection unusable after an I/O error and hands the error back.
    fn broken(&mut self, err: io::Error) -> io::Error {
        self.must_close = true;
        err
    }

    /// Before response bytes go to the socket: fails if the timeout abort has taken the
    /// request (it answers 504 and the worker exits), so the two never both write.
    fn claim_write(&mut self) -> io::Result<()> {
        match &self.inflight {
            Some(slot) if !slot.claim_write() => {
                Err(self.broken(io::Error::other("the worker is aborting after a timeout")))
            }
            _ => Ok(()),
        }
    }

    /// Reports progress on the request in progress to the watchdog.
    fn tick(&self) {
        if let Some(beat) = &self.beat {
            beat.progress();
        }
    }

    /// Queues `data` then `suffix` after whatever is unsent, writing as much as the socket
    /// takes at once (one writev for head, body and framing in the common case).
    fn push(&mut self, data: &[u8], suffix: &[u8]) -> io::Result<()> {
        if self.file.is_some() {
            // Bytes after a file must wait for it (only a chunked terminator can).
            self.flush_blocking()?;
        }
        let total = self.out.len() - self.sent + data.len() + suffix.len();
        if total == 0 {
            return Ok(());
        }
        self.claim_write()?;
        let pending = &self.out[self.sent..];
        let written = loop {
            let parts = [
                IoSlice::new(pending),
                IoSlice::new(data),
                IoSlice::new(suffix),
            ];
            let written = match self.tls.as_deref_mut() {
                None => (&mut &self.sock).write_vectored(&parts),
                Some(tls) => tls.write_vectored(&self.sock, &parts),
            };
            match written {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                Err(e) => return Err(self.broken(e)),
            }
        };
        if written > 0 {
            self.tick();
        }
        // Keep what was not taken, in order.
        let from_pending = written.min(pending.len());
        self.sent += from_pending;
        let mut rest = written - from_pending;
        for part in [data, suffix] {
            let skip = rest.min(part.len());
            rest -= skip;
            self.out.extend_from_slice(&part[skip..]);
        }
        if self.sent == self.out.len() {
            self.out_sent();
        } else if self.sent > 0 && self.sent >= self.out.len() / 2 {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }

    /// Everything in `out` is sent. A buffer grown for a large response the client read
    /// slowly is freed rather than kept for the connection's life.
    fn out_sent(&mut self) {
        if self.out.capacity() > HIGH_WATER {
            self.out = Vec::with_capacity(OUT_BUFFER);
        } else {
            self.out.clear();
        }
        self.sent = 0;
    }

    /// After a push: wait (pool) or tell the app to pause (loop) when too much is unsent.
    fn pace(&mut self, flow: Flow) -> io::Result<Flow> {
        if self.unsent() <= HIGH_WATER {
            return Ok(flow);
        }
        if self.blocking {
            self.flush_blocking()?;
            return Ok(flow);
        }
        Ok(if flow == Flow::Enough {
            Flow::Enough
        } else {
            Flow::Full
        })
    }

    /// Queues a response the server generates itself (errors); the connection closes after.
    pub fn send_error(&mut self, status: u16, head_request: bool) {
        self.date.refresh(SystemTime::now());
        let bytes = response::error_response(status, true, head_request, &self.date);
        self.response.status = status;
        // The body follows the blank line (none for HEAD).
        self.response.body_bytes = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |end| bytes.len() - end - 4) as u64;
        self.must_close = true;
        let _ = self.push(&bytes, b"");
    }

    /// Ends the request the app answered; returns whether the connection can serve another.
    pub fn end_request(&mut self, outcome: Outcome, head_request: bool) -> bool {
        self.release_request_memory();
        match outcome {
            Outcome::Complete => {
                !self.must_close && self.framing.is_some_and(|f| f.keep_alive) && self.drain()
            }
            Outcome::FailedBeforeHead => {
                // A body the client framed wrongly is the client's fault (400), not the app's.
                // Either way the connection closes: its state after a failure is not trusted.
                let status = self.body_error.as_ref().map_or(500, HttpError::status);
                self.send_error(status, head_request);
                false
            }
            Outcome::Aborted => false,
        }
    }

    /// Frees what only the finished request needed, so an idle or flushing connection does
    /// not keep it: a buffered body (up to `--body-buffer-size`) and a read buffer grown
    /// for an upload.
    fn release_request_memory(&mut self) {
        match &self.body {
            Body::Buffered(_) => self.body = Body::Buffered(BodyReader::empty()),
            // Body bytes decoded but not read by the app are still in the read buffer, behind
            // its consumed mark (`pending`): they are discarded next, so the buffer stays.
            Body::Streaming { pending, .. } if pending.0 < pending.1 => return,
            Body::Streaming { .. } => {}
        }
        self.rbuf.shrink_if_empty();
    }

    /// After a request the app completed: whether the connection just waits for the next
    /// request (kept alive, response sent, request body read, no pipelined bytes buffered),
    /// which is what the loop would conclude from [`Exchange::end_request`].
    pub fn waits_for_next_request(&self) -> bool {
        !self.must_close
            && self.framing.is_some_and(|f| f.keep_alive)
            && self.body_consumed()
            && self.unsent() == 0
            && self.rbuf.is_empty()
    }

    /// Whether the request's body has been read completely (nothing of it is left on the
    /// socket to be mistaken for the next request).
    pub fn body_consumed(&self) -> bool {
        match &self.body {
            Body::Buffered(_) => true,
            Body::Streaming { decoder, .. } => decoder.is_done(),
        }
    }

    /// On a pool thread, once the app is done: reads the rest of a body it did not read here,
    /// where waiting for the client holds only this thread, so the loop never waits for it.
    pub fn drain_unread_body(&mut self, outcome: Outcome) {
        let keeps = outcome == Outcome::Complete
            && !self.must_close
            && self.framing.is_some_and(|f| f.keep_alive);
        if keeps && !self.drain() {
            self.must_close = true;
        }
    }

    /// Makes the connection ready for its next request after an unbuffered body the app did
    /// not read to the end: reads and discards the rest, up to the drain limit. Only a pool
    /// thread waits for the client here; on the loop it discards what has arrived and says
    /// true while the rest may still come ([`Exchange::discard_body`] goes on with it), since
    /// waiting there would stall every connection of the worker.
    fn drain(&mut self) -> bool {
        if self.body_consumed() {
            return true;
        }
        if self.expect == Continue::Waiting {
            // The client was told nothing, so it may or may not send the body: the only safe
            // continuation is a new connection.
            return false;
        }
        let limit = self.shared.limits.drain_max;
        let Body::Streaming { decoder, .. } = &self.body else {
            return true;
        };
        if decoder.remaining_hint().is_some_and(|n| n > limit) {
            return false;
        }
        if !self.blocking {
            return self.discard_body().is_ok();
        }
        let mut sink = [0u8; 8192];
        loop {
            match self.read_body(&mut sink) {
                Ok(0) => return true,
                Ok(n) => {
                    self.drained += n as u64;
                    if self.drained > limit {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Discards what has arrived of a body the app did not read, without waiting: `Ok(true)`
    /// once the body is over, `Ok(false)` while more is to come, an error past the drain
    /// limit or on a malformed body.
    pub fn discard_body(&mut self) -> io::Result<bool> {
        let mut sink = [0u8; 8192];
        loop {
            match self.read_streaming(&mut sink, false) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    self.drained += n as u64;
                    if self.drained > self.shared.limits.drain_max {
                        return Err(io::Error::other("unread request body over the drain limit"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Shuts down our sending side (the start of a lingering close); under TLS, after a
    /// close_notify.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.close(&self.sock);
        }
        nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Write)
            .map_err(io::Error::from)
    }

    /// Whether a TLS client has sent bytes the connection has not read (typically its
    /// close_notify). Always false on a plain connection, which costs nothing then.
    pub fn tls_input_pending(&self) -> bool {
        if self.tls.is_none() {
            return false;
        }
        let mut byte = 0u8;
        // SAFETY: the pointer and length describe `byte`, which recv(2) writes at most one
        // byte into; MSG_PEEK leaves it in the socket.
        let n = unsafe {
            nix::libc::recv(
                self.sock.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                nix::libc::MSG_PEEK | nix::libc::MSG_DONTWAIT,
            )
        };
        n > 0
    }

    /// Reads and discards whatever the client sends; `Ok(true)` when it has closed.
    pub fn discard(&mut self) -> io::Result<bool> {
        let mut sink = [0u8; 4096];
        loop {
            match (&mut &self.sock).read(&mut sink) {
                Ok(0) => return Ok(true),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads from the socket for the streaming body, waiting (bounded by `--body-timeout`).
    fn fill_waiting(&mut self) -> io::Result<usize> {
        loop {
            match self.fill(true) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(PollFlags::POLLIN, self.shared.body_timeout)?;
                }
                other => return other,
            }
        }
    }

    /// Decodes the streaming body into `out`, waiting for the client when nothing has arrived
    /// (`WouldBlock` instead unless `wait`).
    fn read_streaming(&mut self, out: &mut [u8], wait: bool) -> io::Result<usize> {
        loop {
            let Body::Streaming {
                decoder,
                pending,
                received,
            } = &mut self.body
            else {
                return Ok(0);
            };
            let (from, to) = *pending;
            if from < to {
                let n = out.len().min(to - from);
                out[..n].copy_from_slice(&self.rbuf.data[from..from + n]);
                pending.0 += n;
                return Ok(n);
            }
            if decoder.is_done() {
                return Ok(0);
            }
            if !self.rbuf.is_empty() {
                let base = self.rbuf.data.as_ptr() as usize;
                let decoded = decoder.decode(self.rbuf.data());
                match decoded {
                    Ok((consumed, Decoded::Data(data))) => {
                        // A chunked body announces no size, so the limit the loop checks on
                        // Content-Length before the call is enforced here as it arrives.
                        *received += data.len() as u64;
                        let limit = self.shared.limit_request_body;
                        if limit.is_some_and(|l| *received > l) {
                            let err = HttpError::BodyTooLarge;
                            let e = io::Error::new(io::ErrorKind::InvalidData, err.clone());
                            self.body_error = Some(err);
                            return Err(self.broken(e));
                        }
                        let offset = data.as_ptr() as usize - base;
                        *pending = (offset, offset + data.len());
                        // Not `consume`: it may rewind the buffer under the pending bytes.
                        self.rbuf.start += consumed;
                        continue;
                    }
                    Ok((consumed, Decoded::Done)) => {
                        self.rbuf.consume(consumed);
                        return Ok(0);
                    }
                    Ok((consumed, Decoded::NeedMore)) => self.rbuf.consume(consumed),
                    Err(err) => {
                        let e = io::Error::new(io::ErrorKind::InvalidData, err.clone());
                        self.body_error = Some(err);
                        return Err(self.broken(e));
                    }
                }
            }
            *pending = (0, 0);
            if !wait {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if self.expect == Continue::Waiting {
                self.expect = Continue::NotExpected;
                // Once the final head is out, an interim response would land inside the
                // body; the client that waited has its answer and decides for itself.
                if self.framing.is_none() {
                    self.push(CONTINUE, b"")?;
                    self.flush_blocking()?;
                }
            }
            self.tick();
            match self.fill_waiting() {
                Ok(0) => {
                    return Err(self.broken(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "client closed the connection before the end of the body",
                    )));
                }
                Ok(_) => {}
                Err(e) => {
                    // The client's fault, answered as the loop answers a buffered body that
                    // stalls, if the app lets the error end the request.
                    if e.kind() == io::ErrorKind::TimedOut {
                        self.body_error = Some(HttpError::BodyTimeout);
                    }
                    return Err(self.broken(e));
                }
            }
        }
    }
}

impl Transport for Exchange {
    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Body::Buffered(reader) => reader.read(out),
            Body::Streaming { .. } => self.read_streaming(out, true),
        }
    }

    fn send_head(&mut self, head: ResponseHead, known_length: Option<u64>) -> io::Result<()> {
        // Decide now whether this connection can survive the exchange, so the head says
        // `Connection: close` instead of promising a persistence we will not keep (RFC 9112
        // §9.6): a client still waiting for 100-continue, a body too large to drain, or a
        // connection already broken.
        if let Body::Streaming {
            decoder, pending, ..
        } = &self.body
        {
            // What discarding the rest would read: the body still to come, and the bytes
            // already decoded that the app has not read.
            let decoded_unread = (pending.1 - pending.0) as u64;
            let undrainable = decoder
                .remaining_hint()
                .is_some_and(|n| n + decoded_unread > self.shared.limits.drain_max);
            if !decoder.is_done() && (self.expect == Continue::Waiting || undrainable) {
                self.terms.server_close = true;
            }
        }
        if self.must_close {
            self.terms.server_close = true;
        }
        let framing = response::decide(self.terms, &head, known_length);
        response::encode_head(&mut self.out, &head, framing, &self.date);
        self.encoder = Some(BodyEncoder::new(framing.body));
        self.framing = Some(framing);
        self.response.status = head.status;
        self.response.head = Some(head);
        Ok(())
    }

    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow> {
        let (framed, flow) = self.frame(data)?;
        self.push(framed.data, framed.suffix)?;
        self.pace(flow)
    }

    fn queue_body(&mut self, data: &[u8], at_hand: bool) -> Option<io::Result<Flow>> {
        // A pool thread writes itself (nothing sends after it), and bytes after a file wait
        // for it.
        if self.blocking || self.file.is_some() || self.unsent() + data.len() > QUEUE_MAX {
            return None;
        }
        let ends = self
            .framing
            .is_some_and(|f| f.body == ResponseFraming::NoBody)
            || self.encoder.as_ref()?.remaining() == Some(data.len() as u64);
        if !(at_hand || ends) {
            return None;
        }
        Some(self.frame(data).map(|(framed, flow)| {
            self.out.extend_from_slice(framed.data);
            self.out.extend_from_slice(framed.suffix);
            flow
        }))
    }

    fn send_file(&mut self, file: OwnedFd, offset: u64, count: Option<u64>) -> io::Result<Flow> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("body before head"));
        };
        let limit = match self.framing.map(|f| f.body) {
            Some(ResponseFraming::NoBody) => return Ok(Flow::Enough),
            Some(ResponseFraming::Length(_)) => encoder.remaining(),
            Some(ResponseFraming::CloseDelimited) => None,
            // Chunked needs a size line per piece: read and send through the encoder.
            Some(ResponseFraming::Chunked) | None => {
                return self.copy_file(file.as_fd(), offset, count);
            }
        };
        let todo = match (count, limit) {
            (Some(c), Some(l)) => c.min(l),
            (Some(c), None) => c,
            (None, Some(l)) => l,
            (None, None) => u64::MAX,
        };
        if let Some(encoder) = self.encoder.as_mut() {
            // Counted as sent now: the encoder only tracks what the body still owes.
            encoder.advance(todo);
        }
        self.file = Some(PendingFile {
            fd: file,
            offset: offset as i64,
            remaining: todo,
        });
        if self.blocking {
            self.flush_blocking()?;
            return Ok(Flow::Enough);
        }
        Ok(if self.try_flush()? {
            Flow::Enough
        } else {
            Flow::Full
        })
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            // The terminator must follow the file, which is sent after `out`.
            self.flush_blocking()?;
        }
        self.end_body()?;
        self.push(b"", b"")?;
        if self.blocking {
            self.flush_blocking()?;
        }
        Ok(())
    }

    fn queue_finish(&mut self) -> Option<io::Result<()>> {
        if self.blocking || self.file.is_some() {
            return None;
        }
        Some(self.end_body())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_blocking()
    }
}

impl Exchange {
    /// Frames body bytes as the head decided: what to send after `out` (which may have
    /// gained a chunk-size line), and whether the response wants more.
    fn frame<'a>(&mut self, data: &'a [u8]) -> io::Result<(Framed<'a>, Flow)> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("body before head"));
        };
        let framed = encoder.encode(data, &mut self.out);
        self.response.body_bytes += framed.data.len() as u64;
        let mut flow = Flow::More;
        if framed.overflow {
            tracing::warn!("application sent more than its Content-Length; truncated");
            self.must_close = true;
            flow = Flow::Enough;
        }
        let complete = encoder.remaining() == Some(0)
            || self
                .framing
                .is_some_and(|f| f.body == ResponseFraming::NoBody);
        if complete {
            flow = Flow::Enough;
        }
        Ok((framed, flow))
    }

    /// Appends the body's end (the chunked terminator) to `out`; a body short of its
    /// Content-Length makes the connection close after it.
    fn end_body(&mut self) -> io::Result<()> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("finish before head"));
        };
        if !encoder.finish(&mut self.out) {
            tracing::warn!("application sent less than its Content-Length; closing");
            self.must_close = true;
        }
        Ok(())
    }

    /// Sends a file through the body encoder (framings sendfile cannot serve), waiting for
    /// the client as needed; rare (a file body on a chunked response).
    fn copy_file(
        &mut self,
        file: BorrowedFd<'_>,
        offset: u64,
        count: Option<u64>,
    ) -> io::Result<Flow> {
        let mut block = vec![0u8; 64 * 1024];
        let mut off = offset as i64;
        let mut left = count.unwrap_or(u64::MAX);
        while left > 0 {
            let want = (left.min(block.len() as u64)) as usize;
            let n = nix::sys::uio::pread(file, &mut block[..want], off)?;
            if n == 0 {
                break;
            }
            let flow = self.send_body(&block[..n])?;
            if flow == Flow::Full {
                self.flush_blocking()?;
            }
            off += n as i64;
            left -= n as u64;
            if flow == Flow::Enough {
                break;
            }
        }
        Ok(Flow::Enough)
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        // The connection closes: tell a TLS client it was not cut off (close_notify).
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.close(&self.sock);
        }
    }
}

/// Sends the next block of a file through TLS once the session has nothing queued:
/// `Some(bytes)` taken from the file (`Some(0)`: it ended early), `None` when the socket is
/// full.
fn send_file_block(
    tls: &mut Session,
    sock: &Stream,
    file: &mut PendingFile,
) -> io::Result<Option<usize>> {
    if !tls.flush(sock)? {
        return Ok(None);
    }
    let mut block = [0u8; TLS_FILE_BLOCK];
    let want = file.remaining.min(TLS_FILE_BLOCK as u64) as usize;
    let n = loop {
        match nix::sys::uio::pread(&file.fd, &mut block[..want], file.offset) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    if n == 0 {
        return Ok(Some(0));
    }
    // Nothing is queued, so the session takes the whole block (it is far below its chunk).
    let taken = match tls.write(sock, &block[..n]) {
        Ok(taken) => taken,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e),
    };
    file.offset += taken as i64;
    file.remaining -= taken as u64;
    Ok((taken > 0).then_some(taken))
}

/// Bytes of a file read and encrypted at a time under TLS: one full TLS record.
const TLS_FILE_BLOCK: usize = 16 * 1024;

/// Whether bytes right after a `\n` complete a blank line (`\r\n` or a bare `\n`, which the
/// codec then rejects with a 400 instead of leaving the client waiting).
fn ends_head(after_lf: &[u8]) -> bool {
    matches!(after_lf, [b'\n', ..] | [b'\r', b'\n', ..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;
    use crate::peer::ConnInfo;
    use std::os::unix::net::UnixStream;

    fn exchange() -> (Exchange, UnixStream) {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("non-blocking");
        let view = Arc::new(ConnView::new(ConnInfo::for_tests("")));
        (
            Exchange::new(Stream::Unix(ours), view, Shared::for_tests()),
            theirs,
        )
    }

    /// Sends `bytes` from the client, reads them, and says whether the head is worth parsing.
    fn arrive(ex: &mut Exchange, client: &mut UnixStream, bytes: &[u8]) -> bool {
        client.write_all(bytes).expect("send");
        assert_eq!(ex.fill(false).expect("read"), bytes.len());
        ex.head_may_be_complete()
    }

    #[test]
    fn a_field_line_over_its_limit_is_refused_when_it_passes_the_limit() {
        let (mut ex, mut client) = exchange();
        let limits = Limits::default();
        assert!(arrive(
            &mut ex,
            &mut client,
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: "
        ));
        assert!(matches!(parse_head(ex.rbuf.data(), &limits), Ok(None)));
        // Within the field's limit: nothing to parse yet.
        let piece = vec![b'a'; 4096];
        assert!(!arrive(&mut ex, &mut client, &piece));
        // Past it: parsed at once (and refused), not once the whole head's size is in.
        assert!(arrive(&mut ex, &mut client, &piece));
        let status = parse_head(ex.rbuf.data(), &limits).map_err(|e| e.status());
        assert!(matches!(status, Err(431)), "{status:?}");
    }

    #[test]
    fn complete_lines_do_not_count_against_the_line_being_received() {
        let (mut ex, mut client) = exchange();
        assert!(arrive(&mut ex, &mut client, b"GET / HTTP/1.1\r\n"));
        let field = format!("X-Field: {}\r\n", "a".repeat(8000));
        for _ in 0..4 {
            assert!(!arrive(&mut ex, &mut client, field.as_bytes()));
        }
        assert!(!arrive(&mut ex, &mut client, b"Host: x\r\n"));
        assert!(arrive(&mut ex, &mut client, b"\r\n"));
        // A request line over its limit, before its LF.
        let (mut ex, mut client) = exchange();
        assert!(arrive(&mut ex, &mut client, b"GET /"));
        assert!(!arrive(&mut ex, &mut client, &[b'a'; 4000]));
        assert!(arrive(&mut ex, &mut client, &[b'a'; 100]));
    }

    /// Reads what the client has been sent so far, without waiting.
    fn received(client: &mut UnixStream) -> Vec<u8> {
        client.set_nonblocking(true).expect("non-blocking");
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        got
    }

    #[test]
    fn only_bytes_that_end_the_body_or_are_at_hand_are_queued_for_the_driver() {
        let (mut ex, mut client) = exchange();
        assert!(arrive(
            &mut ex,
            &mut client,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        let (head, len) = parse_head(ex.rbuf.data(), &Limits::default())
            .expect("valid")
            .expect("complete");
        ex.consume_head(len);
        ex.begin(&head, false, Body::Buffered(BodyReader::empty()));
        let mut response = ResponseHead::new(200, b"OK", 0);
        response.push_header(b"Content-Length", b"15");
        ex.send_head(response, None).expect("head");
        // A generator's chunk that does not end the body is written by the call itself.
        assert!(ex.queue_body(b"hello", false).is_none());
        assert_eq!(ex.send_body(b"hello").expect("sent"), Flow::More);
        let first = received(&mut client);
        assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"), "{first:?}");
        assert!(first.ends_with(b"\r\n\r\nhello"), "{first:?}");
        // From a list, it waits for the driver; so does the chunk that ends the body.
        assert_eq!(
            ex.queue_body(b" big ", true).map(Result::ok),
            Some(Some(Flow::More))
        );
        assert_eq!(
            ex.queue_body(b"world", false).map(Result::ok),
            Some(Some(Flow::Enough))
        );
        assert!(ex.queue_finish().is_some_and(|r| r.is_ok()));
        assert_eq!(received(&mut client), b"");
        assert!(ex.unsent() > 0);
        assert!(ex.try_flush().expect("flushed"));
        assert_eq!(received(&mut client), b" big world");
        // A pool thread writes everything itself: nothing is left for a driver to send.
        ex.blocking = true;
        assert!(ex.queue_body(b"x", true).is_none());
        assert!(ex.queue_finish().is_none());
    }
}
