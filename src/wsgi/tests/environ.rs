//! The environ, where it adds to `tests/wsgi_environ.rs`: framing as the app sees it,
//! repeated cookies, requests without Host, mounts, the server's flags, and environs that
//! do not leak into one another.

use super::{TestApp, app, app_with, server};
use crate::wsgi::Outcome;
use crate::wsgi::ServerInfo;
use crate::wsgi::testing::TestRequest;

/// Keeps a copy of each request's environ in `last`.
const KEEPS_ENVIRON: &str = r#"
    def app(environ, start_response):
        global last
        last = dict(environ)
        last["input"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return []
"#;

fn serve(app: &TestApp, req: &TestRequest) {
    let (outcome, _) = app.serve(req, req.transport());
    assert_eq!(outcome, Outcome::Complete);
}

fn key(app: &TestApp, key: &str) -> Option<String> {
    app.eval(&format!("last.get({key:?})"))
}

#[test]
fn repeated_headers_are_joined_and_cookies_with_semicolons() {
    let app = app(KEEPS_ENVIRON);
    serve(
        &app,
        &TestRequest::new(
            b"GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nX-Multi: one\r\n\
              cookie: b=2\r\nx-multi: two\r\nX-MULTI: three\r\n\r\n",
        ),
    );
    // RFC 6265 §5.4: a client sends one Cookie line; joined with ", " several would be
    // parsed as one cookie whose value runs into the next.
    assert_eq!(key(&app, "HTTP_COOKIE").as_deref(), Some("a=1; b=2"));
    assert_eq!(
        key(&app, "HTTP_X_MULTI").as_deref(),
        Some("one, two, three")
    );
}

#[test]
fn a_chunked_body_received_whole_is_presented_with_its_length() {
    let raw = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    let app = app(KEEPS_ENVIRON);
    serve(&app, &TestRequest::new(raw).buffered(b"dechunked"));
    assert_eq!(key(&app, "CONTENT_LENGTH").as_deref(), Some("9"));
    assert_eq!(key(&app, "HTTP_TRANSFER_ENCODING"), None);
    assert!(app.eval::<bool>("last['input'] == b'dechunked'"));

    // Streamed: no length to give, and the framing stays visible.
    let mut req = TestRequest::new(raw);
    req.body = b"streamed".to_vec();
    serve(&app, &req);
    assert_eq!(key(&app, "CONTENT_LENGTH"), None);
    assert_eq!(
        key(&app, "HTTP_TRANSFER_ENCODING").as_deref(),
        Some("chunked")
    );
    assert!(app.eval::<bool>("last['input'] == b'streamed'"));
}

#[test]
fn content_length_zero_is_reported_and_the_input_is_empty() {
    let app = app(KEEPS_ENVIRON);
    let mut req = TestRequest::new(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    // Bytes the transport would serve must not be read: the request has no body.
    req.body = b"next request".to_vec();
    serve(&app, &req);
    assert_eq!(key(&app, "CONTENT_LENGTH").as_deref(), Some("0"));
    assert!(app.eval::<bool>("last['input'] == b''"));
}

#[test]
fn without_host_the_server_names_itself() {
    let app = app(KEEPS_ENVIRON);
    serve(&app, &TestRequest::new(b"GET /x HTTP/1.0\r\n\r\n"));
    assert_eq!(key(&app, "SERVER_PROTOCOL").as_deref(), Some("HTTP/1.0"));
    assert_eq!(key(&app, "HTTP_HOST"), None);
    assert_eq!(key(&app, "SERVER_NAME").as_deref(), Some("localhost"));
    assert_eq!(key(&app, "SERVER_PORT").as_deref(), Some("80"));
    assert_eq!(key(&app, "REMOTE_ADDR").as_deref(), Some("192.0.2.7"));
}

#[test]
fn script_name_is_stripped_from_the_path_by_whole_segments() {
    let app = app_with(KEEPS_ENVIRON, server("/app"));
    for (target, path_info) in [
        ("/app/x%20y?q", "/x y"),
        ("/app", ""),
        ("/app/", "/"),
        ("/application", "/application"),
        ("/other/app", "/other/app"),
    ] {
        serve(&app, &TestRequest::get(target));
        assert_eq!(key(&app, "SCRIPT_NAME").as_deref(), Some("/app"));
        assert_eq!(
            key(&app, "PATH_INFO").as_deref(),
            Some(path_info),
            "{target}"
        );
    }
    assert_eq!(key(&app, "QUERY_STRING").as_deref(), Some(""));
}

#[test]
fn the_servers_concurrency_is_announced() {
    let app = app_with(
        KEEPS_ENVIRON,
        ServerInfo {
            root_path: String::new(),
            multiprocess: true,
            multithread: true,
            underscores: Default::default(),
        },
    );
    serve(&app, &TestRequest::get("/"));
    assert!(app.eval::<bool>("last['wsgi.multiprocess'] is True"));
    assert!(app.eval::<bool>("last['wsgi.multithread'] is True"));
    assert!(app.eval::<bool>("last['wsgi.run_once'] is False"));
}

/// Every environ starts as a copy of one shared template: what an app does to one must not
/// show in the next.
#[test]
fn an_apps_changes_to_its_environ_do_not_reach_the_next_request() {
    let app = app(r#"
        seen = []
        def app(environ, start_response):
            seen.append((
                environ.get("mine"),
                environ.get("REQUEST_METHOD"),
                environ["SCRIPT_NAME"],
                environ["wsgi.url_scheme"],
                environ["wsgi.version"],
                environ.get("HTTP_X_ONCE"),
            ))
            environ["mine"] = "set by the app"
            environ["SCRIPT_NAME"] = "/changed"
            environ["wsgi.url_scheme"] = "gopher"
            environ["wsgi.version"] += (9,)
            del environ["REQUEST_METHOD"]
            start_response("200 OK", [])
            return []
    "#);
    serve(
        &app,
        &TestRequest::new(b"GET / HTTP/1.1\r\nHost: h\r\nX-Once: 1\r\n\r\n"),
    );
    serve(&app, &TestRequest::get("/"));
    let seen: Vec<String> = app.eval("[repr(s) for s in seen]");
    assert_eq!(
        seen,
        [
            "(None, 'GET', '', 'http', (1, 0), '1')",
            "(None, 'GET', '', 'http', (1, 0), None)"
        ]
    );
}
