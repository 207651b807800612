//! What the server believes about a client behind proxies.
//!
//! Two mechanisms, each with its own allow-list ([`allow`]):
//!
//! * The PROXY protocol ([`protocol`], `--proxy-protocol`, `--proxy-allow-ips`): a header
//!   a TCP proxy (HAProxy, AWS NLB) sends at the start of the connection, before any HTTP
//!   or TLS byte, naming the client. [`read_preamble`] reads it on the event loop thread.
//!   Its source address becomes the connection's peer for everything after, including the
//!   `--forwarded-allow-ips` decision below: a TCP proxy relays the client's HTTP headers
//!   untouched, so an `X-Forwarded-For` behind it was written by the client (or by whatever
//!   is in front of the proxy), and is believed only if that client is trusted. Judging it
//!   by the proxy's own address would let any client behind HAProxy choose its address.
//! * Per-request headers ([`forwarded`], `--forwarded-allow-ips`,
//!   `--secure-scheme-headers`): `X-Forwarded-*` and `Forwarded` from a trusted peer set
//!   `REMOTE_ADDR`, `wsgi.url_scheme`, `HTTP_HOST`/`SERVER_NAME` and `SERVER_PORT`; from
//!   anyone else they reach the app as ordinary `HTTP_*` keys and change nothing.
//!
//! # When a PROXY header is expected
//!
//! With `v1` or `v2`, a peer in `--proxy-allow-ips` must start every connection with a
//! header of that version (the specification says a receiver must not guess); `auto`
//! accepts either version and also a connection without one (gunicorn's behaviour, for a
//! health check sent straight to the port). A peer not in the list is served as a direct
//! client, and a PROXY header from it closes the connection: it would be a client
//! claiming to be someone else. Any refusal closes the connection without an HTTP
//! response, since the proxy expects none.

pub mod allow;
pub mod forwarded;
pub mod protocol;
mod settings;
pub mod underscore;

use crate::peer::{ConnInfo, Peer, ProxyHeader};
use allow::AllowList;
use forwarded::{Believed, Trust};
use protocol::{Addresses, ParsedHeader, ProxyVersion};
pub use settings::ProxySettings;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::str::FromStr;

/// `--proxy-protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// No PROXY headers (a connection starting with one is just a bad HTTP request).
    #[default]
    Off,
    /// Version 1 required from allowed peers.
    V1,
    /// Version 2 required from allowed peers.
    V2,
    /// Either version, or none, from allowed peers.
    Auto,
}

impl Mode {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Auto => "auto",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ();

    /// `off`, `v1`, `v2`, `auto`; gunicorn's boolean spellings too (true means auto).
    fn from_str(s: &str) -> Result<Mode, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "false" | "no" | "0" | "none" => Ok(Mode::Off),
            "v1" | "1" => Ok(Mode::V1),
            "v2" | "2" => Ok(Mode::V2),
            "auto" | "on" | "true" | "yes" => Ok(Mode::Auto),
            _ => Err(()),
        }
    }
}

/// The worker's proxy settings.
#[derive(Clone, Debug)]
pub struct Proxying {
    /// Per-request header trust.
    pub forwarded: Trust,
    /// `--proxy-protocol`.
    pub mode: Mode,
    /// `--proxy-allow-ips`.
    pub proxy_allow: AllowList,
}

impl Proxying {
    /// What `settings` say to believe.
    pub fn new(settings: &ProxySettings) -> Proxying {
        Proxying {
            forwarded: Trust::new(
                settings.forwarded_allow_ips.clone(),
                &settings.secure_scheme_headers,
            ),
            mode: settings.proxy_protocol,
            proxy_allow: settings.proxy_allow_ips.clone(),
        }
    }
}

/// How a connection's preamble ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Preamble {
    /// Not all of it is there yet: wait for more bytes.
    Wait,
    /// The peer closed the connection.
    Closed,
    /// No PROXY header: serve the connection as it is.
    Direct,
    /// A header was read (and consumed); `None`: it named no client (LOCAL, UNKNOWN).
    Proxied(Option<Addresses>),
    /// Close the connection, for this reason.
    Refused(String),
}

