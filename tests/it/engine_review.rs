//! Regression tests from a review of the event-loop engine: each one failed before the fix
//! named in its commit.

use crate::support::*;

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

/// `--request-buffering=false --limit-request-body`: a chunked body (whose size no header
/// announces) that passes the limit while the app reads it is refused with 413, as it is with
/// request buffering, instead of reaching the app whole.
#[test]
fn limit_request_body_applies_to_a_streamed_chunked_body() {
    let server = server("environ")
        .workers(1)
        .args(["--request-buffering=false", "--limit-request-body", "1000"])
        .start();
    // At the limit: served.
    let mut c = server.conn();
    let mut req = request("POST", "/", &[("Transfer-Encoding", "chunked")], b"");
    req.extend(chunked(&pattern(1000), 100, ""));
    let resp = c.roundtrip(&req);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.environ().body_length(), 1000);
    // Over it: refused, and the connection is not reused.
    let mut c = server.conn();
    let mut req = request("POST", "/", &[("Transfer-Encoding", "chunked")], b"");
    req.extend(chunked(&pattern(1500), 100, ""));
    c.send(&req);
    let resp = c.try_read_response().expect("a response");
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
    until_closed(&mut c);
}

/// `--request-buffering=false`: an app answers without reading a body the client has only
/// half sent. Reading the rest of that body (to keep the connection) must not stall the
/// event loop: another client is served meanwhile, while the first connection is still open;
/// once the rest arrives, the first connection serves its next request.
fn unread_body_of_a_stalled_client_does_not_stall_the_loop(threads: &str) {
    let server = server("upload")
        .workers(1)
        .args([
            "--threads",
            threads,
            "--request-buffering=false",
            "--body-timeout",
            "20",
        ])
        .start();
    let mut a = server.conn();
    a.send(
        b"POST /?mode=ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789",
    );
    let resp = a
        .try_read_response()
        .expect("a response for the ignored body");
    assert_eq!(resp.body, b"ignored");
    // Keep-alive requests on another connection: with a pool a first response can go out
    // before the loop takes the stalled request back, the later ones need the loop.
    let mut b = server.conn();
    for _ in 0..3 {
        let resp = b.roundtrip(&get_req("/?mode=ignore"));
        assert_eq!(resp.body, b"ignored");
    }
    assert!(
        !a.readable_now(),
        "the stalled client's connection was given up before another client was served"
    );
    // The rest of the body, then the next request: the body is not taken for a request.
    a.send(&pattern(990));
    let resp = a.roundtrip(&request("POST", "/?mode=read", &[], b"next"));
    assert_eq!(resp.body, b"next");
}

#[test]
fn unread_body_of_a_stalled_client_does_not_stall_the_loop_threads_1() {
    unread_body_of_a_stalled_client_does_not_stall_the_loop("1");
}

#[test]
fn unread_body_of_a_stalled_client_does_not_stall_the_loop_threads_2() {
    unread_body_of_a_stalled_client_does_not_stall_the_loop("2");
}

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
