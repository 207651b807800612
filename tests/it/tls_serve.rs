//! HTTPS end to end: curl and Python's `ssl` client against the real binary with
//! certificates made at test time. The request/response path under TLS (keep-alive,
//! pipelining inside one TLS record, bodies both ways, large and file responses on the
//! event loop and on pool threads), the environ it produces, ALPN, and clients that do not
//! speak TLS or stall in the handshake.

use crate::support::tls::*;
use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpStream;

#[test]
fn curl_get_keep_alive_and_post() {
    let pki = Pki::new();
    let server = tls_server("environ", &pki).start();
    assert!(
        server.urls[0].starts_with("https://127.0.0.1:"),
        "{:?}",
        server.urls
    );
    let base = format!("https://127.0.0.1:{}", port(&server));

    // Two requests: one connection (curl reuses it), both answered.
    let out = curl(
        &pki,
        &[
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\n",
            &format!("{base}/a"),
            &format!("{base}/b"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text, "200 1\n200 0\n",
        "the second request reused the connection"
    );

    // A POST body arrives whole; the environ says https.
    let body = "x".repeat(100_000);
    let out = curl(&pki, &["--data-binary", &body, &format!("{base}/post?q=1")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let environ = Environ::parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(environ.body_length(), 100_000);
    assert_eq!(environ.str("REQUEST_METHOD"), "POST");
    assert_eq!(environ.str("wsgi.url_scheme"), "https");
    assert_eq!(environ.str("HTTPS"), "on");

    // SERVER_PORT is the port the request was received on, whatever the Host names
    // (RFC 3875 §4.1.15).
    let out = curl(&pki, &["-H", "Host: example.com", &format!("{base}/")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let environ = Environ::parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(environ.str("SERVER_NAME"), "example.com");
    assert_eq!(environ.str("SERVER_PORT"), port(&server).to_string());
}

/// Requests on one connection through Python's client, on the loop thread and on a pool.
fn python_keep_alive(threads: &str) {
    let pki = Pki::new();
    let server = tls_server("environ", &pki)
        .args(["--threads", threads])
        .start();
    let result = py_client(port(&server), &pki, &["--", "/one", "/two?x=1", "/three"]);
    assert_eq!(client_error(&result), None);
    assert_eq!(result.get("alpn").and_then(Json::as_str), Some("http/1.1"));
    let responses = result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses");
    assert_eq!(responses.len(), 3);
    let local_port = result
        .get("local_port")
        .and_then(Json::as_i64)
        .expect("port");
    for (r, path) in responses.iter().zip(["/one", "/two", "/three"]) {
        assert_eq!(r.get("status").and_then(Json::as_i64), Some(200));
        let environ = Environ::parse(r.get("body").and_then(Json::as_str).expect("body"));
        assert_eq!(environ.str("PATH_INFO"), path);
        // The third starts from the environ the connection keeps: the scheme's keys too.
        assert_eq!(environ.str("wsgi.url_scheme"), "https");
        assert_eq!(environ.str("HTTPS"), "on");
        // Host: 127.0.0.1:PORT names the port; the default for https would be 443.
        assert_eq!(environ.str("SERVER_PORT"), port(&server).to_string());
        // One connection: the same client port every time.
        assert_eq!(environ.str("REMOTE_PORT"), local_port.to_string());
    }
}

#[test]
fn python_client_keep_alive_and_alpn_on_the_loop_thread() {
    python_keep_alive("1");
}

#[test]
fn python_client_keep_alive_and_alpn_on_pool_threads() {
    python_keep_alive("2");
}

#[test]
fn a_client_offering_h2_first_gets_http11() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki).start();
    let result = py_client(port(&server), &pki, &["--alpn", "h2,http/1.1", "--", "/"]);
    assert_eq!(client_error(&result), None);
    assert_eq!(result.get("alpn").and_then(Json::as_str), Some("http/1.1"));
    // Without ALPN the connection works the same.
    let result = py_client(port(&server), &pki, &["--alpn", "", "--", "/"]);
    assert_eq!(client_error(&result), None);
    assert!(result.get("alpn").is_some_and(Json::is_null));
}

/// Three requests written at once land in one TLS record: all three are answered, though
/// the socket reports nothing after the first (the rest is already inside the server).
fn pipelined(threads: &str) {
    let pki = Pki::new();
    let server = tls_server("hello", &pki)
        .args(["--threads", threads])
        .start();
    let host = format!("Host: 127.0.0.1:{}", port(&server));
    let raw = format!(
        "GET /1 HTTP/1.1\\r\\n{host}\\r\\n\\r\\nGET /2 HTTP/1.1\\r\\n{host}\\r\\n\\r\\n\
         GET /3 HTTP/1.1\\r\\n{host}\\r\\nConnection: close\\r\\n\\r\\n"
    );
    let result = py_client(port(&server), &pki, &["--raw", &raw]);
    assert_eq!(client_error(&result), None);
    let text = result.get("raw").and_then(Json::as_str).expect("raw");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert_eq!(text.matches("Hello, World!").count(), 3, "{text}");
}

#[test]
fn pipelined_requests_in_one_record_on_the_loop_thread() {
    pipelined("1");
}

#[test]
fn pipelined_requests_in_one_record_on_pool_threads() {
    pipelined("2");
}

/// A response far larger than the socket buffers (the loop pauses the app on a full
/// socket), and a file_wrapper response, which TLS sends by reading the file (no sendfile),
/// with Content-Length and chunked.
fn large_responses(threads: &str) {
    let pki = Pki::new();
    let data = pattern(3 * 1024 * 1024 + 12345);
    let file = pki.dir.write("big.bin", &data);
    let download = tls_server("download", &pki)
        .args(["--threads", threads])
        .arg("-e")
        .arg(format!("DOWNLOAD_FILE={}", file.display()))
        .start();
    let result = py_client(
        port(&download),
        &pki,
        &["--", "/", "/?nolength=1&block=10000", "/"],
    );
    assert_eq!(client_error(&result), None);
    let responses = result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses");
    let expected_crc = crc32(0, &data) as i64;
    for r in responses {
        assert_eq!(r.get("status").and_then(Json::as_i64), Some(200));
        assert_eq!(
            r.get("length").and_then(Json::as_i64),
            Some(data.len() as i64)
        );
        assert_eq!(r.get("crc32").and_then(Json::as_i64), Some(expected_crc));
    }

    let stream = tls_server("stream", &pki)
        .args(["--threads", threads])
        .start();
    let result = py_client(
        port(&stream),
        &pki,
        &[
            "--",
            "/?chunks=80&size=65536",
            "/?chunks=80&size=65536&length=1",
        ],
    );
    assert_eq!(client_error(&result), None);
    let mut expected = Vec::new();
    for i in 0..80u8 {
        expected.extend(std::iter::repeat_n(b'A' + i % 26, 65536));
    }
    for r in result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses")
    {
        assert_eq!(
            r.get("length").and_then(Json::as_i64),
            Some(expected.len() as i64)
        );
        assert_eq!(
            r.get("crc32").and_then(Json::as_i64),
            Some(crc32(0, &expected) as i64)
        );
    }
}

#[test]
fn large_and_file_responses_on_the_loop_thread() {
    large_responses("1");
}

#[test]
fn large_and_file_responses_on_pool_threads() {
    large_responses("2");
}

#[test]
fn plain_http_to_the_tls_port_is_refused_and_the_worker_lives() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki).start();
    let pid = server.worker_pid();

    // A plain HTTP request: a readable 400, then the connection ends.
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).expect("read until closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Connection: close"), "{answer}");

    // Bytes that are neither: closed (after a TLS alert, which is all a TLS peer reads).
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .expect("send");
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("HTTP/1.1"));

    // The same worker serves TLS as before.
    let result = py_client(port(&server), &pki, &["--", "/"]);
    assert_eq!(client_error(&result), None);
    assert_eq!(server.worker_pid(), pid);
    assert!(Server::is_alive(pid));
    let r = &result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses")[0];
    assert_eq!(
        r.get("body").and_then(Json::as_str),
        Some("Hello, World!\n")
    );
}

