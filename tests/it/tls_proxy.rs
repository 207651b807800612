//! A PROXY protocol header in front of TLS, as AWS NLB and HAProxy in TCP mode send it: the
//! header comes in the clear, then the TLS handshake. The server reads the header from the
//! raw socket first, so the client it names is the environ's, and the rest is HTTPS.

use crate::support::tls::*;
use crate::support::*;

/// The one response's environ from `client.py` run with `args`.
fn environ_via(server: &Server, pki: &Pki, args: &[&str]) -> Environ {
    let result = py_client(server.addr().port(), pki, args);
    assert_eq!(client_error(&result), None, "{result:?}");
    let responses = result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses");
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].get("status").and_then(Json::as_i64), Some(200));
    let body = responses[0]
        .get("body")
        .and_then(Json::as_str)
        .expect("body");
    Environ::parse(body)
}

#[test]
fn a_proxy_header_before_the_handshake_names_the_client() {
    let pki = Pki::new();
    let server = tls_server("environ", &pki)
        .arg("--proxy-protocol=auto")
        .start();

    let v1 = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\\r\\n";
    let environ = environ_via(&server, &pki, &["--preamble", v1, "--", "/v1"]);
    assert_eq!(environ.str("REMOTE_ADDR"), "192.0.2.10");
    assert_eq!(environ.str("REMOTE_PORT"), "56324");
    assert_eq!(environ.str("wsgi.url_scheme"), "https");
    assert_eq!(environ.str("PATH_INFO"), "/v1");

    // v2, TCP over IPv6: signature, version 2 + PROXY, AF_INET6 + STREAM, 36 address bytes.
    let mut v2 = String::from("\\r\\n\\r\\n\\x00\\r\\nQUIT\\n\\x21\\x21\\x00\\x24");
    let src = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
    ];
    let dst = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ];
    for b in src.iter().chain(&dst).chain(&[0xdc, 0x04, 0x01, 0xbb]) {
        v2.push_str(&format!("\\x{b:02x}"));
    }
    let environ = environ_via(&server, &pki, &["--preamble", &v2, "--", "/v2"]);
    assert_eq!(environ.str("REMOTE_ADDR"), "2001:db8::7");
    assert_eq!(environ.str("REMOTE_PORT"), "56324");
    assert_eq!(environ.str("wsgi.url_scheme"), "https");

    // auto: no header at all is a direct client.
    let environ = environ_via(&server, &pki, &["--", "/direct"]);
    assert_eq!(environ.str("REMOTE_ADDR"), "127.0.0.1");
    assert_eq!(environ.str("wsgi.url_scheme"), "https");
}

#[test]
fn curl_behind_a_proxy_header_speaks_https() {
    let pki = Pki::new();
    let server = tls_server("environ", &pki)
        .arg("--proxy-protocol=v1")
        .start();
    let url = format!("https://127.0.0.1:{}/curl", server.addr().port());
    let out = curl(&pki, &["--haproxy-protocol", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = String::from_utf8_lossy(&out.stdout);
    let environ = Environ::parse(&body);
    assert_eq!(environ.str("PATH_INFO"), "/curl");
    assert_eq!(environ.str("wsgi.url_scheme"), "https");
    assert_eq!(environ.str("REMOTE_ADDR"), "127.0.0.1");

    // v1 is required from an allowed peer: a bare handshake is refused.
    let result = py_client(server.addr().port(), &pki, &["--", "/"]);
    assert!(client_error(&result).is_some(), "{result:?}");
}
