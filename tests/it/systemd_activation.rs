//! systemd socket activation (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`), driven by
//! Debian's `systemd-socket-activate`, which binds, waits for the first connection, then
//! execs the server with the sockets as descriptors 3, 4, ... exactly as systemd does.

use crate::support::hygiene::*;
use crate::support::*;
use std::net::SocketAddr;
use std::path::Path;

fn activate(b: Builder, listen: &[String], extra: &[&str]) -> Builder {
    let mut args: Vec<String> = Vec::new();
    for l in listen {
        args.push("-l".into());
        args.push(l.clone());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    // It passes on only the variables it is told to.
    for var in ["PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"] {
        args.push("-E".into());
        args.push(var.into());
    }
    b.no_default_bind().wrapper("systemd-socket-activate", args)
}

/// Waits until the activator listens on all `n` sockets, then connects to `addr` (which
/// makes it exec the server) and returns the connection with a request sent.
fn trigger(srv: &mut Server, n: usize, addr: SocketAddr, target: &str) -> crate::support::Conn {
    srv.wait_for_line(&format!("as {}.", 2 + n));
    let mut c = crate::support::Conn::tcp(addr);
    c.send(&crate::support::request(
        "GET",
        target,
        &[("Connection", "close")],
        b"",
    ));
    c
}

const ENV_QUERY: &str = "/?env=LISTEN_FDS&env=LISTEN_PID&env=LISTEN_FDNAMES&env=NOTIFY_SOCKET";

fn assert_no_activation_env(info: &crate::support::Json) {
    let env = info.get("env").expect("env");
    for var in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        assert!(
            env.get(var).is_some_and(|v| v.is_null()),
            "{var} leaked to the worker"
        );
    }
}

#[test]
fn inherited_sockets_are_served_as_they_are_without_binds() {
    let dir = TempDir::new();
    let sock = dir.join("activated.sock");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut srv = activate(
        server("cases.hygiene"),
        &[addr.to_string(), sock.display().to_string()],
        &["--fdname=web:local"],
    )
    .spawn();
    let mut first = trigger(&mut srv, 2, addr, ENV_QUERY);
    srv.await_ready(2, 1);
    assert_eq!(
        srv.urls,
        vec![format!("http://{addr}"), format!("unix:{}", sock.display())]
    );
    // The connection that woke the activator waited in the inherited backlog: served.
    let r = first.read_response();
    assert_eq!(r.status(), 200);
    let info = r.json();
    assert_no_activation_env(&info);
    // The exec'd server kept the activator's pid, which LISTEN_PID named.
    assert_eq!(
        status_field(
            info.get("pid").and_then(|p| p.as_i64()).expect("pid") as i32,
            "PPid"
        ),
        Some(srv.pid().to_string())
    );
    assert_no_activation_env(&get_json_unix(&sock, ENV_QUERY));
    assert!(srv.terminate().success());
    // systemd made that socket file; it is not ours to remove.
    assert!(Path::new(&sock).exists());
}

#[test]
fn configured_binds_take_the_inherited_socket_they_match() {
    let dir = TempDir::new();
    let inherited_unix = dir.join("unused.sock");
    let own = dir.join("own.sock");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut srv = activate(
        server("cases.hygiene")
            .arg("-b")
            .arg(addr.to_string())
            .arg("-b")
            .arg(format!("unix:{}", own.display())),
        &[addr.to_string(), inherited_unix.display().to_string()],
        &[],
    )
    .spawn();
    let mut first = trigger(&mut srv, 2, addr, "/");
    srv.await_ready(2, 1);
    // The TCP bind is the inherited socket (binding it again would fail: in use); the Unix
    // bind was made; the inherited Unix socket matched nothing and was let go.
    assert_eq!(
        srv.urls,
        vec![format!("http://{addr}"), format!("unix:{}", own.display())]
    );
    srv.wait_for_line("matches no --bind; closing it");
    assert_eq!(first.read_response().status(), 200);
    get_json_unix(&own, "/");
    assert!(srv.terminate().success());
    assert!(!own.exists(), "our own socket file is removed at exit");
}

#[test]
fn an_inherited_socket_that_is_not_a_listening_stream_is_refused() {
    let dir = TempDir::new();
    let dgram = dir.join("dgram.sock");
    let mut srv = server("hello")
        .no_default_bind()
        .wrapper(
            "systemd-socket-activate",
            ["--datagram", "-l", dgram.to_str().expect("utf-8")],
        )
        .spawn();
    srv.wait_for_line("as 3.");
    // A datagram wakes the activator.
    let client = std::os::unix::net::UnixDatagram::unbound().expect("socket");
    client.send_to(b"wake", &dgram).expect("send");
    let status = srv.wait_exit();
    assert_eq!(status.code(), Some(1));
    let log = srv.stderr_text();
    assert!(
        log.contains("LISTEN_FDS descriptor 3") && log.contains("not a stream socket"),
        "{log}"
    );
    assert!(!log.contains("Listening at"), "{log}");
}

#[test]
fn reload_keeps_the_inherited_sockets() {
    let dir = TempDir::new();
    let sock = dir.join("activated.sock");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut srv = activate(
        server("cases.hygiene"),
        &[addr.to_string(), sock.display().to_string()],
        &[],
    )
    .spawn();
    let mut first = trigger(&mut srv, 2, addr, "/");
    srv.await_ready(2, 1);
    assert_eq!(first.read_response().status(), 200);
    let before = srv.worker_pid();
    // HUP: a new generation of workers, still on both inherited sockets (the
    // configuration names no address; the default 127.0.0.1:8000 must not appear).
    srv.signal(nix::sys::signal::Signal::SIGHUP);
    srv.wait_for_line(&format!("Worker exiting (pid: {before})"));
    let tcp = get_json(addr, "/");
    let unix = get_json_unix(&sock, "/");
    for info in [&tcp, &unix] {
        assert_ne!(
            info.get("pid").and_then(|p| p.as_i64()),
            Some(before.into())
        );
    }
    assert!(!srv.stderr_text().contains("8000"), "{}", srv.stderr_text());
    assert!(srv.terminate().success());
}

// Regression: a HUP after socket activation looked inherited sockets up by position,
// commit 1c5f079 (issue 4)
/// Socket-activated without `--bind`, then a HUP with a configuration that now names the
/// inherited address: the reload must take the inherited socket (it cannot bind that
/// address a second time), not look it up among the default addresses.
#[test]
fn reload_that_adds_binds_matches_the_inherited_sockets_by_address() {
    let dir = TempDir::new();
    let config = dir.write("rsgi.toml", "workers = 1\n");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut srv = activate(
        server("cases.hygiene").arg("-c").arg(&config),
        &[addr.to_string()],
        &[],
    )
    .spawn();
    let mut first = trigger(&mut srv, 1, addr, "/");
    srv.await_ready(1, 1);
    assert_eq!(first.read_response().status(), 200);
    let before = srv.worker_pid();
    std::fs::write(&config, format!("workers = 1\nbind = [\"{addr}\"]\n")).expect("write");
    srv.signal(nix::sys::signal::Signal::SIGHUP);
    let outcome = srv
        .log
        .wait_count(1, |l| {
            l.contains("Reload aborted") || l.contains("Reloading: starting")
        })
        .expect("the reload starts or is aborted");
    assert!(outcome[0].contains("Reloading: starting"), "{outcome:?}");
    srv.wait_for_line(&format!("Worker exiting (pid: {before})"));
    let info = get_json(addr, "/");
    assert_ne!(
        info.get("pid").and_then(|p| p.as_i64()),
        Some(before.into())
    );
    assert!(srv.terminate().success());
}
