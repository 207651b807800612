//! One client connection: bytes from the socket through the codec to the app and back.
//!
//! This is the replaceable I/O driver. Request heads are read without blocking (the worker
//! polls for readability, so a client that trickles its head holds no Python and no worker);
//! once a head is complete the request is served to the end with blocking socket calls bounded
//! by `--timeout`: body reads for `wsgi.input` and response writes. Everything HTTP is decided
//! by [`crate::http`]; everything Python by [`crate::wsgi`].
//!
//! After each response the connection is made ready for the next request on it: the unread
//! rest of the body is drained (up to [`Limits::drain_max`]) or the connection is closed, so a
//! pipelined request can never be read out of the middle of a body.

use crate::http::body::{BodyDecoder, BodyFraming, Decoded};
use crate::http::request::{RequestHead, parse_head};
use crate::http::response::{
    self, BodyEncoder, Exchange, Framing, HttpDate, ResponseFraming, ResponseHead,
};
use crate::http::{HttpError, Limits, Version};
use crate::listen::Stream;
use crate::wsgi::{App, ConnInfo, Flow, Outcome, Transport};
use nix::sys::socket::{MsgFlags, recv, setsockopt, sockopt};
use nix::sys::time::TimeVal;
use std::io::{self, IoSlice, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, SystemTime};

/// The read buffer starts this large and grows only for unusually large request heads.
const INITIAL_BUFFER: usize = 16 * 1024;
/// Free space made available before each socket read of body data.
const READ_CHUNK: usize = 64 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Settings every connection of a worker shares.
#[derive(Clone, Debug)]
pub struct ConnConfig {
    /// Parser limits.
    pub limits: Limits,
    /// Bound on each blocking read or write while serving a request; `None` waits forever.
    pub io_timeout: Option<Duration>,
    /// Whether connections may persist between requests (`--keep-alive` > 0).
    pub keep_alive: bool,
}

/// What the worker should do with a connection after it was readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for (the rest of) a request head; poll it again.
    Open,
    /// The response is out and our side is shut down, but the client may still be sending
    /// (an unread body, a request after an error). Closing now, with bytes unread, would make
    /// the kernel send a reset that can destroy the response in flight; so keep reading and
    /// discarding until the client closes or [`LINGER`] passes (a "lingering close").
    Linger,
    /// Closed, or must be closed: drop it.
    Closed,
}

/// How long a lingering close waits for the client to finish sending.
pub const LINGER: Duration = Duration::from_secs(2);

/// A client connection owned by a worker.
pub struct Connection {
    io: Option<Io>,
    info: ConnInfo,
    lingering: bool,
}

