//! The master's scrape server: a small non-blocking HTTP/1.1 server on `--metrics-bind`.
//!
//! It runs inside the master's loop ([`Server::fds`] to wait on, [`Server::serve`] after
//! every wake-up), so it must never block: sockets are non-blocking, a request is at most
//! [`MAX_REQUEST`] bytes, a connection gets [`DEADLINE`] in all, at most [`MAX_CONNECTIONS`]
//! are open at once (more wait in the listen queue), and every connection closes after its
//! one response. What to answer is the caller's ([`Request`] in, [`Response`] out).

use crate::listen::{self, BindError, BindOptions, Listener, Stream};
use crate::settings::BindAddr;
use nix::poll::PollFlags;
use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Largest request head accepted (431 beyond).
pub const MAX_REQUEST: usize = 8192;
/// How long one connection may take from accept to its response's last byte.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;

/// A parsed scrape request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// `GET`, `HEAD`, ...
    pub method: &'a str,
    /// The target's path, without its query.
    pub path: &'a str,
    /// The `Accept` header, if any.
    pub accept: Option<&'a str>,
}

/// What to answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body (not sent for HEAD).
    pub body: String,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
        }
    }
}

/// One client connection.
struct Conn {
    stream: Stream,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    deadline: Instant,
}

/// The listener and its connections.
pub struct Server {
    listener: Listener,
    conns: Vec<Conn>,
}

impl Server {
    /// Binds `addr` (TCP or Unix; not before the configuration is valid), or adopts
    /// `inherited`, the listener a binary upgrade's previous master passed, when it is the
    /// one `addr` names (otherwise it is closed and `addr` bound afresh).
    pub fn bind(addr: &BindAddr, inherited: Option<RawFd>) -> Result<Server, BindError> {
        let options = BindOptions {
            backlog: 64,
            unix_mode: None,
            reuse_port: false,
            reuse_port_owner: None,
        };
        let adopted = inherited.and_then(|fd| {
            let listener = listen::bind_all(&[BindAddr::Fd(fd)], &options)
                .ok()?
                .pop()?;
            // Not the address asked for (the configuration changed): dropped, so closed.
            // Otherwise its socket file is ours now: the metrics listener is never an
            // `fd://` one, so a master created it from its path.
            listener
                .serves(addr, fd)
                .then(|| listener.claim_socket_file().ok())
                .flatten()
        });
        let listener = match adopted {
            Some(listener) => listener,
            None => listen::bind_all(std::slice::from_ref(addr), &options)?
                .pop()
                .expect("one listener per address"),
        };
        Ok(Server {
            listener,
            conns: Vec::new(),
        })
    }

    /// The listening socket.
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// Where it listens, for the log (`http://127.0.0.1:9100`, `unix:/run/metrics.sock`).
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Removes its socket file, if it created one.
    pub fn remove_socket_file(&self) {
        self.listener.remove_socket_file();
    }

    /// The descriptors to wait on: the listener while there is room, each connection for
    /// what it waits for.
    pub fn fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = Vec::with_capacity(self.conns.len() + 1);
        if self.conns.len() < MAX_CONNECTIONS {
            fds.push((self.listener.as_fd(), PollFlags::POLLIN));
        }
        for conn in &self.conns {
            let wants = if conn.output.is_empty() {
                PollFlags::POLLIN
            } else {
                PollFlags::POLLOUT
            };
            fds.push((conn.stream.as_fd(), wants));
        }
        fds
    }

    /// Accepts, reads, answers and writes whatever is ready, without blocking; drops
    /// connections past their deadline.
    pub fn serve(&mut self, mut answer: impl FnMut(&Request<'_>) -> Response) {
        let now = Instant::now();
        while self.conns.len() < MAX_CONNECTIONS {
            match self.listener.accept() {
                Ok((stream, _)) => self.conns.push(Conn {
                    stream,
                    input: Vec::new(),
                    output: Vec::new(),
                    written: 0,
                    deadline: now + DEADLINE,
                }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock, or out of descriptors: the rest wait in the queue.
                Err(_) => break,
            }
        }
        self.conns
            .retain_mut(|conn| now < conn.deadline && conn.advance(&mut answer));
    }
}

impl Conn {
    /// Moves the connection on; returns whether it stays open.
    fn advance(&mut self, answer: &mut impl FnMut(&Request<'_>) -> Response) -> bool {
        if self.output.is_empty() {
            match self.read() {
                Ok(true) => {}
                Ok(false) => return true,
                Err(_) => return false,
            }
            self.output = respond(&self.input, answer);
        }
        while self.written < self.output.len() {
            match (&self.stream).write(&self.output[self.written..]) {
                Ok(0) => return false,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// Reads what is there; `Ok(true)` once the head is complete (or too large to wait for).
    fn read(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 2048];
        loop {
            if head_end(&self.input).is_some() || self.input.len() > MAX_REQUEST {
                return Ok(true);
            }
            match (&self.stream).read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Where a request head ends (after its blank line).
fn head_end(input: &[u8]) -> Option<usize> {
    input
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The response bytes for the request head in `input`.
fn respond(input: &[u8], answer: &mut impl FnMut(&Request<'_>) -> Response) -> Vec<u8> {
    let (response, head_only) = match head_end(input).filter(|&end| end <= MAX_REQUEST) {
        None => (Response::text(431, "request head too large\n"), false),
        Some(end) => match parse(&input[..end]) {
            Some(request) => (answer(&request), request.method == "HEAD"),
            None => (Response::text(400, "bad request\n"), false),
        },
    };
    // Neither a scrape nor a probe may be answered from a cache on the way; a 405 says what
    // is allowed (RFC 9110 §15.5.6).
    let allow = if response.status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Cache-Control: \
         no-store\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(response.body.as_bytes());
    }
    out
}

/// Parses a request head: its line and the `Accept` header.
fn parse(head: &[u8]) -> Option<Request<'_>> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    let accept = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("accept")
            .then_some(value.trim())
    });
    Some(Request {
        method,
        path,
        accept,
    })
}

/// The reason phrase of the statuses this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed() {
        let head = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nACCEPT: text/plain\r\n\r\n";
        assert_eq!(
            parse(head),
            Some(Request {
                method: "GET",
                path: "/metrics",
                accept: Some("text/plain"),
            })
        );
        assert_eq!(parse(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(parse(b"\xff\r\n\r\n"), None);
    }

    #[test]
    fn responses_are_framed_and_head_has_no_body() {
        let mut answer = |_: &Request<'_>| Response::text(200, "hello\n");
        let get = String::from_utf8(respond(b"GET / HTTP/1.1\r\n\r\n", &mut answer)).unwrap();
        assert!(get.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(get.contains("Content-Length: 6\r\n"));
        assert!(get.ends_with("\r\n\r\nhello\n"));
        let head = String::from_utf8(respond(b"HEAD / HTTP/1.1\r\n\r\n", &mut answer)).unwrap();
        assert!(head.ends_with("Connection: close\r\n\r\n"));
        let big = vec![b'a'; MAX_REQUEST + 10];
        let refused = String::from_utf8(respond(&big, &mut answer)).unwrap();
        assert!(refused.starts_with("HTTP/1.1 431 "));
    }
}
