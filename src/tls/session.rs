//! One connection's TLS state: a rustls [`ServerConnection`] driven over a non-blocking
//! socket. It never waits: reading returns `WouldBlock` until plaintext is there, and
//! writing refuses (`WouldBlock`) while encrypted bytes are still queued, so the caller's
//! own buffer holds what is unsent, as it does for a plain socket.
//!
//! The handshake needs no step of its own: reading drives it (each call feeds what the
//! socket has to rustls and sends whatever rustls answers), and no plaintext comes out
//! until it is complete. Everything rustls decrypted is handed out at once, so no request
//! bytes are ever left inside rustls where epoll cannot see them.
//!
//! The entry points are never inlined: the exchange calls them on a branch the plain path
//! does not take, and that branch stays a call instead of growing the plain path's code.

use rustls::{ServerConfig, ServerConnection};
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

/// Most plaintext taken per write: bounds the encrypted bytes queued inside rustls (the
/// rest stays in the caller's buffer, which its backpressure already accounts for).
const WRITE_CHUNK: usize = 64 * 1024;

/// The answer to a plain HTTP request on a TLS port.
const PLAIN_HTTP_REFUSED: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\
Content-Type: text/plain\r\nContent-Length: 48\r\n\r\n\
This port speaks HTTPS; the request was plain.\r\n";

/// A connection's TLS session.
pub struct Session {
    conn: ServerConnection,
    /// The client's stream ended (TCP EOF, or a close_notify).
    eof: bool,
    /// The first byte the client sent: tells a plain HTTP request from a ClientHello.
    first: Option<u8>,
    /// Nothing more may be sent: the session failed, or close_notify went out.
    done: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("handshaking", &self.conn.is_handshaking())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

/// Records the first byte read from the socket.
struct Recording<'a, S> {
    sock: S,
    first: &'a mut Option<u8>,
}

impl<S: Read> Read for Recording<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        if n > 0 && self.first.is_none() {
            *self.first = Some(buf[0]);
        }
        Ok(n)
    }
}

impl Session {
    /// A session for a new connection.
    pub fn new(config: &Arc<ServerConfig>) -> io::Result<Session> {
        let mut conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        // Bounded here instead: plaintext goes in only when nothing encrypted is queued,
        // at most WRITE_CHUNK at a time.
        conn.set_buffer_limit(None);
        Ok(Session {
            conn,
            eof: false,
            first: None,
            done: false,
        })
    }

    /// Whether encrypted bytes wait to be sent.
    pub fn pending(&self) -> bool {
        self.conn.wants_write()
    }

    /// Reads what the socket has, drives the handshake, and appends the plaintext to `out`
    /// (about `want` bytes at most, a TLS record more at worst). `Ok(0)`: the client's stream
    /// ended; `WouldBlock`: no plaintext yet; `InvalidData`: the client does not speak TLS
    /// or broke the protocol (the connection must close).
    #[inline(never)]
    pub fn fill<S>(&mut self, mut sock: S, out: &mut Vec<u8>, want: usize) -> io::Result<usize>
    where
        S: Read + Write,
    {
        let mut got = 0;
        // Socket bytes read in this call: a client sending records that carry no plaintext
        // (handshake fragments, alerts) gets no more of the loop's time per call than one
        // sending requests (the socket stays readable: epoll calls again).
        let mut raw = 0;
        loop {
            got += self.take_plaintext(out)?;
            if got >= want || self.eof || raw >= want {
                break;
            }
            let mut reader = Recording {
                sock: &mut sock,
                first: &mut self.first,
            };
            match self.conn.read_tls(&mut reader) {
                Ok(0) => self.eof = true,
                Ok(n) => raw += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
            if let Err(err) = self.conn.process_new_packets() {
                if self.looks_like_http() {
                    // nginx's courtesy: a plain answer a browser or curl can show, instead
                    // of an alert it cannot read.
                    let _ = sock.write(PLAIN_HTTP_REFUSED);
                } else {
                    // The alert rustls queued tells the client why.
                    let _ = self.flush(&mut sock);
                }
                self.done = true;
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        }
        // Handshake messages, session tickets, alerts.
        self.flush(&mut sock)?;
        if got > 0 {
            Ok(got)
        } else if self.eof {
            Ok(0)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    /// Moves the plaintext rustls holds to the end of `out`.
    fn take_plaintext(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let available = match self.conn.process_new_packets() {
                Ok(state) => state.plaintext_bytes_to_read(),
                Err(err) => {
                    self.done = true;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, err));
                }
            };
            if available == 0 {
                return Ok(total);
            }
            let len = out.len();
            out.resize(len + available, 0);
            let n = match self.conn.reader().read(&mut out[len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => {
                    out.truncate(len);
                    return Err(e);
                }
            };
            out.truncate(len + n);
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Whether the client sent plain HTTP to this TLS port (its first byte is a letter,
    /// where a TLS record starts with a content type byte).
    pub fn looks_like_http(&self) -> bool {
        self.conn.is_handshaking() && self.first.is_some_and(|b| b.is_ascii_uppercase())
    }

    /// Sends queued encrypted bytes; `Ok(true)` once none are left.
    #[inline(never)]
    pub fn flush<S: Write>(&mut self, mut sock: S) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Encrypts and sends plaintext, as a non-blocking socket's write would: the count
    /// taken, or `WouldBlock` while earlier bytes are still queued.
    #[inline(never)]
    pub fn write<S: Write>(&mut self, sock: S, data: &[u8]) -> io::Result<usize> {
        self.write_vectored(sock, &[IoSlice::new(data)])
    }

    /// [`Session::write`] for several buffers (one set of records for all of them).
    #[inline(never)]
    pub fn write_vectored<S: Write>(
        &mut self,
        mut sock: S,
        parts: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        if !self.flush(&mut sock)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // Up to WRITE_CHUNK bytes from the first few buffers (the exchange passes at most
        // three: unsent bytes, data, framing); taking less is a short write, as for a socket.
        let mut room = WRITE_CHUNK;
        let mut taken = [IoSlice::new(&[]); 4];
        let mut count = 0;
        for part in parts.iter().filter(|p| !p.is_empty()) {
            if room == 0 || count == taken.len() {
                break;
            }
            let n = part.len().min(room);
            taken[count] = IoSlice::new(&part[..n]);
            count += 1;
            room -= n;
        }
        if count == 0 {
            return Ok(0);
        }
        let n = self.conn.writer().write_vectored(&taken[..count])?;
        // What the socket does not take now stays queued; `pending` says so.
        self.flush(&mut sock)?;
        Ok(n)
    }

    /// Ends the session: a close_notify, sent if the socket takes it now (best effort, as
    /// the connection is closing). Nothing after a failed session or a handshake.
    #[inline(never)]
    pub fn close<S: Write>(&mut self, sock: S) {
        if self.done || self.conn.is_handshaking() {
            return;
        }
        self.done = true;
        self.conn.send_close_notify();
        let _ = self.flush(sock);
    }
}
