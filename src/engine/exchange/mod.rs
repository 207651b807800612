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

mod input;
mod output;
mod reply;
mod transport;

pub use input::Body;

use super::abort::InFlight;
use super::readbuf::ReadBuf;
use super::spool::BodyReader;
use super::{Beat, ConnShared};
use crate::http::body::BodyFraming;
use crate::http::request::RequestHead;
use crate::http::response::{self, BodyEncoder, Framing, HttpDate, RequestTerms, ResponseHead};
use crate::http::{HeadReader, HttpError, Version};
use crate::listen::Stream;
use crate::request_id::RequestId;
use crate::tls::Session;
use crate::wsgi::{ConnView, Outcome};
use input::Continue;
use output::{OUT_BUFFER, PendingFile};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

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
    /// The request head being read from `rbuf`.
    pub head: HeadReader,
    shared: Arc<ConnShared>,
    /// Wait for the socket instead of answering [`Flow::Full`] (pool threads).
    pub blocking: bool,
    /// Progress reports for the master's timeout watchdog while a request runs.
    pub beat: Option<Beat>,
    /// The running thread's in-flight entry: told when response bytes go out (after which
    /// a timeout abort can no longer answer 504).
    pub inflight: Option<Arc<InFlight>>,
    date: HttpDate,
    terms: RequestTerms,
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
    /// The request's conditional headers, kept for an offloaded reply (`--sendfile-header`).
    offload_pre: Option<Box<crate::static_files::Preconditions>>,
    /// The application's body was replaced by an offloaded file: what it sends is dropped.
    replaced: bool,
    /// When the request in progress began (its first byte was handled): the access log's
    /// duration runs from here.
    pub started: Instant,
    /// When a pool thread finished the request: its result may reach the loop (and the
    /// access log) much later, when the connection's next request comes or at a sweep.
    pub ended: Option<Instant>,
    /// What the response has been so far, for the access log.
    pub response: Responded,
    /// With metrics on: when the request was ready for the app (set as it is dispatched).
    pub ready: Option<Instant>,
    /// With metrics on: when the app was called.
    pub called: Option<Instant>,
    /// Bytes read from and written to the socket, not yet recorded in the metrics.
    pub wire: Wire,
    /// The request's ID (`--request-id-header`), set when its head is parsed.
    pub request_id: Option<RequestId>,
    /// When the kernel received the bytes last read (wall-clock time since the epoch), on
    /// a plain socket with `--max-queue-time`.
    pub arrived: Option<std::time::Duration>,
}

