//! Boot failures and crashes: a worker that cannot boot the first time stops the server
//! with a clear message; one that keeps crashing after it was ready is respawned with a
//! growing delay, never in a tight loop.

use crate::support::*;

#[test]
fn a_crash_looping_worker_backs_off() {
    let mut server = server("cases.misbehave").start();
    let mut delays = Vec::new();
    for round in 1..=3 {
        let victim = *server.ready_pids().last().unwrap();
        let mut c = server.conn();
        c.send(&get_req("/crash"));
        assert!(c.try_read_response().is_err(), "a crashed worker answered");
        let line = server.wait_for_line(&format!("Worker (pid: {victim}) was killed by SIGSEGV"));
        assert!(!line.contains("OOM"), "{line}");
        let delay = line
            .split("respawning in ")
            .nth(1)
            .unwrap_or_else(|| panic!("no respawn delay in {line}"))
            .to_owned();
        delays.push(delay);
        server.wait_for_lines("Worker ready (pid: ", round + 1);
    }
    assert_eq!(delays, ["0.1s", "0.2s", "0.4s"]);
    assert_eq!(server.get("/").status(), 200);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_worker_that_dies_before_its_first_boot_completes_stops_the_server() {
    let dir = TempDir::new();
    dir.write(
        "suicidal.py",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    );
    let out = server("suicidal")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .run();
    assert_eq!(out.code(), Some(3), "{out:?}");
    assert!(
        out.stderr
            .contains("failed to boot: it was killed by SIGKILL"),
        "{out:?}"
    );
    assert!(out.stderr.contains("stopping"), "{out:?}");
}
