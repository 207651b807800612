//! gunicorn's HTTP parser switches (`--permit-obsolete-folding`, `--strip-header-spaces`,
//! `--permit-unconventional-http-method`, `--casefold-http-method`,
//! `--permit-unconventional-http-version`), `--header-map`, `--forwarder-headers` and
//! `--http-parser`, against the real server: off, requests get the 4xx (or 505) the strict
//! parser gives; on, the app sees what gunicorn 27's app would see (checked against
//! gunicorn by hand: folded pieces joined by one space, the version as sent in
//! `SERVER_PROTOCOL`, a trusted `SCRIPT_NAME` header setting `SCRIPT_NAME`).

use crate::support::*;

/// The raw head `lines` (each without its CRLF) as one request, ended by an empty line.
fn raw(lines: &[&str]) -> Vec<u8> {
    let mut bytes = lines.join("\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\n\r\n");
    bytes
}

/// The status `server` answers `lines` with, on a connection of its own.
fn status(server: &Server, lines: &[&str]) -> u16 {
    server.conn().roundtrip(&raw(lines)).status()
}

/// The environ the app saw for `lines`.
fn environ(server: &Server, lines: &[&str]) -> Environ {
    server.conn().roundtrip(&raw(lines)).environ()
}

/// Every case a switch relaxes, as a head.
const FOLDED: &[&str] = &["GET / HTTP/1.1", "Host: h", "X-Folded: a ", "  b", "\tc"];
const SPACE_BEFORE_COLON: &[&str] = &["GET / HTTP/1.1", "Host : h", "X-Spaced \t: v"];
const LOWER_CASE_METHOD: &[&str] = &["delete / HTTP/1.1", "Host: h"];
const LONG_METHOD: &[&str] = &["ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1", "Host: h"];
const HTTP_1_2: &[&str] = &["GET / HTTP/1.2", "Host: h"];
const HTTP_2_0: &[&str] = &["GET / HTTP/2.0", "Host: h"];

#[test]
fn with_the_switches_off_the_strict_parser_refuses() {
    let server = server("environ").start();
    for head in [FOLDED, SPACE_BEFORE_COLON, LOWER_CASE_METHOD, LONG_METHOD] {
        assert_eq!(status(&server, head), 400, "{head:?}");
    }
    // gunicorn answers 400; RFC 9110 §15.6.6 has 505 for a version not supported.
    for head in [HTTP_1_2, HTTP_2_0] {
        assert_eq!(status(&server, head), 505, "{head:?}");
    }
    // At the boundary: 20 characters is conventional.
    let env = environ(&server, &["ABCDEFGHIJKLMNOPQRST / HTTP/1.1", "Host: h"]);
    assert_eq!(env.str("REQUEST_METHOD"), "ABCDEFGHIJKLMNOPQRST");
}

#[test]
fn with_the_switches_on_the_app_sees_what_gunicorns_would() {
    let server = server("environ")
        .args([
            "--permit-obsolete-folding",
            "--strip-header-spaces",
            "--permit-unconventional-http-method",
            "--permit-unconventional-http-version",
        ])
        .start();
    let env = environ(&server, FOLDED);
    assert_eq!(env.str("HTTP_X_FOLDED"), "a b c");
    let env = environ(&server, SPACE_BEFORE_COLON);
    assert_eq!(env.str("HTTP_HOST"), "h");
    assert_eq!(env.str("HTTP_X_SPACED"), "v");
    // Methods as sent: no --casefold-http-method here.
    let env = environ(&server, LOWER_CASE_METHOD);
    assert_eq!(env.str("REQUEST_METHOD"), "delete");
    let env = environ(&server, LONG_METHOD);
    assert_eq!(env.str("REQUEST_METHOD"), "ABCDEFGHIJKLMNOPQRSTU");
    for (head, sent) in [(HTTP_1_2, "HTTP/1.2"), (HTTP_2_0, "HTTP/2.0")] {
        let response = server.conn().roundtrip(&raw(head));
        assert_eq!(response.environ().str("SERVER_PROTOCOL"), sent);
        // Served as HTTP/1.1: persistent, answered in HTTP/1.1.
        assert_eq!(response.head.version, "HTTP/1.1", "{sent}");
        assert!(response.head.keeps_alive(), "{sent}");
    }
    // HTTP/0.9 with a request line is served as HTTP/1.0: the connection closes after it.
    let mut c = server.conn();
    let response = c.roundtrip(&raw(&["GET / HTTP/0.9"]));
    assert_eq!(response.environ().str("SERVER_PROTOCOL"), "HTTP/0.9");
    c.expect_closed();
    // Whitespace before the first field is refused whatever the switches say.
    assert_eq!(status(&server, &["GET / HTTP/1.1", " Host: h"]), 400);
}

#[test]
fn casefolding_upper_cases_the_method_the_app_sees() {
    let server = server("environ")
        .args([
            "--permit-unconventional-http-method",
            "--casefold-http-method",
        ])
        .start();
    let env = environ(&server, LOWER_CASE_METHOD);
    assert_eq!(env.str("REQUEST_METHOD"), "DELETE");
    // Alone, it cannot help a lower case method past gunicorn's convention check.
    let alone = crate::support::server("environ")
        .arg("--casefold-http-method")
        .start();
    assert_eq!(status(&alone, LOWER_CASE_METHOD), 400);
}