impl Connection {
    /// Wraps an accepted stream (which must be in blocking mode).
    pub fn new(stream: Stream, info: ConnInfo, config: &ConnConfig) -> io::Result<Connection> {
        if let Some(timeout) = config.io_timeout {
            let tv = TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _);
            setsockopt(&stream, sockopt::ReceiveTimeout, &tv)?;
            setsockopt(&stream, sockopt::SendTimeout, &tv)?;
        }
        Ok(Connection {
            io: Some(Io::new(stream, config)),
            info,
            lingering: false,
        })
    }

    /// The socket, for the worker's poll set.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.io
            .as_ref()
            .expect("io is present between requests")
            .stream
            .as_fd()
    }

    /// Whether bytes of an incomplete request head are buffered (the client is mid-request).
    pub fn has_partial_request(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.buf.start < io.buf.end)
    }

    /// Reads what the socket has without blocking and serves every complete request now
    /// buffered. `draining`: the worker is stopping, so responses say `Connection: close`.
    pub fn on_readable(&mut self, app: &App, draining: bool) -> Status {
        let Some(io) = self.io.as_mut() else {
            return Status::Closed;
        };
        if self.lingering {
            let mut sink = [0u8; 4096];
            return match recv_retry(io.stream.as_raw_fd(), &mut sink, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => Status::Closed,
                Ok(_) => Status::Linger,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Status::Linger,
                Err(_) => Status::Closed,
            };
        }
        match io.fill(MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Status::Closed,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Status::Open,
            Err(_) => return Status::Closed,
        }
        self.serve_buffered(app, draining)
    }

    /// Serves complete requests from the buffer until it holds none.
    fn serve_buffered(&mut self, app: &App, draining: bool) -> Status {
        loop {
            let io = self.io.as_mut().expect("io is present between requests");
            if io.buf.is_empty() {
                return Status::Open;
            }
            if !io.head_may_be_complete() {
                if io.buf.is_full(io.max_head) {
                    io.write_error(431, false);
                    return self.linger();
                }
                return Status::Open;
            }
            let head = match parse_head(io.buf.data(), &io.limits) {
                Ok(None) if io.buf.is_full(io.max_head) => {
                    io.write_error(431, false);
                    return self.linger();
                }
                Ok(None) => return Status::Open,
                Err(err) => {
                    tracing::debug!("bad request: {err}");
                    io.write_error(err.status(), false);
                    return self.linger();
                }
                Ok(Some((head, consumed))) => {
                    io.buf.consume(consumed);
                    io.head_scanned = 0;
                    head
                }
            };
            if !self.serve_one(app, &head, draining) {
                let io = self.io.as_ref().expect("io is present between requests");
                let unread = !io.decoder.is_done() || io.body_error.is_some();
                return if unread {
                    self.linger()
                } else {
                    Status::Closed
                };
            }
        }
    }

    /// Shuts down our sending side and switches to discarding input (see [`Status::Linger`]).
    fn linger(&mut self) -> Status {
        let Some(io) = self.io.as_ref() else {
            return Status::Closed;
        };
        match nix::sys::socket::shutdown(io.stream.as_raw_fd(), nix::sys::socket::Shutdown::Write) {
            Ok(()) => {
                self.lingering = true;
                Status::Linger
            }
            Err(_) => Status::Closed,
        }
    }

    /// Serves one request whose head has been parsed; returns whether the connection stays.
    fn serve_one(&mut self, app: &App, head: &RequestHead, draining: bool) -> bool {
        let mut io = self.io.take().expect("io is present between requests");
        io.begin(head, draining);
        let (outcome, mut io) = app.call(head, &self.info, io);
        let keep = match outcome {
            Outcome::Complete => io.keep_alive(),
            Outcome::FailedBeforeHead => {
                // A body the client framed wrongly is the client's fault (400), not the app's.
                // Either way the connection closes: its state after a failure is not trusted.
                let status = io.body_error.as_ref().map_or(500, HttpError::status);
                io.write_error(status, head.is_head());
                false
            }
            Outcome::Aborted => false,
        };
        let keep = keep && io.finish_request();
        self.io = Some(io);
        keep
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

/// A growable byte buffer with a consumed prefix: bytes `data[start..end]` are unread.
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> ReadBuf {
        ReadBuf {
            data: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
        }
    }
    fn data(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    fn is_empty(&self) -> bool {
        self.start == self.end
    }
    /// Whether the unread bytes reach `max` (a head that big cannot be valid).
    fn is_full(&self, max: usize) -> bool {
        self.end - self.start >= max
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
    /// Free space after the unread bytes: at least `want` bytes, moving the unread bytes to
    /// the front first and growing only when that is not enough.
    fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.data.len() - self.end < want && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < want {
            self.data.resize(self.end + want, 0);
        }
        &mut self.data[self.end..]
    }
}

/// The socket side of a connection; the [`Transport`] the WSGI layer talks to.
struct Io {
    stream: Stream,
    buf: ReadBuf,
    limits: Limits,
    /// Largest head we will buffer before answering 431.
    max_head: usize,
    /// How many unread bytes have been searched for the end of the head: the parser rescans
    /// from the start, so it runs only when the head may be complete, never per byte
    /// received (a client trickling a large head one byte at a time would cost O(n²)).
    head_scanned: usize,
    keep_alive_enabled: bool,
    date: HttpDate,
    // The exchange in progress.
    exchange: Exchange,
    decoder: BodyDecoder,
    /// Decoded body bytes in `buf.data` not yet handed to the app.
    pending: (usize, usize),
    expect: Continue,
    body_error: Option<HttpError>,
    out: Vec<u8>,
    encoder: Option<BodyEncoder>,
    framing: Option<Framing>,
    /// Set when something makes the connection unusable after this exchange.
    must_close: bool,
}

impl Io {
    fn new(stream: Stream, config: &ConnConfig) -> Io {
        let limits = config.limits.clone();
        Io {
            stream,
            buf: ReadBuf::new(),
            max_head: limits.request_line
                + 2
                + limits.header_count * (limits.header_field_size + 2)
                + 2,
            head_scanned: 0,
            decoder: BodyDecoder::new(BodyFraming::Empty, &limits),
            limits,
            keep_alive_enabled: config.keep_alive,
            date: HttpDate::new(SystemTime::now()),
            exchange: Exchange {
                head_request: false,
                version: Version::Http11,
                keep_alive: false,
                server_close: false,
            },
            pending: (0, 0),
            expect: Continue::NotExpected,
            body_error: None,
            out: Vec::with_capacity(1024),
            encoder: None,
            framing: None,
            must_close: false,
        }
    }

    /// Resets the per-exchange state for a new request.
    fn begin(&mut self, head: &RequestHead, draining: bool) {
        self.date.refresh(SystemTime::now());
        self.exchange = Exchange {
            head_request: head.is_head(),
            version: head.version,
            keep_alive: head.keep_alive,
            server_close: draining || !self.keep_alive_enabled,
        };
        self.decoder = BodyDecoder::new(head.framing, &self.limits);
        self.pending = (0, 0);
        self.expect = if head.expect_continue && head.framing != BodyFraming::Empty {
            Continue::Waiting
        } else {
            Continue::NotExpected
        };
        self.body_error = None;
        self.out.clear();
        self.encoder = None;
        self.framing = None;
        self.must_close = false;
    }

    /// Whether the response just sent leaves the connection usable.
    fn keep_alive(&self) -> bool {
        !self.must_close && self.framing.is_some_and(|f| f.keep_alive)
    }

    /// Reads from the socket into the buffer.
    fn fill(&mut self, flags: MsgFlags) -> io::Result<usize> {
        let fd = self.stream.as_raw_fd();
        let spare = self.buf.spare(READ_CHUNK.min(INITIAL_BUFFER));
        let n = recv_retry(fd, spare, flags)?;
        self.buf.end += n;
        Ok(n)
    }

    /// Whether parsing the buffered bytes can produce an answer: the end of a head (blank
    /// line) arrived, this is the first data of a request (so garbage is refused at once),
    /// or the request line is already too long to be valid.
    fn head_may_be_complete(&mut self) -> bool {
        let data = self.buf.data();
        let first_look = self.head_scanned == 0;
        let from = self.head_scanned.saturating_sub(2);
        self.head_scanned = data.len();
        let blank_line = data[from..]
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && ends_head(&data[from + i + 1..]));
        blank_line
            || first_look
            || (data.len() > self.limits.request_line + 2 && !data.contains(&b'\n'))
    }

    /// Makes the connection ready for its next request: the rest of the body is drained,
    /// within the limit, or the connection must close. Returns whether it stays open.
    fn finish_request(&mut self) -> bool {
        if self.must_close {
            return false;
        }
        if self.decoder.is_done() {
            return true;
        }
        if self.expect == Continue::Waiting {
            // The client was told nothing, so it may or may not send the body: the only safe
            // continuation is a new connection.
            return false;
        }
        if self
            .decoder
            .remaining_hint()
            .is_some_and(|n| n > self.limits.drain_max)
        {
            return false;
        }
        let mut drained = 0u64;
        let mut sink = [0u8; 8192];
        loop {
            match self.read_body(&mut sink) {
                Ok(0) => return true,
                Ok(n) => {
                    drained += n as u64;
                    if drained > self.limits.drain_max {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Writes a response the server generates itself (errors); returns whether it was sent.
    fn write_error(&mut self, status: u16, head_request: bool) -> bool {
        let close = true;
        self.date.refresh(SystemTime::now());
        let bytes = response::error_response(status, close, head_request, &self.date);
        self.must_close = true;
        write_all(&self.stream, &mut [IoSlice::new(&bytes)]).is_ok()
    }

    /// Sends `self.out` followed by `data` and `suffix` in one system call where possible.
    fn flush_with(&mut self, data: &[u8], suffix: &[u8]) -> io::Result<()> {
        let result = write_all(
            &self.stream,
            &mut [
                IoSlice::new(&self.out),
                IoSlice::new(data),
                IoSlice::new(suffix),
            ],
        );
        self.out.clear();
        if result.is_err() {
            self.must_close = true;
        }
        result
    }
}

impl Transport for Io {
    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let (from, to) = self.pending;
            if from < to {
                let n = out.len().min(to - from);
                out[..n].copy_from_slice(&self.buf.data[from..from + n]);
                self.pending.0 += n;
                return Ok(n);
            }
            if self.decoder.is_done() {
                return Ok(0);
            }
            if !self.buf.is_empty() {
                let base = self.buf.data.as_ptr() as usize;
                let decoded = self.decoder.decode(self.buf.data());
                match decoded {
                    Ok((consumed, Decoded::Data(data))) => {
                        let offset = data.as_ptr() as usize - base;
                        self.pending = (offset, offset + data.len());
                        // Not `consume`: it may rewind the buffer under the pending bytes.
                        self.buf.start += consumed;
                        continue;
                    }
                    Ok((consumed, Decoded::Done)) => {
                        self.buf.consume(consumed);
                        return Ok(0);
                    }
                    Ok((consumed, Decoded::NeedMore)) => self.buf.consume(consumed),
                    Err(err) => {
                        self.must_close = true;
                        let e = io::Error::new(io::ErrorKind::InvalidData, err.clone());
                        self.body_error = Some(err);
                        return Err(e);
                    }
                }
            }
            if self.expect == Continue::Waiting {
                self.expect = Continue::NotExpected;
                // Once the final head is out, an interim response would land inside the
                // body; the client that waited has its answer and decides for itself.
                if self.framing.is_none() {
                    write_all(&self.stream, &mut [IoSlice::new(CONTINUE)])?;
                }
            }
            self.pending = (0, 0);
            match self.fill(MsgFlags::empty()) {
                Ok(0) => {
                    self.must_close = true;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "client closed the connection before the end of the body",
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    self.must_close = true;
                    return Err(e);
                }
            }
        }
    }

    fn send_head(&mut self, head: ResponseHead, known_length: Option<u64>) -> io::Result<()> {
        // Decide now whether this connection can survive the exchange, so the head says
        // `Connection: close` instead of promising a persistence we will not keep (RFC 9112
        // §9.6): a client still waiting for 100-continue, a body too large to drain, or a
        // connection already broken.
        let body_pending = !self.decoder.is_done();
        let undrainable = self
            .decoder
            .remaining_hint()
            .is_some_and(|n| n > self.limits.drain_max);
        if self.must_close || (body_pending && (self.expect == Continue::Waiting || undrainable)) {
            self.exchange.server_close = true;
        }
        let framing = response::decide(self.exchange, &head, known_length);
        response::encode_head(&mut self.out, &head, framing, &self.date);
        self.encoder = Some(BodyEncoder::new(framing.body));
        self.framing = Some(framing);
        Ok(())
    }

    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("body before head"));
        };
        let framed = encoder.encode(data, &mut self.out);
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
        if !(self.out.is_empty() && framed.data.is_empty() && framed.suffix.is_empty()) {
            self.flush_with(framed.data, framed.suffix)?;
        }
        Ok(flow)
    }

    fn send_file(
        &mut self,
        file: BorrowedFd<'_>,
        offset: u64,
        count: Option<u64>,
    ) -> io::Result<u64> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("body before head"));
        };
        let framing = self.framing.map(|f| f.body);
        let limit = match framing {
            Some(ResponseFraming::NoBody) => return self.flush_with(&[], &[]).map(|()| 0),
            Some(ResponseFraming::Length(_)) => encoder.remaining(),
            Some(ResponseFraming::CloseDelimited) => None,
            // Chunked needs a size line per piece: read and send through the encoder.
            Some(ResponseFraming::Chunked) | None => return self.copy_file(file, offset, count),
        };
        let mut todo = match (count, limit) {
            (Some(c), Some(l)) => c.min(l),
            (Some(c), None) => c,
            (None, Some(l)) => l,
            (None, None) => u64::MAX,
        };
        self.flush_with(&[], &[])?;
        let mut off = offset as i64;
        let mut sent = 0u64;
        while todo > 0 {
            let want = todo.min(1 << 30) as usize;
            let n = loop {
                match nix::sys::sendfile::sendfile64(&self.stream, file, Some(&mut off), want) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other,
                }
            };
            let n = n.inspect_err(|_| self.must_close = true)? as u64;
            if n == 0 {
                break;
            }
            sent += n;
            todo -= n;
        }
        if let Some(encoder) = self.encoder.as_mut() {
            encoder.advance(sent);
        }
        Ok(sent)
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("finish before head"));
        };
        if !encoder.finish(&mut self.out) {
            tracing::warn!("application sent less than its Content-Length; closing");
            self.must_close = true;
        }
        if self.out.is_empty() {
            return Ok(());
        }
        self.flush_with(&[], &[])
    }
}

