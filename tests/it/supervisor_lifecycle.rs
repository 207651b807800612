//! Process lifecycle: graceful stop on SIGTERM (SIGINT/SIGQUIT stop quickly: supervisor_*), worker replacement, timeouts.

use crate::support::*;
use nix::sys::signal::Signal;

/// `cases.slow`'s target for request `id`, held until its gate file is opened.
fn gate_query(dir: &TempDir, id: &str) -> String {
    format!("/?id={id}&{}", gate_param(dir, id))
}

/// A request is in flight when the stop signal arrives: it must complete, then the
/// server exits 0.
fn graceful_stop(sig: Signal) {
    let dir = TempDir::new();
    let mut server = server("cases.slow").start();
    let mut c = server.conn();
    c.send(&get_req(&gate_query(&dir, "inflight")));
    server.wait_for_line("slow started inflight");
    server.signal(sig);
    server.wait_for_line("Shutting down");
    // The request is provably still in the app (its gate is closed); let it finish now.
    open_gate_file(&dir, "inflight");
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text().starts_with("slow done inflight"),
        "{}",
        resp.text()
    );
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn sigterm_lets_the_in_flight_request_finish_then_exits_0() {
    graceful_stop(Signal::SIGTERM);
}

#[test]
fn idle_server_exits_0_on_sigterm() {
    let mut server = server("hello").workers(2).start();
    let workers = server.worker_pids.clone();
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(server.stderr_text().contains("Shutting down"));
    for pid in workers {
        assert!(!Server::is_alive(pid), "worker {pid} outlived the master");
    }
}

#[test]
fn idle_keep_alive_connection_does_not_block_shutdown() {
    let mut server = server("hello").start();
    let mut c = server.conn();
    assert_eq!(c.roundtrip(&get_req("/")).status(), 200);
    // c stays open and idle.
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
    c.expect_closed();
}

#[test]
fn new_connections_are_refused_after_shutdown() {
    let dir = TempDir::new();
    let mut server = server("cases.slow").start();
    let addr = server.addr();
    let mut c = server.conn();
    c.send(&get_req(&gate_query(&dir, "hold")));
    server.wait_for_line("slow started hold");
    server.signal(Signal::SIGTERM);
    server.wait_for_line("Shutting down");
    open_gate_file(&dir, "hold");
    assert_eq!(c.read_response().status(), 200);
    server.wait_exit();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is still open after exit"
    );
}

#[test]
fn killed_worker_is_replaced() {
    let mut server = server("environ").workers(2).start();
    let victim = server.worker_pids[0];
    kill(victim, Signal::SIGKILL);
    // A third "Worker ready" line, from a new pid.
    let ready = server.wait_for_lines("Worker ready (pid: ", 3);
    let new_pid = parse_worker_pid(&ready[2]).unwrap();
    assert!(!server.worker_pids.contains(&new_pid));
    // Every request now lands on a live worker, never on the dead one.
    for _ in 0..6 {
        let env = server.get("/").environ();
        assert_ne!(env.pid(), victim);
    }
}

#[test]
fn worker_killed_mid_request_is_replaced_and_client_sees_close() {
    let dir = TempDir::new();
    let mut server = server("cases.slow").start();
    let mut c = server.conn();
    c.send(&get_req(&gate_query(&dir, "doomed")));
    server.wait_for_line("slow started doomed");
    kill(server.worker_pid(), Signal::SIGKILL);
    // No response can come from a dead worker; the connection just ends.
    assert!(c.try_read_response().is_err());
    server.wait_for_lines("Worker ready (pid: ", 2);
    let resp = server.get("/?id=after&seconds=0");
    assert_eq!(resp.status(), 200);
}

#[test]
fn worker_stuck_beyond_timeout_is_replaced() {
    let dir = TempDir::new();
    let mut server = server("cases.slow").args(["--timeout", "2"]).start();
    let stuck = server.worker_pid();
    let mut c = server.conn();
    // The gate is never opened: only the timeout can end this request.
    c.send(&get_req(&gate_query(&dir, "stuck")));
    server.wait_for_line("slow started stuck");
    server.expect_stuck_worker_replaced(stuck, &mut c);
}

#[test]
fn graceful_timeout_bounds_shutdown_of_a_stuck_request() {
    let dir = TempDir::new();
    let mut server = server("cases.slow")
        .args(["--graceful-timeout", "1"])
        .start();
    let mut c = server.conn();
    c.send(&get_req(&gate_query(&dir, "never")));
    server.wait_for_line("slow started never");
    server.signal(Signal::SIGTERM);
    // The gate never opens; the server must still exit (within the safety deadline).
    server.wait_exit();
    assert!(!Server::is_alive(server.worker_pid()));
    drop(c);
}

#[test]
fn master_exit_takes_workers_along_even_on_sigkill() {
    // With the master gone (SIGKILL, no cleanup), workers must not linger serving.
    let mut server = server("hello").workers(2).start();
    let workers = server.worker_pids.clone();
    server.signal(Signal::SIGKILL);
    // stderr EOF means every process holding it (master and workers) is gone.
    server.wait_exit();
    // A process closes its descriptors a moment before it becomes a zombie: EOF on stderr
    // can come first. Each worker must be gone (this fails at the safety deadline if not).
    for pid in workers {
        wait_until(&format!("worker {pid} to exit after its master"), || {
            !Server::is_alive(pid)
        });
    }
}

#[test]
fn sigterm_during_a_large_streamed_response_lets_it_complete() {
    let mut server = server("stream").start();
    let mut c = server.conn();
    // 64 MiB: far more than the socket buffers hold, so the response is still being
    // written when the signal arrives (we have not read past the head yet).
    c.send(&get_req("/?chunks=4096&size=16384"));
    let head = c.read_head().unwrap();
    assert_eq!(head.status, 200);
    server.signal(Signal::SIGTERM);
    server.wait_for_line("Shutting down");
    let info = c.read_body(&Framing::Chunked, &mut |_| {}).unwrap();
    assert!(
        info.complete,
        "the in-flight response was cut by the shutdown"
    );
    assert_eq!(info.length, 4096 * 16384);
    assert_eq!(server.wait_exit().code(), Some(0));
}
