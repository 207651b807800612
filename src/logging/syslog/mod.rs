//! Sending log lines to syslog as Python's `logging.handlers.SysLogHandler` does, which is
//! what gunicorn's `--log-syslog` uses: each line is `<PRI>` + the formatted line + a NUL
//! byte (`append_nul`), in one datagram (Unix or UDP), or written as such onto a stream
//! (Unix stream or TCP: no octet counting, the NUL ends each message).
//!
//! Sockets are non-blocking and every send is `MSG_DONTWAIT`: a syslog server that is down,
//! slow or gone never blocks a worker. A line that cannot be sent is dropped and counted;
//! the first drop and the recovery are reported once each ([`Notice`]). A socket that
//! failed is reconnected at most once a second. Sockets are opened in the master and
//! inherited by the workers, as gunicorn's handlers are; a stream socket (TCP, Unix stream)
//! is reconnected by each process that sends on it, since lines of several processes on one
//! stream could interleave.

pub mod address;

pub use address::SyslogAddr;

use address::SyslogAddr as Addr;
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, SockaddrStorage, UnixAddr, connect, send, sendto,
    socket,
};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Python's syslog severities for our levels.
pub fn severity(level: super::LogLevel) -> u8 {
    use super::LogLevel::*;
    match level {
        Debug => 7,
        Info => 6,
        Warning => 4,
        Error => 3,
        Critical => 2,
    }
}

/// Where to send, resolved at startup.
#[derive(Debug)]
enum Target {
    Unix {
        path: std::path::PathBuf,
        dgram_only: bool,
    },
    Udp(SocketAddr),
    Tcp(SocketAddr),
}

/// One syslog destination.
#[derive(Debug)]
pub struct Syslog {
    shown: String,
    target: Target,
    facility: u8,
    socket: Mutex<Option<OwnedFd>>,
    dropped: AtomicU64,
    failing: AtomicBool,
    /// When (seconds since the epoch) a failed socket may be reconnected.
    retry_at: AtomicI64,
    /// For a stream socket, the process that connected it (0 for a datagram socket). A
    /// stream is one byte sequence: workers that inherited the master's would interleave
    /// their lines into it, so each process connects its own.
    stream_owner: AtomicI32,
}

/// Something to say in the error log about a syslog destination, once.
#[derive(Debug, PartialEq, Eq)]
pub enum Notice {
    /// Lines are being dropped from now on.
    Failing(String),
    /// Lines go through again after some were dropped.
    Recovered(String),
}

impl Syslog {
    /// Prepares sending to `addr` with `facility` (a name is resolved here; the socket is
    /// connected now if it can be, later otherwise).
    pub fn open(addr: &Addr, facility: u8) -> std::io::Result<Syslog> {
        let target = match addr {
            Addr::Unix { path, dgram_only } => Target::Unix {
                path: path.clone(),
                dgram_only: *dgram_only,
            },
            Addr::Udp(host, port) => Target::Udp(Addr::resolve(host, *port)?),
            Addr::Tcp(host, port) => Target::Tcp(Addr::resolve(host, *port)?),
        };
        let syslog = Syslog {
            shown: addr.to_string(),
            target,
            facility,
            socket: Mutex::new(None),
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            retry_at: AtomicI64::new(0),
            stream_owner: AtomicI32::new(0),
        };
        let connected = syslog.connect();
        if let (Target::Tcp(_), Ok(fd)) = (&syslog.target, &connected) {
            // The startup lines should not be lost to a connection still being set up.
            wait_writable(fd);
        }
        *syslog.lock() = connected.ok();
        Ok(syslog)
    }