/// Bytes through the socket since the metrics last took them (plaintext under TLS).
#[derive(Clone, Copy, Debug, Default)]
pub struct Wire {
    /// Read from the client.
    pub received: u64,
    /// Written to the client.
    pub sent: u64,
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
    pub fn new(sock: Stream, view: Arc<ConnView>, shared: Arc<ConnShared>) -> Exchange {
        Exchange {
            sock,
            tls: None,
            rbuf: ReadBuf::new(),
            view,
            head: HeadReader::default(),
            shared,
            blocking: false,
            beat: None,
            inflight: None,
            date: HttpDate::new(SystemTime::now()),
            terms: RequestTerms {
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
            offload_pre: None,
            replaced: false,
            started: Instant::now(),
            ended: None,
            response: Responded::default(),
            ready: None,
            called: None,
            wire: Wire::default(),
            request_id: None,
            arrived: None,
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

    /// Resets the per-request state for a request about to be handed to the app.
    #[inline]
    pub fn begin(&mut self, head: &RequestHead, draining: bool, body: Body) {
        self.date.refresh_secs(wall_secs());
        self.terms = RequestTerms {
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
        if self.shared.offload.is_some() {
            self.keep_preconditions(head);
        }
        self.response.status = 0;
        self.response.body_bytes = 0;
        self.response.head = None;
    }

    /// Queues a response the server generates itself (errors); the connection closes after.
    pub fn send_error(&mut self, status: u16, head_request: bool) {
        self.send_error_with(status, head_request, None);
    }

    /// [`Exchange::send_error`], with a `Retry-After` of that many seconds when given, and
    /// the request's ID when there is one.
    pub fn send_error_with(&mut self, status: u16, head_request: bool, retry_after: Option<&[u8]>) {
        self.date.refresh_secs(wall_secs());
        let mut extra: [(&[u8], &[u8]); 2] = [(b"", b""); 2];
        let mut n = 0;
        if let Some(secs) = retry_after {
            extra[n] = (b"Retry-After", secs);
            n += 1;
        }
        if let (Some(header), Some(id)) = (&self.shared.request_id, &self.request_id) {
            extra[n] = (header.name.as_bytes(), id.as_bytes());
            n += 1;
        }
        let bytes =
            response::error_response_with(status, true, head_request, &self.date, &extra[..n]);
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
    #[inline(always)]
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
            Outcome::TimedOut => {
                self.send_error(504, head_request);
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

    /// Marks the connection unusable after an I/O error and hands the error back.
    pub(super) fn broken(&mut self, err: io::Error) -> io::Error {
        self.must_close = true;
        err
    }

    /// Before response bytes go to the socket: fails if the timeout abort has taken the
    /// request (it answers 504 and the worker exits), so the two never both write.
    pub(super) fn claim_write(&mut self) -> io::Result<()> {
        match &self.inflight {
            Some(slot) if !slot.claim_write() => {
                Err(self.broken(io::Error::other("the worker is aborting after a timeout")))
            }
            _ => Ok(()),
        }
    }

    /// Reports progress on the request in progress to the watchdog.
    pub(super) fn tick(&self) {
        if let Some(beat) = &self.beat {
            beat.progress();
        }
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

/// Seconds since the Unix epoch, for the `Date` header: read coarse (to the kernel's last
/// tick, 1-4 ms), at a quarter of a fine read's cost, once per request.
fn wall_secs() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME_COARSE) {
        Ok(t) => u64::try_from(t.tv_sec()).unwrap_or(0),
        // Linux has had it since 2.6.32; a fine reading otherwise.
        Err(_) => crate::http::response::unix_secs(SystemTime::now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;
    use crate::peer::ConnInfo;
    use crate::wsgi::{Flow, Transport};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    fn exchange() -> (Exchange, UnixStream) {
        exchange_with(ConnShared::for_tests())
    }

    fn exchange_with(shared: Arc<ConnShared>) -> (Exchange, UnixStream) {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("non-blocking");
        let view = Arc::new(ConnView::new(ConnInfo::for_tests("")));
        (Exchange::new(Stream::Unix(ours), view, shared), theirs)
    }

    /// Sends `bytes` from the client and reads them into the exchange's buffer.
    fn arrive(ex: &mut Exchange, client: &mut UnixStream, bytes: &[u8]) {
        client.write_all(bytes).expect("send");
        assert_eq!(ex.fill(false).expect("read"), bytes.len());
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
        arrive(&mut ex, &mut client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, len) = parse_head(ex.rbuf.data(), &Limits::default())
            .expect("valid")
            .expect("complete");
        ex.rbuf.consume(len);
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

    /// Serves a file body of `len` bytes through `send_file` (from offset 7) and returns
    /// what the client received after the head.
    fn file_response(sendfile: bool, len: usize) -> (Vec<u8>, Vec<u8>) {
        let shared = Arc::new(ConnShared {
            sendfile,
            ..Arc::into_inner(ConnShared::for_tests()).expect("one owner")
        });
        let (mut ex, mut client) = exchange_with(shared);
        arrive(&mut ex, &mut client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, n) = parse_head(ex.rbuf.data(), &Limits::default())
            .expect("valid")
            .expect("complete");
        ex.rbuf.consume(n);
        ex.begin(&head, false, Body::Buffered(BodyReader::empty()));
        let content: Vec<u8> = (0..len + 7).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&content).expect("write");
        let mut response = ResponseHead::new(200, b"OK", 0);
        response.push_header(b"Content-Length", len.to_string().as_bytes());
        ex.send_head(response, None).expect("head");
        ex.send_file(file.into(), 7, Some(len as u64))
            .expect("file");
        let mut got = Vec::new();
        // The socket buffer is smaller than the file: flush, read, repeat.
        while !ex.try_flush().expect("flush") {
            got.extend(received(&mut client));
        }
        got.extend(received(&mut client));
        let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
        (got.split_off(body_at), content[7..].to_vec())
    }

    #[test]
    fn a_file_body_is_the_same_bytes_with_sendfile_and_with_plain_writes() {
        for sendfile in [true, false] {
            let (body, expected) = file_response(sendfile, 1_000_003);
            assert_eq!(body.len(), expected.len(), "sendfile {sendfile}");
            assert!(body == expected, "sendfile {sendfile}: the bytes differ");
        }
    }
}
