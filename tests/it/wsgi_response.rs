//! The response side of PEP 3333: start_response validation, exc_info, write(), close(),
//! file_wrapper, app errors, and wsgiref.validate (the framing of what the app produces is
//! in wsgi_framing).

use crate::support::*;

// --- start_response validation ------------------------------------------------------

/// GET `path` from cases.headers and expect a 500 with no injected header, then check the
/// worker still serves.
fn rejected_header(path: &str) {
    let mut server = server("cases.headers").start();
    let resp = server.get(path);
    assert_eq!(resp.status(), 500, "{path}: {}", resp.head.raw);
    assert!(resp.header("x-injected").is_none(), "{}", resp.head.raw);
    assert!(resp.header("set-cookie").is_none(), "{}", resp.head.raw);
    assert!(!resp.text().contains("headers accepted"));
    assert_eq!(server.get("/ok").status(), 200);
    // The error is logged, not silently swallowed. Waited for, not read from a snapshot:
    // the log line and the response race to the test through different pipes.
    server.wait_for_line("[ERROR]");
}

#[test]
fn valid_headers_are_accepted() {
    let server = server("cases.headers").start();
    let resp = server.get("/ok");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "headers accepted\n");
}

// Regression: non-ASCII header values went out as UTF-8, not latin-1, commit a1d8fe5
#[test]
fn latin1_status_and_header_values_go_out_as_latin1_bytes() {
    // PEP 3333: native strings stand for bytes one code point each, so "é" is the single
    // byte E9 on the wire, not UTF-8's C3 A9 (the test client reads heads as latin-1).
    let server = server("cases.headers").start();
    let resp = server.get("/latin1");
    assert_eq!(resp.status(), 200, "{}", resp.head.raw);
    assert_eq!(resp.head.reason, "Caf\u{e9}");
    assert_eq!(resp.header("x-latin"), Some("caf\u{e9} cr\u{e8}me"));
}

#[test]
fn crlf_in_header_value_is_a_500_not_a_header_injection() {
    rejected_header("/crlf-value");
}

#[test]
fn lf_in_header_value_is_a_500() {
    rejected_header("/lf-value");
}

#[test]
fn cr_in_header_name_is_a_500() {
    rejected_header("/cr-name");
}

#[test]
fn nul_in_header_value_is_a_500() {
    rejected_header("/nul-value");
}

#[test]
fn crlf_in_status_is_a_500() {
    rejected_header("/status-crlf");
}

#[test]
fn non_latin1_header_value_is_a_500() {
    // PEP 3333: header values must be latin-1 encodable native strings.
    rejected_header("/non-latin1");
}

#[test]
fn str_body_chunk_is_a_500() {
    // PEP 3333: the iterable yields bytestrings; a str is an app error.
    rejected_header("/str-body");
}

#[test]
fn hop_by_hop_headers_from_the_app_are_a_500() {
    // PEP 3333: "applications must not generate hop-by-hop headers".
    let server = server("cases.headers").start();
    for name in [
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "Upgrade",
        "TE",
        "Trailer",
        "Proxy-Authorization",
        "connection",
    ] {
        let resp = server.get(&format!("/hop/{name}"));
        assert_eq!(resp.status(), 500, "{name}: {}", resp.head.raw);
        assert!(
            !resp.head.headers.iter().any(|(_, v)| v == "hop-value"),
            "{name} was sent: {}",
            resp.head.raw
        );
    }
    assert_eq!(server.get("/ok").status(), 200);
}

#[test]
fn proxy_authenticate_from_the_app_is_sent() {
    // RFC 9110 §15.5.8: a 407 carries Proxy-Authenticate, which RFC 9110 §7.6.1 no longer
    // counts as hop-by-hop (RFC 2616 §13.5.1, which PEP 3333 cites, did).
    let server = server("cases.headers").start();
    let resp = server.get("/hop/Proxy-Authenticate");
    assert_eq!(resp.status(), 200, "{}", resp.head.raw);
    assert_eq!(resp.header("proxy-authenticate"), Some("hop-value"));
}

