//! The request side of an exchange: reading from the socket, the streaming body the app
//! reads with request buffering off (with a lazy `100 Continue`), and discarding what the
//! app left unread so the connection can serve its next request.

use super::Exchange;
use crate::engine::spool::BodyReader;
use crate::http::HttpError;
use crate::http::body::{BodyDecoder, Decoded};
use crate::wsgi::{Outcome, Transport};
use nix::poll::PollFlags;
use std::io::{self, Read};
use std::os::fd::AsFd;

/// Free space made available before each socket read of a request head.
const READ_CHUNK: usize = 16 * 1024;
/// Free space made available before each socket read of a request body: larger, so an
/// upload takes fewer system calls (the buffer only grows on connections that upload).
const BODY_READ_CHUNK: usize = 64 * 1024;
/// The interim response a client waiting on `Expect: 100-continue` gets.
pub(super) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Whether the client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Continue {
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

impl Exchange {
    /// Reads what the socket has into the read buffer, without waiting. `Ok(0)` is the end
    /// of the client's stream; `WouldBlock` means nothing is there yet. `body`: a request
    /// body is arriving, so read in larger pieces.
    pub fn fill(&mut self, body: bool) -> io::Result<usize> {
        let want = if body { BODY_READ_CHUNK } else { READ_CHUNK };
        if let Some(tls) = self.tls.as_deref_mut() {
            let read = self.rbuf.read_tls(tls, &self.sock, want);
            match &read {
                Ok(n) => self.wire.received += *n as u64,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    tracing::debug!("TLS error from {}: {e}", self.view.info.remote_addr);
                }
                Err(_) => {}
            }
            return read;
        }
        if self.shared.stamp_arrivals {
            return self.fill_stamped(want);
        }
        loop {
            match self.rbuf.read_from(self.sock.as_fd(), want) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) => {
                    self.wire.received += n as u64;
                    return Ok(n);
                }
                other => return other,
            }
        }
    }

    /// [`Exchange::fill`] on a plain socket, noting when the kernel received what was read
    /// (`--max-queue-time`): a request read late, behind others, waited from then.
    #[inline(never)]
    fn fill_stamped(&mut self, want: usize) -> io::Result<usize> {
        loop {
            match self.rbuf.read_stamped(self.sock.as_fd(), want) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok((n, stamp)) => {
                    if n > 0 {
                        self.arrived = stamp;
                    }
                    return Ok(n);
                }
            }
        }
    }

    /// Queues `100 Continue` for a client waiting for it before sending its body.
    pub fn send_continue(&mut self) -> io::Result<()> {
        self.push(CONTINUE, b"")
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
    pub(super) fn drain(&mut self) -> bool {
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
    pub(super) fn read_streaming(&mut self, out: &mut [u8], wait: bool) -> io::Result<usize> {
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
                out[..n].copy_from_slice(&self.rbuf.all()[from..from + n]);
                pending.0 += n;
                return Ok(n);
            }
            if decoder.is_done() {
                return Ok(0);
            }
            if !self.rbuf.is_empty() {
                let base = self.rbuf.all().as_ptr() as usize;
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
                        self.rbuf.skip(consumed);
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