#[test]
fn a_client_stalling_in_the_handshake_is_closed_at_the_header_timeout() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki)
        .args(["--header-timeout", "1"])
        .start();
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    // The start of a ClientHello record, and then nothing.
    conn.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .expect("send");
    conn.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut rest = Vec::new();
    let closed = conn.read_to_end(&mut rest);
    assert!(
        closed.is_ok(),
        "the server closed the connection: {closed:?}"
    );
    // Meanwhile (and after) others are served.
    let result = py_client(port(&server), &pki, &["--", "/"]);
    assert_eq!(client_error(&result), None);
}

#[test]
fn a_timed_out_request_is_closed_without_a_raw_504() {
    let pki = Pki::new();
    let mut server = tls_server("cases.stuck", &pki)
        .args(["--timeout", "1"])
        .start();
    let first = server.worker_pid();
    let raw = "GET /sleep HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n";
    // Plaintext bytes on the TLS stream would make the client fail with a record error;
    // the connection just ends instead.
    let result = py_client(port(&server), &pki, &["--raw", raw]);
    assert_eq!(client_error(&result), None);
    assert_eq!(result.get("raw").and_then(Json::as_str), Some(""));
    server.wait_for_line(&format!("Worker (pid: {first}) exited after its timeout"));
    server.wait_for_lines("Worker ready (pid: ", 2);
    let result = py_client(port(&server), &pki, &["--", "/"]);
    let r = &result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses")[0];
    assert_eq!(r.get("status").and_then(Json::as_i64), Some(200));
}

