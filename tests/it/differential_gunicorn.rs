//! Differential testing against gunicorn 27 (sync worker) on a real app: httpbin (PyPI),
//! served by both; the same corpus of raw requests ([`httpbin_corpus`]) is sent to each and
//! every response compared byte for byte (`support::differential` says what is left out).
//! Every difference found is explained by an entry of `docs/differences.md` ([`EXPLAINED`]),
//! so the test fails on any new one.
//!
//! gunicorn's sync worker answers one request per connection: keep-alive and pipelined
//! sequences go to us on one connection, and to gunicorn one connection per request.

use crate::support::differential::{self, Case, Explained, Mode, Seen};
use crate::support::gunicorn::{self, Gunicorn};
use crate::support::*;

/// The Host every request names (both servers see the same one, so echoes compare).
const HOST: &str = "httpbin.test";

/// Differences explained in `docs/differences.md` (the anchor), by case-name prefix and
/// what differs.
const EXPLAINED: &[Explained] = &[
    explained(
        "GET /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained(
        "POST /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained(
        "PUT /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained(
        "PATCH /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained(
        "DELETE /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained(
        "HEAD /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained(
        "TRACE /status/407",
        "header proxy-authenticate",
        "proxy-authenticate",
    ),
    explained("GET /status/10", "", "final-1xx"),
    explained("CONNECT /anything", "", "connect-target"),
    explained("GET /anything#fragment", "", "fragment-target"),
    explained("get /anything", "body", "error-pages"),
    explained("get /anything", "header content-type", "error-pages"),
    explained("raw utf-8 ", "body", "error-pages"),
    explained("raw utf-8 ", "header content-type", "error-pages"),
    explained("GET /headers header of ", "body", "error-pages"),
    explained(
        "GET /headers header of ",
        "header content-type",
        "error-pages",
    ),
    explained("GET /headers 1", "body", "error-pages"),
    explained("GET /headers 1", "header content-type", "error-pages"),
    explained("GET /headers 99 fields", "body", "error-pages"),
    explained(
        "GET /headers 99 fields",
        "header content-type",
        "error-pages",
    ),
    explained("GET /get target of ", "body", "error-pages"),
    explained("GET /get target of ", "header content-type", "error-pages"),
    explained("POST /post chunked", "body", "dechunked-body"),
    explained("PUT /put chunked trailer", "body", "dechunked-body"),
    explained("GET /cookies two Cookie fields", "body", "cookie-join"),
    explained("repeated header", "body", "header-join"),
    explained("HTTP/1.0 ", "status", "response-version"),
];

const fn explained(case: &'static str, what: &'static str, entry: &'static str) -> Explained {
    Explained { case, what, entry }
}

/// A request with the corpus's Host and User-Agent, plus `headers` and `body`.
fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut all = vec![("Host", HOST), ("User-Agent", "rsgi-differential/1")];
    all.extend_from_slice(headers);
    request(method, target, &all, body)
}

fn get(target: &str) -> Case {
    Case::single(format!("GET {target}"), req("GET", target, &[], b""))
}

