use super::*;
use crate::test_support::TempDir;
use std::os::unix::net::{UnixDatagram, UnixListener};

#[test]
fn unix_datagram_lines_are_framed_as_python_frames_them() {
    let dir = TempDir::new("rsgi-syslog-", "dgram");
    let path = dir.path().join("log");
    let server = UnixDatagram::bind(&path).unwrap();
    let addr = Addr::Unix {
        path: path.clone(),
        dgram_only: true,
    };
    let syslog = Syslog::open(&addr, 16).unwrap();
    assert_eq!(
        syslog.send(severity(super::super::LogLevel::Warning), b"x: hi"),
        None
    );
    let mut buf = [0u8; 256];
    let n = server.recv(&mut buf).unwrap();
    // local0 (16) * 8 + warning (4)
    assert_eq!(&buf[..n], b"<132>x: hi\0");
}

#[test]
fn a_unix_stream_is_used_when_there_is_no_datagram_socket() {
    use std::io::Read;
    let dir = TempDir::new("rsgi-syslog-", "stream");
    let path = dir.path().join("log");
    let listener = UnixListener::bind(&path).unwrap();
    let addr = Addr::Unix {
        path,
        dgram_only: false,
    };
    let syslog = Syslog::open(&addr, 1).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    syslog.send(6, b"one");
    syslog.send(3, b"two");
    drop(syslog);
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    assert_eq!(all, b"<14>one\0<11>two\0");
}

#[test]
fn udp_lines_arrive_and_nobody_listening_is_no_error() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let syslog = Syslog::open(&Addr::Udp("127.0.0.1".into(), port), 1).unwrap();
    assert_eq!(syslog.send(6, b"hello"), None);
    let mut buf = [0u8; 64];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"<14>hello\0");
}

#[test]
fn a_missing_socket_drops_counts_and_reports_once() {
    let dir = TempDir::new("rsgi-syslog-", "missing");
    let path = dir.path().join("nobody");
    let addr = Addr::Unix {
        path: path.clone(),
        dgram_only: true,
    };
    let syslog = Syslog::open(&addr, 1).unwrap();
    assert!(matches!(syslog.send(6, b"a"), Some(Notice::Failing(_))));
    assert_eq!(syslog.send(6, b"b"), None);
    assert_eq!(syslog.dropped(), 2);
    // It comes up: the next attempt after the retry delay goes through.
    let server = UnixDatagram::bind(&path).unwrap();
    syslog.retry_at.store(0, Ordering::Relaxed);
    assert!(matches!(syslog.send(6, b"c"), Some(Notice::Recovered(_))));
    let mut buf = [0u8; 16];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"<14>c\0");
}

#[test]
fn a_full_datagram_socket_never_blocks() {
    let dir = TempDir::new("rsgi-syslog-", "full");
    let path = dir.path().join("log");
    let _server = UnixDatagram::bind(&path).unwrap();
    let addr = Addr::Unix {
        path,
        dgram_only: true,
    };
    let syslog = Syslog::open(&addr, 1).unwrap();
    let line = vec![b'x'; 1000];
    // Nobody reads: the queue fills, and sending keeps returning at once.
    for _ in 0..10_000 {
        syslog.send(6, &line);
    }
    assert!(syslog.dropped() > 0);
}

#[test]
fn tcp_lines_end_with_a_nul_and_a_closed_port_is_dropped_not_waited_for() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let syslog = Syslog::open(&Addr::Tcp("127.0.0.1".into(), port), 3).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    assert_eq!(syslog.send(3, b"boom"), None);
    drop(syslog);
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    // daemon (3) * 8 + error (3)
    assert_eq!(all, b"<27>boom\0");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let syslog = Syslog::open(&Addr::Tcp("127.0.0.1".into(), port), 1).unwrap();
    assert!(matches!(syslog.send(6, b"a"), Some(Notice::Failing(_))));
    assert_eq!(syslog.send(6, b"b"), None);
    assert_eq!(syslog.dropped(), 2);
}