/// Reads the PROXY header a connection may start with: peeks at its first bytes, and once
/// they decide, reads exactly the header, leaving what follows in the socket. `allowed`:
/// the peer is in `--proxy-allow-ips`. Never blocks (the socket is non-blocking).
pub fn read_preamble(fd: BorrowedFd<'_>, mode: Mode, allowed: bool) -> io::Result<Preamble> {
    let mut buf = [0u8; protocol::V2_MAX];
    // SAFETY: the pointer and length describe `buf`, which recv(2) writes at most
    // `buf.len()` bytes into; the descriptor is borrowed for the duration of the call.
    let n = unsafe {
        nix::libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            nix::libc::MSG_PEEK,
        )
    };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(Preamble::Wait),
            _ => Err(err),
        };
    }
    let peeked = &buf[..n as usize];
    if peeked.is_empty() {
        return Ok(Preamble::Closed);
    }
    let header = match protocol::parse(peeked) {
        Ok(ParsedHeader::Incomplete) => return Ok(Preamble::Wait),
        Ok(ParsedHeader::Absent) => {
            return Ok(match mode {
                Mode::V1 | Mode::V2 if allowed => Preamble::Refused(format!(
                    "no PROXY protocol {mode} header from a proxy in --proxy-allow-ips"
                )),
                _ => Preamble::Direct,
            });
        }
        // Valid or not, a header from anyone else is a client posing as a proxy.
        _ if !allowed => {
            return Ok(Preamble::Refused(
                "PROXY protocol header from a peer not in --proxy-allow-ips".to_owned(),
            ));
        }
        Err(why) => {
            return Ok(Preamble::Refused(format!(
                "malformed PROXY protocol header: {why}"
            )));
        }
        Ok(ParsedHeader::Header(header)) => header,
    };
    let expected = match mode {
        Mode::V1 => Some(ProxyVersion::V1),
        Mode::V2 => Some(ProxyVersion::V2),
        Mode::Auto | Mode::Off => None,
    };
    if expected.is_some_and(|v| v != header.version) {
        return Ok(Preamble::Refused(format!(
            "PROXY protocol {:?} header where {mode} is configured",
            header.version
        )));
    }
    // Exactly the header: the bytes after it stay in the socket for HTTP (or TLS).
    // SAFETY: as above; at most `header.len` (≤ buf.len()) bytes are written.
    let read = unsafe { nix::libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), header.len) };
    if read < 0 {
        return Err(io::Error::last_os_error());
    }
    if read as usize != header.len {
        // The peeked bytes were there; a short read means the socket is in trouble.
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "PROXY header shorter than peeked",
        ));
    }
    Ok(Preamble::Proxied(header.addresses))
}

/// The peer a PROXY header's addresses stand for.
pub fn proxied_peer(addresses: &Addresses) -> Peer {
    match addresses {
        Addresses::Tcp { source, .. } => Peer::Tcp(*source),
        Addresses::Unix => Peer::Unix,
    }
}

/// The facts of a connection whose PROXY header named a client: gunicorn's environ (the
/// client as REMOTE_ADDR/PORT, PROXY_PROTOCOL/ADDR/PORT), with SERVER_NAME (used when a
/// request has no Host) and SERVER_PORT the address the client connected to on the proxy.
pub fn proxied_info(base: &ConnInfo, addresses: &Addresses) -> ConnInfo {
    let mut info = base.clone();
    let protocol = addresses.protocol();
    match addresses {
        Addresses::Tcp {
            source,
            destination,
        } => {
            (info.remote_addr, info.remote_port) = crate::peer::remote(source);
            let (addr, port) = crate::peer::remote(destination);
            info.server_name = addr.clone();
            info.server_port = port.clone();
            info.port_received = true;
            info.proxy_header = Some(std::sync::Arc::new(ProxyHeader {
                protocol,
                addr,
                port,
            }));
        }
        Addresses::Unix => {
            (info.remote_addr, info.remote_port) = (String::new(), String::new());
            info.proxy_header = Some(std::sync::Arc::new(ProxyHeader {
                protocol,
                addr: String::new(),
                port: String::new(),
            }));
        }
    }
    info
}

