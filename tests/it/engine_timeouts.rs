//! Client timeouts of the event-loop engine (issue 3): `--header-timeout`,
//! `--body-timeout`, `--send-timeout`, `--keep-alive`; none of them counts against
//! `--timeout`, which only bounds the app.
//!
//! Each test waits for the server's own action (a 408, a close, a log line) by reading
//! until EOF or waiting for the line; the socket read timeout (the harness's safety
//! deadline) is a safety net, never the assertion.

use crate::support::*;

/// The bytes a server sent before it closed a connection it timed out.
fn assert_408_then_closed(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.0 408"),
        "expected a 408 before the close, got {:?}",
        &text[..text.len().min(300)]
    );
}

/// The worker that served the start-up is still the only one, alive, and serving.
fn assert_same_worker_serving(server: &mut Server) {
    let pid = server.worker_pid();
    assert_eq!(server.ready_pids(), vec![pid], "the worker was replaced");
    assert!(Server::is_alive(pid));
    let env = server.get("/").environ();
    assert_eq!(env.pid(), pid);
}

#[test]
fn header_timeout_answers_408_and_closes_a_half_sent_head() {
    let mut server = server("environ")
        .workers(1)
        .args(["--header-timeout", "1"])
        .start();
    let mut c = server.conn();
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Unfinished: ");
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

#[test]
fn header_timeout_closes_a_connection_that_sends_nothing() {
    let mut server = server("environ")
        .workers(1)
        .args(["--header-timeout", "1"])
        .start();
    let mut c = server.conn();
    let bytes = until_closed(&mut c);
    // Silence or a 408 are both fine; anything else is not.
    if !bytes.is_empty() {
        assert_408_then_closed(&bytes);
    }
    assert_same_worker_serving(&mut server);
}

/// The worker's debug line for a connection it accepted before any request bytes: TCP
/// listeners defer accept(2) until a client's first bytes, and hand over a silent client
/// after about a second.
const ACCEPTED_EARLY: &str = "accepted before its request";

#[test]
fn a_request_sent_after_the_deferred_accept_gave_up_is_served() {
    let mut server = server("environ")
        .workers(1)
        .args(["--log-level", "debug", "--header-timeout", "300"])
        .start();
    let mut c = server.conn();
    server.wait_for_line(ACCEPTED_EARLY);
    let response = c.roundtrip(&get_req("/late"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.environ().str("PATH_INFO"), "/late");
}

#[test]
fn a_half_head_sent_after_the_deferred_accept_gave_up_gets_408() {
    let mut server = server("environ")
        .workers(1)
        .args(["--log-level", "debug", "--header-timeout", "1"])
        .start();
    let mut c = server.conn();
    server.wait_for_line(ACCEPTED_EARLY);
    c.send(b"GET / HTTP/1.1\r\nHost: loc");
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

#[test]
fn header_timeout_applies_to_the_next_request_on_a_keep_alive_connection() {
    let mut server = server("environ")
        .workers(1)
        .args(["--header-timeout", "1", "--keep-alive", "300"])
        .start();
    let mut c = server.conn();
    assert_eq!(c.roundtrip(&get_req("/")).status(), 200);
    c.send(b"GET /second HTTP/1.1\r\nHost: loc");
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

#[test]
fn stalled_head_does_not_count_against_the_worker_timeout() {
    // The head times out after 4 s; the worker's --timeout is 1 s. A worker killed for
    // the stall would close the connection without the 408.
    let mut server = server("environ")
        .workers(1)
        .args(["--timeout", "1", "--header-timeout", "4"])
        .start();
    let mut c = server.conn();
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n");
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

#[test]
fn body_timeout_answers_408_on_a_stalled_body() {
    let mut server = server("environ")
        .workers(1)
        .args(["--body-timeout", "1"])
        .start();
    let mut c = server.conn();
    c.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789");
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

#[test]
fn body_timeout_answers_408_on_a_stalled_chunked_body() {
    let mut server = server("environ")
        .workers(1)
        .args(["--body-timeout", "1"])
        .start();
    let mut c = server.conn();
    c.send(
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

#[test]
fn stalled_body_does_not_count_against_the_worker_timeout() {
    let mut server = server("environ")
        .workers(1)
        .args(["--timeout", "1", "--body-timeout", "4"])
        .start();
    let mut c = server.conn();
    c.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789");
    assert_408_then_closed(&until_closed(&mut c));
    assert_same_worker_serving(&mut server);
}

/// A client that reads nothing of a 1 GiB response: the server gives up on it (the
/// iterable's close() is called) and closes the connection.
fn send_timeout_closes_a_client_that_stops_reading(args: &[&str]) {
    let mut server = server("cases.tracked").workers(1).args(args).start();
    let pid = server.worker_pid();
    let mut c = Conn::tcp_small_rcvbuf(server.addr(), 4096);
    c.send(&get_req("/?id=stall&length=1"));
    server.wait_for_line("tracked started stall");
    // The server's own give-up is the signal; the client has read nothing so far.
    server.wait_for_line("tracked closed stall after ");
    let got = until_closed(&mut c);
    assert!(
        got.len() < 1 << 30,
        "the whole response arrived although the client was not reading"
    );
    // What the client still gets is the start of that response (an abortive close may
    // also leave it nothing).
    if !got.is_empty() {
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "not the start of the response: {:?}",
            String::from_utf8_lossy(&got[..got.len().min(100)])
        );
    }
    assert_eq!(server.ready_pids(), vec![pid], "the worker was replaced");
    let resp = server.get("/?id=next&chunks=1&size=4");
    assert_eq!(resp.body, b"aaaa");
}

#[test]
fn send_timeout_closes_a_connection_whose_client_stops_reading() {
    send_timeout_closes_a_client_that_stops_reading(&["--send-timeout", "1"]);
}

#[test]
fn client_not_reading_does_not_count_against_the_worker_timeout() {
    // --threads 1 (the default): the app runs on the loop thread; waiting for the client
    // to read is still not the app making no progress.
    send_timeout_closes_a_client_that_stops_reading(&["--timeout", "1", "--send-timeout", "4"]);
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection() {
    keep_alive_timeout_closes_idle("1");
}

/// With a pool, the thread that served the request re-arms the idle connection without
/// waking the loop; the loop still starts and enforces its keep-alive deadline.
#[test]
fn keep_alive_timeout_closes_an_idle_connection_served_by_a_pool_thread() {
    keep_alive_timeout_closes_idle("2");
}

fn keep_alive_timeout_closes_idle(threads: &str) {
    let mut server = server("environ")
        .workers(1)
        .args(["--keep-alive", "1", "--threads", threads])
        .start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/"));
    assert_eq!(resp.status(), 200);
    assert!(resp.head.keeps_alive());
    let bytes = until_closed(&mut c);
    assert!(
        bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 408"),
        "unexpected bytes on an idle connection: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_same_worker_serving(&mut server);
}

#[test]
fn idle_keep_alive_does_not_count_against_the_worker_timeout() {
    let mut server = server("environ")
        .workers(1)
        .args(["--timeout", "1", "--keep-alive", "4"])
        .start();
    let mut c = server.conn();
    assert_eq!(c.roundtrip(&get_req("/")).status(), 200);
    until_closed(&mut c);
    assert_same_worker_serving(&mut server);
}

#[test]
fn app_stuck_in_a_pool_thread_beyond_timeout_gets_the_worker_replaced() {
    // --timeout still bounds the app when it runs in the thread pool.
    let dir = TempDir::new();
    let mut server = server("cases.slow")
        .workers(1)
        .args(["--timeout", "2", "--threads", "4"])
        .start();
    let stuck = server.worker_pid();
    let mut c = server.conn();
    c.send(&get_req(&format!(
        "/?id=stuck&{}",
        gate_param(&dir, "stuck")
    )));
    server.wait_for_line("slow started stuck");
    server.expect_stuck_worker_replaced(stuck, &mut c);
}

// Regression: waiting for a slow client counted against --timeout and killed the worker,
// commit 0353009 (issue 3)
/// A client that reads nothing of a 1 GiB response with `--threads 4`: the pool thread waits
/// for the client (bounded by `--send-timeout`), which is not the app making no progress, so
/// `--timeout` must not kill the worker.
#[test]
fn client_not_reading_does_not_count_against_the_worker_timeout_with_threads() {
    let mut server = server("cases.tracked")
        .workers(1)
        .args(["--threads", "4", "--timeout", "1", "--send-timeout", "4"])
        .start();
    let pid = server.worker_pid();
    let mut c = Conn::tcp_small_rcvbuf(server.addr(), 4096);
    c.send(&get_req("/?id=stall&length=1"));
    server.wait_for_line("tracked started stall");
    server.wait_for_line("tracked closed stall after ");
    until_closed(&mut c);
    assert_eq!(server.ready_pids(), vec![pid], "the worker was replaced");
    let resp = server.get("/?id=next&chunks=1&size=4");
    assert_eq!(resp.body, b"aaaa");
}

// Regression: waiting for a slow client counted against --timeout and killed the worker,
// commit 0353009 (issue 3)
/// `--request-buffering=false`: the app reads a body the client stops sending. The wait for
/// the body is bounded by `--body-timeout`, not `--timeout`: the worker survives it.
#[test]
fn stalled_streaming_body_does_not_count_against_the_worker_timeout() {
    let mut server = server("environ")
        .workers(1)
        .args([
            "--request-buffering=false",
            "--timeout",
            "1",
            "--body-timeout",
            "4",
        ])
        .start();
    let pid = server.worker_pid();
    let mut c = server.conn();
    c.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789");
    until_closed(&mut c);
    assert_eq!(
        server.get("/").environ().pid(),
        pid,
        "the worker was replaced"
    );
    assert!(!server.stderr_text().contains("WORKER TIMEOUT"));
}

// Regression: a streamed body that timed out was answered 500, not 408, commit 8d0a2b5 (issue 3)
/// `--request-buffering=false`: the app is reading a body the client stopped sending. At
/// `--body-timeout` the client gets 408, as with request buffering, not a 500 for an app
/// error.
#[test]
fn stalled_streaming_body_gets_408() {
    let server = server("environ")
        .workers(1)
        .args(["--request-buffering=false", "--body-timeout", "1"])
        .start();
    let mut c = server.conn();
    c.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789");
    let got = until_closed(&mut c);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(server.get("/").status(), 200);
}
