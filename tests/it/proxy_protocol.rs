//! The PROXY protocol (`--proxy-protocol`, `--proxy-allow-ips`) with real header bytes, v1
//! and v2, from allowed and other peers, over TCP and Unix sockets.

use crate::support::*;
use std::io::Write;
use std::net::Ipv6Addr;

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, addresses, TLVs.
fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x20 | command);
    out.push(family);
    out.extend_from_slice(&((addresses.len() + tlvs.len()) as u16).to_be_bytes());
    out.extend_from_slice(addresses);
    out.extend_from_slice(tlvs);
    out
}

fn v2_tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, tlvs: &[u8]) -> Vec<u8> {
    let mut a = src.to_vec();
    a.extend_from_slice(&dst);
    a.extend_from_slice(&sport.to_be_bytes());
    a.extend_from_slice(&dport.to_be_bytes());
    v2(1, 0x11, &a, tlvs)
}

fn v2_tcp6(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let mut a = src.parse::<Ipv6Addr>().expect("v6").octets().to_vec();
    a.extend_from_slice(&dst.parse::<Ipv6Addr>().expect("v6").octets());
    a.extend_from_slice(&sport.to_be_bytes());
    a.extend_from_slice(&dport.to_be_bytes());
    v2(1, 0x21, &a, &[])
}

/// TLVs a load balancer might add: AUTHORITY (SNI), an AWS VPC endpoint, a NOOP.
fn some_tlvs() -> Vec<u8> {
    let mut t = vec![0x02, 0x00, 11];
    t.extend_from_slice(b"example.com");
    t.extend_from_slice(&[0xEA, 0x00, 0x05, 0x01]);
    t.extend_from_slice(b"vpce");
    t.extend_from_slice(&[0x04, 0x00, 0x02, 0, 0]);
    t
}

/// Sends `preamble` and a request in one write, and reads the environ.
fn environ_after(conn: &mut Conn, preamble: &[u8]) -> Environ {
    let mut bytes = preamble.to_vec();
    bytes.extend_from_slice(&get_req("/"));
    conn.roundtrip(&bytes).environ()
}

/// The connection is closed without a single response byte (a proxy expects none).
fn refused(mut conn: Conn, bytes: &[u8]) {
    let mut all = bytes.to_vec();
    all.extend_from_slice(&get_req("/"));
    // The server may close before taking everything.
    let _ = conn.try_send(&all);
    conn.expect_closed();
}

#[test]
fn v1_and_v2_headers_name_the_client() {
    let server = server("environ").arg("--proxy-protocol").start();
    // v1 TCP4, followed by two pipelined keep-alive requests in the same write.
    let mut c = server.conn();
    let mut bytes = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n".to_vec();
    bytes.extend_from_slice(&get_req("/one"));
    bytes.extend_from_slice(&get_req("/two"));
    c.send(&bytes);
    for path in ["/one", "/two"] {
        let env = c.read_response().environ();
        assert_eq!(env.str("PATH_INFO"), path);
        assert_eq!(env.str("REMOTE_ADDR"), "192.0.2.10");
        assert_eq!(env.str("REMOTE_PORT"), "56324");
        // gunicorn's keys: PROXY_ADDR/PORT are where the client connected to.
        assert_eq!(env.str("PROXY_PROTOCOL"), "TCP4");
        assert_eq!(env.str("PROXY_ADDR"), "198.51.100.1");
        assert_eq!(env.str("PROXY_PORT"), "443");
        assert_eq!(env.str("HTTP_HOST"), "localhost");
    }
    // v1 TCP6; without a Host the server address is the proxy's.
    let mut c = server.conn();
    let mut bytes = b"PROXY TCP6 2001:db8::7 2001:db8::1 1234 8443\r\n".to_vec();
    bytes.extend_from_slice(b"GET / HTTP/1.0\r\n\r\n");
    let env = c.roundtrip(&bytes).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "2001:db8::7");
    assert_eq!(env.str("REMOTE_PORT"), "1234");
    assert_eq!(env.str("PROXY_PROTOCOL"), "TCP6");
    assert_eq!(env.str("SERVER_NAME"), "2001:db8::1");
    assert_eq!(env.str("SERVER_PORT"), "8443");
    // v2 TCP4 with TLVs, then a keep-alive request.
    let mut c = server.conn();
    let env = environ_after(
        &mut c,
        &v2_tcp4([203, 0, 113, 5], [10, 0, 0, 1], 40000, 80, &some_tlvs()),
    );
    assert_eq!(env.str("REMOTE_ADDR"), "203.0.113.5");
    assert_eq!(env.str("REMOTE_PORT"), "40000");
    assert_eq!(env.str("PROXY_ADDR"), "10.0.0.1");
    let env = c.roundtrip(&get_req("/again")).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "203.0.113.5");
    // v2 TCP6.
    let mut c = server.conn();
    let env = environ_after(&mut c, &v2_tcp6("2001:db8::99", "2001:db8::1", 7, 443));
    assert_eq!(env.str("REMOTE_ADDR"), "2001:db8::99");
    assert_eq!(env.str("PROXY_PROTOCOL"), "TCP6");
}