    /// How many lines were dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<OwnedFd>> {
        self.socket.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one formatted line at `severity` (see [`severity`]); never blocks.
    pub fn send(&self, severity: u8, line: &[u8]) -> Option<Notice> {
        let mut message = Vec::with_capacity(line.len() + 8);
        message.push(b'<');
        super::escape::decimal(
            &mut message,
            u64::from(self.facility) << 3 | u64::from(severity),
        );
        message.push(b'>');
        message.extend_from_slice(line);
        message.push(0);
        match self.send_message(&message) {
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                Some(Notice::Recovered(format!(
                    "syslog at {} accepts lines again ({} dropped so far)",
                    self.shown,
                    self.dropped()
                )))
            }
            Ok(()) => None,
            Err(err) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                (!self.failing.swap(true, Ordering::Relaxed)).then(|| {
                    Notice::Failing(format!(
                        "cannot send to syslog at {}: {err}; its lines are dropped (and \
                         counted) until it accepts them again",
                        self.shown
                    ))
                })
            }
        }
    }

    fn send_message(&self, message: &[u8]) -> Result<(), Errno> {
        let mut socket = self.lock();
        let owner = self.stream_owner.load(Ordering::Relaxed);
        if owner != 0 && owner != std::process::id() as i32 {
            // Inherited across fork: closes only this process's copy.
            *socket = None;
            self.stream_owner.store(0, Ordering::Relaxed);
        }
        if socket.is_none() {
            let now = super::clock::now().0;
            if now < self.retry_at.load(Ordering::Relaxed) {
                return Err(Errno::ENOTCONN);
            }
            match self.connect() {
                Ok(fd) => *socket = Some(fd),
                Err(err) => {
                    self.retry_at.store(now + 1, Ordering::Relaxed);
                    return Err(err);
                }
            }
        }
        let Some(fd) = socket.as_ref() else {
            return Err(Errno::ENOTCONN);
        };
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        let sent = match &self.target {
            Target::Udp(addr) => sendto(
                fd.as_raw_fd(),
                message,
                &SockaddrStorage::from(*addr),
                flags,
            ),
            _ => send(fd.as_raw_fd(), message, flags),
        };
        match sent {
            Ok(n) if n == message.len() => Ok(()),
            // A full buffer: this line is dropped, the socket is fine.
            Err(Errno::EAGAIN) => Err(Errno::EAGAIN),
            Ok(_) => {
                // Part of a message on a stream: the rest cannot follow without blocking;
                // a fresh connection starts clean.
                *socket = None;
                Err(Errno::EAGAIN)
            }
            Err(err) => {
                // As Python's handler does: the other end went away, reconnect (and, for a
                // Unix socket, try once more right away: a restarted syslogd).
                *socket = None;
                if let Target::Unix { .. } = self.target {
                    let fd = self.connect()?;
                    let n = send(fd.as_raw_fd(), message, flags)?;
                    *socket = Some(fd);
                    if n != message.len() {
                        *socket = None;
                    }
                    return Ok(());
                }
                // A TCP server that is down: no new connection before the retry delay.
                self.retry_at
                    .store(super::clock::now().0 + 1, Ordering::Relaxed);
                Err(err)
            }
        }
    }

    /// A new non-blocking socket, connected where that applies; a stream is noted as this
    /// process's.
    fn connect(&self) -> Result<OwnedFd, Errno> {
        let fd = self.open_socket()?;
        let stream = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::SockType)
            .is_ok_and(|kind| kind == SockType::Stream);
        let owner = if stream { std::process::id() as i32 } else { 0 };
        self.stream_owner.store(owner, Ordering::Relaxed);
        Ok(fd)
    }

    /// A new non-blocking socket for the target.
    fn open_socket(&self) -> Result<OwnedFd, Errno> {
        let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
        match &self.target {
            Target::Unix { path, dgram_only } => {
                let addr = UnixAddr::new(path.as_path())?;
                let dgram = socket(AddressFamily::Unix, SockType::Datagram, flags, None)?;
                match connect(dgram.as_raw_fd(), &addr) {
                    Ok(()) => Ok(dgram),
                    Err(err) if *dgram_only => Err(err),
                    Err(_) => {
                        let stream = socket(AddressFamily::Unix, SockType::Stream, flags, None)?;
                        connect(stream.as_raw_fd(), &addr)?;
                        Ok(stream)
                    }
                }
            }
            Target::Udp(addr) => socket(family(addr), SockType::Datagram, flags, None),
            Target::Tcp(addr) => {
                let fd = socket(family(addr), SockType::Stream, flags, None)?;
                match connect(fd.as_raw_fd(), &SockaddrStorage::from(*addr)) {
                    Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
                    Err(err) => Err(err),
                }
            }
        }
    }
}

fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// Waits up to a second for a connection being set up (startup only, in the master).
fn wait_writable(fd: &OwnedFd) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
    let _ = poll(&mut fds, PollTimeout::from(1000u16));
}

#[cfg(test)]
mod tests;
