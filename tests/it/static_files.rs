//! `--static-map`: files served by the engine without Python, checked header by header
//! over raw sockets, with curl and with Python's `http.client`: types, validators, 304s,
//! ranges, HEAD, 405, precompressed siblings, caching, index files and fall-through.

use crate::support::clients::curl;
use crate::support::*;

/// A site: `public/` (mapped at `/static`) with a stylesheet, an image, a fingerprinted
/// script, precompressed siblings and a directory with an index.
pub fn site() -> TempDir {
    let dir = TempDir::new();
    dir.write("public/site.css", "body { color: red }\n");
    dir.write("public/site.css.br", "BROTLI-BYTES");
    dir.write("public/site.css.gz", "GZIP-BYTES-LONGER");
    dir.write("public/logo.png", [0x89u8, b'P', b'N', b'G', 0, 1, 2, 3]);
    dir.write("public/app.0123456789ab.js", "console.log(1)\n");
    dir.write("public/docs/index.html", "<h1>docs</h1>\n");
    dir.write("public/digits.txt", "0123456789");
    dir
}

/// The hello app with `/static` mapped to `dir/public` and `args`.
pub fn start(dir: &TempDir, args: &[&str]) -> Server {
    let map = format!("/static={}", dir.join("public").display());
    server("hello:application")
        .args(["--static-map", &map])
        .args(args)
        .start()
}

/// One request on a fresh connection.
pub fn ask(srv: &Server, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut c = srv.conn();
    c.send(&request(method, target, headers, b""));
    if method == "HEAD" {
        c.read_head_response()
    } else {
        c.read_response()
    }
}