#[test]
fn local_unknown_and_unspec_keep_the_real_peer() {
    let server = server("environ").arg("--proxy-protocol=auto").start();
    for preamble in [
        b"PROXY UNKNOWN\r\n".to_vec(),
        b"PROXY UNKNOWN 2001:db8::1 2001:db8::2 1 2\r\n".to_vec(),
        // LOCAL: the proxy's own health check; its addresses are ignored.
        v2(0, 0x11, &[1; 12], &[]),
        v2(0, 0x00, &[], &some_tlvs()),
        // PROXY with an unspecified family.
        v2(1, 0x00, &[], &[]),
        // auto: a peer allowed to send one may also send none.
        Vec::new(),
    ] {
        let mut c = server.conn();
        let env = environ_after(&mut c, &preamble);
        assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1", "{preamble:?}");
        assert!(!env.has("PROXY_PROTOCOL"), "{preamble:?}");
    }
}

#[test]
fn forwarded_headers_behind_a_proxy_are_judged_by_its_client() {
    // HAProxy relays the client's bytes: an X-Forwarded-For behind a PROXY header from an
    // untrusted client is that client's own claim.
    let server = server("environ").arg("--proxy-protocol=v1").start();
    let behind = |client: &str| {
        let mut bytes = format!("PROXY TCP4 {client} 127.0.0.1 5000 80\r\n").into_bytes();
        bytes.extend_from_slice(&request(
            "GET",
            "/",
            &[
                ("X-Forwarded-For", "1.2.3.4"),
                ("X-Forwarded-Proto", "https"),
            ],
            b"",
        ));
        server.conn().roundtrip(&bytes).environ()
    };
    let env = behind("203.0.113.7");
    assert_eq!(env.str("REMOTE_ADDR"), "203.0.113.7");
    assert_eq!(env.str("wsgi.url_scheme"), "http");
    assert_eq!(env.str("HTTP_X_FORWARDED_FOR"), "1.2.3.4");
    // A client that is itself trusted (a proxy in front of HAProxy) is believed.
    let env = behind("127.0.0.1");
    assert_eq!(env.str("REMOTE_ADDR"), "1.2.3.4");
    assert_eq!(env.str("wsgi.url_scheme"), "https");
}

#[test]
fn malformed_missing_and_wrong_version_headers_close_the_connection() {
    let mut server = server("environ").arg("--proxy-protocol=v1").start();
    let cases: Vec<Vec<u8>> = vec![
        // Missing, where v1 is required from this (allowed) peer.
        Vec::new(),
        // The other version.
        v2_tcp4([192, 0, 2, 1], [192, 0, 2, 2], 1, 2, &[]),
        b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 80\r\n".to_vec(),
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1 80\n".to_vec(),
        b"PROXY TCP4 ::1 ::1 1 80\r\n".to_vec(),
        b"PROXY TCP5 192.0.2.1 192.0.2.2 1 80\r\n".to_vec(),
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1 80 extra\r\n".to_vec(),
        [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 200], b"\r\n"].concat(),
    ];
    for bytes in &cases {
        refused(server.conn(), bytes);
    }
    // A malformed v2 header on an auto server.
    let auto = server_auto();
    let mut bad_version = v2_tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2, &[]);
    bad_version[12] = 0x31;
    for bytes in [
        bad_version,
        v2(1, 0x11, &[0; 6], &[]),
        v2(1, 0x12, &[0; 12], &[]),
        [V2_SIGNATURE, &[0x21, 0x11, 0xff, 0xff]].concat(),
    ] {
        refused(auto.conn(), &bytes);
    }
    // The worker lives on and serves.
    let mut c = server.conn();
    let env = environ_after(&mut c, b"PROXY TCP4 192.0.2.1 192.0.2.2 1 80\r\n");
    assert_eq!(env.str("REMOTE_ADDR"), "192.0.2.1");
    assert_eq!(env.0["pid"].as_i64(), Some(i64::from(server.worker_pid())));
    let log = server
        .log
        .wait_count(1, |l| l.contains("no PROXY protocol v1 header"));
    assert!(log.is_ok(), "{log:?}");
}

