//! sd_notify: with `NOTIFY_SOCKET` set, the master tells systemd READY=1 only once every
//! worker has loaded the app, keeps STATUS= current, sends WATCHDOG=1 when asked to, and
//! STOPPING=1 on TERM. The test plays systemd: it binds the datagram socket itself.

use crate::support::*;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

fn recv_until(socket: &UnixDatagram, seen: &mut Vec<String>, pred: impl Fn(&str) -> bool) {
    socket.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut buf = [0u8; 4096];
    while !seen.iter().any(|m| pred(m)) {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no such notification ({e}); got {seen:?}"));
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

fn drain(socket: &UnixDatagram, seen: &mut Vec<String>) {
    socket.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    socket.set_nonblocking(false).expect("blocking");
}

#[test]
fn ready_only_after_every_worker_then_status_watchdog_and_stopping() {
    let dir = TempDir::new();
    let path = dir.join("notify");
    let gate = dir.join("gate");
    let systemd = UnixDatagram::bind(&path).expect("bind");
    let mut srv = server("cases.hygiene")
        .workers(2)
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "2000000")
        .env("HYGIENE_IMPORT_GATE", &gate)
        .spawn();
    // Both workers are importing the app, which waits for the gate: nobody is ready yet,
    // so systemd must not have heard READY=1.
    srv.wait_for_lines("Booting worker with pid: ", 2);
    let mut seen = Vec::new();
    drain(&systemd, &mut seen);
    assert!(!seen.iter().any(|m| m.contains("READY=1")), "{seen:?}");
    std::fs::write(&gate, "").expect("open the gate");
    recv_until(&systemd, &mut seen, |m| m.lines().any(|l| l == "READY=1"));
    srv.await_ready(1, 2);
    recv_until(&systemd, &mut seen, |m| {
        m.starts_with("STATUS=") && m.contains('2')
    });
    recv_until(&systemd, &mut seen, |m| m == "WATCHDOG=1");
    // The variables were for the master alone.
    let info = get_json(srv.addr(), "/?env=NOTIFY_SOCKET&env=WATCHDOG_USEC");
    let env = info.get("env").expect("env");
    assert!(env.get("NOTIFY_SOCKET").is_some_and(|v| v.is_null()));
    assert!(env.get("WATCHDOG_USEC").is_some_and(|v| v.is_null()));
    srv.signal(nix::sys::signal::Signal::SIGTERM);
    recv_until(&systemd, &mut seen, |m| m == "STOPPING=1");
    assert!(srv.wait_exit().success());
    let ready = seen.iter().position(|m| m.lines().any(|l| l == "READY=1"));
    let stopping = seen.iter().position(|m| m == "STOPPING=1");
    assert!(ready < stopping, "{seen:?}");
}

#[test]
fn abstract_notify_socket_and_variables_hidden_from_workers() {
    // Whatever the arbiter sends, the address form systemd uses for user services
    // (`@name`, the abstract namespace) is accepted and the variables stay with the master.
    let name = format!("rsgi-notify-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
    let _systemd = UnixDatagram::bind_addr(&addr).expect("bind abstract");
    let mut srv = server("cases.hygiene")
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .env("WATCHDOG_USEC", "1000000")
        .env("WATCHDOG_PID", "1")
        .start();
    let info = get_json(
        srv.addr(),
        "/?env=NOTIFY_SOCKET&env=WATCHDOG_USEC&env=WATCHDOG_PID",
    );
    let env = info.get("env").expect("env");
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        assert!(env.get(var).is_some_and(|v| v.is_null()), "{var} leaked");
    }
    assert!(srv.terminate().success());
}
