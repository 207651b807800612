//! The demo Django project (`examples/django_site/`) served by rsgi-server, with `DEBUG`
//! off: directly, behind nginx (`proxy_pass` over a Unix socket with `X-Forwarded-*`) and
//! behind HAProxy (PROXY protocol v2). A visitor is curl with a cookie jar: it logs in
//! through the form (CSRF cookie and token), uploads a file (multipart), sees it listed,
//! downloads it (FileResponse through `wsgi.file_wrapper`) and logs out by POST.

use crate::support::curl_session::{CurlSession, Reply};
use crate::support::django::{ADMIN_PASSWORD, ADMIN_USER, Site};
use crate::support::haproxy::{self, Haproxy};
use crate::support::nginx::{self, Nginx};
use crate::support::*;
use std::path::Path;

/// The `csrfmiddlewaretoken` of the form on `page` (masked, as Django renders it).
fn form_token(page: &Reply) -> String {
    let text = page.text();
    let at = text
        .find("name=\"csrfmiddlewaretoken\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF token in the form: {page:?}"));
    let rest = &text[at + "name=\"csrfmiddlewaretoken\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Logs in through the login form as the superuser; `origin` is the site's origin as the
/// visitor sees it (sent as a browser sends it on a POST).
fn log_in(visitor: &CurlSession, origin: &str) {
    let page = visitor.get("/accounts/login/?next=/documents/");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(visitor.cookie("csrftoken").is_some(), "no CSRF cookie");
    let r = visitor.request(
        "/accounts/login/",
        &[
            "-H",
            &format!("Origin: {origin}"),
            "--data-urlencode",
            &format!("csrfmiddlewaretoken={}", form_token(&page)),
            "--data-urlencode",
            &format!("username={ADMIN_USER}"),
            "--data-urlencode",
            &format!("password={ADMIN_PASSWORD}"),
            "--data-urlencode",
            "next=/documents/",
        ],
    );
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/documents/")),
        "{r:?}"
    );
    assert!(visitor.cookie("sessionid").is_some(), "no session cookie");
}

/// Logs out by POST (Django 5 refuses GET), after which the list wants a login again.
fn log_out(visitor: &CurlSession, origin: &str) {
    let list = visitor.get("/documents/");
    let r = visitor.request(
        "/accounts/logout/",
        &[
            "-H",
            &format!("Origin: {origin}"),
            "--data-urlencode",
            &format!("csrfmiddlewaretoken={}", form_token(&list)),
        ],
    );
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/accounts/login/")),
        "{r:?}"
    );
    let r = visitor.get("/documents/");
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/accounts/login/?next=/documents/")),
        "{r:?}"
    );
}

/// Bytes of every value, 3 MB: more than Django keeps in memory (2.5 MB, beyond which the
/// upload is streamed from `wsgi.input` to a temporary file), one sendfile call and one
/// socket buffer.
fn payload() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// Uploads `body` as file `name` with `title` through the upload form, which redirects to
/// the list.
fn upload(visitor: &CurlSession, origin: &str, title: &str, name: &str, body: &[u8]) {
    let file = visitor.dir().join(name);
    std::fs::write(&file, body).unwrap();
    let form = visitor.get("/documents/upload/");
    assert_eq!(form.status, 200, "{form:?}");
    let r = visitor.request(
        "/documents/upload/",
        &[
            "-H",
            &format!("Origin: {origin}"),
            "-F",
            &format!("csrfmiddlewaretoken={}", form_token(&form)),
            "-F",
            &format!("title={title}"),
            "-F",
            &format!("file=@{}", file.display()),
        ],
    );
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/documents/")),
        "{r:?}"
    );
}