#[test]
fn blanks_around_header_values_are_not_sent() {
    // RFC 9110 §5.5: optional whitespace around a field value is not part of it; Django's
    // Set-Cookie values start with a space, and gunicorn strips it too.
    let server = server("cases.headers").start();
    let resp = server.get("/padded");
    assert!(
        resp.head.raw.contains("\r\nSet-Cookie: a=b; Path=/\r\n"),
        "{}",
        resp.head.raw
    );
    assert!(
        resp.head.raw.contains("\r\nX-Padded: v\r\n"),
        "{}",
        resp.head.raw
    );
    let resp = server.get("/blank");
    assert!(
        resp.head.raw.contains("\r\nX-Blank: \r\n"),
        "{}",
        resp.head.raw
    );
}

// --- exc_info and repeated start_response ---------------------------------------------

#[test]
fn exc_info_before_headers_sent_replaces_the_response() {
    let server = server("cases.excinfo").start();
    let resp = server.get("/replace");
    assert_eq!(resp.status(), 503, "{}", resp.head.raw);
    assert_eq!(resp.head.reason, "Replaced");
    assert_eq!(resp.text(), "replaced body\n");
    assert!(resp.header("x-first").is_none(), "first headers leaked");
}

#[test]
fn exc_info_after_headers_sent_reraises_and_closes_the_connection() {
    let mut server = server("cases.excinfo").start();
    let mut c = server.conn();
    c.send(&get_req("/after-sent"));
    let resp = c.read_response();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().starts_with("partial "), "{}", resp.text());
    assert!(!resp.text().contains("must never be sent"));
    // The server cannot send a 500 any more; the response must not look complete.
    assert!(
        !resp.complete,
        "a failed response must not end like a good one"
    );
    c.expect_closed();
    server.wait_for_line("failed after the headers went out");
    assert_eq!(server.get("/custom-server").status(), 200);
}

#[test]
fn second_start_response_without_exc_info_is_an_error() {
    // PEP 3333: "it is a fatal error to call start_response without the exc_info
    // argument if start_response has already been called within the current invocation".
    let server = server("cases.excinfo").start();
    let resp = server.get("/twice");
    assert_eq!(resp.status(), 500, "{}", resp.head.raw);
}

#[test]
fn app_supplied_server_and_date_headers_are_kept() {
    let server = server("cases.excinfo").start();
    let resp = server.get("/custom-server");
    assert_eq!(resp.head.header_all("server"), vec!["custom/1.0"]);
    assert_eq!(
        resp.head.header_all("date"),
        vec!["Mon, 01 Jan 2024 00:00:00 GMT"]
    );
}

// --- write() callable ------------------------------------------------------------------

#[test]
fn write_callable_output_comes_before_the_iterable() {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/write"));
    assert_eq!(resp.text(), "one two three four\n");
    let resp = c.roundtrip(&get_req("/write-only"));
    assert_eq!(resp.text(), "only written\n");
    // Keep-alive still works after write()-based responses.
    assert_eq!(c.roundtrip(&get_req("/single")).text(), "single item\n");
}

// --- close() is always called ---------------------------------------------------------

#[test]
fn close_is_called_after_a_successful_response() {
    let mut server = server("raises").start();
    let resp = server.get("/ok?id=ok-1");
    assert_eq!(resp.text(), "all good\n");
    server.wait_for_line("closed ok-1");
    let mut server2 = self::server("cases.responses").start();
    assert_eq!(server2.get("/closing?id=list-1").text(), "abc");
    server2.wait_for_line("closed list-1");
}

#[test]
fn close_is_called_when_the_app_raises_mid_iteration() {
    let mut server = server("raises").start();
    let worker = server.worker_pid();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/mid?id=mid-1"));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "first chunk\n");
    assert!(!resp.complete, "a broken response must not look complete");
    c.expect_closed();
    server.wait_for_line("closed mid-1");
    server.wait_for_line("raised mid-iteration");
    // The worker goes on.
    let resp = server.get("/ok?id=after");
    assert_eq!(resp.text(), "all good\n");
    assert!(Server::is_alive(worker));
    assert_eq!(server.ready_pids(), vec![worker]);
}