#[test]
fn sessions_resume_on_any_worker() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki).workers(2).start();
    // Each new connection lands on either worker; the ticket keys are the master's, so
    // every one of them resumes (with per-worker keys about half would not).
    let result = py_client(port(&server), &pki, &["--resume", "8", "--", "/"]);
    assert_eq!(client_error(&result), None);
    let resumed = result
        .get("resumed")
        .and_then(Json::as_array)
        .expect("resumed");
    assert_eq!(resumed.len(), 8);
    assert!(
        resumed.iter().all(|r| r.as_bool() == Some(true)),
        "{resumed:?}"
    );
}

/// A body the app reads as it arrives (no request buffering), on TCP and on a Unix socket:
/// TLS is on for every listener.
fn streamed_upload(threads: &str) {
    let pki = Pki::new();
    let socket = pki.dir.join("tls.sock");
    let server = tls_server("upload", &pki)
        .bind("127.0.0.1:0")
        .bind(format!("unix:{}", socket.display()))
        .args(["--threads", threads, "--request-buffering=false"])
        .start();
    assert!(server.urls[0].starts_with("https://"), "{:?}", server.urls);
    let size = 3 * 1024 * 1024 + 7;
    let expected = format!("{size} {}", crc32(0, &vec![b'x'; size]));
    let result = py_client(
        port(&server),
        &pki,
        &[
            "--method",
            "POST",
            "--body-size",
            &size.to_string(),
            "--",
            "/?mode=summary",
        ],
    );
    assert_eq!(client_error(&result), None);
    let r = &result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses")[0];
    assert_eq!(
        r.get("body").and_then(Json::as_str),
        Some(expected.as_str())
    );

    let body = pki.dir.write("body.bin", vec![b'x'; size]);
    let out = curl(
        &pki,
        &[
            "--unix-socket",
            &server.unix_path().to_string_lossy(),
            "--data-binary",
            &format!("@{}", body.display()),
            "https://localhost/?mode=summary",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn streamed_uploads_on_every_listener_on_the_loop_thread() {
    streamed_upload("1");
}

#[test]
fn streamed_uploads_on_every_listener_on_pool_threads() {
    streamed_upload("2");
}

/// A client's close_notify ends its stream as a TCP FIN would (rustls reads no more after
/// it): the server closes the idle keep-alive connection then, not at `--keep-alive` (an
/// hour here, far beyond the wait).
#[test]
fn a_close_notify_on_an_idle_connection_closes_it() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki)
        .args(["--keep-alive", "3600"])
        .start();
    let script = r#"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
raw = socket.create_connection(("127.0.0.1", port), timeout=60)
tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
tls.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
data = b""
while not data.endswith(b"Hello, World!\n"):
    data += tls.recv(4096)
assert data.startswith(b"HTTP/1.1 200"), data
plain = tls.unwrap()  # our close_notify; returns once the server answers with its own
print("eof" if plain.recv(1) == b"" else "data")
"#;
    let out = std::process::Command::new(test_python())
        .args(["-c", script])
        .arg(server.addr().port().to_string())
        .arg(pki.ca())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "eof");
}

