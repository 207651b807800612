//! The response side of an exchange: bytes owed to the client, written as far as the socket
//! takes them and kept otherwise, pacing the app's iterable against [`HIGH_WATER`], files
//! sent with sendfile(2) (or a TLS record at a time), and waiting for the client on a pool
//! thread.

use super::Exchange;
use crate::listen::Stream;
use crate::tls::Session;
use crate::wsgi::Flow;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, IoSlice, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// Unsent response bytes beyond which the app's iterable is paused: what a slow reader can
/// cost a worker per connection beyond the kernel's socket buffer. Large enough that the
/// chunk sizes apps stream in (8 to 64 KiB) go out without a pause to a client that keeps
/// up; small enough that a thousand stalled clients hold 64 MB, not gigabytes (waitress's
/// watermark is 16 MiB per connection).
pub const HIGH_WATER: usize = 64 * 1024;
/// The response buffer's usual size: a head and a small body.
pub(super) const OUT_BUFFER: usize = 1024;

/// A file handed over by `wsgi.file_wrapper`, being sent with sendfile(2).
#[derive(Debug)]
pub(super) struct PendingFile {
    pub(super) fd: OwnedFd,
    pub(super) offset: i64,
    pub(super) remaining: u64,
    /// Its bytes were counted for the access log when it was queued (a reply the server
    /// composed, logged before it is sent).
    pub(super) counted: bool,
}

impl Exchange {
    /// Unsent response bytes (a pending file, or encrypted bytes queued in the TLS session,
    /// count as one byte: not done).
    pub fn unsent(&self) -> usize {
        self.out.len() - self.sent
            + usize::from(self.file.is_some())
            + usize::from(self.tls.as_ref().is_some_and(|t| t.pending()))
    }

    /// The unsent response when it is plain bytes in the buffer (no TLS session, no file
    /// to follow): what could be written to the socket as it is.
    pub fn plain_unsent(&self) -> Option<&[u8]> {
        (self.tls.is_none() && self.file.is_none()).then(|| &self.out[self.sent..])
    }

    /// Records that the socket took the next `n` bytes of the response buffer: written
    /// here, or sent by the loop for several connections at once (`engine::burst`).
    pub(in crate::engine) fn out_taken(&mut self, n: usize) {
        let n = n.min(self.out.len() - self.sent);
        self.sent += n;
        self.wire.sent += n as u64;
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
                // A file follows (a static file's head): in the same segment as its start.
                // (Not for an empty one, which sends nothing to uncork the head.)
                None if self.file.as_ref().is_some_and(|f| f.remaining > 0) => {
                    self.sock.write_more(&self.out[self.sent..])
                }
                None => (&mut &self.sock).write(&self.out[self.sent..]),
                Some(tls) => tls.write(&self.sock, &self.out[self.sent..]),
            };
            match written {
                Ok(0) => return Err(self.broken(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.out_taken(n),
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
            // sendfile(2) cannot encrypt, and `--sendfile=false` asks for plain writes: a
            // block at a time, through the session under TLS.
            if self.tls.is_some() || !self.shared.sendfile {
                match send_file_block(self.tls.as_deref_mut(), &self.sock, file) {
                    Ok(Some(0)) => return Err(self.file_ended_early()),
                    Ok(Some(n)) => {
                        self.wire.sent += n as u64;
                        if !file.counted {
                            self.response.body_bytes += n as u64;
                        }
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
                Ok(0) => return Err(self.file_ended_early()),
                Ok(n) => {
                    file.remaining -= n as u64;
                    self.wire.sent += n as u64;
                    if !file.counted {
                        self.response.body_bytes += n as u64;
                    }
                    self.tick();
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return Ok(false),
                Err(e) => return Err(self.broken(e.into())),
            }
        }
        Ok(true)
    }

    /// A file being sent ended before the length the head announced (truncated meanwhile):
    /// the response cannot be completed, so the connection must end, and an error makes
    /// every caller close it rather than leave the client waiting for the missing bytes.
    #[cold]
    fn file_ended_early(&mut self) -> io::Error {
        self.file = None;
        self.broken(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file ended before its announced length",
        ))
    }

    /// Sends everything, waiting for the socket (at most `--send-timeout` per wait).
    pub fn flush_blocking(&mut self) -> io::Result<()> {
        while !self.try_flush()? {
            self.wait(PollFlags::POLLOUT, self.shared.send_timeout)?;
        }
        Ok(())
    }

    /// Waits until the socket is ready for `events`.
    pub(super) fn wait(&mut self, events: PollFlags, limit: Option<Duration>) -> io::Result<()> {
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

    /// Queues `data` then `suffix` after whatever is unsent, writing as much as the socket
    /// takes at once (one writev for head, body and framing in the common case).
    pub(super) fn push(&mut self, data: &[u8], suffix: &[u8]) -> io::Result<()> {
        if self.file.is_some() {
            if self.replaced && data.is_empty() && suffix.is_empty() {
                // Nothing of an application's body an offloaded file replaced: the loop
                // sends the file, nobody waits for it here.
                return Ok(());
            }
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
            self.wire.sent += written as u64;
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
    pub(super) fn pace(&mut self, flow: Flow) -> io::Result<Flow> {
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
}

/// Sends the next block of a file with a plain write, or through TLS once the session has
/// nothing queued: `Some(bytes)` taken from the file (`Some(0)`: it ended early), `None`
/// when the socket is full.
// Never inlined: its blocks (up to 64 KiB on the stack) would make every flush probe its
// stack page by page, a cost a response without a file must not pay.
#[inline(never)]
fn send_file_block(
    tls: Option<&mut Session>,
    sock: &Stream,
    file: &mut PendingFile,
) -> io::Result<Option<usize>> {
    let written = match tls {
        Some(tls) => {
            if !tls.flush(sock)? {
                return Ok(None);
            }
            let mut block = [0u8; TLS_FILE_BLOCK];
            match read_block(file, &mut block)? {
                // Nothing is queued, so the session takes the whole block (it is far
                // below its chunk).
                Some(data) => tls.write(sock, data),
                None => return Ok(Some(0)),
            }
        }
        None => {
            let mut block = [0u8; PLAIN_FILE_BLOCK];
            match read_block(file, &mut block)? {
                // The socket may take part of it: the rest is read again next time.
                Some(data) => (&mut &*sock).write(data),
                None => return Ok(Some(0)),
            }
        }
    };
    let taken = match written {
        Ok(taken) => taken,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            0
        }
        Err(e) => return Err(e),
    };
    file.offset += taken as i64;
    file.remaining -= taken as u64;
    Ok((taken > 0).then_some(taken))
}

/// Reads the file's next bytes into `block`; `None` at its end.
fn read_block<'b>(file: &PendingFile, block: &'b mut [u8]) -> io::Result<Option<&'b [u8]>> {
    let want = file.remaining.min(block.len() as u64) as usize;
    loop {
        match nix::sys::uio::pread(&file.fd, &mut block[..want], file.offset) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(&block[..n])),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Bytes of a file read and encrypted at a time under TLS: one full TLS record.
const TLS_FILE_BLOCK: usize = 16 * 1024;
/// Bytes of a file read and written at a time with `--sendfile=false`.
const PLAIN_FILE_BLOCK: usize = 64 * 1024;