/// A request with an underscore header, its dash twin, and a forwarder header.
fn underscored(target: &str) -> Vec<u8> {
    raw(&[
        &format!("GET {target} HTTP/1.1"),
        "Host: h",
        "X-Twin: dash",
        "X_Twin: underscore",
        "SCRIPT_NAME: /app",
    ])
}

#[test]
fn header_map_drop_is_the_default_and_trusted_forwarders_pass() {
    // 127.0.0.1 is in the default --forwarded-allow-ips.
    let server = server("environ").start();
    let env = server.conn().roundtrip(&underscored("/app/page")).environ();
    assert_eq!(env.str("HTTP_X_TWIN"), "dash");
    assert_eq!(env.str("SCRIPT_NAME"), "/app");
    assert_eq!(env.str("PATH_INFO"), "/page");
    assert_eq!(env.str("HTTP_SCRIPT_NAME"), "/app");
    // A path not under the proxy's SCRIPT_NAME is the proxy's mistake: 500, as in gunicorn.
    let response = server.conn().roundtrip(&underscored("/elsewhere"));
    assert_eq!(response.status(), 500);
}

#[test]
fn header_map_drop_from_an_untrusted_peer_drops_forwarders_too() {
    let server = server("environ")
        .args(["--forwarded-allow-ips", "10.0.0.1"])
        .start();
    let env = server.conn().roundtrip(&underscored("/app/page")).environ();
    assert_eq!(env.str("HTTP_X_TWIN"), "dash");
    assert_eq!(env.str("SCRIPT_NAME"), "");
    assert_eq!(env.str("PATH_INFO"), "/app/page");
    assert!(!env.has("HTTP_SCRIPT_NAME"));
}

#[test]
fn header_map_refuse_answers_400_but_lets_trusted_forwarders_through() {
    let server = server("environ").args(["--header-map", "refuse"]).start();
    let response = server.conn().roundtrip(&underscored("/app/page"));
    assert_eq!(response.status(), 400);
    let env = environ(
        &server,
        &["GET /app/page HTTP/1.1", "Host: h", "SCRIPT_NAME: /app"],
    );
    assert_eq!(env.str("SCRIPT_NAME"), "/app");
    // Only the listed ones, and only from a trusted peer.
    let other = &["GET / HTTP/1.1", "Host: h", "REMOTE_USER: alice"];
    assert_eq!(status(&server, other), 400);
    let untrusted = crate::support::server("environ")
        .args([
            "--header-map",
            "refuse",
            "--forwarded-allow-ips",
            "10.0.0.1",
        ])
        .start();
    let forwarder = &["GET /app/page HTTP/1.1", "Host: h", "SCRIPT_NAME: /app"];
    assert_eq!(status(&untrusted, forwarder), 400);
}

#[test]
fn header_map_dangerous_maps_underscores_and_twins_collide() {
    let server = server("environ")
        .args([
            "--header-map",
            "dangerous",
            "--forwarded-allow-ips",
            "10.0.0.1",
            "--forwarder-headers",
            "REMOTE_USER",
        ])
        .start();
    let env = server.conn().roundtrip(&underscored("/app/page")).environ();
    // Both spellings land on one key, joined: what the mode is named for.
    assert_eq!(env.str("HTTP_X_TWIN"), "dash, underscore");
    // And, as in gunicorn, even an untrusted client's SCRIPT_NAME is believed.
    assert_eq!(env.str("SCRIPT_NAME"), "/app");
    assert_eq!(env.str("PATH_INFO"), "/page");
}

#[test]
fn forwarder_headers_name_what_a_trusted_proxy_may_send() {
    let server = server("environ")
        .args(["--forwarder-headers", "REMOTE_USER"])
        .start();
    let env = environ(
        &server,
        &[
            "GET /app/page HTTP/1.1",
            "Host: h",
            "Remote_User: alice",
            "SCRIPT_NAME: /app",
        ],
    );
    assert_eq!(env.str("HTTP_REMOTE_USER"), "alice");
    // No longer listed: dropped like any other.
    assert_eq!(env.str("SCRIPT_NAME"), "");
    assert!(!env.has("HTTP_SCRIPT_NAME"));
}

#[test]
fn bad_values_exit_2_naming_the_option_and_what_is_allowed() {
    for (args, option, value, allowed) in [
        (
            ["--header-map", "map"],
            "--header-map",
            "map",
            "drop, refuse or dangerous",
        ),
        (
            ["--http-parser", "c"],
            "--http-parser",
            "c",
            "auto, fast or python",
        ),
        (
            ["--forwarder-headers", "A B"],
            "--forwarder-headers",
            "A B",
            "header names",
        ),
    ] {
        let run = server("environ").args(args).run();
        assert_eq!(run.code(), Some(2), "{run:?}");
        let out = run.all_output();
        for needle in [option, value, allowed] {
            assert!(out.contains(needle), "{needle:?} not in {run:?}");
        }
    }
}

#[test]
fn every_http_parser_value_is_the_one_parser() {
    for parser in ["auto", "fast", "python", "FAST"] {
        let run = server("environ")
            .args(["--http-parser", parser, "--check-config"])
            .run();
        assert_eq!(run.code(), Some(0), "{parser}: {run:?}");
    }
}
