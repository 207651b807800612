//! Trusted proxy headers (`--forwarded-allow-ips`, `--secure-scheme-headers`): believed from
//! a trusted peer, passed through untouched from anyone else, over TCP and Unix sockets.

use crate::support::*;

/// The headers a proxy in front would add.
const PROXIED: &[(&str, &str)] = &[
    ("X-Forwarded-For", "6.6.6.6, 203.0.113.7"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "shop.example:8443"),
    ("X-Forwarded-Port", "8443"),
];

fn get(conn: &mut Conn, headers: &[(&str, &str)]) -> Response {
    conn.roundtrip(&request("GET", "/", headers, b""))
}

#[test]
fn a_trusted_peer_is_believed_and_logged_as_the_client() {
    let mut server = server("environ")
        .args(["--access-logfile", "-", "--access-log-format", "h=%(h)s"])
        .start();
    let mut c = server.conn();
    let env = get(&mut c, PROXIED).environ();
    // The right-most address that is not a trusted proxy; the client's own "6.6.6.6" on the
    // left is never chosen.
    assert_eq!(env.str("REMOTE_ADDR"), "203.0.113.7");
    // The header gave no port: the peer's would be the proxy's, so it is unknown.
    assert_eq!(env.str("REMOTE_PORT"), "");
    assert_eq!(env.str("wsgi.url_scheme"), "https");
    assert_eq!(env.str("HTTP_HOST"), "shop.example:8443");
    assert_eq!(env.str("SERVER_NAME"), "shop.example");
    assert_eq!(env.str("SERVER_PORT"), "8443");
    // The headers themselves still reach the app.
    assert_eq!(env.str("HTTP_X_FORWARDED_FOR"), "6.6.6.6, 203.0.113.7");
    assert_eq!(env.str("HTTP_X_FORWARDED_PROTO"), "https");
    // The next request on the connection, without proxy headers, is the peer's again.
    let env = get(&mut c, &[]).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
    assert_eq!(env.str("wsgi.url_scheme"), "http");
    assert_eq!(env.str("HTTP_HOST"), "localhost");
    // The port it was received on (RFC 3875 §4.1.15).
    assert_eq!(env.str("SERVER_PORT"), server.addr().port().to_string());
    // The access log's %(h)s is the believed client.
    let lines = server
        .stdout
        .wait_count(2, |l| l.starts_with("h="))
        .expect("access lines");
    assert_eq!(lines, ["h=203.0.113.7", "h=127.0.0.1"]);
}

#[test]
fn an_untrusted_peer_changes_nothing() {
    let server = server("environ")
        .args(["--forwarded-allow-ips", "10.0.0.1"])
        .start();
    let mut c = server.conn();
    let mut headers = PROXIED.to_vec();
    headers.push(("Forwarded", "for=192.0.2.60;proto=https;host=evil.example"));
    // Conflicting scheme headers are only a problem when they would be believed.
    headers.push(("X-Forwarded-Ssl", "off"));
    let env = get(&mut c, &headers).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
    assert_ne!(env.str("REMOTE_PORT"), "");
    assert_eq!(env.str("wsgi.url_scheme"), "http");
    assert_eq!(env.str("HTTP_HOST"), "localhost");
    assert_eq!(env.str("SERVER_NAME"), "localhost");
    assert_eq!(env.str("SERVER_PORT"), server.addr().port().to_string());
    // Passed through untouched.
    assert_eq!(env.str("HTTP_X_FORWARDED_FOR"), "6.6.6.6, 203.0.113.7");
    assert_eq!(env.str("HTTP_X_FORWARDED_HOST"), "shop.example:8443");
    assert_eq!(env.str("HTTP_X_FORWARDED_PORT"), "8443");
    assert_eq!(
        env.str("HTTP_FORWARDED"),
        "for=192.0.2.60;proto=https;host=evil.example"
    );
}