/// A multipart/form-data body with one text field and one file.
fn multipart(boundary: &str, file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue \u{e9}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// The status codes `/status/` is asked for: every code Python's `http.HTTPStatus` names
/// (those httpbin answers specially among them) and a few it does not.
const STATUSES: &[u16] = &[
    100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
    305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
    416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 510, 511, 299, 499, 599, 600, 999,
];

/// The corpus: at least 300 requests over httpbin's endpoints.
fn httpbin_corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    // Plain endpoints.
    for target in [
        "/",
        "/html",
        "/robots.txt",
        "/deny",
        "/ip",
        "/headers",
        "/user-agent",
        "/get",
        "/get?a=1&b=2&a=3",
        "/anything",
        "/anything/x/y",
        "/json",
        "/xml",
        "/encoding/utf8",
        "/image/png",
        "/image/jpeg",
        "/image/webp",
        "/image/svg",
        "/forms/post",
        "/links/5",
        "/links/5/2",
        "/base64/aGVsbG8gd29ybGQ%3D",
        "/base64/not-base64!",
        "/cookies",
        "/delay/0",
        "/etag/abc",
        "/cache/60",
        "/response-headers?X-One=1&X-Two=2&X-One=3",
        "/response-headers?Content-Type=text/x",
        "/no-such-endpoint",
        "/status/notanumber",
        "/bytes/64?seed=7",
        "/stream-bytes/2000?seed=3&chunk_size=100",
        "/stream/5",
        "/range/100",
        "/range/2000?chunk_size=300&duration=0",
        "/links/200/3",
        "/static/nothing.css",
    ] {
        cases.push(get(target));
    }
    // Every status.
    for code in STATUSES {
        cases.push(get(&format!("/status/{code}")));
    }
    for codes in ["/status/200,201", "/status/201:0,202:1", "/status/1x0"] {
        cases.push(get(codes));
    }
    // The statuses httpbin answers specially (and a bodiless few), with every method.
    for method in ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"] {
        for code in [200, 204, 301, 304, 401, 407, 418, 500] {
            let target = format!("/status/{code}");
            cases.push(Case::single(
                format!("{method} {target}"),
                req(method, &target, &[], b""),
            ));
        }
    }
    // Methods no endpoint names.
    for method in ["PROPFIND", "FOO", "get", "CONNECT"] {
        cases.push(Case::single(
            format!("{method} /anything"),
            req(method, "/anything", &[], b""),
        ));
    }
    // Each method on the method endpoints, and the wrong ones.
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        for path in ["/get", "/post", "/put", "/patch", "/delete", "/anything"] {
            let body: &[u8] = if method == "GET" { b"" } else { b"k=v" };
            let headers: &[(&str, &str)] = if body.is_empty() {
                &[]
            } else {
                &[("Content-Type", "application/x-www-form-urlencoded")]
            };
            cases.push(Case::single(
                format!("{method} {path}"),
                req(method, path, headers, body),
            ));
        }
    }
    // HEAD and OPTIONS.
    for path in [
        "/get",
        "/html",
        "/image/png",
        "/stream/3",
        "/status/404",
        "/anything",
        "/",
    ] {
        cases.push(Case::single(
            format!("HEAD {path}"),
            req("HEAD", path, &[], b""),
        ));
        cases.push(Case::single(
            format!("OPTIONS {path}"),
            req("OPTIONS", path, &[], b""),
        ));
    }
    cases.push(Case::single("OPTIONS *", req("OPTIONS", "*", &[], b"")));
    forms_and_bodies(&mut cases);
    compression_and_ranges(&mut cases);
    redirects_cookies_auth(&mut cases);
    paths_and_queries(&mut cases);
    large_headers(&mut cases);
    sequences(&mut cases);
    cases
}

