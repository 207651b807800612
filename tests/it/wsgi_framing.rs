//! How the server frames what a WSGI app produces: Content-Length for what it can count,
//! chunks or a close otherwise, no body where the status or HEAD forbids one, a declared
//! length held to, and output streamed as produced, in flat memory.

use crate::support::*;

#[test]
fn single_item_list_gets_a_content_length() {
    let server = server("cases.responses").start();
    let resp = server.get("/single");
    assert_eq!(resp.framing, Framing::Length(12));
    assert_eq!(resp.text(), "single item\n");
}

#[test]
fn multi_item_list_is_framed_by_length_or_chunks() {
    // A list's total length is known up front, so a Content-Length is as good as chunks.
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/multi"));
    assert!(
        resp.framing == Framing::Length(14) || resp.framing == Framing::Chunked,
        "{:?}",
        resp.framing
    );
    assert!(resp.complete);
    assert_eq!(resp.text(), "one two three\n");
    assert_eq!(c.roundtrip(&get_req("/multi")).text(), "one two three\n");
}

#[test]
fn a_long_list_arrives_whole_and_in_order() {
    // Small items of a list are queued and written together: past the queue's size and the
    // high-water mark, none may be lost, repeated or reordered, on one connection twice.
    let server = server("cases.responses").start();
    let expected: String = (0..300)
        .map(|i| ((i % 10).to_string()).repeat(1000))
        .collect();
    let mut c = server.conn();
    for _ in 0..2 {
        let resp = c.roundtrip(&get_req("/many"));
        assert_eq!(resp.framing, Framing::Length(300_000));
        assert!(resp.text() == expected, "the body differs");
    }
}

#[test]
fn generator_response_is_chunked_on_http11() {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/multi-gen"));
    assert_eq!(resp.framing, Framing::Chunked);
    assert!(resp.complete);
    assert_eq!(resp.text(), "one two three\n");
    assert_eq!(
        c.roundtrip(&get_req("/multi-gen")).text(),
        "one two three\n"
    );
}

#[test]
fn generator_response_is_close_delimited_on_http10() {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    // Even with keep-alive requested: without a length, 1.0 can only delimit by close.
    c.send(b"GET /multi-gen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let resp = c.read_response();
    assert!(
        resp.header("transfer-encoding").is_none(),
        "{}",
        resp.head.raw
    );
    assert_eq!(resp.framing, Framing::Close);
    assert_eq!(resp.text(), "one two three\n");
}

#[test]
fn empty_chunks_from_the_app_do_not_end_the_chunked_body() {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/empty-chunks"));
    assert!(resp.complete);
    assert_eq!(resp.text(), "ab");
    // A premature zero-size chunk would leave bytes that break the next response.
    assert_eq!(c.roundtrip(&get_req("/single")).text(), "single item\n");
}

#[test]
fn app_content_length_larger_than_output_closes_the_connection() {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/cl-fewer"));
    assert_eq!(resp.framing, Framing::Length(10));
    assert_eq!(resp.text(), "01234");
    assert!(
        !resp.complete,
        "the server must close rather than hang or pad"
    );
}

#[test]
fn app_content_length_smaller_than_output_truncates_and_closes() {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req("/cl-more"));
    assert_eq!(resp.text(), "01234");
    assert!(resp.complete);
    // The extra bytes must not be sent (they would be read as the next response).
    c.expect_closed();
}

fn no_body_status(code: u16) {
    let server = server("cases.responses").start();
    let mut c = server.conn();
    let resp = c.roundtrip(&get_req(&format!("/status/{code}")));
    assert_eq!(resp.status(), code);
    assert!(
        resp.header("transfer-encoding").is_none(),
        "{}",
        resp.head.raw
    );
    // RFC 9110 §8.6: no Content-Length in 204 (and none needed for 304).
    if code == 204 {
        assert!(resp.header("content-length").is_none(), "{}", resp.head.raw);
    }
    // A stray body would be parsed as the next status line.
    let next = c.roundtrip(&get_req("/single"));
    assert_eq!(next.status(), 200, "{}", next.head.raw);
    assert_eq!(next.text(), "single item\n");
}