/// The whole visit: log in, upload a file, find it listed, download it (same bytes,
/// attachment headers), log out; the upload is stored under `media`.
fn visit(visitor: &CurlSession, origin: &str, media: &Path) {
    // Anonymous visitors are sent to the login page.
    let r = visitor.get("/documents/");
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/accounts/login/?next=/documents/")),
        "{r:?}"
    );
    log_in(visitor, origin);
    let body = payload();
    upload(
        visitor,
        origin,
        "Quarterly report ✓",
        "quarterly report.bin",
        &body,
    );
    let stored = media.join("documents/quarterly_report.bin");
    assert_eq!(std::fs::read(&stored).expect("the stored upload"), body);

    let list = visitor.get("/documents/");
    assert_eq!(list.status, 200, "{list:?}");
    let text = list.text();
    assert!(text.contains("Quarterly report ✓"), "{text}");
    let at = text
        .find("class=\"download\" href=\"")
        .expect("a download link")
        + 23;
    let link = &text[at..at + text[at..].find('"').unwrap()];
    assert!(
        link.starts_with("/documents/") && link.ends_with("/download/"),
        "{link}"
    );

    let r = visitor.get(link);
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.body.len(), body.len());
    assert!(
        r.body == body,
        "the downloaded bytes differ from the uploaded ones"
    );
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"quarterly_report.bin\"")
    );
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));

    log_out(visitor, origin);
}

#[test]
fn a_visitor_logs_in_uploads_sees_the_list_downloads_and_logs_out() {
    let site = Site::prepare();
    // Two workers: the session and the CSRF token hold whichever one answers.
    let srv = site.server().workers(2).start();
    let base = format!("http://{}", srv.addr());
    let visitor = CurlSession::new(&base);
    visit(&visitor, &base, &site.media_root());

    // HEAD of a download, logged in again: the same head and no body (the wrapped file is
    // closed unsent), so the next response on the connection is intact.
    log_in(&visitor, &base);
    let cookie = format!("sessionid={}", visitor.cookie("sessionid").unwrap());
    let mut c = srv.conn();
    let download = "/documents/1/download/";
    c.send(&request("HEAD", download, &[("Cookie", &cookie)], b""));
    let head = c.read_head_response();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.header("content-length"),
        Some(payload().len().to_string().as_str())
    );
    let r = c.roundtrip(&request("GET", download, &[("Cookie", &cookie)], b""));
    assert_eq!(r.status(), 200);
    assert!(r.body == payload());
}

#[test]
fn a_form_posted_without_the_csrf_token_is_refused() {
    let site = Site::prepare();
    let srv = site.server().start();
    let visitor = CurlSession::new(format!("http://{}", srv.addr()));
    visitor.get("/accounts/login/");
    let r = visitor.request(
        "/accounts/login/",
        &[
            "-d",
            &format!("username={ADMIN_USER}&password={ADMIN_PASSWORD}"),
        ],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert!(visitor.cookie("sessionid").is_none());
}

#[test]
fn a_streaming_response_arrives_chunk_by_chunk() {
    let site = Site::prepare();
    let srv = site.server().start();
    let mut c = srv.conn();
    c.send(&get_req("/stream/"));
    let head = c.read_head().expect("a response head");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("content-length"), None);
    // Each piece the view yields is sent as it comes, one chunk each.
    let mut chunks = Vec::new();
    while let Some(chunk) = c.read_chunk().expect("a chunk") {
        chunks.push(String::from_utf8(chunk).unwrap());
    }
    let expected: Vec<String> = (1..=5).map(|i| format!("chunk {i} of 5\n")).collect();
    assert_eq!(chunks, expected);
    // And the connection stays usable.
    assert_eq!(c.roundtrip(&get_req("/stream/")).status(), 200);
}

#[test]
fn the_session_counter_counts_per_session() {
    let site = Site::prepare();
    let srv = site.server().start();
    let base = format!("http://{}", srv.addr());
    let visits = |visitor: &CurlSession| {
        let r = visitor.get("/session/");
        assert_eq!(r.status, 200, "{r:?}");
        let text = r.text();
        let at = text.find("<span id=\"visits\">").expect("the counter") + 18;
        text[at..at + text[at..].find('<').unwrap()].to_owned()
    };
    let one = CurlSession::new(&base);
    assert_eq!(visits(&one), "1");
    assert_eq!(visits(&one), "2");
    assert_eq!(visits(&one), "3");
    let other = CurlSession::new(&base);
    assert_eq!(visits(&other), "1");
    assert_eq!(visits(&one), "4");
}

