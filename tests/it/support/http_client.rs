//! A raw-socket HTTP client: [`Conn`] sends bytes and reads responses over TCP or a Unix
//! socket, and can also observe socket states (partial reads, a closed connection, a small
//! receive window) that the engine tests need.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::http::{BodyInfo, Framing, Head, Response};
use super::{DEADLINE, Json, request};

/// A client socket, TCP or Unix.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn is_eofish(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// The size a chunk-size line announces (extensions ignored).
fn chunk_size(line: &str) -> io::Result<u64> {
    let size_text = line.trim_end().split(';').next().unwrap_or("").trim();
    u64::from_str_radix(size_text, 16).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad chunk size line {line:?}"),
        )
    })
}

/// A client connection that can carry several requests.
pub struct Conn {
    reader: BufReader<Stream>,
}

impl Conn {
    /// Connects to a TCP listener (no Nagle; socket timeouts at the safety deadline).
    pub fn tcp(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::with_capacity(256 * 1024, Stream::Tcp(s)),
        }
    }

    /// Connects to a Unix-socket listener (socket timeouts at the safety deadline).
    pub fn unix(path: &Path) -> Conn {
        let s =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        Conn {
            reader: BufReader::with_capacity(256 * 1024, Stream::Unix(s)),
        }
    }

    /// The socket itself, for writes that bypass the helpers.
    pub fn stream(&mut self) -> &mut Stream {
        self.reader.get_mut()
    }

    /// The client side's TCP port (panics on a Unix socket).
    pub fn local_port(&self) -> u16 {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.local_addr().unwrap().port(),
            Stream::Unix(_) => panic!("a Unix socket has no port"),
        }
    }

    /// A second handle on the TCP socket (panics on a Unix socket).
    pub fn try_clone_tcp(&self) -> TcpStream {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.try_clone().unwrap(),
            Stream::Unix(_) => panic!("not TCP"),
        }
    }

    /// Reads whatever bytes are available (through the buffer; 0 at EOF).
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }

    /// Sends `bytes` whole; panics if the server closed.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("send request");
    }

    /// Sends, tolerating a server that already closed (it may answer and close early).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream().write_all(bytes)
    }

    /// Half-closes the sending side.
    pub fn shutdown_write(&mut self) {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write).unwrap(),
            Stream::Unix(s) => s.shutdown(Shutdown::Write).unwrap(),
        }
    }

    /// Reads a status line and headers. `UnexpectedEof` if the connection closed first.
    pub fn read_head(&mut self) -> io::Result<Head> {
        let mut raw = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a complete response head; got {:?}",
                        String::from_utf8_lossy(&raw)
                    ),
                ));
            }
            raw.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" {
                break;
            }
        }
        // Latin-1, one char per byte, as HTTP field values are octets (RFC 9110 §5.5).
        let raw: String = raw.iter().map(|&b| char::from(b)).collect();
        let mut lines = raw.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status = parts.next().unwrap_or("").parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        for l in lines {
            if l.is_empty() {
                continue;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad header line {l:?}"))
            })?;
            headers.push((k.to_string(), v.trim().to_string()));
        }
        Ok(Head {
            version,
            status,
            reason,
            headers,
            raw,
        })
    }

    /// Reads up to `n` body bytes into `sink`, counting them in `info`; an early EOF (or
    /// reset) marks the body incomplete instead of failing.
    fn read_counted(
        &mut self,
        n: u64,
        buf: &mut [u8],
        sink: &mut dyn FnMut(&[u8]),
        info: &mut BodyInfo,
    ) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            let want = buf.len().min(left as usize);
            match self.reader.read(&mut buf[..want]) {
                Ok(0) => {
                    info.complete = false;
                    break;
                }
                Ok(k) => {
                    sink(&buf[..k]);
                    info.length += k as u64;
                    left -= k as u64;
                }
                Err(e) if is_eofish(&e) => {
                    info.complete = false;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads a line; `None` when the connection ended (EOF or reset) before any byte of it.
    fn read_line_or_end(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(line)),
            Err(e) if is_eofish(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the body `framing` describes into `sink`. An early EOF (or reset) is reported
    /// as `complete: false`, not an error.
    pub fn read_body(
        &mut self,
        framing: &Framing,
        sink: &mut dyn FnMut(&[u8]),
    ) -> io::Result<BodyInfo> {
        let mut info = BodyInfo {
            length: 0,
            complete: true,
        };
        let mut buf = vec![0u8; 256 * 1024];
        match framing {
            Framing::None => {}
            Framing::Length(n) => {
                self.read_counted(*n, &mut buf, sink, &mut info)?;
            }
            Framing::Close => loop {
                match self.reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        sink(&buf[..k]);
                        info.length += k as u64;
                    }
                    Err(e) if is_eofish(&e) => break,
                    Err(e) => return Err(e),
                }
            },
            Framing::Chunked => loop {
                let line = match self.read_line_or_end()? {
                    Some(line) if line.ends_with("\r\n") => line,
                    _ => {
                        info.complete = false;
                        break;
                    }
                };
                let size = chunk_size(&line)?;
                if size == 0 {
                    // The trailer section is consumed; no test reads it.
                    loop {
                        match self.read_line_or_end()? {
                            Some(t) if t == "\r\n" => break,
                            Some(_) => {}
                            None => {
                                info.complete = false;
                                break;
                            }
                        }
                    }
                    break;
                }
                self.read_counted(size, &mut buf, sink, &mut info)?;
                if !info.complete {
                    break;
                }
                let mut crlf = [0u8; 2];
                match self.reader.read_exact(&mut crlf) {
                    Ok(()) if &crlf == b"\r\n" => {}
                    Ok(()) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("chunk not followed by CRLF: {crlf:?}"),
                        ));
                    }
                    Err(e) if is_eofish(&e) => {
                        info.complete = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            },
        }
        Ok(info)
    }

    /// Reads one response (for a request that was not HEAD).
    pub fn try_read_response(&mut self) -> io::Result<Response> {
        self.try_read_response_to(false)
    }

    /// Reads one response; `head_request` says the request was HEAD (no body by rule).
    pub fn try_read_response_to(&mut self, head_request: bool) -> io::Result<Response> {
        let head = self.read_head()?;
        let framing = head.framing(head_request);
        let mut body = Vec::new();
        let info = self.read_body(&framing, &mut |b| body.extend_from_slice(b))?;
        Ok(Response {
            head,
            body,
            framing,
            complete: info.complete,
        })
    }

    /// Reads one response (for a request that was not HEAD); panics on an I/O error.
    pub fn read_response(&mut self) -> Response {
        self.try_read_response().expect("read response")
    }

    /// Reads the response to a HEAD request (no body by rule).
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response_to(true).expect("read HEAD response")
    }

    /// Sends a request and reads its response.
    pub fn roundtrip(&mut self, req: &[u8]) -> Response {
        self.send(req);
        self.read_response()
    }

    /// True when the server has closed the connection: a read returns EOF (or a reset).
    /// Panics if more response bytes arrive instead.
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 4096];
        match self.reader.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected the connection to be closed, got {} more bytes: {:?}",
                n,
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if is_eofish(&e) => {}
            Err(e) => panic!("expected the connection to be closed, got error {e}"),
        }
    }
}