#[test]
fn close_is_called_when_the_client_disconnects() {
    let mut server = server("cases.responses").start();
    let mut c = server.conn();
    c.send(&get_req("/endless?id=gone-1"));
    let head = c.read_head().unwrap();
    assert_eq!(head.status, 200);
    let mut seen = 0u64;
    let mut buf = [0u8; 65536];
    while seen < 1 << 20 {
        seen += c.read_some(&mut buf).unwrap() as u64;
    }
    drop(c);
    // The endless generator can only stop because the server noticed the disconnect.
    server.wait_for_line("closed gone-1");
    assert_eq!(server.get("/single").text(), "single item\n");
}

// --- app errors --------------------------------------------------------------------------

#[test]
fn exception_before_start_response_is_a_500_with_traceback_logged() {
    let mut server = server("raises").start();
    let worker = server.worker_pid();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/before"));
    assert_eq!(resp.status(), 500);
    assert!(!resp.body.is_empty() && resp.body.len() < 1024);
    // The traceback goes to the log, never to the client.
    assert!(!resp.text().contains("Traceback"));
    assert!(!resp.text().contains("raised before start_response"));
    // Python prints the exception line last, so once it is in, the whole traceback is.
    server.wait_for_line("RuntimeError: raised before start_response");
    let log = server.stderr_text();
    assert!(log.contains("Traceback (most recent call last)"), "{log}");
    assert!(
        log.contains("raises.py"),
        "no frame of the app in the traceback: {log}"
    );
    let resp = server.get("/ok?id=x");
    assert_eq!(resp.text(), "all good\n");
    assert_eq!(server.ready_pids(), vec![worker]);
}

#[test]
fn exception_after_start_response_before_any_body_is_a_500() {
    // Headers go out with the first non-empty chunk, so there is still time for a 500.
    let mut server = server("raises").start();
    let resp = server.get("/after-start?id=as-1");
    assert_eq!(resp.status(), 500, "{}", resp.head.raw);
    server.wait_for_line("closed as-1");
    let resp = server.get("/empty-then-raise?id=et-1");
    assert_eq!(resp.status(), 500, "{}", resp.head.raw);
    server.wait_for_line("closed et-1");
}

// --- file_wrapper --------------------------------------------------------------------------

#[test]
fn file_wrapper_sends_the_file_exactly() {
    let dir = TempDir::new();
    let data = pattern(3 << 20);
    let file = dir.write("blob.bin", &data);
    let server = server("download")
        .env_remove("DOWNLOAD_FILE")
        .args(["-e"])
        .arg(format!("DOWNLOAD_FILE={}", file.display()))
        .start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/"));
    assert_eq!(resp.framing, Framing::Length(data.len() as u64));
    assert!(resp.body == data, "file body differs");
    // Without a declared length the same file goes out chunked (or with the length the
    // server learnt from fstat).
    let resp = c.roundtrip(&get_req("/?nolength=1&block=10000"));
    assert!(
        resp.framing == Framing::Chunked || resp.framing == Framing::Length(data.len() as u64),
        "{:?}",
        resp.framing
    );
    assert!(resp.complete);
    assert!(resp.body == data, "chunked file body differs");
}

#[test]
fn file_wrapper_large_file_in_flat_memory() {
    let dir = TempDir::new();
    let file = dir.join("big.bin");
    let total = 64usize << 20;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).unwrap();
        let mut block = vec![0u8; 1 << 20];
        for k in 0..(total >> 20) {
            pattern_block(k as u64, &mut block);
            f.write_all(&block).unwrap();
        }
    }
    let mut expected_crc = 0u32;
    let mut block = vec![0u8; 1 << 20];
    for k in 0..(total >> 20) {
        pattern_block(k as u64, &mut block);
        expected_crc = crc32(expected_crc, &block);
    }
    let server = server("download")
        .arg("-e")
        .arg(format!("DOWNLOAD_FILE={}", file.display()))
        .start();
    let pid = server.worker_pid();
    let before = proc_status_kib(pid, "VmHWM");
    let mut c = server.conn();
    c.send(&get_req("/"));
    let head = c.read_head().unwrap();
    assert_eq!(head.status, 200);
    let mut crc = 0u32;
    let info = c
        .read_body(&Framing::Length(total as u64), &mut |b| crc = crc32(crc, b))
        .unwrap();
    assert!(info.complete);
    assert_eq!(crc, expected_crc);
    let after = proc_status_kib(pid, "VmHWM");
    assert!(
        after - before < 48 * 1024,
        "peak RSS grew {} KiB",
        after - before
    );
}

