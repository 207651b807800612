//! The control socket's connections, as a non-blocking state machine the master drives from
//! its loop: [`ControlServer::fds`] says what to wait for, [`ControlServer::poll`] accepts,
//! reads and writes whatever is ready and returns the requests that arrived, and
//! [`ControlServer::reply`] answers one (at once, or later for a command that takes time).
//!
//! Nothing here blocks or grows without bound: requests are at most
//! [`protocol::MAX_REQUEST`] bytes, each connection has a deadline for its request and for
//! taking its reply, at most [`MAX_CONNECTIONS`] are open, and a client whose credentials
//! are not the master's user's (or root's) gets an error reply and is logged.

use super::protocol::{self, Frame, Request};
use super::socket::{self, ControlSocket};
use nix::poll::PollFlags;
use serde_json::Value;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Open connections at most; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 32;

/// How long a client has to send a whole request (from connecting, or from its previous
/// reply: an interactive gunicornc keeps its connection).
const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

/// How long a client has to take its reply.
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// One connection's id, to reply to it later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnId(u64);

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Reading a request.
    Reading,
    /// The request went to the master; its reply comes through [`ControlServer::reply`].
    Waiting,
    /// Writing a reply; then reading again, or closing.
    Writing { close: bool },
    /// Done: to be dropped.
    Closed,
}

#[derive(Debug)]
struct Conn {
    id: ConnId,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    phase: Phase,
    deadline: Instant,
}

/// The control socket and its connections.
#[derive(Debug)]
pub struct ControlServer {
    socket: ControlSocket,
    conns: Vec<Conn>,
    next_id: u64,
}

impl ControlServer {
    /// Serves `socket`.
    pub fn new(socket: ControlSocket) -> ControlServer {
        ControlServer {
            socket,
            conns: Vec::new(),
            next_id: 0,
        }
    }

    /// The socket's path.
    pub fn socket(&self) -> &ControlSocket {
        &self.socket
    }

    /// The descriptors to wait on, with the readiness each waits for.
    pub fn fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = vec![(self.socket.as_fd(), PollFlags::POLLIN)];
        for conn in &self.conns {
            let flags = match conn.phase {
                Phase::Reading => PollFlags::POLLIN,
                Phase::Writing { .. } => PollFlags::POLLOUT,
                Phase::Waiting | Phase::Closed => continue,
            };
            fds.push((conn.stream.as_fd(), flags));
        }
        fds
    }

    /// Accepts, reads and writes whatever is ready, closes connections past their deadline,
    /// and returns the requests that arrived, each to be answered with [`Self::reply`].
    pub fn poll(&mut self) -> Vec<(ConnId, Request)> {
        self.accept();
        let now = Instant::now();
        let mut requests = Vec::new();
        for conn in &mut self.conns {
            match conn.phase {
                Phase::Reading => {
                    if let Some(request) = conn.read(now) {
                        requests.push((conn.id, request));
                    }
                }
                Phase::Writing { .. } => conn.write(now),
                Phase::Waiting | Phase::Closed => {}
            }
            if conn.phase != Phase::Waiting && now >= conn.deadline {
                conn.phase = Phase::Closed;
            }
        }
        self.conns.retain(|c| c.phase != Phase::Closed);
        requests
    }

    /// Answers request `id` (dropped if its client is gone).
    pub fn reply(&mut self, id: ConnId, reply: &Value) {
        if let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) {
            conn.send(reply, false, Instant::now());
        }
        self.conns.retain(|c| c.phase != Phase::Closed);
    }

    /// Accepts every waiting connection, checking who it is.
    fn accept(&mut self) {
        loop {
            let stream = match self.socket.accept() {
                Ok(Some(stream)) => stream,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!("control socket: cannot accept: {e}");
                    return;
                }
            };
            if self.conns.len() >= MAX_CONNECTIONS {
                tracing::warn!(
                    "control socket: {MAX_CONNECTIONS} connections open already; closing a new one"
                );
                continue;
            }
            self.next_id += 1;
            let now = Instant::now();
            let mut conn = Conn {
                id: ConnId(self.next_id),
                stream,
                input: Vec::new(),
                output: Vec::new(),
                written: 0,
                phase: Phase::Reading,
                deadline: now + REQUEST_DEADLINE,
            };
            match socket::peer(&conn.stream) {
                Ok(peer) if socket::allowed(peer.uid()) => {}
                Ok(peer) => {
                    tracing::warn!(
                        "control socket: refused a client running as uid {} (pid {}): only \
                         uid {} and root may use it",
                        peer.uid(),
                        peer.pid(),
                        nix::unistd::geteuid()
                    );
                    let why = "permission denied: only the server's user may use its control \
                               socket";
                    conn.send(&protocol::error(&Value::from(0), why), true, now);
                }
                Err(e) => {
                    tracing::warn!("control socket: cannot read a client's credentials: {e}");
                    continue;
                }
            }
            if conn.phase != Phase::Closed {
                self.conns.push(conn);
            }
        }
    }
}

impl Conn {
    /// Reads what is there; returns the request once it is whole. A malformed or oversized
    /// one gets an error reply and the connection closes.
    fn read(&mut self, now: Instant) -> Option<Request> {
        let mut chunk = [0u8; 4096];
        loop {
            match frame_of(&self.input) {
                Frame::Partial => {}
                Frame::Whole { end } => {
                    let parsed = protocol::parse_request(&self.input[4..end]);
                    self.input.drain(..end);
                    return match parsed {
                        Ok(request) => {
                            self.phase = Phase::Waiting;
                            Some(request)
                        }
                        Err((id, why)) => {
                            self.send(&protocol::error(&id, &why), true, now);
                            None
                        }
                    };
                }
                Frame::TooLarge(len) => {
                    let why = format!(
                        "a request of {len} bytes is too large (at most {}): is this a control \
                         socket client?",
                        protocol::MAX_REQUEST
                    );
                    self.send(&protocol::error(&Value::from(0), &why), true, now);
                    return None;
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.phase = Phase::Closed;
                    return None;
                }
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => {
                    self.phase = Phase::Closed;
                    return None;
                }
            }
        }
    }

    /// Queues a reply and writes what the socket takes now.
    fn send(&mut self, reply: &Value, close: bool, now: Instant) {
        self.output = protocol::encode(reply);
        self.written = 0;
        self.phase = Phase::Writing { close };
        self.deadline = now + REPLY_DEADLINE;
        self.write(now);
    }

    /// Writes what the socket takes; once the reply is out, reads the next request or
    /// closes.
    fn write(&mut self, now: Instant) {
        let Phase::Writing { close } = self.phase else {
            return;
        };
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => {
                    self.phase = Phase::Closed;
                    return;
                }
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.phase = Phase::Closed;
                    return;
                }
            }
        }
        self.output = Vec::new();
        if close {
            self.phase = Phase::Closed;
        } else {
            self.phase = Phase::Reading;
            self.deadline = now + REQUEST_DEADLINE;
        }
    }
}

/// The first message in a connection's input, requests bounded by
/// [`protocol::MAX_REQUEST`].
fn frame_of(input: &[u8]) -> Frame {
    protocol::frame(input, protocol::MAX_REQUEST)
}
