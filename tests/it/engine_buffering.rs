//! Request buffering in the event-loop engine (issue 3): the app is called once the head
//! and the whole body arrived; large bodies are spooled to an unlinked file in
//! `--tmp-upload-dir`; `--limit-request-body` answers 413; `--request-buffering=false`
//! hands the app a body that is still arriving.

use crate::support::*;
use std::fs;

/// `"<length> <crc32>"`, as `held_upload?summary=1` and `upload?mode=summary` answer.
fn summary_of(data: &[u8]) -> String {
    format!("{} {}", data.len(), crc32(0, data))
}

/// A POST head with a Content-Length and no body.
fn post_head(target: &str, length: usize, extra: &[(&str, &str)]) -> Vec<u8> {
    let cl = length.to_string();
    let mut headers = vec![("Content-Length", cl.as_str())];
    headers.extend_from_slice(extra);
    request("POST", target, &headers, b"")
}

#[test]
fn body_is_buffered_before_the_app_is_called() {
    let mut server = server("cases.held_upload").workers(1).start();
    let body = pattern(200_000);
    let mut a = server.conn();
    a.send(&post_head("/?id=A&summary=1", body.len(), &[]));
    a.send(&body[..100_000]);
    // Another client is served meanwhile by the same worker...
    let b_body = pattern(5000);
    let resp = server.post("/?id=B&summary=1", &b_body);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), summary_of(&b_body));
    server.wait_for_line("held_upload called B content_length=5000");
    // ...and A's app was not called with half a body.
    assert_eq!(
        server.log.count(|l| l.contains("held_upload called A")),
        0,
        "the app was called before the whole body arrived"
    );
    a.send(&body[100_000..]);
    let resp = a.read_response();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), summary_of(&body));
    server.wait_for_line("held_upload called A content_length=200000");
}

#[test]
fn slow_upload_does_not_hold_the_worker() {
    let server = server("upload").workers(1).start();
    let body = pattern(256 * 1024);
    let mut slow = server.conn();
    slow.send(&post_head("/?mode=summary", body.len(), &[]));
    // The upload arrives in four parts; between parts, other clients are served.
    for (k, part) in body.chunks(64 * 1024).enumerate() {
        slow.send(part);
        for i in 0..3 {
            let small = format!("part {k} request {i}");
            let resp = server.post("/?mode=read", small.as_bytes());
            assert_eq!(resp.status(), 200, "request {i} after part {k}");
            assert_eq!(resp.text(), small);
        }
    }
    let resp = slow.read_response();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), summary_of(&body));
}

/// `--body-buffer-size 1024 --tmp-upload-dir <dir>`: bodies over 1 KiB are spooled.
fn spooling_server(spool: &std::path::Path, bind: Option<String>) -> Server {
    let b = server("cases.held_upload").workers(1).args([
        "--body-buffer-size".as_ref(),
        "1024".as_ref(),
        "--tmp-upload-dir".as_ref(),
        spool.as_os_str(),
    ]);
    match bind {
        Some(addr) => b.bind(addr),
        None => b,
    }
    .start()
}

fn spooled_uploads_round_trip(connect: &dyn Fn() -> Conn) {
    // 1 MiB with Content-Length, echoed back byte for byte.
    let body = pattern(1 << 20);
    let mut c = connect();
    let resp = c.roundtrip(&request("POST", "/?id=cl", &[], &body));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body.len(), body.len());
    assert!(resp.body == body, "the 1 MiB echo differs from the upload");
    // 1 MiB chunked (odd chunk sizes), echoed back on the same connection.
    let resp = c.roundtrip(&chunked_post("/?id=chunked", &body, 7777));
    assert_eq!(resp.status(), 200);
    assert!(
        resp.body == body,
        "the chunked 1 MiB echo differs from the upload"
    );
    // 32 MiB, checked by length and CRC.
    let big = pattern(32 << 20);
    let resp = c.roundtrip(&request("POST", "/?id=big&summary=1", &[], &big));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), summary_of(&big));
}

