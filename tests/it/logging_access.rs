//! The access log: gunicorn's atoms checked field by field, JSON lines, escaping of values a
//! client controls, and requests the server answers itself.

use crate::support::logs::*;
use crate::support::*;
use std::path::Path;

/// Every atom, separated by `|` (which no value below contains).
const ALL_ATOMS: &str = "%(h)s|%(l)s|%(u)s|%(t)s|%(r)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|\
                         %(b)s|%(f)s|%(a)s|%(T)s|%(M)s|%(D)s|%(L)s|%(p)s|%({X-Req}i)s|\
                         %({x-resp}o)s|%({REMOTE_ADDR}e)s|%({SITE_COLOR}e)s|%({HTTP_X_REQ}e)s|%%";

fn start(dir: &TempDir, access: &Path, args: &[&str]) -> FileServer {
    let mut all = vec!["--access-logfile", access.to_str().unwrap()];
    all.extend_from_slice(args);
    FileServer::start(dir, "cases.logged", &all, 1, None)
}

/// Whether `t` looks like `[21/Nov/2026:10:00:00 +0000]`.
fn is_clf_time(t: &str) -> bool {
    let b = t.as_bytes();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    b.len() == 28
        && b[0] == b'['
        && b[27] == b']'
        && t[1..3].bytes().all(|c| c.is_ascii_digit())
        && months.contains(&&t[4..7])
        && t[8..12].bytes().all(|c| c.is_ascii_digit())
        && b[12] == b':'
        && b[21] == b' '
        && (b[22] == b'+' || b[22] == b'-')
}

#[test]
fn every_atom_field_by_field() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let server = start(
        &dir,
        &access,
        &[
            "--access-log-format",
            ALL_ATOMS,
            "-e",
            "SITE_COLOR=blue",
            "--capture-output=false",
        ],
    );
    let body = "twelve bytes";
    let target = format!(
        "/a%20b?status=201&body={}&resp=out-1&quiet",
        qs_escape(body)
    );
    let mut c = Conn::tcp(server.addr);
    let resp = c.roundtrip(&request(
        "GET",
        &target,
        &[
            ("Referer", "http://example.com/from"),
            ("User-Agent", "tester/1.0"),
            ("Authorization", "Basic YWxpY2U6c2VjcmV0"),
            ("X-Req", "in-1"),
        ],
        b"",
    ));
    assert_eq!(resp.status(), 201);
    let line = wait_for_count(&access, 1).remove(0);
    let f: Vec<&str> = line.split('|').collect();
    assert_eq!(f.len(), 25, "{line}");
    assert_eq!(f[0], "127.0.0.1", "h");
    assert_eq!(f[1], "-", "l");
    assert_eq!(f[2], "alice", "u");
    assert!(is_clf_time(f[3]), "t: {}", f[3]);
    assert_eq!(f[4], format!("GET {target} HTTP/1.1"), "r");
    assert_eq!(f[5], "GET", "m");
    assert_eq!(f[6], "/a b", "U (decoded)");
    assert_eq!(f[7], &target[target.find('?').unwrap() + 1..], "q");
    assert_eq!(f[8], "HTTP/1.1", "H");
    assert_eq!(f[9], "201", "s");
    assert_eq!(f[10], body.len().to_string(), "B");
    assert_eq!(f[11], body.len().to_string(), "b");
    assert_eq!(f[12], "http://example.com/from", "f");
    assert_eq!(f[13], "tester/1.0", "a");
    // The four durations are one measurement in four units.
    let micros: u64 = f[16].parse().expect("D is a number");
    assert_eq!(f[14].parse::<u64>().unwrap(), micros / 1_000_000, "T");
    assert_eq!(f[15].parse::<u64>().unwrap(), micros / 1_000, "M");
    assert_eq!(
        f[17],
        format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000),
        "L"
    );
    assert_eq!(f[18], format!("<{}>", server.workers[0]), "p");
    assert_eq!(f[19], "in-1", "{{X-Req}}i");
    assert_eq!(f[20], "out-1", "{{x-resp}}o");
    assert_eq!(f[21], "127.0.0.1", "{{REMOTE_ADDR}}e");
    assert_eq!(f[22], "blue", "{{SITE_COLOR}}e");
    assert_eq!(f[23], "in-1", "{{HTTP_X_REQ}}e");
    assert_eq!(f[24], "%", "%%");
}