fn server_auto() -> Server {
    server("environ").arg("--proxy-protocol=auto").start()
}

#[test]
fn a_header_from_a_peer_not_allowed_is_refused() {
    let mut server = server("environ")
        .args(["--proxy-protocol=v2", "--proxy-allow-from", "10.0.0.1"])
        .start();
    refused(
        server.conn(),
        &v2_tcp4([192, 0, 2, 1], [192, 0, 2, 2], 1, 2, &[]),
    );
    refused(server.conn(), b"PROXY TCP4 192.0.2.1 192.0.2.2 1 80\r\n");
    refused(server.conn(), b"PROXY nonsense\r\n");
    let log = server
        .log
        .wait_count(3, |l| l.contains("peer not in --proxy-allow-ips"));
    assert!(log.is_ok(), "{log:?}");
    // Its plain requests are served, with its own address.
    let mut c = server.conn();
    let env = environ_after(&mut c, b"");
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
}

#[test]
fn unix_socket_proxies_only_when_allowed() {
    let dir = TempDir::new();
    let default = server("environ")
        .arg("--proxy-protocol")
        .bind(format!("unix:{}", dir.join("default.sock").display()))
        .start();
    refused(
        Conn::unix(&default.unix_path()),
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1 80\r\n",
    );
    let mut c = Conn::unix(&default.unix_path());
    assert_eq!(environ_after(&mut c, b"").str("REMOTE_ADDR"), "");

    let allowed = server("environ")
        .args(["--proxy-protocol=v2", "--proxy-allow-ips", "unix"])
        .bind(format!("unix:{}", dir.join("allowed.sock").display()))
        .start();
    let mut c = Conn::unix(&allowed.unix_path());
    let env = environ_after(
        &mut c,
        &v2_tcp4([198, 51, 100, 4], [10, 0, 0, 1], 999, 80, &[]),
    );
    assert_eq!(env.str("REMOTE_ADDR"), "198.51.100.4");
    assert_eq!(env.str("REMOTE_PORT"), "999");
    // A client of a Unix socket on the proxy.
    let mut c = Conn::unix(&allowed.unix_path());
    let env = environ_after(&mut c, &v2(1, 0x31, &[0; 216], &[]));
    assert_eq!(env.str("REMOTE_ADDR"), "");
    assert_eq!(env.str("PROXY_PROTOCOL"), "UNIX");
    // v2 is required from an allowed peer.
    refused(Conn::unix(&allowed.unix_path()), b"");
}

#[test]
fn a_header_in_pieces_is_awaited_and_a_stalled_one_times_out() {
    let server = server("environ")
        .args(["--proxy-protocol=v1", "--header-timeout", "1"])
        .start();
    let mut c = server.conn();
    let header = b"PROXY TCP4 192.0.2.1 192.0.2.2 4321 80\r\n";
    for piece in header.chunks(7) {
        c.stream().write_all(piece).expect("send");
        c.stream().flush().expect("flush");
    }
    let env = c.roundtrip(&get_req("/")).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "192.0.2.1");
    // A partial header that never completes: closed at the header timeout, no response.
    let mut c = server.conn();
    c.send(b"PROXY TCP4 192.0.2.1 ");
    c.expect_closed();
}

#[test]
fn with_a_thread_pool_the_header_is_still_read_first() {
    let server = server("environ")
        .args(["--proxy-protocol=v2", "--threads", "2"])
        .start();
    let mut c = server.conn();
    let mut bytes = v2_tcp4([192, 0, 2, 33], [192, 0, 2, 1], 5555, 80, &some_tlvs());
    bytes.extend_from_slice(&get_req("/one"));
    bytes.extend_from_slice(&get_req("/two"));
    c.send(&bytes);
    for path in ["/one", "/two"] {
        let env = c.read_response().environ();
        assert_eq!(env.str("PATH_INFO"), path);
        assert_eq!(env.str("REMOTE_ADDR"), "192.0.2.33");
    }
    let env = c.roundtrip(&get_req("/three")).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "192.0.2.33");
    refused(server.conn(), b"");
}