#[test]
fn large_upload_spooled_to_disk_round_trips_byte_exact_tcp() {
    let dir = TempDir::new();
    let spool = dir.join("spool");
    fs::create_dir(&spool).unwrap();
    let server = spooling_server(&spool, None);
    let addr = server.addr();
    spooled_uploads_round_trip(&|| Conn::tcp(addr));
}

#[test]
fn large_upload_spooled_to_disk_round_trips_byte_exact_unix() {
    let dir = TempDir::new();
    let spool = dir.join("spool");
    fs::create_dir(&spool).unwrap();
    let server = spooling_server(
        &spool,
        Some(format!("unix:{}", dir.join("s.sock").display())),
    );
    let path = server.unix_path();
    spooled_uploads_round_trip(&|| Conn::unix(&path));
}

/// While the app holds a 1 MiB request, the worker has a deleted file open in the spool
/// directory (which itself stays empty); the echo is byte-exact; afterwards the file is
/// closed.
fn spool_file_is_unlinked_and_closed(
    server: &mut Server,
    connect: &dyn Fn() -> Conn,
    spool: &std::path::Path,
    gates: &TempDir,
) {
    let pid = server.worker_pid();
    assert!(
        deleted_files_in(pid, spool).is_empty(),
        "spool files open before any upload"
    );
    let body = pattern(1 << 20);
    let mut c = connect();
    c.send(&request(
        "POST",
        &format!("/?id=held&{}", gate_param(gates, "held")),
        &[],
        &body,
    ));
    server.wait_for_line("held_upload called held content_length=1048576");
    let spooled = deleted_files_in(pid, spool);
    assert!(
        !spooled.is_empty(),
        "no deleted file of the worker in {}; its fds: {:?}",
        spool.display(),
        fd_links(pid)
    );
    let names: Vec<_> = fs::read_dir(spool)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(names.is_empty(), "spool files were left linked: {names:?}");
    open_gate_file(gates, "held");
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.body == body,
        "the spooled body was not echoed byte-exact"
    );
    wait_until("the worker to close its spool file", || {
        deleted_files_in(pid, spool).is_empty()
    });
}

#[test]
fn spooled_body_is_an_unlinked_file_in_tmp_upload_dir_tcp() {
    let dir = TempDir::new();
    let spool = dir.join("spool");
    fs::create_dir(&spool).unwrap();
    let mut server = spooling_server(&spool, None);
    let addr = server.addr();
    spool_file_is_unlinked_and_closed(&mut server, &|| Conn::tcp(addr), &spool, &dir);
}

#[test]
fn spooled_body_is_an_unlinked_file_in_tmp_upload_dir_unix() {
    let dir = TempDir::new();
    let spool = dir.join("spool");
    fs::create_dir(&spool).unwrap();
    let mut server = spooling_server(
        &spool,
        Some(format!("unix:{}", dir.join("s.sock").display())),
    );
    let path = server.unix_path();
    spool_file_is_unlinked_and_closed(&mut server, &|| Conn::unix(&path), &spool, &dir);
}

#[test]
fn body_within_body_buffer_size_is_not_spooled() {
    let dir = TempDir::new();
    let spool = dir.join("spool");
    fs::create_dir(&spool).unwrap();
    let mut server = spooling_server(&spool, None);
    let pid = server.worker_pid();
    let body = pattern(1000);
    let mut c = server.conn();
    c.send(&request(
        "POST",
        &format!("/?id=small&{}", gate_param(&dir, "small")),
        &[],
        &body,
    ));
    server.wait_for_line("held_upload called small content_length=1000");
    assert!(
        deleted_files_in(pid, &spool).is_empty(),
        "a 1000-byte body was spooled with --body-buffer-size 1024: {:?}",
        fd_links(pid)
    );
    open_gate_file(&dir, "small");
    assert!(c.read_response().body == body);
}

