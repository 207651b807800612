//! HUP: a zero-downtime reload. New workers start with the re-read configuration; an old
//! worker stops (draining) only once a new one is ready, so no request is refused or reset.
//! A broken configuration or an app that no longer imports leaves the old workers serving.

use crate::support::load::Load;
use crate::support::*;
use nix::sys::signal::Signal;

/// The generation number in `Reload complete (generation N)`.
fn reload_complete(n: u64) -> String {
    format!("Reload complete (generation {n})")
}

#[test]
fn ten_reloads_under_load_fail_no_request() {
    let mut server = server("hello").workers(2).start();
    let load = Load::start(server.addr(), 4, "/");
    load.wait_for_more(50);
    for generation in 2..=11 {
        server.signal(Signal::SIGHUP);
        server.wait_for_line(&reload_complete(generation));
        // Requests were served after this reload too.
        load.wait_for_more(20);
    }
    let tally = load.finish();
    tally.assert_no_failures();
    // 2 first workers + 2 per reload, and every old one was stopped, not crashed.
    server.wait_for_lines("Worker ready (pid: ", 22);
    let log = server.stderr_text();
    assert!(!log.contains("killed by"), "{log}");
    assert!(!log.contains("respawning"), "{log}");
    assert_eq!(server.terminate().code(), Some(0));
}

/// A keep-alive connection on a worker that drains after a HUP gets `Connection: close` on
/// its next response, not a reset.
#[test]
fn a_draining_worker_closes_keep_alive_connections_politely() {
    let dir = TempDir::new();
    let mut server = server("cases.slow").args(["--keep-alive", "30"]).start();
    let old = server.worker_pid();
    let mut c = server.conn();
    // The connection is busy in the old worker while the reload replaces it.
    c.send(&get_req(&format!(
        "/?id=first&{}",
        gate_param(&dir, "first")
    )));
    server.wait_for_line("slow started first");
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&format!(
        "Stopping worker (pid: {old}): its replacement is ready"
    ));
    open_gate_file(&dir, "first");
    let first = c.read_response();
    assert_eq!(first.status(), 200);
    server.wait_for_line(&format!("Worker draining (pid: {old})"));
    // The next request on the same connection is still answered, by the old worker.
    c.send(&get_req("/?id=second&seconds=0"));
    let second = c.read_response();
    assert_eq!(second.status(), 200);
    assert!(
        second.text().contains(&format!("pid={old}")),
        "{}",
        second.text()
    );
    assert_eq!(second.head.header("connection"), Some("close"));
    c.expect_closed();
    server.wait_for_line(&reload_complete(2));
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn an_invalid_config_file_keeps_the_old_config() {
    let dir = TempDir::new();
    let config = dir.write("rsgi.toml", "workers = 1\n");
    let mut server = server("hello").arg("-c").arg(&config).start();
    std::fs::write(&config, "workers = \"many\"\n").unwrap();
    server.signal(Signal::SIGHUP);
    server.wait_for_line("Reload aborted: the configuration is invalid");
    // The message names the bad value; its last line says what happens now.
    let last = server.wait_for_line("still serving with the current configuration");
    assert!(last.contains("\"many\""), "{last}");
    assert_eq!(server.get("/").status(), 200);
    // No new generation was started: still the one worker.
    assert_eq!(server.ready_pids(), server.worker_pids);
    // A valid file is picked up by the next HUP.
    std::fs::write(&config, "workers = 2\n").unwrap();
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&reload_complete(2));
    // The first worker, and the two of the new generation.
    server.wait_for_lines("Worker ready (pid: ", 3);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn an_app_that_no_longer_imports_leaves_the_old_workers_serving() {
    let dir = TempDir::new();
    let app = "def application(environ, start_response):\n    \
               start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
               return [b'version %d' % VERSION]\n";
    dir.write("reloadable.py", format!("VERSION = 1\n{app}"));
    let mut server = server("reloadable")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .workers(2)
        .start();
    assert_eq!(server.get("/").text(), "version 1");
    dir.write(
        "reloadable.py",
        "raise RuntimeError('rsgi-test-broken-deploy')\n",
    );
    server.signal(Signal::SIGHUP);
    server.wait_for_line("Reload failed: worker (pid: ");
    assert!(server.stderr_text().contains("rsgi-test-broken-deploy"));
    // The old workers never stopped.
    for _ in 0..4 {
        assert_eq!(server.get("/").text(), "version 1");
    }
    for pid in &server.worker_pids {
        assert!(Server::is_alive(*pid));
    }
    // Fixed code is picked up by the next HUP.
    dir.write("reloadable.py", format!("VERSION = 2\n{app}"));
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&reload_complete(3));
    assert_eq!(server.get("/").text(), "version 2");
    assert_eq!(server.terminate().code(), Some(0));
}

