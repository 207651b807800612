//! `--soft-timeout`: a request stuck in the app gets `rsgi_server.RequestTimeout` raised in
//! its own thread, its stack logged, a 504; the worker and its other threads carry on. An
//! app that swallows the exception is still killed at `--timeout`.

use crate::support::*;

/// The pid an `ok pid=N` body names.
fn pid_of(response: &Response) -> String {
    let text = response.text();
    text.trim()
        .strip_prefix("ok pid=")
        .unwrap_or_else(|| panic!("not an ok body: {text}"))
        .to_owned()
}

/// Sends `path` on a connection of its own, waits until the app says it is stuck in it,
/// and returns the connection.
fn stuck(server: &mut Server, path: &str) -> Conn {
    let mut conn = server.conn();
    conn.send(&request("GET", path, &[], b""));
    server.wait_for_line(&format!("stuck {path}"));
    conn
}

#[test]
fn a_stuck_pool_thread_gets_504_while_the_others_serve() {
    let mut server = server("cases.soft_stuck")
        .args(["--threads", "4", "--soft-timeout", "2", "--timeout", "60"])
        .start();
    let worker = server.worker_pid().to_string();
    let mut spinning = stuck(&mut server, "/spin");
    for _ in 0..3 {
        let response = server.get("/");
        assert_eq!(response.status(), 200);
        assert_eq!(pid_of(&response), worker);
    }
    let response = spinning.read_response();
    assert_eq!(response.status(), 504, "{}", response.text());

    let logged = server.wait_for_line("SOFT TIMEOUT (pid: ");
    assert!(
        logged.contains(&format!("(pid: {worker}): GET /spin running for")),
        "{logged}"
    );
    let frame = server.wait_for_line("in rsgi_soft_spin");
    assert!(frame.contains("pyapps/cases/soft_stuck.py"), "{frame}");
    server.wait_for_line("request timed out (--soft-timeout)");
    // The same worker serves on, with all its threads.
    for _ in 0..4 {
        assert_eq!(pid_of(&server.get("/")), worker);
    }
    assert!(!server.stderr_text().contains("WORKER TIMEOUT"));
}

#[test]
fn on_the_loop_thread_the_worker_serves_the_next_request() {
    let mut server = server("cases.soft_stuck")
        .args(["--soft-timeout", "1"])
        .start();
    let worker = server.worker_pid().to_string();
    let mut spinning = stuck(&mut server, "/spin");
    assert_eq!(spinning.read_response().status(), 504);
    server.wait_for_line("in rsgi_soft_spin");
    assert_eq!(pid_of(&server.get("/")), worker);
}

#[test]
fn a_thread_sleeping_in_steps_gets_it_between_sleeps() {
    let mut server = server("cases.soft_stuck")
        .args(["--threads", "2", "--soft-timeout", "1"])
        .start();
    let worker = server.worker_pid().to_string();
    let mut napping = stuck(&mut server, "/nap");
    assert_eq!(napping.read_response().status(), 504);
    server.wait_for_line("in rsgi_soft_nap");
    assert_eq!(pid_of(&server.get("/")), worker);
}

#[test]
fn an_app_that_swallows_it_is_killed_at_the_timeout() {
    let mut server = server("cases.soft_stuck")
        .args(["--threads", "2", "--soft-timeout", "1", "--timeout", "3"])
        .start();
    let worker = server.worker_pid();
    let mut swallowing = stuck(&mut server, "/swallow");
    server.wait_for_line("swallowed RequestTimeout");
    server.wait_for_line(&format!("WORKER TIMEOUT (pid: {worker}): GET /swallow"));
    server.expect_stuck_worker_replaced(worker, &mut swallowing);
}

#[test]
fn the_exception_is_importable_and_not_an_exception() {
    let server = server("cases.soft_stuck")
        .args(["--soft-timeout", "5"])
        .start();
    let response = server.get("/importable");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().trim(),
        "rsgi_server.RequestTimeout BaseException"
    );
}

#[test]
fn a_soft_timeout_not_below_the_timeout_is_refused() {
    let finished = server("cases.soft_stuck")
        .args(["--soft-timeout", "30", "--timeout", "30"])
        .run();
    assert_eq!(finished.code(), Some(2), "{}", finished.all_output());
    let text = finished.all_output();
    assert!(
        text.contains("--soft-timeout") && text.contains("--timeout"),
        "{text}"
    );
    assert!(text.contains("30"), "{text}");
}