#[test]
fn limit_request_body_refuses_a_large_content_length_before_reading_the_body() {
    let server = server("cases.held_upload")
        .workers(1)
        .args(["--limit-request-body", "1000"])
        .start();
    // At the limit: served.
    let body = pattern(1000);
    let resp = server.post("/?id=at&summary=1", &body);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), summary_of(&body));
    // Over it: only the head is sent; the 413 must come without the body.
    let mut c = server.conn();
    c.send(&post_head("/?id=over&summary=1", 1001, &[]));
    let resp = c
        .try_read_response()
        .expect("a 413 for a head-only request");
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
    // With Expect: 100-continue the answer is the 413, not a 100.
    let mut c = server.conn();
    c.send(&post_head(
        "/?id=expect&summary=1",
        50_000_000,
        &[("Expect", "100-continue")],
    ));
    let resp = c
        .try_read_response()
        .expect("a 413 for Expect: 100-continue");
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
    // The server still works.
    let resp = server.post("/?id=after&summary=1", b"ok");
    assert_eq!(resp.text(), summary_of(b"ok"));
}

#[test]
fn limit_request_body_refuses_a_chunked_body_once_it_passes_the_limit() {
    let mut server = server("cases.held_upload")
        .workers(1)
        .args(["--limit-request-body", "1000"])
        .start();
    // Exactly at the limit: served, and the app sees the real length.
    let body = pattern(1000);
    let mut c = server.conn();
    let resp = c.roundtrip(&chunked_post("/?id=at&summary=1", &body, 100));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), summary_of(&body));
    server.wait_for_line("held_upload called at content_length=1000");
    // 1500 bytes, in one write: refused.
    let body = pattern(1500);
    let mut c = server.conn();
    c.send(&chunked_post("/?id=over&summary=1", &body, 100));
    let resp = c
        .try_read_response()
        .expect("a 413 for an oversized chunked body");
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
    // A chunked body that passes the limit while the client is still sending: the 413
    // comes without waiting for the rest.
    let mut c = server.conn();
    let mut first = request(
        "POST",
        "/?id=open&summary=1",
        &[("Transfer-Encoding", "chunked")],
        b"",
    );
    first.extend(format!("{:x}\r\n", 1200).as_bytes());
    first.extend(pattern(1200));
    first.extend(b"\r\n");
    c.send(&first);
    let resp = c
        .try_read_response()
        .expect("a 413 before the chunked body ended");
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
    assert_eq!(
        server.log.count(
            |l| l.contains("held_upload called over") || l.contains("held_upload called open")
        ),
        0,
        "the app was called for a refused body"
    );
}

#[test]
fn buffered_chunked_request_sees_the_real_content_length() {
    let server = server("environ").start();
    let body = pattern(3000);
    let mut c = server.conn();
    let env = c.roundtrip(&chunked_post("/", &body, 128)).environ();
    assert_eq!(env.str("CONTENT_LENGTH"), "3000");
    assert_eq!(env.body_length(), 3000);
    assert_eq!(env.body_crc32(), crc32(0, &body));
}

#[test]
fn unbuffered_app_reads_the_body_while_it_arrives() {
    let mut server = server("cases.live_echo")
        .workers(1)
        .args(["--request-buffering=false"])
        .start();
    let body = pattern(2000);
    let (first, second) = body.split_at(1000);
    let mut c = server.conn();
    c.send(&post_head("/?id=L&piece=1000", body.len(), &[]));
    c.send(first);
    // The app is called with half the body sent...
    server.wait_for_line("live_echo called L");
    let head = c.read_head().expect("response head");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-content-length"), Some("2000"));
    // ...and echoes the first half before the client sends the second.
    let echoed = c.read_chunked_bytes(first.len()).unwrap();
    assert!(echoed == first, "the echo of the first half differs");
    c.send(second);
    let mut rest = Vec::new();
    while let Some(chunk) = c.read_chunk().unwrap() {
        rest.extend(chunk);
    }
    assert!(rest == second, "the echo of the second half differs");
    // The connection stays usable.
    let resp = c.roundtrip(&request("POST", "/?id=M", &[], b"next"));
    assert_eq!(resp.body, b"next");
}