#[test]
fn default_format_with_empty_bodies_and_missing_headers() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let server = start(&dir, &access, &[]);
    let mut c = Conn::tcp(server.addr);
    assert_eq!(c.roundtrip(&get_req("/one?quiet&body=")).status(), 200);
    let head = request("HEAD", "/two?quiet", &[("Connection", "close")], b"");
    assert_eq!(c.roundtrip(&head).status(), 200);
    let lines = wait_for_count(&access, 2);
    for (line, request) in lines
        .iter()
        .zip(["GET /one?quiet&body=", "HEAD /two?quiet"])
    {
        let (prefix, rest) = line.split_once(" [").expect(line);
        assert_eq!(prefix, "127.0.0.1 - -", "{line}");
        let (_time, rest) = rest.split_once("] ").expect(line);
        // An empty body is `-` for %(b)s, as in the Common Log Format.
        assert_eq!(rest, format!("\"{request} HTTP/1.1\" 200 - \"-\" \"-\""));
    }
}

/// Splits a default-format line into its quoted fields, honouring `\"`; panics if the line
/// has any other shape (so a forged field would fail the test).
fn quoted_fields(line: &str) -> Vec<String> {
    assert!(
        line.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "raw control or non-ASCII byte in {line:?}"
    );
    let mut fields = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut field = String::new();
        loop {
            match chars.next().expect("unterminated field") {
                '\\' => {
                    field.push('\\');
                    field.push(chars.next().expect("escape"));
                }
                '"' => break,
                c => field.push(c),
            }
        }
        fields.push(field);
    }
    assert_eq!(fields.len(), 3, "{line}");
    fields
}

#[test]
fn forged_values_cannot_break_a_line() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let server = start(&dir, &access, &[]);
    // Quotes, a backslash and non-UTF-8 bytes reach the app (the parser accepts obs-text,
    // and refuses control bytes); the log escapes them.
    let forged = b"a\" 200 0 \"-\" \"x\\ \xc3\xa9 \xff";
    let mut raw = b"GET /ok?quiet HTTP/1.1\r\nHost: h\r\nUser-Agent: ".to_vec();
    raw.extend_from_slice(forged);
    raw.extend_from_slice(b"\r\nReferer: r\"\r\nConnection: close\r\n\r\n");
    let mut c = Conn::tcp(server.addr);
    c.send(&raw);
    assert_eq!(c.read_response().status(), 200);
    // A line break inside a header value: the server refuses the request (400); its line
    // shows the request line only.
    let mut c = Conn::tcp(server.addr);
    c.send(b"GET /nl HTTP/1.1\r\nHost: h\r\nUser-Agent: a\"b\nc 200 1\r\n\r\n");
    assert_eq!(c.read_response().status(), 400);
    // Quotes and control bytes in the request line itself.
    let mut c = Conn::tcp(server.addr);
    c.send(b"GET /x\"y\x01z HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.read_response().status(), 400);
    let lines = wait_for_count(&access, 3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let first = quoted_fields(&lines[0]);
    assert_eq!(first[0], "GET /ok?quiet HTTP/1.1");
    assert_eq!(first[1], "r\\\"");
    assert_eq!(first[2], "a\\\" 200 0 \\\"-\\\" \\\"x\\\\ \\xc3\\xa9 \\xff");
    let second = quoted_fields(&lines[1]);
    assert_eq!(second[0], "GET /nl HTTP/1.1");
    assert!(lines[1].contains("\" 400 "), "{}", lines[1]);
    let third = quoted_fields(&lines[2]);
    assert_eq!(third[0], "GET /x\\\"y\\x01z HTTP/1.1");
    assert!(lines[2].contains("\" 400 "), "{}", lines[2]);
}

#[test]
fn requests_the_server_answers_are_logged() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let server = start(
        &dir,
        &access,
        &[
            "--access-log-format",
            "%(s)s|%(r)s|%(m)s|%(b)s",
            "--limit-request-body",
            "10",
            "--header-timeout",
            "1",
        ],
    );
    let send = |bytes: &[u8]| {
        let mut c = Conn::tcp(server.addr);
        c.send(bytes);
        c.read_response().status()
    };
    assert_eq!(send(b"BAD\r\n\r\n"), 400);
    assert_eq!(
        send(&request("POST", "/big", &[("Content-Length", "100")], b"")),
        413
    );
    let huge = "x".repeat(9000);
    assert_eq!(send(&request("GET", "/h", &[("X-Big", &huge)], b"")), 431);
    assert_eq!(send(&get_req("/bad?quiet&status=xyz")), 500);
    // A head that never completes: 408 once the header timeout passes.
    assert_eq!(send(b"GET /slow HTTP/1.1\r\nHost: h\r\n"), 408);
    let lines = wait_for_count(&access, 5);
    let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split('|').collect()).collect();
    assert_eq!(fields[0][..3], ["400", "BAD", "-"]);
    assert_eq!(fields[1][..3], ["413", "POST /big HTTP/1.1", "POST"]);
    assert_eq!(fields[2][0], "431");
    assert_eq!(fields[2][1], "GET /h HTTP/1.1");
    assert_eq!(
        fields[3][..3],
        ["500", "GET /bad?quiet&status=xyz HTTP/1.1", "GET"]
    );
    assert_eq!(fields[4][..3], ["408", "GET /slow HTTP/1.1", "-"]);
    for f in &fields {
        assert_ne!(f[3], "-", "an error response has a body: {f:?}");
    }
}