/// The environ facts of a request whose trusted proxy headers said `believed`, on a
/// connection whose facts are `base`.
pub fn believed_info(base: &ConnInfo, believed: Believed) -> ConnInfo {
    let mut info = base.clone();
    if let Some(client) = believed.client {
        info.remote_addr = crate::peer::ip_text(client.ip);
        // The peer's port says nothing about the client; a header that gave none leaves it
        // unknown, as on a Unix socket.
        info.remote_port = client.port.map(|p| p.to_string()).unwrap_or_default();
    }
    // A proxy's scheme or host says how the client reached the proxy: the port it received
    // the request on is then the host's, or that scheme's default, not the one it sent to us.
    if believed.scheme.is_some() || believed.host.is_some() {
        info.port_received = false;
    }
    if let Some(scheme) = believed.scheme {
        info.url_scheme = scheme;
    }
    if believed.host.is_some() {
        info.forwarded_host = believed.host;
    }
    if let Some(port) = believed.port {
        info.forwarded_port = Some(port.to_string());
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    fn preamble(bytes: &[u8], mode: Mode, allowed: bool) -> (Preamble, Vec<u8>) {
        let (ours, mut theirs) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        theirs.write_all(bytes).expect("write");
        let result = read_preamble(ours.as_fd(), mode, allowed).expect("read_preamble");
        drop(theirs);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut &ours, &mut rest).expect("rest");
        (result, rest)
    }

    #[test]
    fn modes_parse() {
        for (s, m) in [
            ("off", Mode::Off),
            ("V1", Mode::V1),
            ("v2", Mode::V2),
            ("auto", Mode::Auto),
            ("true", Mode::Auto),
            ("false", Mode::Off),
        ] {
            assert_eq!(s.parse::<Mode>(), Ok(m), "{s}");
        }
        assert!("v3".parse::<Mode>().is_err());
    }

    #[test]
    fn a_header_is_consumed_exactly() {
        let bytes = b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nGET / HTTP/1.1\r\n\r\n";
        let (result, rest) = preamble(bytes, Mode::V1, true);
        assert_eq!(
            result,
            Preamble::Proxied(Some(Addresses::Tcp {
                source: "192.0.2.1:1000".parse().expect("addr"),
                destination: "192.0.2.2:80".parse().expect("addr"),
            }))
        );
        assert_eq!(rest, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn policy() {
        let http = b"GET / HTTP/1.1\r\n\r\n";
        let v1 = b"PROXY UNKNOWN\r\n";
        let v2 = protocol::tests::v2(0, 0, &[], &[]);
        // Direct clients: served, untouched.
        for mode in [Mode::V1, Mode::V2, Mode::Auto] {
            let (result, rest) = preamble(http, mode, false);
            assert_eq!((result, rest.as_slice()), (Preamble::Direct, &http[..]));
        }
        assert_eq!(preamble(http, Mode::Auto, true).0, Preamble::Direct);
        // A proxy must send the configured version.
        assert!(matches!(
            preamble(http, Mode::V1, true).0,
            Preamble::Refused(_)
        ));
        assert!(matches!(
            preamble(http, Mode::V2, true).0,
            Preamble::Refused(_)
        ));
        assert!(matches!(
            preamble(&v2, Mode::V1, true).0,
            Preamble::Refused(_)
        ));
        assert!(matches!(
            preamble(v1, Mode::V2, true).0,
            Preamble::Refused(_)
        ));
        assert_eq!(preamble(v1, Mode::Auto, true).0, Preamble::Proxied(None));
        assert_eq!(preamble(&v2, Mode::Auto, true).0, Preamble::Proxied(None));
        // Anyone else sending one (valid or not) is refused.
        for bytes in [&v1[..], &v2, b"PROXY garbage\r\n"] {
            assert!(matches!(
                preamble(bytes, Mode::Auto, false).0,
                Preamble::Refused(_)
            ));
        }
        assert!(matches!(
            preamble(b"PROXY TCP4 x\r\n", Mode::Auto, true).0,
            Preamble::Refused(_)
        ));
        // Partial: wait; the bytes stay.
        let (result, rest) = preamble(b"PROXY TCP4 1.2", Mode::V1, true);
        assert_eq!(
            (result, rest.as_slice()),
            (Preamble::Wait, &b"PROXY TCP4 1.2"[..])
        );
        assert_eq!(preamble(b"", Mode::V1, true).0, Preamble::Wait);
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        drop(theirs);
        let closed = read_preamble(ours.as_fd(), Mode::V1, true).expect("read_preamble");
        assert_eq!(closed, Preamble::Closed);
    }
}