#[test]
fn the_admin_answers_after_login_and_static_files_come_from_the_engine() {
    let site = Site::prepare();
    let srv = site.server().start();
    let base = format!("http://{}", srv.addr());
    let visitor = CurlSession::new(&base);
    let r = visitor.get("/admin/");
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("/admin/login/?next=/admin/")),
        "{r:?}"
    );
    log_in(&visitor, &base);
    for page in [
        "/admin/",
        "/admin/uploads/document/",
        "/admin/uploads/document/add/",
        "/admin/auth/user/",
    ] {
        let r = visitor.get(page);
        assert_eq!(r.status, 200, "{page}: {r:?}");
    }
    let admin = visitor.get("/admin/").text();
    assert!(admin.contains("Documents"), "{admin}");

    // The admin's stylesheet, by its hashed name from the manifest, is served by
    // --static-map (with DEBUG off Django serves no static files): validators, 304.
    let at = admin
        .find("/static/admin/css/base.")
        .expect("the admin stylesheet");
    let css = &admin[at..at + admin[at..].find('"').unwrap()];
    let r = visitor.get(css);
    assert_eq!(r.status, 200, "{css}: {:?}", r.headers);
    let etag = r.header("etag").expect("an ETag").to_owned();
    assert!(r.header("last-modified").is_some());
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    let hashed_name = css.rsplit('/').next().unwrap();
    let on_disk = std::fs::read(site.static_root().join("admin/css").join(hashed_name));
    assert!(r.body == on_disk.expect("the collected file"));
    let r = visitor.request(css, &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!(r.status, 304, "{:?}", r.headers);
    assert!(r.body.is_empty());
}

#[test]
fn an_unknown_page_is_the_projects_404() {
    let site = Site::prepare();
    let srv = site.server().start();
    let r = srv.get("/no/such/page/");
    assert_eq!(r.status(), 404);
    let text = r.text();
    assert!(text.contains("id=\"not-found\""), "{text}");
    assert!(text.contains("/no/such/page/"), "{text}");
    // A static path that is not there is the engine's 404, not Django's page.
    let r = srv.get("/static/no-such-file.css");
    assert_eq!(r.status(), 404);
    assert!(!r.text().contains("id=\"not-found\""));
}

/// The public name the proxies are reached by in these tests.
const PUBLIC_HOST: &str = "docs.example";

#[test]
fn behind_nginx_over_a_unix_socket_django_sees_the_client_scheme_and_host() {
    if !nginx::available() {
        return;
    }
    let site = Site::prepare();
    let sock = site.dir().join("app.sock");
    let _server = site
        .server()
        .bind(format!("unix:{}", sock.display()))
        .args(["--forwarded-allow-ips", "unix"])
        .env("DJANGO_ALLOWED_HOSTS", PUBLIC_HOST)
        .start();
    // As nginx terminating TLS would say it: the scheme is https whatever the test's
    // plain-HTTP listener is. Host is left at nginx's default for a Unix upstream
    // (`localhost`, not an allowed host), so only X-Forwarded-Host can name the site.
    let nginx = Nginx::start(&format!(
        "location / {{\n  proxy_pass http://unix:{}:;\n\
           proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
           proxy_set_header X-Forwarded-Proto https;\n\
           proxy_set_header X-Forwarded-Host $host;\n}}",
        sock.display()
    ));
    let port = nginx.addr().port();
    let visitor = CurlSession::new(format!("http://{PUBLIC_HOST}:{port}")).option(&[
        "--resolve",
        &format!("{PUBLIC_HOST}:{port}:127.0.0.1"),
        "--interface",
        "127.0.0.2",
    ]);
    let me = visitor.get("/whoami/");
    assert_eq!(me.status, 200, "{me:?}\n{}", nginx.error_log());
    let me: Json = serde_json::from_slice(&me.body).expect("JSON");
    assert_eq!(me["remote_addr"].as_str(), Some("127.0.0.2"));
    assert_eq!(me["scheme"].as_str(), Some("https"));
    assert_eq!(me["is_secure"].as_bool(), Some(true));
    assert_eq!(me["host"].as_str(), Some(PUBLIC_HOST));
    assert_eq!(
        me["absolute_uri"].as_str(),
        Some("https://docs.example/whoami/")
    );
    // The CSRF check of a secure request wants the https origin.
    visit(
        &visitor,
        &format!("https://{PUBLIC_HOST}"),
        &site.media_root(),
    );
}