#[test]
fn json_lines_field_by_field() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let errors = dir.join("error.log");
    let server = FileServer::start(
        &dir,
        "cases.logged",
        &[
            "--log-format",
            "json",
            "--access-logfile",
            access.to_str().unwrap(),
            "--error-logfile",
            errors.to_str().unwrap(),
            "--access-log-format",
            "%(h)s %({X-Req}i)s %({X-Resp}o)s %({REMOTE_ADDR}e)s %({SITE}e)s",
        ],
        1,
        Some(&errors),
    );
    let mut c = Conn::tcp(server.addr);
    let req = request(
        "POST",
        "/p%2Fq?quiet&status=202&body=abc",
        &[
            ("User-Agent", "ua\""),
            ("Referer", "http://r/"),
            ("X-Req", "a\"b"),
            ("Authorization", "Basic Ym9iOng="),
        ],
        b"xyz",
    );
    assert_eq!(c.roundtrip(&req).status(), 202);
    let mut c = Conn::tcp(server.addr);
    c.send(b"GET /\x01 HTTP/1.1\r\n\r\n");
    assert_eq!(c.read_response().status(), 400);
    let lines = wait_for_count(&access, 2);
    let ok =
        serde_json::from_str::<Json>(&lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]));
    let time = ok.get("time").and_then(Json::as_str).expect("time");
    assert!(time.len() == 32 && time.as_bytes()[10] == b'T', "{time}");
    assert_eq!(
        ok.get("remote_addr").and_then(Json::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(ok.get("user").and_then(Json::as_str), Some("bob"));
    assert_eq!(
        ok.get("request").and_then(Json::as_str),
        Some("POST /p%2Fq?quiet&status=202&body=abc HTTP/1.1")
    );
    assert_eq!(ok.get("method").and_then(Json::as_str), Some("POST"));
    assert_eq!(ok.get("path").and_then(Json::as_str), Some("/p/q"));
    assert_eq!(
        ok.get("query").and_then(Json::as_str),
        Some("quiet&status=202&body=abc")
    );
    assert_eq!(ok.get("protocol").and_then(Json::as_str), Some("HTTP/1.1"));
    assert_eq!(ok.get("status").and_then(Json::as_i64), Some(202));
    assert_eq!(ok.get("bytes").and_then(Json::as_i64), Some(3));
    assert_eq!(ok.get("referer").and_then(Json::as_str), Some("http://r/"));
    assert_eq!(ok.get("user_agent").and_then(Json::as_str), Some("ua\""));
    assert!(
        ok.get("duration_us")
            .and_then(Json::as_i64)
            .is_some_and(|d| d >= 0)
    );
    assert_eq!(
        ok.get("pid").and_then(Json::as_i64),
        Some(i64::from(server.workers[0]))
    );
    let req_headers = ok.get("request_headers").expect("request_headers");
    assert_eq!(
        req_headers.get("x-req").and_then(Json::as_str),
        Some("a\"b")
    );
    let resp_headers = ok.get("response_headers").expect("response_headers");
    assert_eq!(
        resp_headers.get("x-resp").and_then(Json::as_str),
        Some("r1")
    );
    let environ = ok.get("environ").expect("environ");
    assert_eq!(
        environ.get("REMOTE_ADDR").and_then(Json::as_str),
        Some("127.0.0.1")
    );
    assert!(environ.get("SITE").is_some_and(Json::is_null));

    let bad =
        serde_json::from_str::<Json>(&lines[1]).unwrap_or_else(|e| panic!("{e}: {}", lines[1]));
    assert_eq!(bad.get("status").and_then(Json::as_i64), Some(400));
    assert_eq!(
        bad.get("request").and_then(Json::as_str),
        Some("GET /\u{1} HTTP/1.1")
    );
    for key in [
        "method",
        "path",
        "query",
        "protocol",
        "user",
        "referer",
        "user_agent",
    ] {
        assert!(
            bad.get(key).is_some_and(Json::is_null),
            "{key}: {}",
            lines[1]
        );
    }
}

#[test]
fn pool_threads_log_every_request_once() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let server = start(
        &dir,
        &access,
        &["--threads", "4", "--access-log-format", "%(U)s %(s)s %(p)s"],
    );
    let mut conns: Vec<Conn> = (0..4).map(|_| Conn::tcp(server.addr)).collect();
    for round in 0..5 {
        for (i, c) in conns.iter_mut().enumerate() {
            c.send(&get_req(&format!("/r{round}c{i}?quiet")));
        }
        for c in &mut conns {
            assert_eq!(c.read_response().status(), 200);
        }
    }
    let mut lines = wait_for_count(&access, 20);
    assert_eq!(lines.len(), 20, "{lines:?}");
    lines.sort();
    let mut expected: Vec<String> = (0..5)
        .flat_map(|r| (0..4).map(move |i| format!("/r{r}c{i} 200 ")))
        .collect();
    expected.sort();
    for (line, prefix) in lines.iter().zip(&expected) {
        assert!(line.starts_with(prefix.as_str()), "{line} / {prefix}");
        assert!(
            line.ends_with(&format!("<{}>", server.workers[0])),
            "{line}"
        );
    }
}