#[test]
fn a_file_is_served_with_its_type_validators_and_length() {
    let dir = site();
    let srv = start(&dir, &[]);
    let r = ask(&srv, "GET", "/static/site.css", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.body, b"body { color: red }\n");
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("20"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert!(r.header("cache-control").is_none(), "{:?}", r.head);
    let etag = r.header("etag").expect("ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let modified = r.header("last-modified").expect("Last-Modified");
    assert!(modified.ends_with(" GMT"), "{modified}");
    let png = ask(&srv, "GET", "/static/logo.png", &[]);
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(png.body.len(), 8);
    // HEAD: the same head, no body.
    let head = ask(&srv, "HEAD", "/static/site.css", &[]);
    assert_eq!(head.status(), 200);
    assert_eq!(head.header("content-length"), Some("20"));
    assert_eq!(head.header("etag"), Some(etag));
    assert!(head.body.is_empty());
    // Beside the mount the application answers; the query string does not matter.
    assert_eq!(srv.get("/").text(), "Hello, World!\n");
    assert_eq!(
        ask(&srv, "GET", "/static/digits.txt?v=3", &[]).text(),
        "0123456789"
    );
}

#[test]
fn many_requests_keep_one_connection_and_are_access_logged() {
    let dir = site();
    let log = dir.join("access.log");
    let srv = start(&dir, &["--access-logfile", log.to_str().unwrap()]);
    let mut c = srv.conn();
    for _ in 0..3 {
        let r = c.roundtrip(&get_req("/static/digits.txt"));
        assert_eq!(r.text(), "0123456789");
        assert!(r.head.keeps_alive());
    }
    let r = c.roundtrip(&get_req("/static/nope.txt"));
    assert_eq!(r.status(), 404);
    assert!(r.head.keeps_alive(), "a 404 keeps the connection");
    let r = c.roundtrip(&get_req("/"));
    assert_eq!(r.text(), "Hello, World!\n");
    wait_until("the access lines", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.matches("\"GET /static/digits.txt HTTP/1.1\" 200 10")
            .count()
            == 3
            && text.contains("\"GET /static/nope.txt HTTP/1.1\" 404")
    });
}

#[test]
fn conditional_requests_answer_304_and_412() {
    let dir = site();
    let srv = start(&dir, &["--static-max-age", "60"]);
    let first = ask(&srv, "GET", "/static/site.css", &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();
    let r = ask(&srv, "GET", "/static/site.css", &[("If-None-Match", &etag)]);
    assert_eq!(r.status(), 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    let weak = format!("\"x\", W/{etag}");
    let r = ask(&srv, "GET", "/static/site.css", &[("If-None-Match", &weak)]);
    assert_eq!(r.status(), 304, "weak comparison for If-None-Match");
    let r = ask(
        &srv,
        "GET",
        "/static/site.css",
        &[("If-Modified-Since", &modified)],
    );
    assert_eq!(r.status(), 304);
    let old = "Sat, 01 Jan 2000 00:00:00 GMT";
    let r = ask(
        &srv,
        "GET",
        "/static/site.css",
        &[("If-Modified-Since", old)],
    );
    assert_eq!(r.status(), 200);
    // If-None-Match decides alone when both are sent.
    let both = [
        ("If-None-Match", "\"other\""),
        ("If-Modified-Since", &modified),
    ];
    assert_eq!(ask(&srv, "GET", "/static/site.css", &both).status(), 200);
    let r = ask(
        &srv,
        "GET",
        "/static/site.css",
        &[("If-Match", "\"other\"")],
    );
    assert_eq!(r.status(), 412);
    let r = ask(
        &srv,
        "HEAD",
        "/static/site.css",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r.status(), 304);
}

#[test]
fn single_ranges_are_partial_and_others_whole_or_unsatisfiable() {
    let dir = site();
    let srv = start(&dir, &[]);
    let get = |range: &str| ask(&srv, "GET", "/static/digits.txt", &[("Range", range)]);
    let r = get("bytes=2-5");
    assert_eq!(r.status(), 206);
    assert_eq!(r.text(), "2345");
    assert_eq!(r.header("content-range"), Some("bytes 2-5/10"));
    assert_eq!(r.header("content-length"), Some("4"));
    assert_eq!(get("bytes=7-").text(), "789");
    assert_eq!(get("bytes=-3").text(), "789");
    assert_eq!(
        get("bytes=5-999").header("content-range"),
        Some("bytes 5-9/10")
    );
    let r = get("bytes=10-");
    assert_eq!(r.status(), 416);
    assert_eq!(r.header("content-range"), Some("bytes */10"));
    // Several ranges: the whole file (documented), as RFC 9110 allows.
    let r = get("bytes=0-1,4-5");
    assert_eq!((r.status(), r.text().as_str()), (200, "0123456789"));
    let r = get("lines=1-2");
    assert_eq!(r.status(), 200);
    // If-Range: the range only while the file is the one the client has.
    let etag = get("bytes=0-0").header("etag").unwrap().to_owned();
    let r = ask(
        &srv,
        "GET",
        "/static/digits.txt",
        &[("Range", "bytes=0-1"), ("If-Range", &etag)],
    );
    assert_eq!((r.status(), r.text().as_str()), (206, "01"));
    let stale = [("Range", "bytes=0-1"), ("If-Range", "\"stale\"")];
    let r = ask(&srv, "GET", "/static/digits.txt", &stale);
    assert_eq!((r.status(), r.text().as_str()), (200, "0123456789"));
    // HEAD ignores Range.
    let r = ask(
        &srv,
        "HEAD",
        "/static/digits.txt",
        &[("Range", "bytes=0-1")],
    );
    assert_eq!((r.status(), r.header("content-length")), (200, Some("10")));
}

#[test]
fn methods_other_than_get_and_head_are_405_with_allow() {
    let dir = site();
    let srv = start(&dir, &[]);
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let r = ask(&srv, method, "/static/site.css", &[]);
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
    }
    // A request body to the static mount is not read: the connection closes after.
    let mut c = srv.conn();
    let r = c.roundtrip(&request("POST", "/static/site.css", &[], b"payload"));
    assert_eq!(r.status(), 405);
    assert!(!r.head.keeps_alive());
}

#[test]
fn precompressed_siblings_follow_accept_encoding_q_values() {
    let dir = site();
    let srv = start(&dir, &[]);
    let with = |accept: &str| {
        ask(
            &srv,
            "GET",
            "/static/site.css",
            &[("Accept-Encoding", accept)],
        )
    };
    let br = with("gzip, deflate, br");
    assert_eq!(br.text(), "BROTLI-BYTES");
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(br.header("vary"), Some("Accept-Encoding"));
    let gz = with("br;q=0.5, gzip");
    assert_eq!(gz.text(), "GZIP-BYTES-LONGER");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_ne!(
        gz.header("etag"),
        br.header("etag"),
        "each coding its own tag"
    );
    assert_eq!(with("br;q=0, gzip;q=0").text(), "body { color: red }\n");
    assert_eq!(with("identity").header("content-encoding"), None);
    assert_eq!(with("*").text(), "BROTLI-BYTES");
    // A sibling's range is a range of the coded bytes.
    let r = ask(
        &srv,
        "GET",
        "/static/site.css",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-3")],
    );
    assert_eq!((r.status(), r.text().as_str()), (206, "GZIP"));
    // A file without siblings is itself whatever the client accepts.
    let js = ask(
        &srv,
        "GET",
        "/static/digits.txt",
        &[("Accept-Encoding", "br, gzip")],
    );
    assert_eq!(
        (js.text().as_str(), js.header("content-encoding")),
        ("0123456789", None)
    );
}

#[test]
fn max_age_marks_fingerprinted_names_immutable() {
    let dir = site();
    let srv = start(&dir, &["--static-max-age", "31536000"]);
    let hashed = ask(&srv, "GET", "/static/app.0123456789ab.js", &[]);
    assert_eq!(
        hashed.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        hashed.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let plain = ask(&srv, "GET", "/static/site.css", &[]);
    assert_eq!(
        plain.header("cache-control"),
        Some("public, max-age=31536000")
    );
}

#[test]
fn directories_are_404_unless_static_index() {
    let dir = site();
    let srv = start(&dir, &[]);
    for path in ["/static/docs/", "/static/docs", "/static/", "/static"] {
        assert_eq!(ask(&srv, "GET", path, &[]).status(), 404, "{path}");
    }
    // A file named as a directory is not one.
    assert_eq!(ask(&srv, "GET", "/static/site.css/", &[]).status(), 404);
    drop(srv);
    let srv = start(&dir, &["--static-index"]);
    let r = ask(&srv, "GET", "/static/docs/", &[]);
    assert_eq!((r.status(), r.text().as_str()), (200, "<h1>docs</h1>\n"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = ask(&srv, "GET", "/static/docs", &[]);
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("location"), Some("/static/docs/"));
    assert_eq!(
        ask(&srv, "GET", "/static/", &[]).status(),
        404,
        "no index.html there"
    );
}

#[test]
fn fallthrough_sends_what_is_not_served_to_the_app() {
    let dir = site();
    let srv = start(&dir, &["--static-fallthrough"]);
    assert_eq!(
        ask(&srv, "GET", "/static/missing.css", &[]).text(),
        "Hello, World!\n"
    );
    assert_eq!(
        ask(&srv, "POST", "/static/site.css", &[]).text(),
        "Hello, World!\n"
    );
    assert_eq!(
        ask(&srv, "GET", "/static/.env", &[]).text(),
        "Hello, World!\n"
    );
    assert_eq!(
        ask(&srv, "GET", "/static/site.css", &[]).text(),
        "body { color: red }\n"
    );
}

#[test]
fn the_longest_prefix_wins() {
    let dir = site();
    dir.write("img/site.css", "the image mount");
    let img = format!("/static/img={}", dir.join("img").display());
    let srv = start(&dir, &["--static-map", &img]);
    assert_eq!(
        ask(&srv, "GET", "/static/img/site.css", &[]).text(),
        "the image mount"
    );
    assert_eq!(
        ask(&srv, "GET", "/static/site.css", &[]).text(),
        "body { color: red }\n"
    );
    // Whole segments only: /staticky is the application's.
    assert_eq!(ask(&srv, "GET", "/staticky", &[]).text(), "Hello, World!\n");
}

#[test]
fn curl_gets_files_ranges_and_revalidates() {
    let dir = site();
    let srv = start(&dir, &[]);
    let url = format!("http://{}/static/digits.txt", srv.addr());
    let out = curl(&["--range", "3-4", &url]);
    assert_eq!(out.stdout, b"34");
    let head = curl(&["--head", &url]);
    let text = String::from_utf8_lossy(&head.stdout).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("content-length: 10"), "{text}");
    let etag = text
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .trim()
        .to_owned();
    let code = curl(&[
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        "--header",
        &format!("If-None-Match: {etag}"),
        &url,
    ]);
    assert_eq!(code.stdout, b"304");
    let css = format!("http://{}/static/site.css", srv.addr());
    let br = curl(&[
        "--header",
        "Accept-Encoding: br",
        "--dump-header",
        "-",
        &css,
    ]);
    let text = String::from_utf8_lossy(&br.stdout).to_ascii_lowercase();
    assert!(text.contains("content-encoding: br"), "{text}");
}

#[test]
fn python_http_client_sees_the_same_rules() {
    let dir = site();
    let srv = start(&dir, &[]);
    let script = r#"
import http.client, sys
host, port = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection(host, port, timeout=30)
c.request("GET", "/static/digits.txt")
r = c.getresponse(); body = r.read()
assert (r.status, body) == (200, b"0123456789"), (r.status, body)
etag = r.getheader("ETag")
c.request("GET", "/static/digits.txt", headers={"If-None-Match": etag})
r = c.getresponse(); assert (r.status, r.read()) == (304, b""), r.status
c.request("GET", "/static/digits.txt", headers={"Range": "bytes=1-2"})
r = c.getresponse(); assert (r.status, r.read()) == (206, b"12"), r.status
c.request("HEAD", "/static/digits.txt")
r = c.getresponse(); assert (r.status, r.getheader("Content-Length"), r.read()) == (200, "10", b"")
c.request("DELETE", "/static/digits.txt")
r = c.getresponse(); assert (r.status, r.getheader("Allow")) == (405, "GET, HEAD"); r.read()
c.request("GET", "/static/../secret")
r = c.getresponse(); assert r.status == 404, r.status; r.read()
c.request("GET", "/")
r = c.getresponse(); assert r.read() == b"Hello, World!\n"
print("ok")
"#;
    let addr = srv.addr();
    let out = std::process::Command::new(test_python())
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"ok\n");
}

#[test]
fn a_uwsgi_ini_and_our_toml_map_static_files() {
    let dir = site();
    let public = dir.join("public");
    dir.write(
        "uwsgi.ini",
        format!(
            "[uwsgi]\nchdir = {}\nmodule = hello:application\nhttp = 127.0.0.1:0\nstatic-map = /assets={}\n",
            pyapps().display(),
            public.display()
        ),
    );
    let srv = bare()
        .cwd(dir.path())
        .args(["--ini", "uwsgi.ini"])
        .expect_listeners(1)
        .start();
    assert_eq!(
        ask(&srv, "GET", "/assets/digits.txt", &[]).text(),
        "0123456789"
    );
    drop(srv);
    dir.write(
        "rsgi.toml",
        format!(
            "app = \"hello:application\"\nchdir = \"{}\"\nbind = [\"127.0.0.1:0\"]\nstatic_map = [\"/files={}\"]\nstatic_max_age = 5\n",
            pyapps().display(),
            public.display()
        ),
    );
    let srv = bare().cwd(dir.path()).expect_listeners(1).start();
    let r = ask(&srv, "GET", "/files/digits.txt", &[]);
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
}

#[test]
fn bad_static_settings_name_the_option_and_exit_2() {
    let dir = site();
    for (args, needle) in [
        (vec!["--static-map", "static=/tmp"], "--static-map"),
        (vec!["--static-map", "/s=/no/such/dir"], "URL_PREFIX=DIR"),
        (vec!["--static-max-age", "-1"], "--static-max-age"),
        (
            vec!["--sendfile-header", "X-Other"],
            "X-Sendfile, X-Accel-Redirect",
        ),
        (vec!["--sendfile-header", "X-Sendfile"], "--sendfile-root"),
    ] {
        let run = server("hello:application")
            .cwd(dir.path())
            .args(&args)
            .run();
        assert_eq!(run.code(), Some(2), "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn files_go_through_tls_whole_and_in_ranges() {
    use crate::support::tls::{Pki, curl as tls_curl, port, tls_server};
    let dir = site();
    let content: Vec<u8> = (0..3_000_017u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("public/big.bin"), &content).expect("write");
    let pki = Pki::new();
    let map = format!("/static={}", dir.join("public").display());
    let srv = tls_server("hello:application", &pki)
        .args(["--static-map", &map])
        .start();
    let url = format!("https://127.0.0.1:{}/static/big.bin", port(&srv));
    let out = tls_curl(&pki, &[&url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == content,
        "the bytes differ ({} received)",
        out.stdout.len()
    );
    let out = tls_curl(&pki, &["--range", "1000000-1000099", &url]);
    assert_eq!(out.stdout, &content[1_000_000..1_000_100]);
}

#[test]
fn a_django_collectstatic_tree_is_served_with_immutable_hashed_names() {
    let dir = TempDir::new();
    dir.write(
        "site/app/static/app/site.css",
        "body { background: url(\"logo.png\") }\n",
    );
    dir.write("site/app/static/app/logo.png", [0x89u8, b'P', b'N', b'G']);
    dir.write("site/app/__init__.py", "");
    dir.write(
        "site/settings.py",
        format!(
            "SECRET_KEY = 'test'\nDEBUG = False\nALLOWED_HOSTS = ['*']\nROOT_URLCONF = 'urls'\n\
             INSTALLED_APPS = ['django.contrib.staticfiles', 'app']\n\
             STATIC_URL = '/static/'\nSTATIC_ROOT = {:?}\n\
             STORAGES = {{'staticfiles': {{'BACKEND': \
             'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}}}}\n",
            dir.join("collected").display().to_string()
        ),
    );
    dir.write(
        "site/urls.py",
        "from django.http import HttpResponse\nfrom django.urls import path\n\
         urlpatterns = [path('', lambda r: HttpResponse('django says hi'))]\n",
    );
    dir.write(
        "site/wsgi.py",
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n\
         from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
    );
    let collect = std::process::Command::new(test_python())
        .args(["-c", "import django.core.management as m; m.execute_from_command_line(['manage', 'collectstatic', '--noinput'])"])
        .current_dir(dir.join("site"))
        .env("DJANGO_SETTINGS_MODULE", "settings")
        .env("PYTHONPATH", dir.join("site"))
        .output()
        .expect("collectstatic");
    if String::from_utf8_lossy(&collect.stderr).contains("No module named 'django'") {
        panic!("Django is not installed: pip install -r requirements-dev.txt");
    }
    assert!(
        collect.status.success(),
        "{}",
        String::from_utf8_lossy(&collect.stderr)
    );
    let manifest =
        std::fs::read_to_string(dir.join("collected/staticfiles.json")).expect("manifest");
    let hashed = serde_json::from_str::<serde_json::Value>(&manifest).expect("json")["paths"]
        ["app/site.css"]
        .as_str()
        .expect("site.css in the manifest")
        .to_owned();
    let map = format!("/static={}", dir.join("collected").display());
    let b = server("wsgi:application")
        .cwd(dir.join("site"))
        .no_chdir()
        .args(["--chdir", dir.join("site").to_str().unwrap()])
        .args(["--static-map", &map, "--static-max-age", "31536000"]);
    let srv = match project_venv() {
        Some(venv) => b.arg("--virtualenv").arg(venv),
        // Without the project venv, the interpreter's own site-packages must have Django.
        None => b,
    }
    .start();
    assert_eq!(srv.get("/").text(), "django says hi");
    let r = ask(&srv, "GET", &format!("/static/{hashed}"), &[]);
    assert_eq!(r.status(), 200, "{hashed}");
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    // The manifest storage rewrote the url() to the hashed image, which is served too.
    let css = r.text();
    let logo = css.split('"').nth(1).expect("the url");
    assert!(logo.starts_with("logo.") && logo.ends_with(".png"), "{css}");
    let img = ask(&srv, "GET", &format!("/static/app/{logo}"), &[]);
    assert_eq!(
        (img.status(), img.header("content-type")),
        (200, Some("image/png"))
    );
    // The unhashed name is there too, without immutable.
    let plain = ask(&srv, "GET", "/static/app/site.css", &[]);
    assert_eq!(
        plain.header("cache-control"),
        Some("public, max-age=31536000")
    );
    // The manifest itself is a JSON file like any other.
    let json = ask(&srv, "GET", "/static/staticfiles.json", &[]);
    assert_eq!(
        json.header("content-type"),
        Some("application/json; charset=utf-8")
    );
}
