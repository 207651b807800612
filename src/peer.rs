//! Who is on the other end of a connection, and what the server knows about it: the accepted
//! peer ([`Peer`]), and the facts requests on the connection report ([`ConnInfo`]: the
//! client's address as CGI text, the address it reached, the scheme, what trusted proxies
//! said).
//!
//! Plain values shared by the layers that describe a client (the engine that accepts it,
//! the proxy rules that may replace it, the access log and the environ that report it);
//! no sockets, no Python.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Who is on the other end of an accepted connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A TCP client address.
    Tcp(SocketAddr),
    /// A Unix socket client (no address).
    Unix,
}

/// What requests on a connection report about it, computed once per connection (and again
/// for a request whose trusted proxy headers change it).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// `REMOTE_ADDR` (client IP, "" on a Unix socket).
    pub remote_addr: String,
    /// `REMOTE_PORT` ("" on a Unix socket).
    pub remote_port: String,
    /// `SERVER_NAME` used when the request has no Host.
    pub server_name: String,
    /// `SERVER_PORT`: the port the connection was received on; on a Unix socket (no port)
    /// only when the request has no Host.
    pub server_port: String,
    /// `server_port` is the port the request was received on (a TCP listener's, or the
    /// destination a PROXY header named): RFC 3875 §4.1.15 makes it `SERVER_PORT` whatever
    /// port the Host names. False on a Unix socket, where a Host's port stands in.
    pub port_received: bool,
    /// `wsgi.url_scheme`.
    pub url_scheme: &'static str,
    /// A host from trusted proxy headers (`X-Forwarded-Host`, `Forwarded: host=`): it
    /// replaces the request's own for `HTTP_HOST` and `SERVER_NAME`.
    pub forwarded_host: Option<String>,
    /// A port from trusted proxy headers (`X-Forwarded-Port`): `SERVER_PORT`.
    pub forwarded_port: Option<String>,
    /// The PROXY protocol header the connection began with, if it named a client.
    pub proxy_header: Option<Arc<ProxyHeader>>,
    /// The peer (or the client its PROXY header named) is in `--forwarded-allow-ips`: its
    /// proxy headers are believed, and its `--forwarder-headers` reach the environ.
    pub trusted: bool,
    /// The uwsgi packet this request came in (`uwsgi://` listeners): its variables are the
    /// environ, and the facts above were taken from them.
    pub gateway: Option<Arc<crate::uwsgi::Gateway>>,
}

/// gunicorn's environ keys for a connection that began with a PROXY protocol header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// `PROXY_PROTOCOL`: `TCP4`, `TCP6` or `UNIX`.
    pub protocol: &'static str,
    /// `PROXY_ADDR`: the address the client connected to on the proxy ("" for UNIX).
    pub addr: String,
    /// `PROXY_PORT`: the port the client connected to on the proxy ("" for UNIX).
    pub port: String,
}

impl ConnInfo {
    /// A connection from `peer`, accepted on a listener whose requests without a Host
    /// report `server_name`:`server_port`, under `url_scheme` (`http` or `https`).
    pub fn accepted(
        peer: &Peer,
        server_name: &str,
        server_port: &str,
        url_scheme: &'static str,
    ) -> ConnInfo {
        let (remote_addr, remote_port) = match peer {
            Peer::Tcp(addr) => remote(addr),
            Peer::Unix => (String::new(), String::new()),
        };
        ConnInfo {
            remote_addr,
            remote_port,
            server_name: server_name.to_owned(),
            server_port: server_port.to_owned(),
            port_received: matches!(peer, Peer::Tcp(_)),
            url_scheme,
            forwarded_host: None,
            forwarded_port: None,
            proxy_header: None,
            trusted: false,
            gateway: None,
        }
    }

    /// A plain connection from `remote_addr` to localhost:80, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(remote_addr: &str) -> ConnInfo {
        ConnInfo {
            remote_addr: remote_addr.to_owned(),
            ..ConnInfo::accepted(&Peer::Unix, "localhost", "80", "http")
        }
    }
}

/// `REMOTE_ADDR` and `REMOTE_PORT` for a TCP peer, written digit by digit: std's `Display`
/// for addresses goes through the formatting machinery (padding, width), which cost about
/// 1,300 instructions per accepted connection, a twentieth of serving a `Connection: close`
/// request.
pub fn remote(addr: &SocketAddr) -> (String, String) {
    let ip = ip_text(addr.ip());
    let mut port = String::with_capacity(5);
    push_decimal(&mut port, u32::from(addr.port()));
    (ip, port)
}

/// An address as `REMOTE_ADDR` text.
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                push_decimal(&mut text, u32::from(octet));
            }
            text
        }
        // Rare enough, and its shortest form (RFC 5952) is subtle: std's is correct.
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// Appends `n` in decimal.
fn push_decimal(text: &mut String, n: u32) {
    text.push_str(crate::decimal::Decimal::new(u64::from(n)).as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_formatting() {
        let cases = [
            "0.0.0.0:0",
            "127.0.0.1:80",
            "10.20.30.40:8080",
            "255.255.255.255:65535",
            "1.2.3.4:9",
            "[::1]:443",
            "[2001:db8::ff00:42:8329]:12345",
            "[::ffff:192.0.2.1]:1",
        ];
        for case in cases {
            let addr: SocketAddr = case.parse().expect("valid");
            let (ip, port) = remote(&addr);
            assert_eq!(ip, addr.ip().to_string(), "{case}");
            assert_eq!(port, addr.port().to_string(), "{case}");
        }
    }
}
