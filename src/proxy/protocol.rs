//! A sans-IO parser for the PROXY protocol header, versions 1 (text) and 2 (binary), as
//! HAProxy's `proxy-protocol.txt` specifies them: bytes in, a result out. It never reads
//! past the header, so the caller can peek at a connection's first bytes, parse them, and
//! then consume exactly the header, leaving what follows (HTTP, a TLS ClientHello) in the
//! socket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The version 2 signature: twelve bytes no HTTP request or TLS record starts with.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1 headers start with this.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest version 1 header, CRLF included (the specification's bound).
pub const V1_MAX: usize = 107;
/// The longest version 2 header accepted, 16 fixed bytes included: addresses (at most 216
/// bytes, for Unix sockets) and TLVs. A sender's TLVs (AWS, Azure, TLS details) take a few
/// hundred bytes; a longer header is refused rather than buffered.
pub const V2_MAX: usize = 4096;

/// Which version a header was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyVersion {
    /// The text format.
    V1,
    /// The binary format.
    V2,
}

/// The addresses a header carries for a proxied connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// TCP over IPv4 or IPv6: the client (`source`) and the address it connected to on the
    /// proxy (`destination`).
    Tcp {
        /// The client.
        source: SocketAddr,
        /// Where the client connected to.
        destination: SocketAddr,
    },
    /// A client of a Unix socket on the proxy (version 2 only); the paths are not kept.
    Unix,
}

impl Addresses {
    /// gunicorn's `PROXY_PROTOCOL` value: `TCP4`, `TCP6` or `UNIX`.
    pub fn protocol(&self) -> &'static str {
        match self {
            Addresses::Tcp {
                source: SocketAddr::V4(_),
                ..
            } => "TCP4",
            Addresses::Tcp { .. } => "TCP6",
            Addresses::Unix => "UNIX",
        }
    }
}

/// A complete header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Its version.
    pub version: ProxyVersion,
    /// Its length in bytes: what to consume from the connection.
    pub len: usize,
    /// The proxied connection's addresses; `None` when the connection is the proxy's own
    /// (v2 `LOCAL`, a health check) or its addresses are unknown (v1 `UNKNOWN`, v2
    /// `UNSPEC`): the connection's real peer stands.
    pub addresses: Option<Addresses>,
}

/// What the bytes at the start of a connection are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedHeader {
    /// Too few bytes to tell yet.
    Incomplete,
    /// They do not start with a PROXY header.
    Absent,
    /// A whole header.
    Header(Header),
}

/// Why a header is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Longer than the bound ([`V1_MAX`], [`V2_MAX`]).
    TooLong,
    /// A v1 line that is not `PROXY TCP4|TCP6 src dst sport dport` or `PROXY UNKNOWN...`.
    BadLine,
    /// A v1 address or port that is not valid for its protocol.
    BadAddress,
    /// A v2 version nibble other than 2, or a command other than LOCAL or PROXY.
    BadVersionOrCommand,
    /// A v2 address family or transport this server cannot serve (UDP, unknown values).
    BadFamily,
    /// A v2 address block shorter than its family needs.
    ShortAddresses,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Malformed::TooLong => "header too long",
            Malformed::BadLine => "malformed v1 line",
            Malformed::BadAddress => "invalid v1 address or port",
            Malformed::BadVersionOrCommand => "unsupported v2 version or command",
            Malformed::BadFamily => "unsupported v2 address family or transport",
            Malformed::ShortAddresses => "v2 address block too short",
        })
    }
}

/// Parses the bytes a connection starts with (all received so far).
pub fn parse(bytes: &[u8]) -> Result<ParsedHeader, Malformed> {
    if starts_like(bytes, V2_SIGNATURE) {
        if bytes.len() < V2_SIGNATURE.len() {
            return Ok(ParsedHeader::Incomplete);
        }
        return parse_v2(bytes);
    }
    if starts_like(bytes, V1_PREFIX) {
        if bytes.len() < V1_PREFIX.len() {
            return Ok(ParsedHeader::Incomplete);
        }
        return parse_v1(bytes);
    }
    Ok(ParsedHeader::Absent)
}

/// Whether `bytes` and `prefix` agree on their common length (so `bytes` may still become
/// `prefix`, or already starts with it).
fn starts_like(bytes: &[u8], prefix: &[u8]) -> bool {
    let n = bytes.len().min(prefix.len());
    bytes[..n] == prefix[..n]
}