#[test]
fn behind_haproxy_with_proxy_protocol_v2_remote_addr_is_the_clients() {
    if !haproxy::available() {
        return;
    }
    let site = Site::prepare();
    // Threads this time: the same visit with requests on a worker's threads.
    let srv = site
        .server()
        .args(["--proxy-protocol=v2", "--threads", "4"])
        .start();
    let proxy = Haproxy::start_with(&format!(
        "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n\
         \x20   timeout server 30s\n\n\
         frontend www\n    bind fd@3\n    default_backend django\n\n\
         backend django\n    server app1 {} send-proxy-v2\n",
        srv.addr()
    ));
    let base = format!("http://{}", proxy.addr);
    let visitor = CurlSession::new(&base).option(&["--interface", "127.0.0.3"]);
    let me = visitor.get("/whoami/");
    assert_eq!(me.status, 200, "{me:?}\n{}", proxy.log_text());
    let me: Json = serde_json::from_slice(&me.body).expect("JSON");
    assert_eq!(me["remote_addr"].as_str(), Some("127.0.0.3"));
    assert_eq!(me["scheme"].as_str(), Some("http"));
    assert_eq!(me["is_secure"].as_bool(), Some(false));
    visit(&visitor, &base, &site.media_root());
}

#[test]
fn the_project_passes_djangos_system_checks() {
    let site = Site::prepare();
    let check = site.manage(&["check"]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("no issues"), "{out}");
}

#[test]
fn with_debug_on_the_project_serves_its_static_files_without_the_engine() {
    let site = Site::prepare();
    let srv = site.app_server().env("DJANGO_DEBUG", "1").start();
    let page = srv.get("/accounts/login/").text();
    // Templates name the plain file, which staticfiles' view finds in the app.
    assert!(page.contains("/static/uploads/site.css"), "{page}");
    let r = srv.get("/static/uploads/site.css");
    assert_eq!(r.status(), 200);
    let source = std::fs::read_to_string(
        crate::support::django::project_dir().join("uploads/static/uploads/site.css"),
    )
    .unwrap();
    assert_eq!(r.text(), source);
}

#[test]
fn a_download_is_sent_by_sendfile_through_wsgi_file_wrapper() {
    if !std::path::Path::new(STRACE).exists() {
        eprintln!("skipped: {STRACE} is not installed");
        return;
    }
    let site = Site::prepare();
    let trace = site.dir().join("sendfile.trace");
    let trace_arg = trace.display().to_string();
    let srv = site
        .server()
        .wrapper(
            STRACE,
            [
                "-f",
                "-qq",
                "-e",
                "trace=sendfile",
                "-e",
                "signal=none",
                "-o",
                &trace_arg,
            ],
        )
        .start();
    let base = format!("http://{}", srv.addr());
    let visitor = CurlSession::new(&base);
    log_in(&visitor, &base);
    let body = payload();
    upload(&visitor, &base, "traced", "traced.bin", &body);
    let r = visitor.get("/documents/1/download/");
    assert!(r.status == 200 && r.body == body, "{:?}", r.headers);
    // The worker's sendfile(2) calls sent the whole file (Python never read it).
    let sent: u64 = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("sendfile"))
        .filter_map(|l| l.rsplit("= ").next()?.trim().parse::<u64>().ok())
        .sum();
    assert!(sent >= body.len() as u64, "sendfile sent {sent} bytes");
}

/// strace (Debian's package), for the test that watches the server's system calls.
const STRACE: &str = "/usr/bin/strace";
