//! A connection's read buffer: bytes read from the socket (or decrypted by its TLS session)
//! and not yet consumed by the parser.

use crate::listen::Stream;
use crate::tls::Session;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// The read buffer starts this large and grows only for unusually large request heads.
const INITIAL_BUFFER: usize = 16 * 1024;

/// A growable byte buffer with a consumed prefix: bytes `data[start..]` are unread. Its
/// free space is the vector's spare capacity, which is never zeroed: the kernel fills it
/// (zeroing 16 KiB per connection cost more than the rest of accepting it).
#[derive(Debug)]
pub struct ReadBuf {
    data: Vec<u8>,
    start: usize,
}

impl ReadBuf {
    pub fn new() -> ReadBuf {
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
    /// Marks `n` unread bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.data.len() {
            self.start = 0;
            self.data.clear();
        }
    }
    /// Every byte of the buffer, the consumed prefix included: positions in it stay valid
    /// across [`ReadBuf::skip`] (the streaming body keeps decoded bytes there for the app).
    pub fn all(&self) -> &[u8] {
        &self.data
    }
    /// Marks `n` unread bytes as consumed without moving anything: unlike
    /// [`ReadBuf::consume`] it never rewinds the buffer, so positions in [`ReadBuf::all`]
    /// stay valid.
    pub fn skip(&mut self, n: usize) {
        self.start += n;
    }
    /// Makes at least `want` bytes of free space after the unread bytes, moving the unread
    /// bytes to the front first and growing only when that is not enough.
    #[inline]
    pub fn reserve(&mut self, want: usize) {
        if self.data.capacity() - self.data.len() < want && self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.reserve_exact(want);
    }
    /// Gives back space grown beyond the initial size (for a request body) once nothing is
    /// unread.
    pub fn shrink_if_empty(&mut self) {
        if self.is_empty() && self.data.capacity() > INITIAL_BUFFER {
            self.data = Vec::with_capacity(INITIAL_BUFFER);
            self.start = 0;
        }
    }
    /// Appends the plaintext `tls` has for us, reading the socket as needed.
    #[cold]
    pub fn read_tls(&mut self, tls: &mut Session, sock: &Stream, want: usize) -> io::Result<usize> {
        self.reserve(want);
        tls.fill(sock, &mut self.data, want)
    }
    /// One read(2) from `fd` into at least `want` bytes of free space.
    pub fn read_from(&mut self, fd: BorrowedFd<'_>, want: usize) -> io::Result<usize> {
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

    /// [`ReadBuf::read_from`] with recvmsg(2), returning also when the kernel received the
    /// data (wall-clock time since the epoch), if the socket has `SO_TIMESTAMPNS` on and the
    /// kernel said. The same one system call as a plain read.
    pub fn read_stamped(
        &mut self,
        fd: BorrowedFd<'_>,
        want: usize,
    ) -> io::Result<(usize, Option<Duration>)> {
        use nix::libc;
        self.reserve(want);
        let spare = self.data.spare_capacity_mut();
        let mut iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len(),
        };
        // Room for one timespec control message (CMSG_SPACE(16) is 32 bytes on 64-bit
        // Linux), aligned as a cmsghdr must be.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data, for which all zeroes is a valid (empty) value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points at `iov` (the vector's spare capacity, which nothing else
        // references during the call) and `control`, both alive for the call and described
        // by their lengths; recvmsg(2) writes at most that much into each.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: recvmsg(2) initialised exactly the `n` bytes after the current length.
        unsafe { self.data.set_len(self.data.len() + n) };
        let mut stamp = None;
        // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes of `control`, which
        // the kernel filled; a timestamp message carries one timespec, read unaligned.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    stamp = Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n, stamp))
    }
}