#[test]
fn status_204_has_no_body() {
    no_body_status(204);
}

#[test]
fn status_304_has_no_body() {
    no_body_status(304);
}

#[test]
fn head_of_a_streamed_response_has_no_body() {
    let server = server("stream").start();
    let mut c = server.conn();
    c.send(&request("HEAD", "/?chunks=4&size=1000", &[], b""));
    let resp = c.read_head_response();
    assert_eq!(resp.status(), 200);
    let next = c.roundtrip(&get_req("/?chunks=2&size=3"));
    assert_eq!(next.status(), 200, "{}", next.head.raw);
    assert_eq!(next.text(), "AAABBB");
}

#[test]
fn huge_generator_is_streamed_in_flat_memory() {
    let server = server("stream").start();
    let pid = server.worker_pid();
    assert_eq!(server.get("/?chunks=4&size=16384").body.len(), 65536);
    let before = proc_status_kib(pid, "VmHWM");
    let (chunks, size) = (16384usize, 16384usize);
    let mut c = server.conn();
    c.send(&get_req(&format!("/?chunks={chunks}&size={size}")));
    let head = c.read_head().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    // Check every byte against the generator's pattern without storing the body.
    let mut offset = 0usize;
    let mut mismatches = 0usize;
    let info = c
        .read_body(&Framing::Chunked, &mut |b| {
            let mut rest = b;
            while !rest.is_empty() {
                let i = offset / size;
                let n = rest.len().min(size - offset % size);
                let want = vec![b'A' + (i % 26) as u8; n];
                if rest[..n] != want[..] {
                    mismatches += 1;
                }
                offset += n;
                rest = &rest[n..];
            }
        })
        .unwrap();
    assert!(info.complete);
    assert_eq!(info.length, (chunks * size) as u64);
    assert_eq!(mismatches, 0);
    let after = proc_status_kib(pid, "VmHWM");
    assert!(
        after - before < 64 * 1024,
        "worker peak RSS grew by {} KiB for a 256 MiB response",
        after - before
    );
}

/// The first chunk must reach the client while the app is still blocked on a gate that
/// only the client opens; a buffering server would deadlock here (and fail at the safety
/// deadline).
fn first_chunk_arrives_before_the_app_finishes(route: &str) {
    let dir = TempDir::new();
    let gate = dir.join("gate");
    let server = server("cases.responses").start();
    let mut c = server.conn();
    c.send(&get_req(&format!(
        "{route}?until={}",
        qs_escape(gate.to_str().unwrap())
    )));
    let head = c.read_head().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    // Read raw bytes until the whole first chunk ("6\r\nfirst\n\r\n") is in.
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).ends_with("first\n\r\n") {
        let n = c.read_some(&mut buf).unwrap();
        assert!(
            n > 0,
            "connection closed early: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(!String::from_utf8_lossy(&seen).contains("second"));
    std::fs::write(&gate, b"").unwrap();
    let mut rest = Vec::new();
    let info = c
        .read_body(&Framing::Chunked, &mut |b| rest.extend_from_slice(b))
        .unwrap();
    assert!(info.complete);
    assert_eq!(String::from_utf8_lossy(&rest), "second\n");
}

#[test]
fn each_chunk_is_sent_as_soon_as_it_is_produced() {
    first_chunk_arrives_before_the_app_finishes("/gated");
}

#[test]
fn write_callable_sends_before_returning() {
    // PEP 3333: write() must not return until its data has been sent (or buffered for
    // transmission) — at least it may not wait for the rest of the app.
    first_chunk_arrives_before_the_app_finishes("/gated-write");
}

#[test]
fn declared_length_stream_is_sent_with_that_length() {
    let server = server("stream").start();
    let resp = server.get("/?chunks=3&size=5&length=1");
    assert_eq!(resp.framing, Framing::Length(15));
    assert_eq!(resp.text(), "AAAAABBBBBCCCCC");
}