#[test]
fn file_wrapper_over_object_without_fileno_is_iterated() {
    let server = server("cases.responses").start();
    let resp = server.get("/bytesio");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "from a BytesIO\n".repeat(1000));
}

// --- wsgiref.validate ------------------------------------------------------------------------

/// Runs a validator-wrapped app; the validator raises on any PEP 3333 violation it sees,
/// and reports close() not being called through VALIDATOR UNRAISABLE.
fn validated(attr: &str, req: &[u8], expected: &[u8]) {
    let mut server = server(&format!("cases.validated:{attr}")).start();
    let mut c = server.conn();
    let resp = c.roundtrip(req);
    assert_eq!(resp.status(), 200, "{attr}: {}", resp.text());
    if !expected.is_empty() {
        assert_eq!(resp.text(), String::from_utf8_lossy(expected));
    }
    // A second request on the same connection lets the first one's objects be collected.
    let resp = c.roundtrip(req);
    assert_eq!(resp.status(), 200);
    drop(c);
    let status = server.terminate();
    assert!(status.success());
    let log = server.stderr_text();
    assert!(!log.contains("VALIDATOR UNRAISABLE"), "{log}");
    assert!(!log.contains("AssertionError"), "{log}");
    assert!(!log.contains("WSGIWarning"), "{log}");
}

#[test]
fn validator_accepts_hello() {
    validated("hello", &get_req("/"), b"Hello, World!\n");
}

#[test]
fn validator_accepts_environ_with_body() {
    validated(
        "environ_app",
        &request("POST", "/x?y=1", &[("Content-Type", "text/plain")], b"abc"),
        b"",
    );
}

#[test]
fn validator_accepts_streamed_response() {
    validated("stream", &get_req("/?chunks=3&size=2"), b"AABBCC");
}

#[test]
fn validator_accepts_input_reading() {
    validated(
        "upload",
        &request("POST", "/?mode=readline", &[], b"line 1\nline 2\n"),
        b"line 1\nline 2\n",
    );
    validated(
        "upload",
        &request("POST", "/?mode=readlines", &[], b"line 1\nline 2\n"),
        b"line 1\nline 2\n",
    );
    validated(
        "upload",
        &request("POST", "/?mode=iter", &[], b"line 1\nline 2\n"),
        b"line 1\nline 2\n",
    );
}

#[test]
fn validator_accepts_write_callable() {
    validated("writer", &get_req("/"), b"written returned\n");
}

#[test]
fn start_response_and_write_kept_from_an_earlier_request_cannot_touch_a_later_one() {
    // A pair nothing kept serves the connection's next request; one the app kept must not.
    let server = server("cases.kept_callables").start();
    let get = |c: &mut Conn, path: &str| c.roundtrip(&request("GET", path, &[], b""));
    for (keep, outcome) in [
        ("/keep_start", "start_response: AssertionError"),
        ("/keep_write", "write: ConnectionError"),
        // A weak reference keeps no count: the pair must not be reused for all that.
        ("/keep_weak", "weak: gone"),
    ] {
        let mut c = server.conn();
        assert_eq!(get(&mut c, keep).text(), "kept");
        for _ in 0..3 {
            assert_eq!(get(&mut c, "/plain").text(), "plain");
        }
        let used = get(&mut c, "/use");
        assert_eq!(used.status(), 200, "{keep}");
        assert_eq!(used.header("X-Stale"), None);
        assert_eq!(used.text(), outcome);
        assert_eq!(get(&mut c, "/plain").text(), "plain");
    }
}
