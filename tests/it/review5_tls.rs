//! Review of issue 5's TLS seams: how a TLS connection ends when the client ends its side
//! first, on the event loop and on pool threads.

use crate::support::tls::*;
use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

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
    let out = Command::new(test_python())
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

#[test]
fn a_client_close_notify_during_the_response_does_not_reset_it_on_the_loop_thread() {
    end_after_close_notify("1");
}

#[test]
fn a_client_close_notify_during_the_response_does_not_reset_it_on_pool_threads() {
    end_after_close_notify("4");
}

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
