//! HTTP/1.1 message framing on raw sockets (RFC 9112): persistence, pipelining, request
//! bodies, 100-continue, and the malformed requests that must be refused without harming
//! the worker.

use crate::support::*;

/// The PATH_INFO the environ app saw.
fn path_of(resp: &Response) -> String {
    resp.environ().str("PATH_INFO").to_string()
}

#[test]
fn http11_connection_is_persistent_by_default() {
    let server = server("environ").start();
    let mut c = server.conn();
    for i in 0..3 {
        let resp = c.roundtrip(&get_req(&format!("/req{i}")));
        assert_eq!(resp.status(), 200);
        assert!(resp.head.keeps_alive(), "{}", resp.head.raw);
        assert_eq!(path_of(&resp), format!("/req{i}"));
    }
}

#[test]
fn connection_close_request_header_closes_after_response() {
    let server = server("hello").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&request("GET", "/", &[("Connection", "close")], b""));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "Hello, World!\n");
    c.expect_closed();
}

#[test]
fn http10_request_closes_by_default_and_is_answered_as_http11() {
    let server = server("hello").start();
    let mut c = server.conn();
    let resp = c.roundtrip(b"GET / HTTP/1.0\r\n\r\n");
    // RFC 9110 §6.2: a server sends its own highest version; HTTP/1.0 needs no Host.
    assert_eq!(resp.head.version, "HTTP/1.1");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "Hello, World!\n");
    c.expect_closed();
}

#[test]
fn http10_keep_alive_on_request() {
    let server = server("environ").start();
    let mut c = server.conn();
    let req = b"GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let resp = c.roundtrip(req);
    assert_eq!(resp.status(), 200);
    // A 1.0 client only keeps the connection if told so explicitly.
    assert!(
        resp.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("keep-alive")),
        "{}",
        resp.head.raw
    );
    assert_eq!(resp.environ().str("SERVER_PROTOCOL"), "HTTP/1.0");
    let resp2 = c.roundtrip(b"GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(path_of(&resp2), "/two");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server("environ").start();
    let mut c = server.conn();
    let mut all = Vec::new();
    for i in 0..5 {
        all.extend(get_req(&format!("/p{i}")));
    }
    // A POST with a body in the middle of the pipeline, then more GETs.
    all.extend(request("POST", "/post", &[], b"0123456789"));
    all.extend(get_req("/last"));
    c.send(&all);
    for i in 0..5 {
        assert_eq!(path_of(&c.read_response()), format!("/p{i}"));
    }
    let post = c.read_response().environ();
    assert_eq!(post.str("PATH_INFO"), "/post");
    assert_eq!(post.body_length(), 10);
    assert_eq!(path_of(&c.read_response()), "/last");
}

#[test]
fn request_sent_one_byte_at_a_time_is_parsed() {
    let server = server("environ").start();
    let mut c = server.conn();
    let req = request("POST", "/slow?x=1", &[("X-Probe", "yes")], b"abcdef");
    for b in &req {
        c.send(std::slice::from_ref(b));
    }
    let env = c.read_response().environ();
    assert_eq!(env.str("PATH_INFO"), "/slow");
    assert_eq!(env.str("QUERY_STRING"), "x=1");
    assert_eq!(env.str("HTTP_X_PROBE"), "yes");
    assert_eq!(env.body_length(), 6);
}

#[test]
fn chunked_upload_with_extensions_and_trailers() {
    let server = server("upload").start();
    let mut c = server.conn();
    let body = pattern(100_000);
    let mut req =
        b"POST /?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    // Chunk extensions are allowed and ignored (RFC 9112 §7.1.1).
    req.extend(b"3;name=value\r\nabc\r\n");
    req.extend(chunked(&body, 7000, "X-Trailer: one\r\nX-Other: two\r\n"));
    let resp = c.roundtrip(&req);
    assert_eq!(resp.status(), 200);
    let mut expected = b"abc".to_vec();
    expected.extend(&body);
    assert_eq!(resp.body.len(), expected.len());
    assert!(resp.body == expected, "echoed chunked body differs");
    // The connection is still usable: the trailers were consumed, not left as garbage.
    let again = c.roundtrip(&request("POST", "/?mode=read", &[], b"next"));
    assert_eq!(again.text(), "next");
}

