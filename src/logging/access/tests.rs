//! The access log: formats compiled and lines written, text and JSON.

use super::basic_auth::{base64_decode, basic_user};
use super::*;
use crate::http::Limits;
use crate::http::request::RequestHead;
use crate::http::request::parse_head;
use crate::http::response::ResponseHead;

fn conn() -> ConnInfo {
    ConnInfo {
        remote_addr: "10.0.0.7".into(),
        remote_port: "5555".into(),
        server_name: "127.0.0.1".into(),
        server_port: "8000".into(),
        port_received: true,
        url_scheme: "http",
        forwarded_host: None,
        forwarded_port: None,
        proxy_header: None,
        trusted: false,
        gateway: None,
    }
}

fn head(raw: &str) -> RequestHead {
    parse_head(raw.as_bytes(), &Limits::default())
        .expect("valid")
        .expect("complete")
        .0
}

fn text(format: &str, entry: &Entry<'_>) -> String {
    let format = Format::compile(format, &[("SITE".into(), "blue".into())]).unwrap();
    let mut out = Vec::new();
    write_text(&mut out, &format, entry, b"[T]");
    String::from_utf8(out).unwrap()
}

#[test]
fn default_format_line() {
    let h = head(
        "GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\nReferer: http://r/\r\n\r\n",
    );
    let c = conn();
    let e = Entry {
        conn: &c,
        request: LoggedRequest::Parsed(&h),
        status: Some(200),
        body_bytes: 13,
        response: None,
        duration: Duration::from_micros(1500),
        request_id: None,
    };
    assert_eq!(
        text(DEFAULT_FORMAT, &e),
        "10.0.0.7 - - [T] \"GET /a%20b?x=1 HTTP/1.1\" 200 13 \"http://r/\" \"curl/8\"\n"
    );
    assert_eq!(
        text(
            "%(m)s|%(U)s|%(q)s|%(H)s|%(T)s|%(M)s|%(D)s|%(L)s|%%|%(B)s",
            &e
        ),
        "GET|/a b|x=1|HTTP/1.1|0|1|1500|0.001500|%|13\n"
    );
}

#[test]
fn headers_environ_and_user() {
    let h = head(
        "POST /p HTTP/1.0\r\nHost: h\r\nX-Id: a\"b\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n",
    );
    let c = conn();
    let mut resp = ResponseHead::new(200, b"OK", 0);
    resp.push_header(b"Content-Type", b"text/plain");
    let e = Entry {
        conn: &c,
        request: LoggedRequest::Parsed(&h),
        status: None,
        body_bytes: 0,
        response: Some(&resp),
        duration: Duration::ZERO,
        request_id: None,
    };
    assert_eq!(
        text(
            "%(u)s %({x-id}i)s %({missing}i)s %({content-type}o)s %({HTTP_X_ID}e)s \
             %({REMOTE_PORT}e)s %({SITE}e)s %({NOPE_NOT_SET_ANYWHERE}e)s %(s)s %(b)s %(B)s",
            &e
        ),
        "user a\\\"b - text/plain a\\\"b 5555 blue - - - 0\n"
    );
}

#[test]
fn the_default_writer_matches_the_general_one() {
    let heads = [
        head("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
        head(
            "POST /a\"b HTTP/1.0\r\nUser-Agent: u\"a\r\nreferer: r\r\nUser-Agent: second\r\n\
             AUTHORIZATION: Basic dXNlcjpwYXNz\r\n\r\n",
        ),
    ];
    let c = conn();
    let general = Format {
        default: false,
        ..Format::compile(DEFAULT_FORMAT, &[]).unwrap()
    };
    for (i, h) in heads.iter().enumerate() {
        for request in [
            LoggedRequest::Parsed(h),
            LoggedRequest::Unparsed(b"BAD \x01"),
        ] {
            let e = Entry {
                conn: &c,
                request,
                status: [None, Some(200), Some(1000)][i % 3],
                body_bytes: i as u64 * 7,
                response: None,
                duration: Duration::ZERO,
                request_id: None,
            };
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            write_default(&mut fast, &e, b"[T]");
            write_text(&mut slow, &general, &e, b"[T]");
            assert_eq!(String::from_utf8(fast), String::from_utf8(slow));
        }
    }
}

#[test]
fn headers_by_name_and_literals_of_every_length() {
    let h = head(
        "GET /p HTTP/1.1\r\nHost: h\r\nReferer: r1\r\nUser-Agent: ua\r\nX-A: 1\r\nReferer: r2\r\n\r\n",
    );
    let c = conn();
    let e = Entry {
        conn: &c,
        request: LoggedRequest::Parsed(&h),
        status: Some(204),
        body_bytes: 0,
        response: None,
        duration: Duration::from_micros(2_500_001),
        request_id: None,
    };
    // The common headers by name only (no %(f)s or %(a)s), and an 8-byte, a 9-byte
    // and an empty literal after atoms.
    assert_eq!(
        text(
            "%({user-agent}i)s12345678%({HTTP_REFERER}e)s123456789%({x-a}i)s%(T)s%(M)s %(L)s",
            &e
        ),
        "ua12345678r1123456789122500 2.500001\n"
    );
    let only = Format::compile("%({x-a}i)s %(m)s", &[]).unwrap();
    assert!(!only.common_headers);
    assert!(
        Format::compile("%({Referer}i)s", &[])
            .unwrap()
            .common_headers
    );
}

#[test]
fn pids_are_rendered_once() {
    for pid in [1, 9, 10, 4_194_304, 9_999_999, 10_000_000, u32::MAX] {
        PID.store(pid_word(pid), Ordering::Relaxed);
        let mut out = Vec::new();
        super::pid(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), pid.to_string());
    }
    refresh_pid();
}

