//! Driving the WSGI layer without sockets: an in-memory [`Transport`] that records what the
//! layer sends, a [`Request`] built from raw head bytes, and the interpreter set up once per
//! test process.

use super::{ConnView, Flow, Request, Transport};
use crate::http::Limits;
use crate::http::request::{RequestHead, parse_head};
use crate::http::response::ResponseHead;
use crate::peer::ConnInfo;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Once;

/// Initialises CPython as a worker does, once per process: nextest runs each test in its own
/// process, `cargo test` runs them all as threads of one.
pub(crate) fn python() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        super::interp::initialize(None, &["rsgi-server-unit-tests".to_owned()])
            .expect("initialise Python");
    });
}

/// A request head and connection, owned, to lend to [`super::App::start`] as a [`Request`].
pub(crate) struct TestRequest {
    head: RequestHead,
    conn: ConnView,
    body_length: Option<u64>,
    /// What follows the head in the raw request: the body the transport serves.
    pub(crate) body: Vec<u8>,
}

impl TestRequest {
    /// Parses `raw` (a head, then the body if any) as the engine would.
    pub(crate) fn new(raw: &[u8]) -> TestRequest {
        let (head, end) = parse_head(raw, &Limits::default())
            .expect("a valid request head")
            .expect("a complete request head");
        TestRequest {
            head,
            conn: ConnView::new(ConnInfo::for_tests("192.0.2.7")),
            body_length: None,
            body: raw[end..].to_vec(),
        }
    }

    /// `GET target` with a Host and no body.
    pub(crate) fn get(target: &str) -> TestRequest {
        TestRequest::new(format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
    }

    /// `POST /` with `body` framed by Content-Length.
    pub(crate) fn post(body: &[u8]) -> TestRequest {
        let mut raw = format!(
            "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        TestRequest::new(&raw)
    }

    /// As if the body had been received whole before the call (request buffering).
    pub(crate) fn buffered(mut self, body: &[u8]) -> TestRequest {
        self.body = body.to_vec();
        self.body_length = Some(body.len() as u64);
        self
    }

    pub(crate) fn request(&self) -> Request<'_> {
        Request {
            head: &self.head,
            conn: &self.conn,
            body_length: self.body_length,
            request_id: None,
        }
    }

    /// A transport serving this request's body.
    pub(crate) fn transport(&self) -> MemoryTransport {
        MemoryTransport::new(&self.body)
    }
}

/// One call the WSGI layer made on the transport, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Head,
    /// Body bytes taken by `send_body`.
    Send(usize),
    /// Body bytes taken by `queue_body`, and whether the caller said the rest was at hand.
    Queue(usize, bool),
    File(usize),
    Finish,
    QueueFinish,
    Flush,
}

/// A [`Transport`] over memory. It answers like the engine's: [`Flow::Enough`] once a limit
/// is reached (a HEAD request or a declared Content-Length), [`Flow::Full`] while too much is
/// unsent, an I/O error once the client is gone. Misuse of the transport protocol (body
/// before head, anything after the end) is recorded in `violations` rather than panicking
/// inside a call that holds the GIL or the transport's mutex.
pub(crate) struct MemoryTransport {
    input: Vec<u8>,
    read_pos: usize,
    /// The most one `read_body` returns, to exercise readers across short reads.
    read_piece: usize,
    pub(crate) head: Option<ResponseHead>,
    pub(crate) known_length: Option<u64>,
    /// The body as it would reach the client, unframed.
    pub(crate) body: Vec<u8>,
    pub(crate) finished: bool,
    pub(crate) ops: Vec<Op>,
    pub(crate) violations: Vec<String>,
    /// Bytes "on the socket" the client has not taken: `Full` from `full_at` of them.
    unsent: usize,
    full_at: Option<usize>,
    /// The body bytes the response can take (0: a HEAD request).
    limit: Option<usize>,
    /// The client leaves once this many body bytes are sent; what goes beyond fails.
    gone_after: Option<usize>,
    gone: bool,
    /// Accepts `queue_body` and `queue_finish` (the event loop's transport) instead of
    /// declining them (a pool thread's).
    queueing: bool,
}

impl MemoryTransport {
    pub(crate) fn new(request_body: &[u8]) -> MemoryTransport {
        MemoryTransport {
            input: request_body.to_vec(),
            read_pos: 0,
            read_piece: usize::MAX,
            head: None,
            known_length: None,
            body: Vec::new(),
            finished: false,
            ops: Vec::new(),
            violations: Vec::new(),
            unsent: 0,
            full_at: None,
            limit: None,
            gone_after: None,
            gone: false,
            queueing: false,
        }
    }

    pub(crate) fn full_at(mut self, unsent: usize) -> Self {
        self.full_at = Some(unsent);
        self
    }

