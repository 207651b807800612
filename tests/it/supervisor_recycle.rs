//! Recycling: `--max-requests`, `--max-worker-lifetime` and `--max-worker-memory` replace a
//! worker the way a reload does (replacement first, graceful stop once it is ready), so no
//! request fails.

use crate::support::load::Load;
use crate::support::*;

#[test]
fn max_requests_recycles_workers_under_load_without_a_failure() {
    let mut server = server("hello")
        .workers(2)
        .args(["--max-requests", "30", "--max-requests-jitter", "10"])
        .start();
    let load = Load::start(server.addr(), 4, "/");
    // Six replacements: every first-generation worker and several of their successors.
    server.wait_for_lines("requests (--max-requests); replacing it", 6);
    server.wait_for_lines("its replacement is ready", 6);
    load.wait_for_more(20);
    let tally = load.finish();
    tally.assert_no_failures();
    let log = server.stderr_text();
    // Each worker asked for retirement after 30 to 40 requests.
    for line in log.lines().filter(|l| l.contains("has served ")) {
        let n: u64 = line
            .split("has served ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!((30..=40).contains(&n), "{line}");
    }
    assert!(!log.contains("killed by"), "{log}");
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn max_worker_lifetime_replaces_old_workers_under_load() {
    let mut server = server("hello").args(["--max-worker-lifetime", "1"]).start();
    let first = server.worker_pid();
    let load = Load::start(server.addr(), 2, "/");
    server.wait_for_line(&format!("Worker (pid: {first}) has lived"));
    server.wait_for_line(&format!(
        "Stopping worker (pid: {first}): its replacement is ready"
    ));
    server.wait_for_line(&format!("Worker exited (pid: {first})"));
    load.wait_for_more(20);
    let tally = load.finish();
    tally.assert_no_failures();
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn max_worker_memory_replaces_a_worker_that_grew() {
    let mut server = server("cases.misbehave")
        .args(["--max-worker-memory", "100"])
        .start();
    let fat = server.worker_pid();
    assert_eq!(server.get("/").status(), 200);
    assert!(!server.stderr_text().contains("max-worker-memory"));
    // 150 MiB more than it had: above the limit whatever the interpreter's own size.
    assert_eq!(server.get("/grow?mib=150").status(), 200);
    let line = server.wait_for_line(&format!("Worker (pid: {fat}) uses "));
    assert!(line.contains("(--max-worker-memory 100 MiB)"), "{line}");
    server.wait_for_line(&format!(
        "Stopping worker (pid: {fat}): its replacement is ready"
    ));
    server.wait_for_line(&format!("Worker exited (pid: {fat})"));
    let answer = server.get("/").text();
    assert!(!answer.contains(&format!("pid={fat}")), "{answer}");
    assert_eq!(server.terminate().code(), Some(0));
}