#[test]
fn chunked_request_has_no_content_length_and_trailers_are_not_headers() {
    // Without request buffering the app reads the chunked body as it arrives: its length is
    // unknown, so there is no CONTENT_LENGTH.
    let server = server("environ").arg("--request-buffering=false").start();
    let mut c = server.conn();
    let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend(chunked(b"hello chunked", 4, "X-Late: 1\r\n"));
    let env = c.roundtrip(&req).environ();
    assert_eq!(env.body_length(), 13);
    assert_eq!(env.body_crc32(), crc32(0, b"hello chunked"));
    assert!(!env.has("HTTP_X_LATE"), "trailers must be discarded");
    assert!(!env.has("CONTENT_LENGTH"));
    assert_eq!(
        env.value("HTTP_TRANSFER_ENCODING").as_str(),
        Some("chunked")
    );
    assert_eq!(env.value("wsgi.input_terminated"), &Json::Bool(true));
}

#[test]
fn buffered_chunked_request_is_presented_with_its_length() {
    // With request buffering (the default) the whole body is in before the call, so the app
    // sees what a buffering proxy would forward: a body of known length.
    let server = server("environ").start();
    let mut c = server.conn();
    let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend(chunked(b"hello chunked", 4, "X-Late: 1\r\n"));
    let env = c.roundtrip(&req).environ();
    assert_eq!(env.body_length(), 13);
    assert_eq!(env.body_crc32(), crc32(0, b"hello chunked"));
    assert!(!env.has("HTTP_X_LATE"), "trailers must be discarded");
    assert_eq!(env.value("CONTENT_LENGTH").as_str(), Some("13"));
    assert!(!env.has("HTTP_TRANSFER_ENCODING"));
}

#[test]
fn expect_100_continue_is_sent_when_the_app_reads() {
    let server = server("upload").start();
    let mut c = server.conn();
    c.send(
        b"POST /?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    // The app reads wsgi.input, so the server must invite the body first.
    let interim = c.read_head().expect("100 Continue");
    assert_eq!(interim.status, 100, "{}", interim.raw);
    assert_eq!(interim.version, "HTTP/1.1");
    c.send(b"hello world");
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "hello world");
    // And the connection goes on.
    assert_eq!(
        c.roundtrip(&request("POST", "/?mode=read", &[], b"x"))
            .text(),
        "x"
    );
}

#[test]
fn expect_100_continue_not_sent_when_the_app_does_not_read() {
    let server = server("upload").arg("--request-buffering=false").start();
    let mut c = server.conn();
    c.send(
        b"POST /?mode=ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
    );
    // The final response comes straight away, with no 100 before it ...
    let resp = c.read_response();
    assert_eq!(resp.status(), 200, "{}", resp.head.raw);
    assert_eq!(resp.text(), "ignored");
    // ... and since the body never came, the connection cannot be reused: closed.
    c.expect_closed();
}

#[test]
fn buffering_invites_the_body_before_calling_the_app() {
    // The server itself wants the body (to call the app only once it is in), so it answers
    // Expect: 100-continue at once, whatever the app will do with it.
    let server = server("upload").start();
    let mut c = server.conn();
    c.send(
        b"POST /?mode=ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = c.read_head().expect("100 Continue");
    assert_eq!(interim.status, 100, "{}", interim.raw);
    c.send(b"hello");
    let resp = c.read_response();
    assert_eq!(resp.status(), 200, "{}", resp.head.raw);
    assert_eq!(resp.text(), "ignored");
    // The body was consumed by the server, so the connection goes on.
    assert_eq!(
        c.roundtrip(&request("POST", "/?mode=read", &[], b"x"))
            .text(),
        "x"
    );
}

#[test]
fn expect_100_continue_over_the_body_limit_is_refused_without_the_body() {
    let server = server("upload").arg("--limit-request-body=100").start();
    let mut c = server.conn();
    c.send(
        b"POST /?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
    );
    let resp = c.read_response();
    assert_eq!(resp.status(), 413, "{}", resp.head.raw);
}

#[test]
fn unread_request_body_is_drained_before_the_next_request() {
    let server = server("upload").start();
    let mut c = server.conn();
    let body = pattern(20_000);
    let resp = c.roundtrip(&request("POST", "/?mode=ignore", &[], &body));
    assert_eq!(resp.text(), "ignored");
    // The 20 kB the app ignored must not be parsed as the next request.
    let resp = c.roundtrip(&request("POST", "/?mode=read", &[], b"second"));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "second");
}

