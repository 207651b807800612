//! The size limits, set as options on the real binary: each is enforced with its status, the
//! connection is closed, and a refused request never reaches the app.

use crate::support::*;

const SMALL_LIMITS: [&str; 14] = [
    "--limit-request-line",
    "64",
    "--limit-request-fields",
    "5",
    "--limit-request-field-size",
    "64",
    "--limit-request-head",
    "128",
    "--limit-chunk-ext-size",
    "16",
    "--limit-trailer-size",
    "32",
    "--limit-request-body",
    "100",
];

/// The recorder app's call count, from a fresh request.
fn app_calls(server: &Server) -> i64 {
    let mut conn = server.conn();
    let r = conn.roundtrip(b"GET /probe HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status(), 200, "{}", r.text());
    r.json().get("calls").and_then(Json::as_i64).unwrap()
}

/// Sends `raw` on a new connection and returns the status, checking the connection closes
/// after a refusal.
fn status_of(server: &Server, raw: &[u8]) -> u16 {
    let mut conn = server.conn();
    let _ = conn.try_send(raw);
    let r = conn.try_read_response().expect("a response");
    if r.status() >= 400 {
        assert_eq!(r.header("connection"), Some("close"), "{raw:?}");
        conn.expect_closed();
    }
    r.status()
}

/// A GET whose head is `n` bytes (102 to 128 + 1), in two fields within the line and
/// field-count limits.
fn head_of(n: usize) -> Vec<u8> {
    let base = "GET / HTTP/1.1\r\nHost: h\r\n\r\n".len();
    let rest = n - base - 2 * "A: \r\n".len();
    format!(
        "GET / HTTP/1.1\r\nHost: h\r\nA: {}\r\nB: {}\r\n\r\n",
        "v".repeat(rest / 2),
        "v".repeat(rest - rest / 2)
    )
    .into_bytes()
}

/// Each limit one byte over (refused, app not called) and exactly at (served).
fn check_small_limits(server: &Server) {
    let before = app_calls(server);
    let refused: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "request line 65 bytes",
            format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(65 - 14)).into_bytes(),
            414,
        ),
        (
            "6 header fields",
            b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n".to_vec(),
            431,
        ),
        (
            "field line 65 bytes",
            format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n", "v".repeat(62)).into_bytes(),
            431,
        ),
        ("head 129 bytes", head_of(129), 431),
        (
            "chunk-size line 17 bytes",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;abcdefghijklmno\r\nx\r\n0\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "trailers 33 bytes",
            format!(
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: {}\r\n\r\n",
                "v".repeat(33 - 5)
            )
            .into_bytes(),
            431,
        ),
        (
            "Content-Length 101",
            [
                &b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n"[..],
                &[b'b'; 101],
            ]
            .concat(),
            413,
        ),
        ("chunked body 101 bytes", chunked_post("/", &[b'c'; 101], 7), 413),
    ];
    for (what, raw, want) in &refused {
        assert_eq!(status_of(server, raw), *want, "{what}");
    }
    assert_eq!(
        app_calls(server),
        before + 1,
        "a refused request reached the app"
    );
    let served: Vec<(&str, Vec<u8>)> = vec![
        (
            "request line 64 bytes",
            format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(64 - 14)).into_bytes(),
        ),
        (
            "5 header fields",
            b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n".to_vec(),
        ),
        (
            "field line 64 bytes",
            format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n", "v".repeat(61)).into_bytes(),
        ),
        ("head 128 bytes", head_of(128)),
        (
            "chunk-size line 16 bytes",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;abcdefghijklmn\r\nx\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "trailers 32 bytes",
            format!(
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: {}\r\n\r\n",
                "v".repeat(32 - 5)
            )
            .into_bytes(),
        ),
        ("chunked body 100 bytes", chunked_post("/", &[b'c'; 100], 7)),
    ];
    for (what, raw) in &served {
        assert_eq!(status_of(server, raw), 200, "{what}");
    }
}

#[test]
fn limits_from_options_hold_with_buffered_bodies() {
    let server = server("cases.recorder:application")
        .args(SMALL_LIMITS)
        .start();
    check_small_limits(&server);
}

#[test]
fn limits_hold_for_bodies_spooled_to_disk() {
    // Bodies over 10 bytes go to a temporary file; the body limit still counts every byte.
    let server = server("cases.recorder:application")
        .args(SMALL_LIMITS)
        .args(["--body-buffer-size", "10"])
        .start();
    check_small_limits(&server);
    let before = app_calls(&server);
    let big = chunked_post("/", &pattern(100_000), 7);
    assert_eq!(status_of(&server, &big), 413);
    assert_eq!(app_calls(&server), before + 1);
}

#[test]
fn chunked_body_limit_holds_without_request_buffering() {
    // The app is called at the head and reads the body from the socket: the read past the
    // limit fails, and the client gets 413 and a closed connection.
    let server = server("cases.recorder:application")
        .args(["--limit-request-body", "100", "--request-buffering=false"])
        .start();
    assert_eq!(status_of(&server, &chunked_post("/", &[b'c'; 100], 7)), 200);
    assert_eq!(status_of(&server, &chunked_post("/", &[b'c'; 101], 7)), 413);
    assert_eq!(
        status_of(&server, &chunked_post("/", &pattern(300_000), 7)),
        413
    );
}

#[test]
fn zero_means_the_maximum_not_unbounded() {
    // gunicorn's "0 = unlimited": a 60000-byte request line is served, 65537 is not.
    let server = server("cases.recorder:application")
        .args(["--limit-request-line", "0"])
        .start();
    let line =
        |n: usize| format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(n - 14)).into_bytes();
    assert_eq!(status_of(&server, &line(60_000)), 200);
    assert_eq!(status_of(&server, &line(65_537)), 414);
}

#[test]
fn bad_limit_values_stop_the_server_before_binding() {
    let out = bare()
        .args(["app:app", "--limit-request-fields", "40000"])
        .run();
    assert_eq!(out.code(), Some(2));
    let text = out.all_output();
    assert!(text.contains("--limit-request-fields"), "{text}");
    assert!(text.contains("40000"), "{text}");
    assert!(text.contains("0 to 32768"), "{text}");
}