/// A HUP that arrives as the first workers become ready, in the same wake-up of the
/// master: it takes their readiness in before it reloads, so a new generation that fails to
/// import leaves them serving. It used to stop the whole server, as if it had never booted.
// Regression: found by a failing run of the test above (issue 12).
#[test]
fn a_hup_with_the_first_workers_readiness_still_keeps_them_on_a_failed_reload() {
    let dir = TempDir::new();
    let gate = dir.join("imported");
    let app = "def application(environ, start_response):\n    \
               start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
               return [b'version 1']\n";
    // The import waits for the gate, so the master can be stopped before any worker is
    // ready, and see their readiness and the HUP at once when it goes on.
    dir.write(
        "reloadable.py",
        format!(
            "import os, time\nwhile not os.path.exists({:?}):\n    time.sleep(0.01)\n{app}",
            gate.to_str().expect("utf-8")
        ),
    );
    let mut server = server("reloadable")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .workers(2)
        .spawn();
    server.wait_for_lines("Booting worker with pid: ", 2);
    // Stopped while it waits (in poll(2)), the master goes on from that wait with the
    // readiness and the HUP both there.
    let syscall = format!("/proc/{}/syscall", server.pid());
    wait_until("the master waiting in poll(2)", || {
        std::fs::read_to_string(&syscall)
            .is_ok_and(|s| s.starts_with("7 ") || s.starts_with("271 "))
    });
    server.signal(Signal::SIGSTOP);
    std::fs::write(&gate, b"").expect("open the gate");
    server.await_ready(1, 2);
    dir.write(
        "reloadable.py",
        "raise RuntimeError('rsgi-test-broken-deploy')\n",
    );
    server.signal(Signal::SIGHUP);
    server.signal(Signal::SIGCONT);
    server.wait_for_line("Reload failed: worker (pid: ");
    assert_eq!(server.get("/").text(), "version 1");
    assert_eq!(server.terminate().code(), Some(0));
}

/// Binds follow the configuration file: an added address is bound before the new workers
/// start, a removed one is closed once the old workers are gone.
#[test]
fn binds_change_on_reload() {
    let dir = TempDir::new();
    let sock = dir.join("added.sock");
    let config = dir.write("rsgi.toml", "bind = \"127.0.0.1:0\"\n");
    let mut server = server("hello")
        .arg("-c")
        .arg(&config)
        .expect_listeners(1)
        .start();
    let tcp = server.addr();
    std::fs::write(
        &config,
        format!("bind = [\"127.0.0.1:0\", \"unix:{}\"]\n", sock.display()),
    )
    .unwrap();
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&reload_complete(2));
    let mut c = Conn::unix(&sock);
    assert_eq!(c.roundtrip(&get_req("/")).status(), 200);
    assert_eq!(server.get("/").status(), 200, "the kept TCP address");
    std::fs::write(&config, format!("bind = \"unix:{}\"\n", sock.display())).unwrap();
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&reload_complete(3));
    assert!(
        server
            .stderr_text()
            .contains(&format!("Stopped listening at: http://{tcp}"))
    );
    assert!(
        std::net::TcpStream::connect(tcp).is_err(),
        "the removed address still accepts"
    );
    let mut c = Conn::unix(&sock);
    assert_eq!(c.roundtrip(&get_req("/")).status(), 200);
    assert_eq!(server.terminate().code(), Some(0));
    assert!(!sock.exists(), "the socket file outlived the server");
}