    pub(crate) fn limit(mut self, body_bytes: usize) -> Self {
        self.limit = Some(body_bytes);
        self
    }

    pub(crate) fn gone_after(mut self, body_bytes: usize) -> Self {
        self.gone_after = Some(body_bytes);
        self
    }

    pub(crate) fn queueing(mut self) -> Self {
        self.queueing = true;
        self
    }

    pub(crate) fn read_piece(mut self, bytes: usize) -> Self {
        self.read_piece = bytes.max(1);
        self
    }

    /// The client takes everything buffered (what the driver waits for before resuming).
    pub(crate) fn drain(&mut self) {
        self.unsent = 0;
    }

    /// The client goes away.
    pub(crate) fn disconnect(&mut self) {
        self.gone = true;
    }

    pub(crate) fn status(&self) -> Option<u16> {
        self.head.as_ref().map(|h| h.status)
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let value = self.head.as_ref()?.header(name.as_bytes())?;
        Some(value.iter().map(|&b| char::from(b)).collect())
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn client_gone() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "client gone (test transport)")
    }

    /// Checks the call order and the client, before taking body bytes.
    fn before_body(&mut self, what: &str) -> io::Result<()> {
        if self.head.is_none() {
            self.violations.push(format!("{what} before the head"));
        }
        if self.finished {
            self.violations.push(format!("{what} after finish"));
        }
        if self.gone {
            return Err(Self::client_gone());
        }
        Ok(())
    }

    /// Takes body bytes as the wire would: up to the limit, failing once the client is gone.
    fn take(&mut self, data: &[u8]) -> io::Result<Flow> {
        if let Some(after) = self.gone_after {
            if self.body.len() + data.len() > after {
                self.gone = true;
                return Err(Self::client_gone());
            }
        }
        let room = self
            .limit
            .map_or(usize::MAX, |l| l - self.body.len().min(l));
        let taken = &data[..data.len().min(room)];
        self.body.extend_from_slice(taken);
        self.unsent += taken.len();
        if self.limit.is_some_and(|l| self.body.len() >= l) {
            Ok(Flow::Enough)
        } else if self.full_at.is_some_and(|f| self.unsent >= f) {
            Ok(Flow::Full)
        } else {
            Ok(Flow::More)
        }
    }

    fn end(&mut self, op: Op) -> io::Result<()> {
        self.ops.push(op);
        if self.head.is_none() {
            self.violations.push("finish before the head".into());
        }
        if std::mem::replace(&mut self.finished, true) {
            self.violations.push("finished twice".into());
        }
        if self.gone {
            return Err(Self::client_gone());
        }
        Ok(())
    }
}

impl Transport for MemoryTransport {
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.gone {
            return Err(Self::client_gone());
        }
        let rest = &self.input[self.read_pos..];
        let n = rest.len().min(buf.len()).min(self.read_piece);
        buf[..n].copy_from_slice(&rest[..n]);
        self.read_pos += n;
        Ok(n)
    }

    fn send_head(&mut self, head: ResponseHead, known_length: Option<u64>) -> io::Result<()> {
        self.ops.push(Op::Head);
        if self.head.is_some() {
            self.violations.push("a second head".into());
        }
        self.head = Some(head);
        self.known_length = known_length;
        Ok(())
    }

    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow> {
        self.ops.push(Op::Send(data.len()));
        self.before_body("send_body")?;
        self.take(data)
    }

    fn send_file(&mut self, file: OwnedFd, offset: u64, count: Option<u64>) -> io::Result<Flow> {
        self.before_body("send_file")?;
        let mut data = Vec::new();
        let mut at = offset as i64;
        let mut left = count.unwrap_or(u64::MAX);
        let mut block = [0u8; 4096];
        while left > 0 {
            let want = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = nix::sys::uio::pread(&file, &mut block[..want], at)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&block[..n]);
            at += n as i64;
            left -= n as u64;
        }
        self.ops.push(Op::File(data.len()));
        // Like the engine's: Enough once it is all out, Full while the client is behind.
        match self.take(&data)? {
            Flow::Full => Ok(Flow::Full),
            _ => Ok(Flow::Enough),
        }
    }

    fn queue_body(&mut self, data: &[u8], at_hand: bool) -> Option<io::Result<Flow>> {
        if !self.queueing {
            return None;
        }
        self.ops.push(Op::Queue(data.len(), at_hand));
        Some(
            self.before_body("queue_body")
                .and_then(|()| self.take(data)),
        )
    }

    fn finish(&mut self) -> io::Result<()> {
        self.end(Op::Finish)
    }

    fn queue_finish(&mut self) -> Option<io::Result<()>> {
        self.queueing.then(|| self.end(Op::QueueFinish))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ops.push(Op::Flush);
        if self.gone {
            return Err(Self::client_gone());
        }
        self.unsent = 0;
        Ok(())
    }
}
