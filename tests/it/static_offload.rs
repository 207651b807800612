//! File offload (`--sendfile-header`): a response naming a file with `X-Sendfile` or
//! `X-Accel-Redirect` has its body replaced by that file, served as a static file is
//! (conditional and range requests of the original request included); the application's
//! body and the header never reach the client; a file outside `--sendfile-root` is a 500.

use super::static_files::ask;
use crate::support::*;

fn media() -> TempDir {
    let dir = TempDir::new();
    dir.write("media/report.pdf", "%PDF-0123456789");
    dir.write("media/.hidden", "hidden");
    dir.write("elsewhere/other.pdf", "not allowed");
    dir
}

fn offload_target(header: &str, value: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("/offload?h={}&v={}", enc(header), enc(value))
}

fn start(dir: &TempDir, args: &[&str]) -> Server {
    let root = dir.join("media");
    server("cases.offload:application")
        .args(["--sendfile-root", root.to_str().unwrap()])
        .args(args)
        .start()
}

fn assert_clean(r: &Response) {
    let all = format!("{}{}", r.head.raw, r.text());
    assert!(!all.contains("APP-BODY"), "the app's body leaked: {all}");
    assert!(!all.to_ascii_lowercase().contains("x-sendfile"), "{all}");
    assert!(
        !all.to_ascii_lowercase().contains("x-accel-redirect"),
        "{all}"
    );
}

#[test]
fn x_sendfile_replaces_the_body_with_the_file() {
    let dir = media();
    for threads in ["1", "3"] {
        let srv = start(
            &dir,
            &["--sendfile-header", "X-Sendfile", "--threads", threads],
        );
        let file = dir.join("media/report.pdf");
        let target = offload_target("X-Sendfile", file.to_str().unwrap());
        let r = ask(&srv, "GET", &target, &[]);
        assert_eq!(r.status(), 200, "{:?}", r.head);
        assert_eq!(r.text(), "%PDF-0123456789");
        assert_eq!(r.header("content-length"), Some("15"));
        assert_eq!(
            r.header("content-type"),
            Some("application/pdf"),
            "the app's type"
        );
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename=\"report.pdf\"")
        );
        assert!(r.header("etag").is_some());
        assert_clean(&r);
        // Range and conditional requests of the original request apply to the file.
        let r = ask(&srv, "GET", &target, &[("Range", "bytes=5-8")]);
        assert_eq!((r.status(), r.text().as_str()), (206, "0123"));
        assert_eq!(r.header("content-range"), Some("bytes 5-8/15"));
        assert_clean(&r);
        let etag = r.header("etag").unwrap().to_owned();
        let r = ask(&srv, "GET", &target, &[("If-None-Match", &etag)]);
        assert_eq!(r.status(), 304);
        assert_clean(&r);
        let r = ask(&srv, "HEAD", &target, &[]);
        assert_eq!((r.status(), r.header("content-length")), (200, Some("15")));
        // The connection goes on: keep-alive after an offloaded reply.
        let mut c = srv.conn();
        for _ in 0..2 {
            let r = c.roundtrip(&get_req(&target));
            assert_eq!(r.text(), "%PDF-0123456789");
            assert!(r.head.keeps_alive());
        }
        assert_eq!(c.roundtrip(&get_req("/")).text(), "app says hi\n");
    }
}

#[test]
fn a_file_outside_the_roots_is_a_500_with_the_reason_logged() {
    let dir = media();
    let mut srv = start(&dir, &["--sendfile-header", "X-Sendfile"]);
    let other = dir.join("elsewhere/other.pdf");
    for value in [
        other.to_str().unwrap().to_owned(),
        format!("{}/../elsewhere/other.pdf", dir.join("media").display()),
        "/etc/passwd".to_owned(),
        "relative/report.pdf".to_owned(),
    ] {
        let r = ask(&srv, "GET", &offload_target("X-Sendfile", &value), &[]);
        assert_eq!(r.status(), 500, "{value}");
        assert!(!r.text().contains("not allowed") && !r.text().contains("root:"));
        assert_clean(&r);
    }
    srv.wait_for_line("not under a --sendfile-root directory");
    // A dotfile under the root is no more served than under a static mount.
    let hidden = dir.join("media/.hidden");
    let r = ask(
        &srv,
        "GET",
        &offload_target("X-Sendfile", hidden.to_str().unwrap()),
        &[],
    );
    assert_eq!(r.status(), 500);
    let missing = dir.join("media/missing.pdf");
    let r = ask(
        &srv,
        "GET",
        &offload_target("X-Sendfile", missing.to_str().unwrap()),
        &[],
    );
    assert_eq!(r.status(), 404);
}

#[test]
fn x_accel_redirect_maps_internal_locations() {
    let dir = media();
    let map = format!("/protected={}", dir.join("media").display());
    let srv = start(
        &dir,
        &[
            "--sendfile-header",
            "X-Accel-Redirect",
            "--sendfile-map",
            &map,
        ],
    );
    let target = offload_target("X-Accel-Redirect", "/protected/report.pdf");
    let r = ask(&srv, "GET", &target, &[("Range", "bytes=-4")]);
    assert_eq!((r.status(), r.text().as_str()), (206, "6789"));
    assert_clean(&r);
    let r = ask(&srv, "GET", &target, &[]);
    assert_eq!(r.text(), "%PDF-0123456789");
    for bad in [
        "/protected/../elsewhere/other.pdf",
        "/protected/%2e%2e/elsewhere/other.pdf",
        "/elsewhere/other.pdf",
    ] {
        let r = ask(&srv, "GET", &offload_target("X-Accel-Redirect", bad), &[]);
        assert_eq!(r.status(), 500, "{bad}");
        assert_clean(&r);
    }
}

#[test]
fn an_offloaded_file_to_a_slow_reader_does_not_hold_the_worker() {
    let dir = media();
    let big = std::fs::File::create(dir.join("media/big.bin")).expect("create");
    big.set_len(256 << 20).expect("sparse");
    for threads in ["1", "2"] {
        let srv = start(
            &dir,
            &["--sendfile-header", "X-Sendfile", "--threads", threads],
        );
        let file = dir.join("media/big.bin");
        let target = offload_target("X-Sendfile", file.to_str().unwrap());
        let mut slow: Vec<Conn> = (0..4)
            .map(|_| {
                let mut c = Conn::tcp_small_rcvbuf(srv.addr(), 4096);
                c.send(&get_req(&target));
                c
            })
            .collect();
        for c in &mut slow {
            let head = c.read_head().expect("head");
            assert_eq!(
                head.header("content-length"),
                Some("268435456"),
                "{threads}"
            );
        }
        // None of them reads on; the application still answers everyone else.
        for _ in 0..3 {
            assert_eq!(srv.get("/").text(), "app says hi\n", "{threads}");
        }
        drop(slow);
    }
}