/// With room in memory for about two bodies (`--body-buffer-size` 100000, one thread), ten
/// clients upload 90000 bytes each at once: the bodies that do not fit wait in their sockets
/// and are received in turn; every echo is byte-exact.
#[test]
fn uploads_beyond_the_memory_budget_wait_their_turn() {
    let server = server("upload")
        .workers(1)
        .arg("--body-buffer-size=100000")
        .start();
    let bodies: Vec<Vec<u8>> = (0..10u8)
        .map(|i| pattern(90_000).into_iter().map(|b| b ^ i).collect())
        .collect();
    let mut conns: Vec<Conn> = bodies.iter().map(|_| server.conn()).collect();
    // Every head and the first half of every body first, so all ten are receiving at once.
    for (c, body) in conns.iter_mut().zip(&bodies) {
        c.send(&post_head("/?mode=read", body.len(), &[]));
        c.send(&body[..45_000]);
    }
    for (c, body) in conns.iter_mut().zip(&bodies) {
        c.send(&body[45_000..]);
    }
    for (i, (c, body)) in conns.iter_mut().zip(&bodies).enumerate() {
        let resp = c.read_response();
        assert_eq!(resp.status(), 200, "client {i}");
        assert!(resp.body == *body, "client {i}: echo differs");
    }
}

/// A client that sends half its body and stalls holds the only in-memory room; it is moved
/// to disk, so a second upload that needs the room is still received and answered.
#[test]
fn a_stalled_upload_does_not_keep_others_out_of_memory() {
    let server = server("upload")
        .workers(1)
        .arg("--body-buffer-size=100000")
        .start();
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut c = server.conn();
        c.send(&post_head("/?mode=summary", 90_000, &[]));
        c.send(&pattern(10_000));
        stalled.push(c);
    }
    let body = pattern(90_000);
    let mut c = server.conn();
    let resp = c.roundtrip(&request("POST", "/?mode=read", &[], &body));
    assert_eq!(resp.status(), 200);
    assert!(resp.body == body, "echo differs");
    // The stalled ones are still served once they finish.
    for mut c in stalled {
        c.send(&pattern(90_000)[10_000..]);
        let resp = c.read_response();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text(), format!("90000 {}", crc32(0, &pattern(90_000))));
    }
}

/// A body of announced length is read straight into its in-memory buffer, in reads as large
/// as the rest of the body; those reads stop at the body's end, so a request pipelined right
/// behind it is still parsed and answered.
#[test]
fn a_large_body_then_a_pipelined_request_in_one_write() {
    let server = server("upload").workers(1).start();
    let body = pattern(600_000);
    let mut batch = post_head("/?mode=read", body.len(), &[]);
    batch.extend_from_slice(&body);
    batch.extend(request("POST", "/?mode=read", &[], b"next"));
    let mut c = server.conn();
    c.send(&batch);
    let first = c.read_response();
    assert_eq!(first.status(), 200);
    assert!(first.body == body, "echo of the large body differs");
    let second = c.read_response();
    assert_eq!(second.status(), 200);
    assert_eq!(second.body, b"next");
}

// Regression: a worker panicked when an app left part of a streamed chunk unread,
// commit f01ca58 (issue 5)
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

// Regression: keep-alive promised after an unread body past the drain limit,
// commit fe5d95b (issue 5)
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

// Regression: --limit-request-body was not enforced on a streamed chunked body,
// commit 2045047 (issue 3)
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
    let req = chunked_post("/", &pattern(1000), 100);
    let resp = c.roundtrip(&req);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.environ().body_length(), 1000);
    // Over it: refused, and the connection is not reused.
    let mut c = server.conn();
    let req = chunked_post("/", &pattern(1500), 100);
    c.send(&req);
    let resp = c.try_read_response().expect("a response");
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
    until_closed(&mut c);
}