impl std::os::fd::AsFd for Stream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Conn {
    /// A TCP connection whose receive buffer is limited to `rcvbuf` bytes before the
    /// handshake (so the window stays small): a client that stops reading makes the
    /// server's writes stall after little data.
    pub fn tcp_small_rcvbuf(addr: SocketAddr, rcvbuf: usize) -> Conn {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, connect, setsockopt,
            socket, sockopt,
        };
        use std::os::fd::AsRawFd;
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::Inet,
            SocketAddr::V6(_) => AddressFamily::Inet6,
        };
        let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).expect("socket");
        setsockopt(&fd, sockopt::RcvBuf, &rcvbuf).expect("SO_RCVBUF");
        let res = match addr {
            SocketAddr::V4(a) => connect(fd.as_raw_fd(), &SockaddrIn::from(a)),
            SocketAddr::V6(a) => connect(fd.as_raw_fd(), &SockaddrIn6::from(a)),
        };
        res.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let s = TcpStream::from(fd);
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_write_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        // A small client-side buffer too, so "not reading" really means not reading.
        Conn {
            reader: BufReader::with_capacity(4096, Stream::Tcp(s)),
        }
    }

    /// Whether a read would return at once: response bytes are buffered or pending, or
    /// the server closed (EOF or reset). False means the server has sent nothing yet.
    pub fn readable_now(&mut self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let stream = self.reader.get_ref();
        let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).expect("poll") > 0
    }

    /// Reads everything until the server closes the connection (EOF or reset). An error
    /// (the socket read timeout, i.e. the safety deadline) means the server never closed.
    pub fn read_until_closed(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if is_eofish(&e) => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "the server did not close the connection ({e}); got so far: {:?}",
                            String::from_utf8_lossy(&out[..out.len().min(400)])
                        ),
                    ));
                }
            }
        }
    }

    /// Reads one chunk of a chunked body (after [`Conn::read_head`]); `None` for the last
    /// chunk (its trailer section is consumed too).
    pub fn read_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a chunk-size line",
            ));
        }
        let size = chunk_size(&line)? as usize;
        if size == 0 {
            loop {
                let mut t = String::new();
                if self.reader.read_line(&mut t)? == 0 || t == "\r\n" {
                    return Ok(None);
                }
            }
        }
        let mut data = vec![0u8; size + 2];
        self.reader.read_exact(&mut data)?;
        if &data[size..] != b"\r\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk not followed by CRLF",
            ));
        }
        data.truncate(size);
        Ok(Some(data))
    }

    /// Reads chunks (after [`Conn::read_head`]) until at least `n` body bytes arrived;
    /// fails if the body ends first.
    pub fn read_chunked_bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.read_chunk()? {
                Some(c) => out.extend_from_slice(&c),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("chunked body ended after {} of {n} bytes", out.len()),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The bytes a server sent before it closed the connection; panics if it never closed.
pub fn until_closed(c: &mut Conn) -> Vec<u8> {
    c.read_until_closed()
        .unwrap_or_else(|e| panic!("no close before the safety deadline: {e}"))
}

/// GET `target` over TCP (`Connection: close`) and parse the JSON body.
pub fn get_json(addr: SocketAddr, target: &str) -> Json {
    let mut c = Conn::tcp(addr);
    c.send(&request("GET", target, &[("Connection", "close")], b""));
    let r = c.read_response();
    assert_eq!(r.status(), 200, "{}", r.text());
    r.json()
}

/// GET `target` over a Unix socket and parse the JSON body.
pub fn get_json_unix(path: &Path, target: &str) -> Json {
    let mut c = Conn::unix(path);
    c.send(&request("GET", target, &[("Connection", "close")], b""));
    let r = c.read_response();
    assert_eq!(r.status(), 200, "{}", r.text());
    r.json()
}