fn forms_and_bodies(cases: &mut Vec<Case>) {
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    for body in [
        "a=1&b=2",
        "a=%C3%A9t%C3%A9&b=x+y&b=z",
        "empty=&=novalue&flag",
        "a=%ZZ&b=%",
    ] {
        cases.push(Case::single(
            format!("POST /post form {body}"),
            req("POST", "/post", &form, body.as_bytes()),
        ));
    }
    let json = [("Content-Type", "application/json")];
    for body in [
        r#"{"a": [1, 2, {"b": null}]}"#,
        "{not json",
        r#""caf\u00e9""#,
    ] {
        cases.push(Case::single(
            format!("POST /anything json {body}"),
            req("POST", "/anything", &json, body.as_bytes()),
        ));
    }
    for (name, size) in [("small", 10usize), ("64k", 65_536), ("1m", 1_000_000)] {
        let file: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
        let boundary = "----rsgi-differential-boundary";
        let ct = format!("multipart/form-data; boundary={boundary}");
        cases.push(Case::single(
            format!("POST /post multipart {name}"),
            req(
                "POST",
                "/post",
                &[("Content-Type", &ct)],
                &multipart(boundary, &file),
            ),
        ));
    }
    // Bodies framed in chunks, with a trailer, and after an Expect: 100-continue.
    let mut chunked_req = req(
        "POST",
        "/post",
        &[
            ("Content-Type", "text/plain"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    chunked_req.extend_from_slice(&chunked(b"hello chunked world", 5, ""));
    cases.push(Case::single("POST /post chunked", chunked_req));
    let mut trailer_req = req(
        "PUT",
        "/put",
        &[
            ("Content-Type", "text/plain"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    trailer_req.extend_from_slice(&chunked(b"body", 2, "X-Trailer: t\r\n"));
    cases.push(Case::single("PUT /put chunked trailer", trailer_req));
    cases.push(Case::single(
        "POST /post expect 100-continue",
        req(
            "POST",
            "/post",
            &[("Expect", "100-continue"), ("Content-Type", "text/plain")],
            b"expected body",
        ),
    ));
    cases.push(Case::single(
        "POST /post binary octet-stream",
        req(
            "POST",
            "/post",
            &[("Content-Type", "application/octet-stream")],
            &[0, 159, 146, 150, 255, 0, 1],
        ),
    ));
    cases.push(Case::single(
        "POST /post empty",
        req("POST", "/post", &[("Content-Length", "0")], b""),
    ));
}

fn compression_and_ranges(cases: &mut Vec<Case>) {
    for path in ["/gzip", "/deflate", "/brotli"] {
        for accept in ["gzip", "deflate", "br", "identity"] {
            cases.push(Case::single(
                format!("GET {path} accept {accept}"),
                req("GET", path, &[("Accept-Encoding", accept)], b""),
            ));
        }
    }
    for range in [
        "bytes=0-9",
        "bytes=10-",
        "bytes=-5",
        "bytes=0-0,5-9",
        "bytes=90-200",
        "bytes=200-300",
        "bytes=abc",
        "items=0-1",
    ] {
        cases.push(Case::single(
            format!("GET /range/100 range {range}"),
            req("GET", "/range/100", &[("Range", range)], b""),
        ));
    }
    for (name, value) in [("If-None-Match", "\"abc\""), ("If-Match", "\"xyz\"")] {
        cases.push(Case::single(
            format!("GET /etag/abc {name}"),
            req("GET", "/etag/abc", &[(name, value)], b""),
        ));
    }
    cases.push(Case::single(
        "GET /cache If-Modified-Since",
        req(
            "GET",
            "/cache",
            &[("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")],
            b"",
        ),
    ));
    // Streaming: /drip's chunks come with pauses between them (kept short).
    for q in [
        "numbytes=5&duration=0",
        "numbytes=10&duration=0.2&code=201",
        "numbytes=3&duration=0&delay=0.1",
        "numbytes=0&duration=0",
    ] {
        cases.push(get(&format!("/drip?{q}")));
    }
}

fn redirects_cookies_auth(cases: &mut Vec<Case>) {
    for target in [
        "/redirect/1",
        "/redirect/3",
        "/redirect/3?absolute=true",
        "/relative-redirect/2",
        "/absolute-redirect/2",
        "/redirect-to?url=/get",
        "/redirect-to?url=http://example.com/&status_code=307",
        "/redirect-to?url=%2Fcaf%C3%A9",
        "/cookies/set?a=1&b=caf%C3%A9",
        "/cookies/set/name/value",
        "/cookies/delete?a&b",
    ] {
        cases.push(get(target));
    }
    cases.push(Case::single(
        "GET /cookies with cookies",
        req("GET", "/cookies", &[("Cookie", "a=1; b=two; c=\"q\"")], b""),
    ));
    cases.push(Case::single(
        "GET /cookies two Cookie fields",
        req(
            "GET",
            "/cookies",
            &[("Cookie", "a=1"), ("Cookie", "b=2")],
            b"",
        ),
    ));
    cases.push(Case::single(
        "POST /redirect-to 303",
        req(
            "POST",
            "/redirect-to",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"url=/get&status_code=303",
        ),
    ));
    for (path, auth) in [
        ("/basic-auth/user/pass", Some("Basic dXNlcjpwYXNz")),
        ("/basic-auth/user/pass", Some("Basic dXNlcjp3cm9uZw==")),
        ("/basic-auth/user/pass", None),
        ("/basic-auth/user/pass", Some("Basic !!!")),
        ("/hidden-basic-auth/user/pass", Some("Basic dXNlcjpwYXNz")),
        ("/hidden-basic-auth/user/pass", None),
        ("/bearer", Some("Bearer token123")),
        ("/bearer", None),
        ("/bearer", Some("Basic dXNlcjpwYXNz")),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        cases.push(Case::single(
            format!("GET {path} auth {auth:?}"),
            req("GET", path, &headers, b""),
        ));
    }
}

fn paths_and_queries(cases: &mut Vec<Case>) {
    for target in [
        "/anything/caf%C3%A9",
        "/anything/a%20b/c%2Fd",
        "/anything/%E2%82%AC?q=%E2%82%AC",
        "/anything/%ff%fe",
        "/anything/a+b?c+d=e+f",
        "/anything?q=%",
        "/anything?q=%zz&r=%41",
        "/anything?=&&a==b",
        "/anything/%2e%2e/x",
        "/anything/./a/../b",
        "//anything",
        "/anything;param=1",
        "/anything?a[]=1&a[]=2",
        "/anything#fragment",
        "/get?unicode=%F0%9F%98%80",
    ] {
        cases.push(get(target));
    }
    // Raw UTF-8 and other octets in the target (not allowed unencoded by RFC 3986).
    for (name, target) in [
        ("raw utf-8 path", "/anything/caf\u{e9}"),
        ("raw utf-8 query", "/get?q=\u{20ac}"),
    ] {
        cases.push(Case::single(name, req("GET", target, &[], b"")));
    }
    cases.push(Case::single(
        "absolute-form target",
        b"GET http://httpbin.test/get?x=1 HTTP/1.1\r\nHost: httpbin.test\r\n\r\n".to_vec(),
    ));
    cases.push(Case::single(
        "HTTP/1.0 without Host",
        b"GET /headers HTTP/1.0\r\n\r\n".to_vec(),
    ));
    cases.push(Case::single(
        "HTTP/1.0 with Host",
        b"GET /get HTTP/1.0\r\nHost: httpbin.test\r\n\r\n".to_vec(),
    ));
    cases.push(Case::single(
        "latin-1 header value",
        req("GET", "/headers", &[("X-Latin", "caf\u{e9}")], b""),
    ));
    cases.push(Case::single(
        "repeated header",
        req("GET", "/headers", &[("X-Rep", "a"), ("X-Rep", "b")], b""),
    ));
    cases.push(Case::single(
        "underscore header",
        req("GET", "/headers", &[("X_Under", "u"), ("X-Dash", "d")], b""),
    ));
}

fn large_headers(cases: &mut Vec<Case>) {
    for size in [1000usize, 4000, 8000, 8190, 8191, 9000, 20_000] {
        let value = "v".repeat(size);
        cases.push(Case::single(
            format!("GET /headers header of {size}"),
            req("GET", "/headers", &[("X-Large", &value)], b""),
        ));
    }
    for n in [50usize, 99, 100, 101, 150] {
        let names: Vec<String> = (0..n).map(|i| format!("X-H{i}")).collect();
        let headers: Vec<(&str, &str)> = names.iter().map(|k| (k.as_str(), "1")).collect();
        cases.push(Case::single(
            format!("GET /headers {n} fields"),
            req("GET", "/headers", &headers, b""),
        ));
    }
    for size in [4000usize, 4094, 8000, 9000] {
        let target = format!("/get?q={}", "q".repeat(size));
        cases.push(Case::single(
            format!("GET /get target of {size}"),
            req("GET", &target, &[], b""),
        ));
    }
}

fn sequences(cases: &mut Vec<Case>) {
    let targets = [
        "/get",
        "/status/204",
        "/stream/2",
        "/html",
        "/status/404",
        "/headers",
    ];
    for mode in [Mode::KeepAlive, Mode::Pipelined] {
        let mut requests: Vec<Vec<u8>> = targets.iter().map(|t| req("GET", t, &[], b"")).collect();
        requests.push(req(
            "POST",
            "/post",
            &[("Content-Type", "text/plain")],
            b"in sequence",
        ));
        requests.push(req("HEAD", "/get", &[], b""));
        requests.push(req("GET", "/drip?numbytes=4&duration=0", &[], b""));
        requests.push(req("GET", "/gzip", &[("Accept-Encoding", "gzip")], b""));
        cases.push(Case {
            name: format!("{mode:?} sequence"),
            requests,
            mode,
        });
    }
}

/// Blanks what differs from one response to the next by design (not by server): random
/// UUIDs, times, the gzip header's timestamp, digest nonces; and sorts `Allow`, which
/// Werkzeug lists in the order of a Python set (so of the process's hash seed).
fn mask(case: &Case, seen: &mut Seen) {
    for (k, v) in &mut seen.headers {
        let k = k.to_ascii_lowercase();
        if k == "allow" {
            let mut methods: Vec<&str> = v.split(", ").collect();
            methods.sort_unstable();
            *v = methods.join(", ");
        }
        if (case.name.contains("/cache") && (k == "last-modified" || k == "etag"))
            || (k == "www-authenticate" && v.contains("nonce="))
        {
            *v = "<volatile>".into();
        }
    }
    if case.name.contains("/uuid") {
        seen.body.clear();
    }
    let gzipped = seen
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip");
    if gzipped && seen.body.len() >= 8 {
        // RFC 1952 §2.3: MTIME, the time of compression.
        seen.body[4..8].fill(0);
    }
}

#[test]
fn httpbin_answers_as_under_gunicorn() {
    if !gunicorn::available() {
        eprintln!("skipped: no gunicorn in the test Python");
        return;
    }
    let venv = project_venv().expect("the project venv (scripts/setup) with httpbin");
    let theirs = Gunicorn::start("httpbin:app", &pyapps(), &[] as &[(&str, &str)], &[]);
    let ours = server("httpbin:app").arg("--virtualenv").arg(&venv).start();
    let cases = httpbin_corpus();
    let requests: usize = cases.iter().map(|c| c.requests.len()).sum();
    assert!(requests >= 300, "only {requests} requests");
    let mut found = Vec::new();
    for case in &cases {
        let a = differential::run(ours.addr(), case, false);
        let b = differential::run(theirs.addr(), case, true);
        found.extend(differential::compare(case, &a, &b, &mask));
    }
    let report: Vec<String> = found.iter().map(ToString::to_string).collect();
    let path = repo_root().join("target/differential-httpbin.txt");
    std::fs::write(&path, report.join("\n")).expect("write the report");
    let left = differential::unexplained(&found, EXPLAINED);
    assert!(
        left.is_empty(),
        "{} of {} differences unexplained (in {requests} requests; all in {}):\n{}",
        left.len(),
        found.len(),
        path.display(),
        left.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---- the Django project (examples/django_site) ----------------------------------------

/// The Host the Django requests name (in the project's default ALLOWED_HOSTS).
const DJANGO_HOST: &str = "localhost";
/// A logged-in admin session each site is given (the same key in both databases).
const SESSION: &str = "differentialsession0000000000001";
/// A CSRF secret the corpus sends as its cookie and its form token alike.
const CSRF: &str = "Differential0CsrfSecret012345678";

/// Gives a prepared site the admin session [`SESSION`] and one document (pk 1).
fn seed(site: &crate::support::django::Site) {
    let code = format!(
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY, \
         HASH_SESSION_KEY\n\
         from django.contrib.sessions.backends.db import SessionStore\n\
         from django.core.files.base import ContentFile\n\
         from uploads.models import Document\n\
         u = get_user_model().objects.get(username='admin')\n\
         s = SessionStore()\n\
         s[SESSION_KEY] = str(u.pk)\n\
         s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n\
         s[HASH_SESSION_KEY] = u.get_session_auth_hash()\n\
         s._session_key = '{SESSION}'\n\
         s.save(must_create=True)\n\
         d = Document(title='Fixture')\n\
         d.file.save('fixture.txt', ContentFile(b'fixture bytes\\n' * 100))\n"
    );
    site.manage(&["shell", "-c", &code]);
}

/// A request to the Django site; `session`: with the admin's session and CSRF cookies.
fn dj(method: &str, target: &str, session: bool, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let cookie = format!("sessionid={SESSION}; csrftoken={CSRF}");
    let mut all = vec![("Host", DJANGO_HOST), ("User-Agent", "rsgi-differential/1")];
    if session {
        all.push(("Cookie", &cookie));
    }
    all.extend_from_slice(headers);
    request(method, target, &all, body)
}

/// The Django corpus: each view anonymous and logged in, each method, forms with CSRF,
/// an upload and its download, streaming, the admin, errors, sequences.
fn django_corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let pages = [
        "/",
        "/documents/",
        "/documents/upload/",
        "/documents/1/download/",
        "/documents/99/download/",
        "/stream/",
        "/session/",
        "/whoami/",
        "/whoami/?a=1&b=%C3%A9",
        "/accounts/login/",
        "/accounts/login/?next=/documents/",
        "/admin/",
        "/admin/login/",
        "/admin/uploads/document/",
        "/admin/uploads/document/1/change/",
        "/admin/auth/user/",
        "/admin/jsi18n/",
        "/static/uploads/site.css",
        "/no-such-page/",
        "/caf%C3%A9/",
        "/documents",
        "/admin/uploads/document/?q=fix",
        "/admin/uploads/document/?o=1",
    ];
    for session in [false, true] {
        let who = if session { "admin" } else { "anon" };
        for page in pages {
            for method in ["GET", "HEAD", "OPTIONS", "DELETE"] {
                cases.push(Case::single(
                    format!("{who} {method} {page}"),
                    dj(method, page, session, &[], b""),
                ));
            }
        }
    }
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    for (name, session, target, body) in [
        (
            "login without csrf",
            false,
            "/accounts/login/",
            "username=admin&password=x".to_owned(),
        ),
        (
            "login wrong password",
            true,
            "/accounts/login/",
            format!("csrfmiddlewaretoken={CSRF}&username=admin&password=wrong"),
        ),
        (
            "logout without csrf",
            true,
            "/accounts/logout/",
            String::new(),
        ),
        (
            "upload without csrf",
            true,
            "/documents/upload/",
            "title=x".to_owned(),
        ),
        (
            "upload without a file",
            true,
            "/documents/upload/",
            format!("csrfmiddlewaretoken={CSRF}&title=x"),
        ),
    ] {
        cases.push(Case::single(
            format!("POST {name}"),
            dj("POST", target, session, &form, body.as_bytes()),
        ));
    }
    // A real upload (then listed, and downloaded byte for byte), in one sequence.
    let boundary = "----rsgi-differential-django";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n\
         {CSRF}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\
         Caf\u{e9} report\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"report.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend((0..300_000u32).map(|i| (i % 251) as u8));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    cases.push(Case {
        name: "upload then list and download".into(),
        requests: vec![
            dj(
                "POST",
                "/documents/upload/",
                true,
                &[("Content-Type", &ct)],
                &body,
            ),
            dj("GET", "/documents/", true, &[], b""),
            dj("GET", "/documents/2/download/", true, &[], b""),
            dj("HEAD", "/documents/2/download/", true, &[], b""),
        ],
        mode: Mode::KeepAlive,
    });
    cases.push(Case::single(
        "GET /whoami/ disallowed host",
        request("GET", "/whoami/", &[("Host", "evil.example")], b""),
    ));
    for (name, header) in [
        ("forwarded proto", ("X-Forwarded-Proto", "https")),
        ("forwarded host", ("X-Forwarded-Host", "127.0.0.1:8443")),
    ] {
        cases.push(Case::single(
            format!("GET /whoami/ {name}"),
            dj("GET", "/whoami/", false, &[header], b""),
        ));
    }
    for mode in [Mode::KeepAlive, Mode::Pipelined] {
        cases.push(Case {
            name: format!("{mode:?} django sequence"),
            requests: [
                "/documents/",
                "/stream/",
                "/whoami/",
                "/no-such-page/",
                "/admin/",
            ]
            .iter()
            .map(|p| dj("GET", p, true, &[], b""))
            .collect(),
            mode,
        });
    }
    cases
}

/// What Django makes differ from one response to the next: CSRF tokens (masked anew for
/// each response), new session and CSRF cookies, the upload times in the listing, and
/// expiry times counted from the clock.
fn django_mask(_case: &Case, seen: &mut Seen) {
    for (k, v) in &mut seen.headers {
        // Times from the clock: the second may tick between the two servers' answers.
        if k.eq_ignore_ascii_case("expires") {
            *v = "<time>".into();
        }
        if k.eq_ignore_ascii_case("set-cookie") {
            let blanked = blank_after(v.as_bytes(), b"expires=", b';');
            *v = String::from_utf8_lossy(&blanked).into_owned();
        }
        if k.eq_ignore_ascii_case("set-cookie")
            && (v.starts_with("csrftoken=") || v.starts_with("sessionid="))
        {
            let (name, rest) = v.split_once('=').unwrap_or_default();
            let attributes = rest.split_once(';').map_or("", |(_, a)| a);
            *v = format!("{name}=<volatile>;{attributes}");
        }
    }
    seen.body = blank_after(&seen.body, b"name=\"csrfmiddlewaretoken\" value=\"", b'"');
    seen.body = blank_timestamps(&seen.body);
    // The admin list shows each document's upload time as "Dec. 6, 2026, 10:08 a.m.": the
    // two servers' sites were seeded a moment apart, and a minute may tick between them.
    seen.body = blank_after(&seen.body, b"<td class=\"field-created nowrap\">", b'<');
}

/// `body` with what follows each `marker`, up to `end`, blanked.
fn blank_after(body: &[u8], marker: &[u8], end: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.windows(marker.len()).position(|w| w == marker) {
        out.extend_from_slice(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let stop = rest.iter().position(|&b| b == end).unwrap_or(rest.len());
        out.extend_from_slice(b"<volatile>");
        rest = &rest[stop..];
    }
    out.extend_from_slice(rest);
    out
}

/// `body` with ISO 8601 times (`2026-12-06T08:00:00...` up to the next `<`) blanked.
fn blank_timestamps(body: &[u8]) -> Vec<u8> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let fits = |w: &[u8]| {
        w.iter().zip(SHAPE).all(|(&b, &s)| match s {
            b'd' => b.is_ascii_digit(),
            s => b == s,
        })
    };
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body.len() - i >= SHAPE.len() && fits(&body[i..i + SHAPE.len()]) {
            out.extend_from_slice(b"<time>");
            i += SHAPE.len();
            while i < body.len() && body[i] != b'<' && body[i] != b'"' {
                i += 1;
            }
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// Differences of the Django project explained in `docs/differences.md`.
const DJANGO_EXPLAINED: &[Explained] = &[
    // Django's APPEND_SLASH redirect has an empty body and no Content-Length.
    explained("anon GET /documents", "framing", "known-length"),
    explained("anon OPTIONS /documents", "framing", "known-length"),
    explained("anon DELETE /documents", "framing", "known-length"),
    explained("admin GET /documents", "framing", "known-length"),
    explained("admin OPTIONS /documents", "framing", "known-length"),
    explained("admin DELETE /documents", "framing", "known-length"),
];

#[test]
fn django_site_answers_as_under_gunicorn() {
    use crate::support::django::{APP, Site, project_dir};
    if !gunicorn::available() {
        eprintln!("skipped: no gunicorn in the test Python");
        return;
    }
    let (ours_site, theirs_site) = (Site::prepare(), Site::prepare());
    seed(&ours_site);
    seed(&theirs_site);
    let theirs = Gunicorn::start(APP, &project_dir(), &theirs_site.env(), &[]);
    let ours = ours_site.app_server().start();
    let cases = django_corpus();
    let requests: usize = cases.iter().map(|c| c.requests.len()).sum();
    assert!(requests >= 150, "only {requests} requests");
    let mut found = Vec::new();
    for case in &cases {
        let a = differential::run(ours.addr(), case, false);
        let b = differential::run(theirs.addr(), case, true);
        found.extend(differential::compare(case, &a, &b, &django_mask));
    }
    // The session and the upload worked: what was compared is the logged-in site.
    let listing = differential::run(
        ours.addr(),
        &Case::single("check", dj("GET", "/documents/", true, &[], b"")),
        false,
    );
    let listing = listing[0].as_ref().expect("the listing");
    assert!(listing.status_line.contains(" 200 "), "{listing:?}");
    let text = String::from_utf8_lossy(&listing.body);
    assert!(
        text.contains("Fixture") && text.contains("Caf\u{e9} report"),
        "{text}"
    );
    let report: Vec<String> = found.iter().map(ToString::to_string).collect();
    let path = repo_root().join("target/differential-django.txt");
    std::fs::write(&path, report.join("\n")).expect("write the report");
    let left = differential::unexplained(&found, DJANGO_EXPLAINED);
    assert!(
        left.is_empty(),
        "{} of {} differences unexplained (in {requests} requests; all in {}):\n{}",
        left.len(),
        found.len(),
        path.display(),
        left.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