#[test]
fn multi_hop_ranges_rfc7239_and_bad_values() {
    let server = server("environ")
        .args(["--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8"])
        .start();
    let mut c = server.conn();
    // Walked from the right past the trusted 10.x hops.
    let env = get(
        &mut c,
        &[(
            "X-Forwarded-For",
            "6.6.6.6, 198.51.100.9:4711, 10.0.0.2, 10.9.9.9",
        )],
    )
    .environ();
    assert_eq!(env.str("REMOTE_ADDR"), "198.51.100.9");
    assert_eq!(env.str("REMOTE_PORT"), "4711");
    // RFC 7239, IPv6 client.
    let env = get(
        &mut c,
        &[(
            "Forwarded",
            r#"for=6.6.6.6;proto=http, for="[2001:db8:cafe::17]:4711";proto=https;host=api.example, for=10.0.0.2"#,
        )],
    )
    .environ();
    assert_eq!(env.str("REMOTE_ADDR"), "2001:db8:cafe::17");
    assert_eq!(env.str("REMOTE_PORT"), "4711");
    assert_eq!(env.str("wsgi.url_scheme"), "https");
    assert_eq!(env.str("HTTP_HOST"), "api.example");
    assert_eq!(env.str("SERVER_PORT"), "443");
    // Garbage from a trusted proxy: not believed, and the worker carries on.
    for garbage in ["not-an-ip", "1.2.3.4, <script>", "999.0.0.1", "unknown", ""] {
        let env = get(
            &mut c,
            &[
                ("X-Forwarded-For", garbage),
                ("X-Forwarded-Host", "a/b@evil"),
                ("X-Forwarded-Port", "http"),
            ],
        )
        .environ();
        assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1", "{garbage:?}");
        assert_eq!(env.str("HTTP_HOST"), "localhost", "{garbage:?}");
        assert_eq!(
            env.str("SERVER_PORT"),
            server.addr().port().to_string(),
            "{garbage:?}"
        );
    }
    let env = get(&mut c, &[("Forwarded", "for=1.2.3.4;for=5.6.7.8")]).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "127.0.0.1");
    // Still the same worker.
    assert_eq!(env.0["pid"].as_i64(), Some(i64::from(server.worker_pid())));
}

#[test]
fn conflicting_secure_scheme_headers_are_refused() {
    let server = server("environ")
        .args([
            "--secure-scheme-headers",
            "X-Forwarded-Proto=https,X-Scheme=https",
        ])
        .start();
    let mut c = server.conn();
    let response = get(
        &mut c,
        &[("X-Forwarded-Proto", "https"), ("X-Scheme", "http")],
    );
    assert_eq!(response.status(), 400);
    c.expect_closed();
    // Agreeing ones are fine; the defaults were replaced, so X-Forwarded-Ssl means nothing.
    let mut c = server.conn();
    let env = get(
        &mut c,
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Scheme", "HTTPS"),
            ("X-Forwarded-Ssl", "off"),
        ],
    )
    .environ();
    assert_eq!(env.str("wsgi.url_scheme"), "https");
}

#[test]
fn unix_socket_clients_are_trusted_only_when_configured() {
    let dir = TempDir::new();
    let untrusted = server("environ")
        .bind(format!("unix:{}", dir.join("default.sock").display()))
        .start();
    let mut c = Conn::unix(&untrusted.unix_path());
    let env = get(&mut c, PROXIED).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "");
    assert_eq!(env.str("wsgi.url_scheme"), "http");
    assert_eq!(env.str("HTTP_X_FORWARDED_FOR"), "6.6.6.6, 203.0.113.7");

    let trusted = server("environ")
        .bind(format!("unix:{}", dir.join("trusted.sock").display()))
        .args(["--forwarded-allow-ips", "unix"])
        .start();
    let mut c = Conn::unix(&trusted.unix_path());
    let env = get(&mut c, PROXIED).environ();
    assert_eq!(env.str("REMOTE_ADDR"), "203.0.113.7");
    assert_eq!(env.str("wsgi.url_scheme"), "https");
    assert_eq!(env.str("SERVER_PORT"), "8443");
}
