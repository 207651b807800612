//! The worker's side of `--timeout`: a stuck request gets its stack dumped into the error
//! log (naming the app's function and the request), the client gets 504, the worker exits
//! with code 5 and a new one serves the next request. Stuck in pure Python (GIL held) and
//! in a C call (GIL released), on the loop thread and on a pool thread. A response the loop
//! finished and held for the end of its batch still reaches its client.

use crate::support::*;

/// Starts `cases.stuck` with `--timeout 1`, sends `path`, and checks the whole story.
fn stuck_request_is_diagnosed(path: &str, function: &str, extra: &[&str]) -> Server {
    let mut server = server("cases.stuck")
        .args(["--timeout", "1"])
        .args(extra)
        .start();
    let first = server.worker_pid();
    let mut conn = server.conn();
    conn.send(&request("GET", path, &[], b""));
    server.wait_for_line(&format!("stuck {path}"));
    let response = conn.read_response();
    assert_eq!(response.status(), 504, "{}", response.text());

    // The 504 may reach us before the log lines do: wait for them.
    server.wait_for_line(&format!("In flight: GET {path} running for"));
    let frame = server.wait_for_line(&format!("in {function}"));
    assert!(
        frame.contains("pyapps/cases/stuck.py"),
        "the dump shows the app's file: {frame}"
    );
    server.wait_for_line(&format!("Worker (pid: {first}) exited after its timeout"));
    server.wait_for_lines("Worker ready (pid: ", 2);
    let next = server.get("/");
    assert_eq!(next.status(), 200);
    assert!(
        !next.text().contains(&format!("pid={first}")),
        "a new worker answers: {}",
        next.text()
    );
    server
}

#[test]
fn spinning_in_python_is_dumped_and_answered_504() {
    stuck_request_is_diagnosed("/spin", "rsgi_spin_forever", &[]);
}

#[test]
fn sleeping_in_c_is_dumped_and_answered_504() {
    stuck_request_is_diagnosed("/sleep", "rsgi_sleep_forever", &[]);
}

#[test]
fn a_stuck_pool_thread_is_dumped_and_runs_worker_abort() {
    let dir = TempDir::new();
    let marker = dir.join("aborted");
    let hooks = dir.write(
        "hooks.py",
        format!(
            "def worker_abort(worker):\n    open({:?}, 'w').write(f'aborted {{worker.pid}}')\n",
            marker.to_str().unwrap()
        ),
    );
    let hooks = hooks.to_str().unwrap();
    let mut server = stuck_request_is_diagnosed(
        "/spin",
        "rsgi_spin_forever",
        &["--threads", "2", "--hooks", hooks],
    );
    // worker_abort needed the GIL from the spinning thread, and got it.
    let text = std::fs::read_to_string(&marker).expect("worker_abort ran");
    assert!(text.starts_with("aborted "), "{text}");
    assert!(server.stderr_text().contains("rsgi_spin_forever"));
}

#[test]
fn a_response_held_for_the_batch_is_sent_when_a_later_request_hangs() {
    let dir = TempDir::new();
    let gate = dir.join("open");
    let mut server = server("cases.stuck").args(["--timeout", "1"]).start();
    // Two kept connections, accepted and idle, so that their next requests are one batch.
    let (mut a, mut b) = (server.conn(), server.conn());
    for conn in [&mut a, &mut b] {
        conn.send(&request("GET", "/", &[], b""));
        assert_eq!(conn.read_response().status(), 200);
    }
    // The worker is busy in the app while both requests arrive: /fast first, then /sleep.
    let mut busy = server.busy_until(&gate);
    a.send(&request("GET", "/fast", &[], b""));
    b.send(&request("GET", "/sleep", &[], b""));
    std::fs::write(&gate, b"").expect("open the gate");
    assert_eq!(busy.read_response().status(), 200);
    // /fast was answered before /sleep got stuck; the loop held its response for the end
    // of the batch, which never came: the timeout's abort sends it.
    server.wait_for_line("stuck /sleep");
    let fast = a.read_response();
    assert_eq!(fast.status(), 200, "{}", fast.text());
    assert!(fast.text().starts_with("ok pid="), "{}", fast.text());
    assert_eq!(b.read_response().status(), 504);
    server.wait_for_line("In flight: GET /sleep running for");
}