fn parse_v1(bytes: &[u8]) -> Result<ParsedHeader, Malformed> {
    let window = &bytes[..bytes.len().min(V1_MAX)];
    let Some(cr) = window.iter().position(|&b| b == b'\r' || b == b'\n') else {
        return if bytes.len() >= V1_MAX {
            Err(Malformed::TooLong)
        } else {
            Ok(ParsedHeader::Incomplete)
        };
    };
    match window.get(cr..cr + 2) {
        Some(b"\r\n") => {}
        // A CR as the last byte received: the LF may be on its way.
        None if window[cr] == b'\r' && bytes.len() == cr + 1 => {
            return Ok(ParsedHeader::Incomplete);
        }
        _ => return Err(Malformed::BadLine),
    }
    let line = &window[..cr];
    if line.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
        return Err(Malformed::BadLine);
    }
    let len = cr + 2;
    // ASCII checked above.
    let line = std::str::from_utf8(line).map_err(|_| Malformed::BadLine)?;
    let fields: Vec<&str> = line.split(' ').collect();
    let addresses = match fields.get(1).copied() {
        // The rest of an UNKNOWN line is to be ignored (the specification says so).
        Some("UNKNOWN") => None,
        Some(proto @ ("TCP4" | "TCP6")) => {
            let [_, _, src, dst, sport, dport] = fields[..] else {
                return Err(Malformed::BadLine);
            };
            let ip = |s: &str| -> Result<IpAddr, Malformed> {
                let ip = if proto == "TCP4" {
                    s.parse::<Ipv4Addr>().map(IpAddr::V4)
                } else {
                    s.parse::<Ipv6Addr>().map(IpAddr::V6)
                };
                ip.map_err(|_| Malformed::BadAddress)
            };
            Some(Addresses::Tcp {
                source: SocketAddr::new(ip(src)?, port(sport)?),
                destination: SocketAddr::new(ip(dst)?, port(dport)?),
            })
        }
        _ => return Err(Malformed::BadLine),
    };
    Ok(ParsedHeader::Header(Header {
        version: ProxyVersion::V1,
        len,
        addresses,
    }))
}

/// A v1 port: decimal, 0 to 65535, no sign and no leading zero.
fn port(s: &str) -> Result<u16, Malformed> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return Err(Malformed::BadAddress);
    }
    s.parse().map_err(|_| Malformed::BadAddress)
}