/// A client that sends a `Connection: close` request, waits for the first bytes of the
/// response (so the server has read the request), then ends its side with a close_notify
/// while the response is still coming (as `openssl s_client` does at the end of its input),
/// and counts the bytes that follow. Prints `eof N` or `reset N`, N the bytes read in all.
const CLOSE_NOTIFY_CLIENT: &str = r#"
import socket, ssl, sys
port, ca, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
raw = socket.create_connection(("127.0.0.1", port), timeout=60)
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
total = 0
def send():
    data = outgoing.read()
    if data:
        raw.sendall(data)
def receive():
    global total
    data = raw.recv(65536)
    if not data:
        raise EOFError
    total += len(data)
    incoming.write(data)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        send()
        receive()
send()
tls.write(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
send()
head = b""
while b"\r\n\r\n" not in head:
    try:
        head += tls.read(65536)
    except ssl.SSLWantReadError:
        receive()
try:
    tls.unwrap()
except (ssl.SSLWantReadError, ssl.SSLError):
    pass
send()
end = "eof"
try:
    while True:
        data = raw.recv(1 << 20)
        if not data:
            break
        total += len(data)
except ConnectionResetError:
    end = "reset"
print(end, total)
"#;

/// Runs the client against a 16 MiB response (far more than the socket buffers hold, so
/// the server is still sending when the close_notify comes).
fn end_after_close_notify(threads: &str) {
    let pki = Pki::new();
    let server = tls_server("stream", &pki)
        .args(["--threads", threads])
        .start();
    let script = pki.dir.write("close_notify.py", CLOSE_NOTIFY_CLIENT);
    let length: u64 = 1024 * 16384;
    let out = std::process::Command::new(test_python())
        .arg(script)
        .arg(server.addr().port().to_string())
        .arg(pki.ca())
        .arg("/?chunks=1024&size=16384&length=1")
        .output()
        .expect("run the client");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (end, total) = text.trim().split_once(' ').expect("END TOTAL");
    // The whole response (its encrypted bytes exceed the plaintext), then an orderly end.
    assert!(total.parse::<u64>().expect("a count") > length, "{text}");
    assert_eq!(end, "eof", "the connection was reset under the response");
}

// Regression: a TLS connection was reset under its last response bytes or its error answer,
// commit 358598c (issue 5)
#[test]
fn a_client_close_notify_during_the_response_does_not_reset_it_on_the_loop_thread() {
    end_after_close_notify("1");
}

// Regression: a TLS connection was reset under its last response bytes or its error answer,
// commit 358598c (issue 5)
#[test]
fn a_client_close_notify_during_the_response_does_not_reset_it_on_pool_threads() {
    end_after_close_notify("4");
}

// Regression: a TLS connection was reset under its last response bytes or its error answer,
// commit 358598c (issue 5)
/// A plain HTTP request with a body, sent to the TLS port: its 400 is followed by an
/// orderly end, not a reset (the body the server did not read is discarded first), so the
/// client can read the explanation.
#[test]
fn plain_http_with_a_body_to_the_tls_port_reads_its_400_before_an_orderly_end() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki).start();
    let mut conn = TcpStream::connect(server.addr()).expect("connect");
    conn.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n".to_vec();
    request.resize(request.len() + 65536, b'x');
    conn.write_all(&request).expect("send");
    let mut answer = Vec::new();
    let end = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(end.is_ok(), "{end:?} after {answer:?}");
}