#[test]
fn unread_chunked_body_is_drained_before_the_next_request() {
    let server = server("upload").start();
    let mut c = server.conn();
    let mut req =
        b"POST /?mode=ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend(chunked(&pattern(5000), 1000, ""));
    assert_eq!(c.roundtrip(&req).text(), "ignored");
    assert_eq!(
        c.roundtrip(&request("POST", "/?mode=read", &[], b"ok"))
            .text(),
        "ok"
    );
}

#[test]
fn partially_read_body_is_drained() {
    let server = server("upload").start();
    let mut c = server.conn();
    // The app reads 4 of the 10 bytes; the other 6 must not become the next request.
    let resp = c.roundtrip(&request("POST", "/?mode=prefix&n=4", &[], b"abcdefghij"));
    assert_eq!(resp.text(), "abcd");
    let resp = c.roundtrip(&request("POST", "/?mode=read", &[], b"next"));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "next");
}

#[test]
fn absolute_form_target_is_accepted() {
    let server = server("environ").start();
    let mut c = server.conn();
    let req = b"GET http://example.com/abs/path?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let env = c.roundtrip(req).environ();
    assert_eq!(env.str("PATH_INFO"), "/abs/path");
    assert_eq!(env.str("QUERY_STRING"), "q=1");
}

#[test]
fn head_response_has_no_body_and_connection_continues() {
    let server = server("hello").start();
    let mut c = server.conn();
    c.send(&request("HEAD", "/", &[], b""));
    let resp = c.read_head_response();
    assert_eq!(resp.status(), 200);
    // Content-Length may describe the GET body, but no body bytes follow.
    if let Some(cl) = resp.header("content-length") {
        assert_eq!(cl, "14");
    }
    // If any body bytes had been sent they would corrupt this response.
    let resp = c.roundtrip(&get_req("/"));
    assert_eq!(resp.status(), 200, "{}", resp.head.raw);
    assert_eq!(resp.text(), "Hello, World!\n");
}

// --- Malformed requests: a 4xx with a short body, the connection closed, and the same
// --- worker still serving.

/// Sends `raw` on a fresh connection and checks the status, a non-empty short body, that
/// the connection is closed, and that the same worker then serves a normal request.
fn refused(raw: &[u8], status: u16) {
    let server = server("environ").start();
    let worker = server.worker_pid();
    let mut c = server.conn();
    // The server may answer before reading everything we send.
    let _ = c.try_send(raw);
    let resp = c
        .try_read_response()
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)));
    assert_eq!(
        resp.status(),
        status,
        "request {:?} got {}",
        String::from_utf8_lossy(raw),
        resp.head.raw
    );
    assert_eq!(resp.head.version, "HTTP/1.1");
    // Even error responses carry the server's Date and Server headers.
    assert_eq!(
        resp.header("server"),
        Some("rsgi-server"),
        "{}",
        resp.head.raw
    );
    assert!(resp.header("date").is_some(), "{}", resp.head.raw);
    assert!(
        !resp.body.is_empty() && resp.body.len() < 1024,
        "want a short body, got {} bytes",
        resp.body.len()
    );
    if status == 400 {
        // A framing error leaves the byte stream unusable.
        c.expect_closed();
    }
    // The worker survived: the same process serves the next connection.
    let env = server.get("/after").environ();
    assert_eq!(env.pid(), worker, "the worker was replaced");
    assert!(Server::is_alive(worker));
    let mut server = server;
    assert_eq!(server.ready_pids().len(), 1, "a worker was respawned");
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    // RFC 9112 §6.3: request smuggling vector; must be treated as an error.
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn transfer_encoding_not_ending_in_chunked_is_400() {
    // RFC 9112 §6.3: in a request, a final coding other than chunked can't be framed.
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        400,
    );
}

