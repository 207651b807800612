//! Real clients against the server: Python's http.client (from the project venv when it
//! exists) and curl, plus a Flask app.

use crate::support::clients::curl;
use crate::support::*;
use std::process::{Command, Output};

fn python(script: &str, args: &[&str]) -> Output {
    let out = Command::new(test_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const HTTP_CLIENT_SCRIPT: &str = r#"
import http.client, sys, zlib
host, port = sys.argv[1], int(sys.argv[2])
conn = http.client.HTTPConnection(host, port, timeout=60)
# Several requests on one persistent connection.
conn.request("GET", "/hello")
r = conn.getresponse(); body = r.read()
assert r.status == 200 and body == b"Hello, World!\n", (r.status, body)
conn.request("POST", "/?mode=read", body=b"x" * 100000)
r = conn.getresponse(); body = r.read()
assert r.status == 200 and body == b"x" * 100000, (r.status, len(body))
# A chunked upload: http.client chunks an iterable body.
conn.request("POST", "/?mode=summary", body=iter([b"abc", b"defg", b""]),
             headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
r = conn.getresponse(); body = r.read()
assert body == f"7 {zlib.crc32(b'abcdefg')}".encode(), body
# Expect: 100-continue is handled by the server (http.client just sends the body).
conn.request("PUT", "/?mode=read", body=b"put body", headers={"Expect": "100-continue"})
r = conn.getresponse(); body = r.read()
assert body == b"put body", body
print("ok")
"#;

#[test]
fn python_http_client_over_one_connection() {
    // cases.router serves /hello and the upload app, so one keep-alive connection can
    // carry a GET, a POST, a chunked upload and an Expect: 100-continue upload.
    let server = server("cases.router").start();
    let addr = server.addr();
    let out = python(HTTP_CLIENT_SCRIPT, &["127.0.0.1", &addr.port().to_string()]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn curl_get_and_head() {
    let server = server("hello").start();
    let url = format!("http://{}/", server.addr());
    let out = curl(&[&url]);
    assert_eq!(out.stdout, b"Hello, World!\n");
    let out = curl(&["--head", &url]);
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("server: rsgi-server"),
        "{head}"
    );
}

#[test]
fn curl_http10() {
    let server = server("hello").start();
    let out = curl(&["--http1.0", &format!("http://{}/", server.addr())]);
    assert_eq!(out.stdout, b"Hello, World!\n");
}

#[test]
fn curl_post_upload_of_a_file() {
    let dir = TempDir::new();
    let data = pattern(5 << 20);
    let file = dir.write("up.bin", &data);
    let server = server("upload").start();
    let url = format!("http://{}/?mode=summary", server.addr());
    let out = curl(&[
        "--data-binary",
        &format!("@{}", file.display()),
        "-H",
        "Content-Type: application/octet-stream",
        &url,
    ]);
    assert_upload_summary(&out, &data);
}

#[test]
fn curl_chunked_upload() {
    let dir = TempDir::new();
    let data = pattern(3 << 20);
    let file = dir.write("chunky.bin", &data);
    let server = server("upload").start();
    let url = format!("http://{}/?mode=summary", server.addr());
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", file.display()),
        &url,
    ]);
    assert_upload_summary(&out, &data);
}

#[test]
fn curl_expect_100_continue_upload() {
    // curl sends Expect: 100-continue for bodies over 1 MiB and waits for the 100.
    let dir = TempDir::new();
    let data = pattern(2 << 20);
    let file = dir.write("big.bin", &data);
    let server = server("upload").start();
    let url = format!("http://{}/?mode=summary", server.addr());
    let out = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "60",
        "--data-binary",
        &format!("@{}", file.display()),
        &url,
    ]);
    assert_upload_summary(&out, &data);
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(
        verbose.contains("HTTP/1.1 100"),
        "no 100 Continue seen:\n{verbose}"
    );
}

#[test]
fn curl_streamed_download() {
    let server = server("stream").start();
    let url = format!("http://{}/?chunks=64&size=65536", server.addr());
    let out = curl(&[&url]);
    assert_eq!(out.stdout.len(), 64 * 65536);
    for (i, chunk) in out.stdout.chunks(65536).enumerate() {
        assert!(
            chunk.iter().all(|&b| b == b'A' + (i % 26) as u8),
            "chunk {i}"
        );
    }
}

#[test]
fn curl_over_unix_socket() {
    let dir = TempDir::new();
    let sock = dir.join("curl.sock");
    let server = server("hello")
        .bind(format!("unix:{}", sock.display()))
        .start();
    let out = curl(&[
        "--unix-socket",
        server.unix_path().to_str().unwrap(),
        "http://localhost/",
    ]);
    assert_eq!(out.stdout, b"Hello, World!\n");
}

fn flask_server() -> Server {
    let b = server("flask_app:app");
    let b = match project_venv() {
        Some(venv) => b.arg("--virtualenv").arg(venv),
        // Without the project venv, the interpreter's own site-packages must have Flask.
        None => b,
    };
    b.start()
}

#[test]
fn flask_app_serves_routes() {
    let server = flask_server();
    let base = format!("http://{}", server.addr());
    assert_eq!(curl(&[&format!("{base}/")]).stdout, b"Hello from Flask!\n");
    let json = String::from_utf8(curl(&[&format!("{base}/json?a=1")]).stdout).unwrap();
    let j = serde_json::from_str::<Json>(&json).unwrap();
    assert_eq!(j["path"].as_str(), Some("/json"));
    assert_eq!(j["args"]["a"].as_str(), Some("1"));
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/missing"),
    ]);
    assert_eq!(out.stdout, b"404");
    let out = curl(&["--data-binary", "posted text", &format!("{base}/echo")]);
    let j = serde_json::from_str::<Json>(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(j["length"].as_i64(), Some(11));
    assert_eq!(j["text"].as_str(), Some("posted text"));
}

#[test]
fn flask_app_sees_root_path() {
    let b = server("flask_app:app").args(["--root-path", "/mnt"]);
    let b = match project_venv() {
        Some(venv) => b.arg("--virtualenv").arg(venv),
        None => b,
    };
    let server = b.start();
    let j = server.get("/mnt/json").json();
    assert_eq!(j["path"].as_str(), Some("/json"));
    assert_eq!(j["script_root"].as_str(), Some("/mnt"));
}

/// The upload app's `summary` mode answered the length and CRC-32 of exactly `data`.
fn assert_upload_summary(out: &std::process::Output, data: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{} {}", data.len(), crc32(0, data))
    );
}
