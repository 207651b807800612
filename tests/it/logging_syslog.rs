//! `--log-syslog`: lines as gunicorn puts them on the wire (Python's `SysLogHandler`:
//! `<PRI>gunicorn.<prefix>.<log>: [pid] message` and a NUL), received by a real local
//! listener: a Unix datagram socket and a UDP one; the access log kept out with
//! `--disable-redirect-access-to-syslog`; a syslog nobody listens on does not stop serving.

use crate::support::*;
use std::os::unix::net::UnixDatagram;

/// One received message: priority and the text between it and the NUL.
fn parse(datagram: &[u8]) -> (u32, String) {
    let text = std::str::from_utf8(datagram).expect("UTF-8");
    let rest = text.strip_prefix('<').expect(text);
    let (pri, rest) = rest.split_once('>').expect(text);
    let body = rest
        .strip_suffix('\0')
        .unwrap_or_else(|| panic!("no NUL: {text:?}"));
    (pri.parse().expect(text), body.to_owned())
}

/// Receives messages until one satisfies `done`; all of them. The read timeout is only a
/// safety deadline for a hung test.
fn receive_until(
    recv: impl Fn(&mut [u8]) -> std::io::Result<usize>,
    done: impl Fn(&str) -> bool,
) -> Vec<(u32, String)> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = recv(&mut buf).unwrap_or_else(|e| panic!("no syslog message ({e}); had {all:#?}"));
        let message = parse(&buf[..n]);
        let last = done(&message.1);
        all.push(message);
        if last {
            return all;
        }
    }
}

#[test]
fn unix_datagram_syslog_gets_error_and_access_lines_framed_as_gunicorns() {
    let dir = TempDir::new();
    let path = dir.join("log.sock");
    let listener = UnixDatagram::bind(&path).expect("bind");
    listener.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut server = server("hello")
        .args([
            "--log-syslog",
            "--log-syslog-prefix",
            "shop",
            "--log-syslog-facility",
            "local1",
        ])
        .arg("--log-syslog-to")
        .arg(format!("unix://{}#dgram", path.display()))
        .start();
    let master = server.pid();
    let worker = server.worker_pid();
    assert_eq!(server.get("/hello?x=1").status(), 200);
    let got = receive_until(|b| listener.recv(b), |m| m.contains(".access: "));
    // local1 (17) * 8 + info (6)
    let error = format!("gunicorn.shop.error: [{master}] Listening at: http://");
    assert!(
        got.iter()
            .any(|(pri, m)| *pri == 142 && m.starts_with(&error)),
        "{got:#?}"
    );
    let ready = format!("gunicorn.shop.error: [{worker}] Worker ready (pid: {worker})");
    assert!(
        got.iter().any(|(pri, m)| *pri == 142 && *m == ready),
        "{got:#?}"
    );
    let (pri, access) = got.last().unwrap();
    assert_eq!(*pri, 142);
    let prefix = format!("gunicorn.shop.access: [{worker}] 127.0.0.1 - - [");
    assert!(access.starts_with(&prefix), "{access}");
    assert!(
        access.contains("] \"GET /hello?x=1 HTTP/1.1\" 200 "),
        "{access}"
    );
    // The error log itself still goes to standard error.
    assert!(server.stderr_text().contains("Listening at: http://"));
    server.terminate();
}

#[test]
fn udp_syslog_without_the_access_log() {
    let listener = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    listener.set_read_timeout(Some(DEADLINE)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = server("hello")
        .args(["--log-syslog", "--disable-redirect-access-to-syslog"])
        .arg("--log-syslog-to")
        .arg(format!("udp://127.0.0.1:{port}"))
        .start();
    let worker = server.worker_pid();
    assert_eq!(server.get("/").status(), 200);
    server.terminate();
    // The worker sends its lines in order: its access line, had there been one, comes
    // before its last one.
    let got = receive_until(|b| listener.recv(b), |m| m.contains("Worker exiting"));
    // user (1) * 8 + info (6); the prefix defaults to the process name, the app.
    let ready = format!("gunicorn.hello.error: [{worker}] Worker ready (pid: {worker})");
    assert!(
        got.iter().any(|(pri, m)| *pri == 14 && *m == ready),
        "{got:#?}"
    );
    assert!(
        !got.iter()
            .any(|(_, m)| m.contains("access") || m.contains("GET /")),
        "{got:#?}"
    );
}

#[test]
fn a_syslog_nobody_listens_on_does_not_stop_serving() {
    let dir = TempDir::new();
    let mut server = server("hello")
        .arg("--log-syslog")
        .workers(2)
        .arg("--log-syslog-to")
        .arg(format!("unix://{}#dgram", dir.join("nobody").display()))
        .start();
    for _ in 0..20 {
        assert_eq!(server.get("/").status(), 200);
    }
    server.terminate();
    let stderr = server.stderr_text();
    // Said once (in the master, whose state the workers inherit), not once per line.
    assert_eq!(
        stderr.matches("cannot send to syslog at unix://").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_syslog_settings_exit_2_naming_them() {
    for (flag, value, says) in [
        ("--log-syslog-to", "localhost:514", "udp://HOST:PORT"),
        ("--log-syslog-facility", "bogus", "local0 to local7"),
    ] {
        let out = server("hello").args(["--log-syslog", flag, value]).run();
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(
            out.stderr.contains(value) && out.stderr.contains(says),
            "{out:?}"
        );
    }
}

#[test]
fn a_syslog_that_never_reads_does_not_block_the_workers() {
    let dir = TempDir::new();
    let path = dir.join("log.sock");
    // Bound and never read: its queue fills after a few lines.
    let listener = UnixDatagram::bind(&path).expect("bind");
    nix::sys::socket::setsockopt(&listener, nix::sys::socket::sockopt::RcvBuf, &1024)
        .expect("SO_RCVBUF");
    let mut server = server("hello")
        .arg("--log-syslog")
        .arg("--log-syslog-to")
        .arg(format!("unix://{}#dgram", path.display()))
        .start();
    let mut conn = server.conn();
    for i in 0..300 {
        let request = format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            conn.roundtrip(request.as_bytes()).status(),
            200,
            "request {i}"
        );
    }
    server.terminate();
    let stderr = server.stderr_text();
    assert!(
        stderr.contains("cannot send to syslog at unix://") && stderr.contains("dropped"),
        "{stderr}"
    );
    drop(listener);
}

#[test]
fn each_process_writes_its_own_tcp_syslog_stream() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut all = Vec::new();
                let _ = std::io::Read::read_to_end(&mut stream, &mut all);
                let _ = tx.send(all);
            });
        }
    });
    let mut server = server("hello")
        .arg("--log-syslog")
        .arg("--log-syslog-to")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .workers(2)
        .start();
    let mut conn = server.conn();
    for i in 0..20 {
        let request = format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(conn.roundtrip(request.as_bytes()).status(), 200);
    }
    server.terminate();
    // The master's connection, and one per worker that logged after the fork.
    let streams: Vec<Vec<u8>> = (0..3)
        .map(|_| rx.recv_timeout(DEADLINE).expect("a closed syslog stream"))
        .collect();
    for stream in &streams {
        for message in stream.split(|b| *b == 0).filter(|m| !m.is_empty()) {
            let mut framed = message.to_vec();
            framed.push(0);
            let (_, text) = parse(&framed);
            assert!(text.starts_with("gunicorn.hello."), "{text:?}");
        }
    }
}
