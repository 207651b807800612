//! Serving over each kind of listener, and more than one worker.

use crate::support::*;
use std::net::SocketAddr;

#[test]
fn hello_over_ipv4_tcp() {
    let server = server("hello:application").start();
    let resp = server.get("/");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "Hello, World!\n");
    assert_eq!(resp.head.version, "HTTP/1.1");
    // A single-item list gets a Content-Length (no chunking needed).
    assert_eq!(resp.framing, Framing::Length(14));
}

#[test]
fn listen_line_reports_the_real_port_for_port_zero() {
    let server = server("hello").start();
    let addr = server.addr();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0, "the log must show the bound port, not 0");
}

#[test]
fn app_spec_without_callable_defaults_to_application() {
    let server = server("hello").start();
    assert_eq!(server.get("/").text(), "Hello, World!\n");
}

#[test]
fn responses_carry_date_and_server_headers() {
    let server = server("hello").start();
    let resp = server.get("/");
    assert_eq!(resp.header("server"), Some("rsgi-server"));
    let date = resp.header("date").expect("Date header");
    // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7).
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date:?}");
}

#[test]
fn serves_over_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let server = server("environ").bind("[::1]:0").start();
    assert!(
        server.urls[0].starts_with("http://[::1]:"),
        "{:?}",
        server.urls
    );
    let addr: SocketAddr = server.addr();
    assert!(addr.is_ipv6());
    let mut c = Conn::tcp(addr);
    let env = c.roundtrip(&get_req("/v6")).environ();
    assert_eq!(env.str("PATH_INFO"), "/v6");
    assert_eq!(env.str("REMOTE_ADDR"), "::1");
}

#[test]
fn listen_lines_come_in_bind_order() {
    let dir = TempDir::new();
    let sock = dir.join("app.sock");
    let server = server("hello")
        .bind("127.0.0.1:0")
        .bind(format!("unix:{}", sock.display()))
        .bind("127.0.0.1:0")
        .start();
    assert_eq!(server.urls.len(), 3);
    assert!(server.urls[0].starts_with("http://127.0.0.1:"));
    assert_eq!(server.urls[1], format!("unix:{}", sock.display()));
    assert!(server.urls[2].starts_with("http://127.0.0.1:"));
    // Every listener serves.
    for addr in server.tcp_addrs() {
        assert_eq!(Conn::tcp(addr).roundtrip(&get_req("/")).status(), 200);
    }
    assert_eq!(Conn::unix(&sock).roundtrip(&get_req("/")).status(), 200);
}

#[test]
fn unix_socket_serves_and_is_removed_on_exit() {
    let dir = TempDir::new();
    let sock = dir.join("s.sock");
    let mut server = server("hello")
        .bind(format!("unix:{}", sock.display()))
        .start();
    assert_eq!(server.unix_path(), sock);
    assert!(sock.exists());
    let mut c = Conn::unix(&sock);
    let resp = c.roundtrip(&get_req("/"));
    assert_eq!(resp.text(), "Hello, World!\n");
    drop(c);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!sock.exists(), "the socket file must be removed on exit");
}

#[test]
fn unix_socket_mode_is_applied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let sock = dir.join("m.sock");
    let server = server("hello")
        .bind(format!("unix:{}", sock.display()))
        .args(["--unix-socket-mode", "660"])
        .start();
    let mode = std::fs::metadata(server.unix_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660, "mode {:o}", mode & 0o777);
}

#[test]
fn stale_unix_socket_file_is_replaced() {
    // A socket file left behind by a crashed server must not stop a restart.
    let dir = TempDir::new();
    let sock = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let server = server("hello")
        .bind(format!("unix:{}", sock.display()))
        .start();
    assert_eq!(Conn::unix(&sock).roundtrip(&get_req("/")).status(), 200);
    drop(server);
}

/// `pid=N` from the slow app's answer.
fn answer_pid(text: &str) -> i32 {
    text.split("pid=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn two_workers_serve_concurrently() {
    let dir = TempDir::new();
    let gate = dir.join("gate");
    let mut server = server("cases.slow").workers(2).start();
    assert_eq!(distinct(&server.worker_pids).len(), 2);
    // Block one worker inside the app (WSGI here is one request at a time per worker,
    // wsgi.multithread is False) ...
    let mut blocked = server.conn();
    blocked.send(&get_req(&format!(
        "/?id=a&until={}",
        qs_escape(gate.to_str().unwrap())
    )));
    server.wait_for_line("slow started a");
    // ... so the other worker must answer this one.
    let quick = server.get("/?id=b&seconds=0");
    assert_eq!(quick.status(), 200);
    std::fs::write(&gate, b"").unwrap();
    let slow = blocked.read_response();
    assert!(slow.text().starts_with("slow done a"), "{}", slow.text());
    let (a, b) = (answer_pid(&slow.text()), answer_pid(&quick.text()));
    assert_ne!(a, b, "both requests were served by the same worker");
    assert!(server.worker_pids.contains(&a) && server.worker_pids.contains(&b));
    // PEP 3333: wsgi.multiprocess is true when several processes serve the app.
    assert!(
        quick.text().contains("multiprocess=True"),
        "{}",
        quick.text()
    );
}

#[test]
fn single_worker_is_not_multiprocess() {
    let server = server("environ").start();
    let env = server.get("/").environ();
    assert_eq!(env.value("wsgi.multiprocess"), &Json::Bool(false));
    assert_eq!(env.pid(), server.worker_pid());
    assert_ne!(
        env.pid(),
        server.pid(),
        "the app must run in a worker, not the master"
    );
}

#[test]
fn inherited_listening_fd() {
    use std::os::fd::{AsFd, FromRawFd, IntoRawFd};
    // fd://N: a socket bound by a parent (systemd, a supervisor) and inherited.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Clear close-on-exec so the server inherits it.
    let flags = nix::fcntl::fcntl(listener.as_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    let mut fdflags = nix::fcntl::FdFlag::from_bits_truncate(flags);
    fdflags.remove(nix::fcntl::FdFlag::FD_CLOEXEC);
    nix::fcntl::fcntl(listener.as_fd(), nix::fcntl::FcntlArg::F_SETFD(fdflags)).unwrap();
    let fd = listener.into_raw_fd();
    let server = server("hello").bind(format!("fd://{fd}")).start();
    // Close our copy: from now on only the server holds the socket.
    // SAFETY: `fd` came from into_raw_fd above and nothing else owns it in this process.
    drop(unsafe { std::net::TcpListener::from_raw_fd(fd) });
    let resp = Conn::tcp(addr).roundtrip(&get_req("/"));
    assert_eq!(resp.text(), "Hello, World!\n");
    drop(server);
}