#[test]
fn a_request_cut_short_by_a_worker_timeout_gets_its_504_line() {
    let dir = TempDir::new();
    let access = dir.join("access.log");
    let mut all = vec!["--access-logfile", access.to_str().unwrap()];
    all.extend_from_slice(&[
        "--timeout",
        "1",
        "--access-log-format",
        "%(s)s|%(r)s|%(m)s|%(U)s|%(q)s|%(h)s|%(b)s|%(p)s",
    ]);
    let server = FileServer::start(&dir, "cases.stuck", &all, 1, None);
    let first = server.workers[0];
    let mut c = Conn::tcp(server.addr);
    c.send(&get_req("/sleep?x=1"));
    assert_eq!(c.read_response().status(), 504);
    let line = wait_for_count(&access, 1).remove(0);
    let f: Vec<&str> = line.split('|').collect();
    assert_eq!(
        f[..6],
        [
            "504",
            "GET /sleep?x=1 -",
            "GET",
            "/sleep",
            "x=1",
            "127.0.0.1"
        ],
        "{line}"
    );
    assert!(f[6].parse::<u64>().is_ok_and(|n| n > 0), "{line}");
    assert_eq!(f[7], format!("<{first}>"), "{line}");
}

/// The access log's format in these tests: the status and the client.
const STATUS_AND_CLIENT: &[&str] = &[
    "--access-logfile",
    "-",
    "--access-log-format",
    "%(s)s h=%(h)s port=%({REMOTE_PORT}e)s",
];

/// Sends `bytes` (a request stuck in the app), expects the abort's 504 and returns the
/// access line logged for it.
fn timed_out_line(server: &mut Server, bytes: &[u8]) -> String {
    let mut c = server.conn();
    c.send(bytes);
    assert_eq!(c.read_response().status(), 504);
    let mut lines = server
        .stdout
        .wait_count(1, |l| l.starts_with("504 "))
        .expect("the 504's access line");
    lines.remove(0)
}

// Regression: the abort's access line named the proxy instead of the client,
// commit 121cfc1 (issue 5)
/// The abort's access line names the client as every other line does: the one a PROXY
/// header named, not the proxy's address.
#[test]
fn a_timed_out_request_behind_a_proxy_header_is_logged_with_its_client() {
    let mut server = server("cases.stuck")
        .args(["--timeout", "1", "--proxy-protocol"])
        .args(STATUS_AND_CLIENT)
        .start();
    let mut bytes = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 80\r\n".to_vec();
    bytes.extend_from_slice(&get_req("/sleep"));
    assert_eq!(
        timed_out_line(&mut server, &bytes),
        "504 h=192.0.2.10 port=56324"
    );
}

// Regression: the abort's access line named the proxy instead of the client,
// commit 121cfc1 (issue 5)
/// The same with a trusted X-Forwarded-For, on a pool thread.
#[test]
fn a_timed_out_request_from_a_trusted_proxy_is_logged_with_its_client() {
    let mut server = server("cases.stuck")
        .args(["--timeout", "1", "--threads", "2"])
        .args(STATUS_AND_CLIENT)
        .start();
    let bytes = request(
        "GET",
        "/sleep",
        &[("X-Forwarded-For", "203.0.113.7:4711")],
        b"",
    );
    assert_eq!(
        timed_out_line(&mut server, &bytes),
        "504 h=203.0.113.7 port=4711"
    );
}