#[test]
fn unparsed_requests() {
    let c = conn();
    let e = Entry {
        conn: &c,
        request: LoggedRequest::Unparsed(b"GET /\x01\"x HTTP/1.1"),
        status: Some(400),
        body_bytes: 16,
        response: None,
        duration: Duration::ZERO,
        request_id: None,
    };
    assert_eq!(
        text(DEFAULT_FORMAT, &e),
        "10.0.0.7 - - [T] \"GET /\\x01\\\"x HTTP/1.1\" 400 16 \"-\" \"-\"\n"
    );
}

#[test]
fn bad_formats_are_refused() {
    for bad in [
        "%(h", "%(zz)s", "%(h)x", "100%", "%d", "%({}i)s", "%({a}x)s",
    ] {
        let err = Format::compile(bad, &[]).expect_err(bad);
        assert!(err.contains("%(name)s"), "{bad}: {err}");
    }
    assert!(Format::compile("", &[]).is_ok());
    assert!(Format::compile("100%% %(s)d", &[]).is_ok());
}

#[test]
fn basic_auth_users() {
    assert_eq!(
        basic_user(b"Basic dXNlcjpwYXNz").as_deref(),
        Some(&b"user"[..])
    );
    assert_eq!(basic_user(b"basic  YTpi").as_deref(), Some(&b"a"[..]));
    assert_eq!(basic_user(b"Bearer dXNlcjpwYXNz"), None);
    assert_eq!(basic_user(b"Basic !!!!"), None);
    assert_eq!(basic_user(b"Basic dXNlcg=="), None); // no colon
    assert_eq!(base64_decode(b"YWJj").as_deref(), Some(&b"abc"[..]));
    assert_eq!(base64_decode(b"YWI=").as_deref(), Some(&b"ab"[..]));
}

/// What a line costs, by callgrind, when run by hand (ignored otherwise).
mod cost {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;

    /// Not a test: `LINES=n valgrind --tool=callgrind <test binary> --ignored
    /// access_line_cost` counts the instructions of n lines (run twice, divide the
    /// difference).
    #[test]
    #[ignore]
    fn access_line_cost() {
        let n: usize = std::env::var("LINES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        // LOG_FORMAT=json for JSON lines; ACCESS_FORMAT for another format than the default.
        let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
        let format = std::env::var("ACCESS_FORMAT").unwrap_or(DEFAULT_FORMAT.to_owned());
        install(
            vec![Open {
                sink: OutSink::File(Sink::open(std::path::Path::new("/dev/null")).unwrap()),
                level: crate::logging::LogLevel::Info,
                format: LineFormat::Native,
            }],
            Format::compile(&format, &[]).unwrap(),
            if json {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
        );
        let (head, _) = parse_head(
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            &Limits::default(),
        )
        .unwrap()
        .unwrap();
        let conn = ConnInfo {
            remote_addr: "127.0.0.1".into(),
            remote_port: "5555".into(),
            server_name: "127.0.0.1".into(),
            server_port: "8000".into(),
            port_received: true,
            url_scheme: "http",
            forwarded_host: None,
            forwarded_port: None,
            proxy_header: None,
            trusted: false,
            gateway: None,
        };
        for _ in 0..n {
            log(&Entry {
                conn: &conn,
                request: LoggedRequest::Parsed(&head),
                status: Some(200),
                body_bytes: 14,
                response: None,
                duration: Duration::from_micros(20),
                request_id: None,
            });
        }
        flush();
    }
}

#[test]
fn request_ids_in_text_and_json() {
    let h = head("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let c = conn();
    let mut e = Entry {
        conn: &c,
        request: LoggedRequest::Parsed(&h),
        status: Some(503),
        body_bytes: 0,
        response: None,
        duration: Duration::ZERO,
        request_id: Some(b"abc\"1"),
    };
    assert_eq!(text("%(s)s %(request_id)s", &e), "503 abc\\\"1\n");
    let format = Format::compile(DEFAULT_FORMAT, &[]).unwrap();
    let mut out = Vec::new();
    json::write_json(
        &mut out,
        &format,
        &e,
        b"2026-11-21T10:00:00.000000+00:00",
        0,
    );
    let line = String::from_utf8(out).unwrap();
    assert!(line.ends_with(",\"request_id\":\"abc\\\"1\"}\n"), "{line}");
    e.request_id = None;
    assert_eq!(text("%(request_id)s", &e), "-\n");
    let mut out = Vec::new();
    json::write_json(
        &mut out,
        &format,
        &e,
        b"2026-11-21T10:00:00.000000+00:00",
        0,
    );
    assert!(!String::from_utf8(out).unwrap().contains("request_id"));
}