fn parse_v2(bytes: &[u8]) -> Result<ParsedHeader, Malformed> {
    if bytes.len() < 16 {
        return Ok(ParsedHeader::Incomplete);
    }
    let (version, command) = (bytes[12] >> 4, bytes[12] & 0x0f);
    if version != 2 || command > 1 {
        return Err(Malformed::BadVersionOrCommand);
    }
    let (family, transport) = (bytes[13] >> 4, bytes[13] & 0x0f);
    let block = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    let len = 16 + block;
    if len > V2_MAX {
        return Err(Malformed::TooLong);
    }
    if bytes.len() < len {
        return Ok(ParsedHeader::Incomplete);
    }
    let block = &bytes[16..len];
    let local = command == 0;
    // LOCAL: the proxy's own connection; the family and addresses are to be ignored.
    let addresses = match (family, transport) {
        _ if local => None,
        // UNSPEC: unknown or unsupported at the proxy; the real peer stands.
        (0, _) => None,
        (1, 1) => {
            let a = block.get(..12).ok_or(Malformed::ShortAddresses)?;
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            Some(Addresses::Tcp {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            })
        }
        (2, 1) => {
            let a = block.get(..36).ok_or(Malformed::ShortAddresses)?;
            let ip = |o: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            Some(Addresses::Tcp {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            })
        }
        (3, 1) => {
            block.get(..216).ok_or(Malformed::ShortAddresses)?;
            Some(Addresses::Unix)
        }
        // Datagrams cannot arrive over a stream connection; other values are undefined.
        _ => return Err(Malformed::BadFamily),
    };
    // What follows the addresses is TLVs, which nothing here needs: skipped.
    Ok(ParsedHeader::Header(Header {
        version: ProxyVersion::V2,
        len,
        addresses,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block, TLVs.
    pub(crate) fn v2(command: u8, fam: u8, addrs: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | command);
        out.push(fam);
        out.extend_from_slice(&((addrs.len() + tlvs.len()) as u16).to_be_bytes());
        out.extend_from_slice(addrs);
        out.extend_from_slice(tlvs);
        out
    }

    fn header(bytes: &[u8]) -> Header {
        match parse(bytes) {
            Ok(ParsedHeader::Header(h)) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn tcp(src: &str, dst: &str) -> Option<Addresses> {
        Some(Addresses::Tcp {
            source: src.parse().expect("src"),
            destination: dst.parse().expect("dst"),
        })
    }

    /// Every proper prefix of a header is `Incomplete`, and bytes after it are left alone.
    fn check_incremental(bytes: &[u8]) {
        let whole = header(bytes);
        assert_eq!(whole.len, bytes.len());
        for n in 0..bytes.len() {
            assert_eq!(
                parse(&bytes[..n]),
                Ok(ParsedHeader::Incomplete),
                "prefix {n}"
            );
        }
        let mut more = bytes.to_vec();
        more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(header(&more), whole);
    }

    #[test]
    fn v1_tcp4_and_tcp6() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
        let h = header(line);
        assert_eq!(h.version, ProxyVersion::V1);
        assert_eq!(h.addresses, tcp("192.0.2.1:56324", "198.51.100.2:443"));
        check_incremental(line);
        let line = b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
        assert_eq!(
            header(line).addresses,
            tcp("[2001:db8::1]:65535", "[2001:db8::2]:0")
        );
        check_incremental(line);
    }

    #[test]
    fn v1_unknown_keeps_the_peer() {
        let h = header(b"PROXY UNKNOWN\r\n");
        assert_eq!((h.len, h.addresses), (15, None));
        let h = header(b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n");
        assert_eq!(h.addresses, None);
    }

    #[test]
    fn v1_longest_line_fits() {
        let line = format!(
            "PROXY UNKNOWN {a} {a} 65535 65535\r\n",
            a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(line.len(), V1_MAX);
        assert_eq!(header(line.as_bytes()).len, V1_MAX);
    }

    #[test]
    fn v1_malformed() {
        let cases: &[(&[u8], Malformed)] = &[
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", Malformed::BadLine),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", Malformed::BadLine),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", Malformed::BadLine),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", Malformed::BadLine),
            (b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", Malformed::BadLine),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", Malformed::BadLine),
            (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", Malformed::BadLine),
            (b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", Malformed::BadLine),
            (b"PROXY \r\n", Malformed::BadLine),
            (b"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", Malformed::BadLine),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x00\r\n",
                Malformed::BadLine,
            ),
            (
                b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
                Malformed::BadAddress,
            ),
            (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", Malformed::BadAddress),
            (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", Malformed::BadAddress),
            (
                b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
                Malformed::BadAddress,
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
                Malformed::BadAddress,
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
                Malformed::BadAddress,
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
                Malformed::BadAddress,
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
                Malformed::BadAddress,
            ),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", Malformed::BadAddress),
        ];
        for (bytes, why) in cases {
            assert_eq!(
                parse(bytes),
                Err(*why),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // No line end within the bound.
        let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 120]].concat();
        assert_eq!(parse(&long), Err(Malformed::TooLong));
        assert_eq!(parse(&long[..V1_MAX - 1]), Ok(ParsedHeader::Incomplete));
    }

    #[test]
    fn not_a_header() {
        for bytes in [
            b"GET / HTTP/1.1\r\n".as_slice(),
            b"POST",
            b"PROXX",
            b"proxy TCP4",
            b"\x16\x03\x01\x02\x00",
            b"\r\n\r\n\x00\r\nQUIX\n",
            b"\r\nGET / HTTP/1.1\r\n",
        ] {
            assert_eq!(parse(bytes), Ok(ParsedHeader::Absent), "{bytes:?}");
        }
        for bytes in [
            b"".as_slice(),
            b"P",
            b"PROXY",
            b"\r\n",
            b"\r\n\r\n\0\r\nQUI",
        ] {
            assert_eq!(parse(bytes), Ok(ParsedHeader::Incomplete), "{bytes:?}");
        }
    }

    #[test]
    fn v2_inet_and_inet6() {
        let mut a4 = vec![192, 0, 2, 1, 198, 51, 100, 2];
        a4.extend_from_slice(&56324u16.to_be_bytes());
        a4.extend_from_slice(&443u16.to_be_bytes());
        let bytes = v2(1, 0x11, &a4, &[]);
        let h = header(&bytes);
        assert_eq!((h.version, h.len), (ProxyVersion::V2, 28));
        assert_eq!(h.addresses, tcp("192.0.2.1:56324", "198.51.100.2:443"));
        check_incremental(&bytes);

        let src: Ipv6Addr = "2001:db8::1".parse().expect("v6");
        let dst: Ipv6Addr = "2001:db8::2".parse().expect("v6");
        let mut a6 = src.octets().to_vec();
        a6.extend_from_slice(&dst.octets());
        a6.extend_from_slice(&1u16.to_be_bytes());
        a6.extend_from_slice(&8443u16.to_be_bytes());
        let bytes = v2(1, 0x21, &a6, &[]);
        assert_eq!(
            header(&bytes).addresses,
            tcp("[2001:db8::1]:1", "[2001:db8::2]:8443")
        );
        check_incremental(&bytes);
    }

    #[test]
    fn v2_tlvs_are_skipped() {
        let a4 = [10, 1, 2, 3, 10, 0, 0, 1, 0x1f, 0x90, 0x01, 0xbb];
        // PP2_TYPE_AUTHORITY "example.com", PP2_TYPE_AWS (VPC endpoint), a NOOP.
        let mut tlvs = vec![0x02, 0x00, 11];
        tlvs.extend_from_slice(b"example.com");
        tlvs.extend_from_slice(&[0xEA, 0x00, 0x05, 0x01, b'v', b'p', b'c', b'e']);
        tlvs.extend_from_slice(&[0x04, 0x00, 0x00]);
        let bytes = v2(1, 0x11, &a4, &tlvs);
        let h = header(&bytes);
        assert_eq!(h.len, bytes.len());
        assert_eq!(h.addresses, tcp("10.1.2.3:8080", "10.0.0.1:443"));
        check_incremental(&bytes);
    }

    #[test]
    fn v2_local_unspec_and_unix() {
        // LOCAL: addresses (even a family) ignored.
        let h = header(&v2(0, 0x11, &[1; 12], &[]));
        assert_eq!(h.addresses, None);
        let h = header(&v2(0, 0x00, &[], &[]));
        assert_eq!((h.len, h.addresses), (16, None));
        // PROXY with UNSPEC: unknown addresses.
        assert_eq!(header(&v2(1, 0x00, &[], &[])).addresses, None);
        // Unix: 2 × 108 bytes of paths.
        let h = header(&v2(1, 0x31, &[0; 216], &[]));
        assert_eq!(h.addresses, Some(Addresses::Unix));
    }

    #[test]
    fn v2_malformed() {
        let a4 = [0u8; 12];
        let mut bad_version = v2(1, 0x11, &a4, &[]);
        bad_version[12] = 0x11;
        assert_eq!(parse(&bad_version), Err(Malformed::BadVersionOrCommand));
        let mut bad_command = v2(1, 0x11, &a4, &[]);
        bad_command[12] = 0x22;
        assert_eq!(parse(&bad_command), Err(Malformed::BadVersionOrCommand));
        assert_eq!(parse(&v2(1, 0x12, &a4, &[])), Err(Malformed::BadFamily));
        assert_eq!(parse(&v2(1, 0x41, &a4, &[])), Err(Malformed::BadFamily));
        assert_eq!(
            parse(&v2(1, 0x11, &[0; 11], &[])),
            Err(Malformed::ShortAddresses)
        );
        assert_eq!(
            parse(&v2(1, 0x21, &[0; 35], &[])),
            Err(Malformed::ShortAddresses)
        );
        assert_eq!(
            parse(&v2(1, 0x31, &[0; 215], &[])),
            Err(Malformed::ShortAddresses)
        );
        // The announced length is bounded before any of it is awaited.
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(parse(&huge), Err(Malformed::TooLong));
        let fits = v2(1, 0x11, &a4, &vec![0; V2_MAX - 16 - 12]);
        assert_eq!(header(&fits).len, V2_MAX);
        let over = v2(1, 0x11, &a4, &vec![0; V2_MAX - 16 - 11]);
        assert_eq!(parse(&over), Err(Malformed::TooLong));
    }
}
