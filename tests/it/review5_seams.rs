//! Review of issue 5's seams: where the strict codec, the proxy layer and TLS meet the
//! engine (the event loop, the pool, the timeout abort, the access log).

use crate::support::*;

/// The access log's format in these tests: the status and the client.
const STATUS_AND_CLIENT: &[&str] = &[
    "--access-logfile",
    "-",
    "--access-log-format",
    "%(s)s h=%(h)s port=%({REMOTE_PORT}e)s",
];

/// Sends `bytes` (a request stuck in the app), expects the abort's 504 and returns the
/// access line logged for it.
fn timed_out_line(server: &mut Server, bytes: &[u8]) -> String {
    let mut c = server.conn();
    c.send(bytes);
    assert_eq!(c.read_response().status(), 504);
    let mut lines = server
        .stdout
        .wait_count(1, |l| l.starts_with("504 "))
        .expect("the 504's access line");
    lines.remove(0)
}

/// The abort's access line names the client as every other line does: the one a PROXY
/// header named, not the proxy's address.
#[test]
fn a_timed_out_request_behind_a_proxy_header_is_logged_with_its_client() {
    let mut server = server("cases.stuck")
        .args(["--timeout", "1", "--proxy-protocol"])
        .args(STATUS_AND_CLIENT)
        .start();
    let mut bytes = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 80\r\n".to_vec();
    bytes.extend_from_slice(&get_req("/sleep"));
    assert_eq!(
        timed_out_line(&mut server, &bytes),
        "504 h=192.0.2.10 port=56324"
    );
}

/// The same with a trusted X-Forwarded-For, on a pool thread.
#[test]
fn a_timed_out_request_from_a_trusted_proxy_is_logged_with_its_client() {
    let mut server = server("cases.stuck")
        .args(["--timeout", "1", "--threads", "2"])
        .args(STATUS_AND_CLIENT)
        .start();
    let bytes = request(
        "GET",
        "/sleep",
        &[("X-Forwarded-For", "203.0.113.7:4711")],
        b"",
    );
    assert_eq!(
        timed_out_line(&mut server, &bytes),
        "504 h=203.0.113.7 port=4711"
    );
}

/// `--request-buffering=false` on the loop thread: an app that reads part of a chunk and
/// returns leaves decoded body bytes in the read buffer, and the rest of the body is then
/// discarded to keep the connection. The read buffer, grown for the body, used to be given
/// back at the end of the request from under those bytes, and discarding them panicked the
/// worker (any client could kill workers so).
#[test]
fn the_unread_rest_of_a_streamed_chunk_is_discarded_and_the_worker_lives() {
    let mut server = server("cases.live_echo")
        .args(["--request-buffering=false"])
        .start();
    let pid = server.worker_pid();
    let mut c = server.conn();
    c.send(
        b"POST /?id=P&piece=5&pieces=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    server.wait_for_line("live_echo called P");
    // One chunk, larger than what wsgi.input asks the server for at first (8 KiB), and not
    // yet the end of the body.
    let mut chunk = b"4e20\r\n".to_vec();
    chunk.resize(chunk.len() + 20000, b'a');
    c.send(&chunk);
    let r = c.read_response();
    assert_eq!((r.status(), r.text().as_str()), (200, "aaaaa"));
    c.send(b"\r\n0\r\n\r\n");
    // The connection serves its next request, in the same worker.
    let r = c.roundtrip(&request("POST", "/?id=Q", &[], b"next"));
    assert_eq!((r.status(), r.text().as_str()), (200, "next"));
    assert!(Server::is_alive(pid));
    assert_eq!(server.stderr_text().matches("panicked").count(), 0);
}

/// `--request-buffering=false`: when the app leaves part of a body unread, the response
/// says `Connection: close` if the rest is too much to discard (64 KiB), and otherwise the
/// connection serves the next request. The bytes already taken from the socket and decoded
/// but not read by the app count too: a 79,000-byte body of which the app read a few bytes
/// used to get a keep-alive response and then a closed connection.
#[test]
fn a_keep_alive_response_after_an_unread_body_is_kept() {
    for threads in ["1", "4"] {
        keep_alive_after_an_unread_body(threads);
    }
}

fn keep_alive_after_an_unread_body(threads: &str) {
    let server = server("cases.live_echo")
        .args(["--request-buffering=false", "--threads", threads])
        .start();
    for length in [60_000usize, 79_000, 100_000] {
        let mut c = server.conn();
        let body = vec![b'b'; length];
        c.send(&request("POST", "/?piece=5&pieces=1", &[], &body));
        let r = c.read_response();
        assert_eq!((r.status(), r.text().as_str()), (200, "bbbbb"));
        if r.header("Connection") == Some("close") {
            continue;
        }
        // Promised to persist: it must.
        let sent = c.try_send(&request("POST", "/", &[], b"next"));
        let next = sent.and_then(|()| c.try_read_response());
        let next = next.unwrap_or_else(|e| panic!("{length}: kept alive, then {e}"));
        assert_eq!(next.text(), "next", "{length}");
    }
}
