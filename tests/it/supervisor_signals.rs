//! The master's signals (gunicorn's semantics): TERM drains, INT and QUIT stop now,
//! TTIN/TTOU change the worker count; a worker killed by a signal nobody sent is named with
//! it and replaced; a stuck request is named in the timeout line.

use crate::support::*;
use nix::sys::signal::Signal;

/// A slow request is in flight when TERM arrives: it completes, then the worker, draining,
/// closes the idle connection, and the server exits 0.
#[test]
fn term_lets_a_slow_request_finish_then_closes_its_connection() {
    let dir = TempDir::new();
    let mut server = server("cases.slow").start();
    let mut c = server.conn();
    c.send(&get_req(&format!("/?id=slow&{}", gate_param(&dir, "slow"))));
    server.wait_for_line("slow started slow");
    server.signal(Signal::SIGTERM);
    server.wait_for_line("Shutting down (graceful)");
    open_gate_file(&dir, "slow");
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().starts_with("slow done slow"), "{}", resp.text());
    c.expect_closed();
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(server.stderr_text().contains("Worker draining (pid: "));
}

/// INT and QUIT do not wait for in-flight requests: with a request that never ends and a
/// graceful timeout far beyond the test's safety deadline, the server still exits.
fn quick_stop(sig: Signal) {
    let dir = TempDir::new();
    let mut server = server("cases.slow")
        .args(["--graceful-timeout", "600"])
        .start();
    let worker = server.worker_pid();
    let mut c = server.conn();
    c.send(&get_req(&format!(
        "/?id=never&{}",
        gate_param(&dir, "never")
    )));
    server.wait_for_line("slow started never");
    server.signal(sig);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(server.stderr_text().contains("Shutting down (quick)"));
    assert!(
        c.try_read_response().is_err(),
        "a quick stop does not finish the request"
    );
    assert!(!Server::is_alive(worker));
}

#[test]
fn sigquit_stops_quickly() {
    quick_stop(Signal::SIGQUIT);
}

#[test]
fn sigint_stops_quickly() {
    quick_stop(Signal::SIGINT);
}

#[test]
fn ttin_and_ttou_change_the_live_worker_count() {
    let mut server = server("hello").workers(2).start();
    let master = server.pid();
    assert_eq!(children(master).len(), 2);
    server.signal(Signal::SIGTTIN);
    server.wait_for_line("Number of workers changed from 2 to 3");
    server.wait_for_lines("Worker ready (pid: ", 3);
    wait_until("3 workers", || children(master).len() == 3);
    server.signal(Signal::SIGTTOU);
    server.wait_for_line("Number of workers changed from 3 to 2");
    wait_until("2 workers", || children(master).len() == 2);
    server.signal(Signal::SIGTTOU);
    server.wait_for_line("Number of workers changed from 2 to 1");
    wait_until("1 worker", || children(master).len() == 1);
    // Never below one.
    server.signal(Signal::SIGTTOU);
    server.wait_for_line("already at 1 worker");
    assert_eq!(server.get("/").status(), 200);
    assert_eq!(children(master).len(), 1);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_worker_killed_by_a_signal_nobody_sent_is_named_and_replaced() {
    let mut server = server("hello").workers(2).start();
    let victim = server.worker_pids[0];
    kill(victim, Signal::SIGKILL);
    let line = server.wait_for_line(&format!("Worker (pid: {victim}) was killed by SIGKILL"));
    assert!(line.contains("perhaps the OOM killer"), "{line}");
    assert!(!line.contains("TIMEOUT"), "{line}");
    server.wait_for_lines("Worker ready (pid: ", 3);
    assert_eq!(server.get("/").status(), 200);
    assert!(!server.stderr_text().contains("WORKER TIMEOUT"));
}

/// The timeout line names the stuck request (method and path); the worker, which does not
/// exit on SIGABRT, is killed after the abort grace and replaced.
#[test]
fn a_stuck_worker_is_named_aborted_then_killed() {
    let dir = TempDir::new();
    let mut server = server("cases.misbehave").args(["--timeout", "1"]).start();
    let stuck = server.worker_pid();
    let mut c = server.conn();
    c.send(&get_req(&format!(
        "/stuck?ignore_abort=1&{}",
        gate_param(&dir, "never")
    )));
    let line = server.wait_for_line(&format!(
        "WORKER TIMEOUT (pid: {stuck}): GET /stuck running for "
    ));
    assert!(line.contains("--timeout 1"), "{line}");
    server.wait_for_line(&format!(
        "Worker (pid: {stuck}) did not exit 5s after SIGABRT"
    ));
    server.wait_for_line(&format!(
        "Worker (pid: {stuck}) was killed by the master (SIGKILL)"
    ));
    server.wait_for_lines("Worker ready (pid: ", 2);
    assert!(c.try_read_response().is_err());
    assert_eq!(server.get("/").status(), 200);
    assert!(!server.stderr_text().contains("OOM"));
}

/// With a thread pool, the stuck request is named even while another thread serves.
#[test]
fn a_stuck_pool_thread_is_named_in_the_timeout() {
    let dir = TempDir::new();
    let mut server = server("cases.misbehave")
        .args(["--timeout", "1", "--threads", "2"])
        .start();
    let stuck = server.worker_pid();
    let mut c = server.conn();
    c.send(&get_req(&format!("/stuck?{}", gate_param(&dir, "never"))));
    server.wait_for_line("misbehave /stuck");
    // The other thread still serves, and its requests do not hide the stuck one.
    assert_eq!(server.get("/fine").status(), 200);
    server.wait_for_line(&format!(
        "WORKER TIMEOUT (pid: {stuck}): GET /stuck running for "
    ));
    server.wait_for_line(&format!("Worker (pid: {stuck}) exited after its timeout"));
    server.wait_for_lines("Worker ready (pid: ", 2);
    assert_eq!(server.get("/").status(), 200);
}

// Regression: HUP or USR1 during a slow --preload import killed the server,
// commit 0c9af48 (issue 4)
/// Until the master's signal handlers exist, HUP and USR1 had their default action, which
/// ends the process: a `systemctl reload` or a logrotate `postrotate` during a slow
/// `--preload` import killed the server (leaving its pid file). They now wait for the
/// master to handle them.
#[test]
fn hup_and_usr1_during_a_slow_preload_wait_for_the_master() {
    let dir = TempDir::new();
    let started = dir.join("started");
    let go = dir.join("go");
    dir.write(
        "slow_import.py",
        "import os, time\n\
         open(os.environ['IMPORT_STARTED'], 'w').close()\n\
         while not os.path.exists(os.environ['IMPORT_GO']):\n    \
             time.sleep(0.01)\n\
         def application(environ, start_response):\n    \
             start_response('200 OK', [('Content-Length', '2')])\n    \
             return [b'ok']\n",
    );
    let mut srv = server("slow_import:application")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .arg("--preload")
        .env("IMPORT_STARTED", &started)
        .env("IMPORT_GO", &go)
        .spawn();
    wait_until("the preload import starts", || started.exists());
    srv.signal(Signal::SIGUSR1);
    srv.signal(Signal::SIGHUP);
    std::fs::write(&go, "").expect("write");
    srv.await_ready(1, 1);
    srv.wait_for_line("Handling signal: usr1");
    srv.wait_for_line("Handling signal: hup");
    assert_eq!(srv.get("/").text(), "ok");
    assert!(srv.terminate().success());
}