impl Io {
    /// Sends a file through the body encoder (framings sendfile cannot serve).
    fn copy_file(
        &mut self,
        file: BorrowedFd<'_>,
        offset: u64,
        count: Option<u64>,
    ) -> io::Result<u64> {
        let mut block = vec![0u8; READ_CHUNK];
        let mut off = offset as i64;
        let mut left = count.unwrap_or(u64::MAX);
        let mut sent = 0;
        while left > 0 {
            let want = (left.min(block.len() as u64)) as usize;
            let n = nix::sys::uio::pread(file, &mut block[..want], off)?;
            if n == 0 {
                break;
            }
            let flow = self.send_body(&block[..n])?;
            off += n as i64;
            left -= n as u64;
            sent += n as u64;
            if flow == Flow::Enough {
                break;
            }
        }
        Ok(sent)
    }
}

/// Whether bytes right after a `\n` complete a blank line (`\r\n` or a bare `\n`, which the
/// codec then rejects with a 400 instead of leaving the client waiting).
fn ends_head(after_lf: &[u8]) -> bool {
    matches!(after_lf, [b'\n', ..] | [b'\r', b'\n', ..])
}

/// recv(2), retried on EINTR; a receive timeout surfaces as `TimedOut`.
fn recv_retry(fd: RawFd, buf: &mut [u8], flags: MsgFlags) -> io::Result<usize> {
    loop {
        match recv(fd, buf, flags) {
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) if !flags.contains(MsgFlags::MSG_DONTWAIT) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes every byte of `bufs`, resuming after partial writes.
fn write_all(stream: &Stream, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match (&mut &*stream).write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
