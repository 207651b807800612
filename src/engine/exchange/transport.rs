//! The exchange as the WSGI layer's [`Transport`]: the response head framed as the request
//! and the app's headers decide, body bytes through the body encoder, files handed over by
//! `wsgi.file_wrapper`.

use super::Exchange;
use super::input::{Body, Continue};
use super::output::PendingFile;
use crate::http::response::{Framed, ResponseFraming, ResponseHead};
use crate::wsgi::{Flow, Transport};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The most response bytes queued for the driver to send after the call
/// ([`Transport::queue_body`]) rather than written from it: copying this much costs less
/// than the GIL hand-off and the system call of a write from the call.
const QUEUE_MAX: usize = 16 * 1024;

impl Transport for Exchange {
    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Body::Buffered(reader) => reader.read(out),
            Body::Streaming { .. } => self.read_streaming(out, true),
        }
    }

    #[inline]
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
        if self.shared.offload.is_some() && self.offload(&head) {
            return Ok(());
        }
        self.head_out(head, known_length);
        Ok(())
    }

    fn send_body(&mut self, data: &[u8]) -> io::Result<Flow> {
        let (framed, flow) = self.frame(data)?;
        self.push(framed.data, framed.suffix)?;
        self.pace(flow)
    }

    #[inline]
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
        if self.replaced {
            return Ok(Flow::Enough);
        }
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
            counted: false,
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

    #[inline]
    fn queue_finish(&mut self) -> Option<io::Result<()>> {
        if self.blocking || self.file.is_some() {
            // An offloaded file is sent by the loop once the call is over (a pool
            // thread's included), not waited for here.
            return self.replaced.then_some(Ok(()));
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
    pub(super) fn frame<'a>(&mut self, data: &'a [u8]) -> io::Result<(Framed<'a>, Flow)> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(io::Error::other("body before head"));
        };
        let framed = encoder.encode(data, &mut self.out);
        self.response.body_bytes += framed.data.len() as u64;
        let mut flow = Flow::More;
        if framed.overflow {
            if self.replaced {
                // An offloaded file replaced the body: the application's is dropped.
                return Ok((framed, Flow::Enough));
            }
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