#[test]
fn chunked_applied_twice_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn conflicting_content_lengths_are_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
        400,
    );
}

#[test]
fn content_length_list_with_different_values_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nabcdef",
        400,
    );
}

#[test]
fn non_numeric_content_length_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        400,
    );
}

#[test]
fn negative_content_length_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        400,
    );
}

#[test]
fn missing_host_in_http11_is_400() {
    // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.
    refused(b"GET / HTTP/1.1\r\n\r\n", 400);
}

#[test]
fn garbage_request_line_is_400() {
    refused(b"THIS IS NOT HTTP\r\n\r\n", 400);
}

#[test]
fn bad_chunk_size_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn http2_request_line_is_505() {
    refused(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
}

#[test]
fn too_long_request_line_is_414() {
    let target = format!("/{}", "a".repeat(10_000));
    refused(&get_req(&target), 414);
}

#[test]
fn too_many_headers_is_431() {
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        req.extend(format!("X-H{i}: v\r\n").as_bytes());
    }
    req.extend(b"\r\n");
    refused(&req, 431);
}

#[test]
fn too_large_header_field_is_431() {
    let req = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "v".repeat(20_000)
    );
    refused(req.as_bytes(), 431);
}

#[test]
fn whitespace_between_header_name_and_colon_is_400() {
    // RFC 9112 §5.1: "A server MUST reject ... with a response status code of 400".
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nabcde",
        400,
    );
}

#[test]
fn chunk_size_overflow_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn chunk_data_not_followed_by_crlf_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
        400,
    );
}

#[test]
fn obs_fold_is_rejected_or_unfolded() {
    // RFC 9112 §5.2: a server MUST either reject obs-fold with 400 or replace each
    // obs-fold with SP; never treat the continuation line as its own field.
    let server = server("environ").start();
    let mut c = server.conn();
    let _ = c.try_send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n");
    let resp = c.read_response();
    match resp.status() {
        400 => {}
        200 => {
            let env = resp.environ();
            let v = env.str("HTTP_X_FOLDED");
            assert!(v == "one two" || v == "one  two", "{v:?}");
        }
        s => panic!("unexpected status {s}"),
    }
}

#[test]
fn client_disconnect_mid_upload_does_not_kill_the_worker() {
    let mut server = server("upload").start();
    let worker = server.worker_pid();
    let mut c = server.conn();
    // 10 of the 1000 announced bytes, then the client goes away.
    c.send(b"POST /?mode=summary HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
    drop(c);
    let resp = server.post("/?mode=read", b"still here");
    assert_eq!(resp.text(), "still here");
    assert_eq!(server.ready_pids(), vec![worker]);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_keep_alive_seconds() {
    let server = server("hello").args(["--keep-alive", "1"]).start();
    let mut c = server.conn();
    assert_eq!(c.roundtrip(&get_req("/")).status(), 200);
    // Nothing more is sent: the server must close the idle connection itself (the read
    // only returns because of that; the safety deadline is 60 s).
    c.expect_closed();
}

#[test]
fn large_unread_body_is_never_parsed_as_a_request() {
    // Past the drain limit the server may close instead of draining, but it must never
    // read body bytes as requests. The body is full of requests that would show up.
    let server = server("upload").start();
    let mut c = server.conn();
    let smuggled = b"GET /?mode=summary HTTP/1.1\r\nHost: x\r\n\r\n";
    let body: Vec<u8> = smuggled
        .iter()
        .copied()
        .cycle()
        .take(smuggled.len() * 30_000)
        .collect();
    let mut all = request("POST", "/?mode=ignore", &[], &body);
    all.extend(request("POST", "/?mode=read", &[], b"REAL"));
    let mut writer = c.try_clone_tcp();
    // The server may close before taking it all; write errors are expected then.
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(&all);
    });
    let first = c.read_response();
    assert_eq!(first.text(), "ignored");
    match c.try_read_response() {
        Err(_) => {} // closed instead of draining: fine
        Ok(resp) => assert_eq!(resp.text(), "REAL", "body bytes were parsed as a request"),
    }
    drop(c);
    t.join().unwrap();
}
