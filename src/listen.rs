//! Listening sockets: bound by the master before any fork, inherited by every worker.
//!
//! Knows addresses, socket options and accept(2); not signals, workers or HTTP.

use crate::config::BindAddr;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// A bound, listening socket (non-blocking, close-on-exec).
#[derive(Debug)]
pub enum Listener {
    /// TCP over IPv4 or IPv6.
    Tcp(TcpListener),
    /// A Unix domain socket.
    Unix {
        /// The socket.
        listener: UnixListener,
        /// Its path, removed by the master on exit when we created it.
        path: Option<PathBuf>,
    },
}

/// An accepted client connection (blocking, close-on-exec, TCP_NODELAY on TCP).
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain socket.
    Unix(UnixStream),
}

/// Who is on the other end of an accepted connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A TCP client address.
    Tcp(SocketAddr),
    /// A Unix socket client (no address).
    Unix,
}

/// A listen address that could not be bound; the server exits before forking.
#[derive(Debug)]
pub struct BindError {
    /// The address as the user wrote it.
    pub addr: String,
    /// Why.
    pub source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on {}: {}", self.addr, self.source)
    }
}

impl std::error::Error for BindError {}

/// Binds every address in order; on the first failure nothing stays bound.
pub fn bind_all(
    binds: &[BindAddr],
    backlog: i32,
    unix_mode: Option<u32>,
) -> Result<Vec<Listener>, BindError> {
    let _ = (binds, backlog, unix_mode);
    todo!()
}

impl Listener {
    /// Accepts one connection; `WouldBlock` when none is waiting.
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        todo!()
    }

    /// Where this listener is, for logs: `http://127.0.0.1:8000`, `http://[::1]:8000`,
    /// `unix:/run/app.sock`.
    pub fn url(&self) -> String {
        todo!()
    }

    /// The local TCP address, if this is a TCP listener.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        todo!()
    }

    /// Removes the socket file of a Unix listener we created (master, on exit).
    pub fn remove_socket_file(&self) {
        todo!()
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix { listener, .. } => listener.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl io::Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl io::Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
