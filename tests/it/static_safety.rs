//! Static path safety: a traversal corpus (encoded, doubled, mixed separators, `..` after
//! decoding, NUL, overlong UTF-8, backslashes, dotfiles, symlinks out of the map) where
//! every attempt is a 404 and no byte of a secret outside the map comes back; FIFOs and
//! devices never block a worker; a 1 GiB file is sent with flat memory; slow readers do
//! not hold up the application; a file truncated while being sent closes the connection.

use super::static_files::ask;
use crate::support::*;

const SECRET: &str = "TOP-SECRET-6f1d";

/// `top/public` is mapped; `top/secret.txt` and `public/.env` hold the secret, and
/// symlinks in the map point out of it.
fn fortress() -> TempDir {
    let top = TempDir::new();
    top.write("secret.txt", SECRET);
    top.write("public/ok.txt", "fine");
    top.write("public/.env", SECRET);
    top.write("public/.git/config", SECRET);
    top.write("public/sub/inner.txt", "inner");
    let public = top.join("public");
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, public.join(name)).expect("symlink");
    };
    link("../secret.txt", "up-link");
    link(top.join("secret.txt").to_str().unwrap(), "abs-link");
    link("..", "parent-dir");
    link("/etc", "etc-dir");
    link("sub/inner.txt", "inside-link");
    top
}

fn start(top: &TempDir, args: &[&str]) -> Server {
    let map = format!("/static={}", top.join("public").display());
    server("hello:application")
        .args(["--static-map", &map])
        .args(args)
        .start()
}

/// Targets a client can send that must all be refused.
const CORPUS: &[&str] = &[
    "/static/../secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/%2e./secret.txt",
    "/static/.%2e/secret.txt",
    "/static/..%5csecret.txt",
    "/static/%5c..%5csecret.txt",
    "/static/sub/../../secret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt",
    "/static/sub/..%2f..%2fsecret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/%252e%252e%252fsecret.txt",
    "/static/....//secret.txt",
    "/static/..../secret.txt",
    "/static/..;/secret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%c0%ae%c0%ae%c0%afsecret.txt",
    "/static/%e0%80%ae%e0%80%ae/secret.txt",
    "/static/%c1%9c..%c1%9csecret.txt",
    "/static/ok.txt%00.png",
    "/static/%00",
    "/static/ok.txt%00",
    "/static/.env",
    "/static/%2eenv",
    "/static/.git/config",
    "/static/%2egit/config",
    "/static/sub/../.env",
    "/static/up-link",
    "/static/abs-link",
    "/static/parent-dir/secret.txt",
    "/static/parent-dir/public/ok.txt",
    "/static/etc-dir/passwd",
    "/static/etc-dir/hostname",
    "/static//../secret.txt",
    "/static/.",
    "/static/./ok.txt",
    "/static/%2e/ok.txt",
    "/static/sub%2f..%2f..%2fsecret.txt",
    "/static/%2fetc%2fpasswd",
    "/static//etc/passwd",
    "/static/%5cetc%5cpasswd",
    "/static/%%32%65%%32%65/secret.txt",
    "/static/%ff%fe/secret.txt",
    "/static/ok.txt%0d%0aX-Injected:%201",
    "/static/.%00./secret.txt",
    "/static/sub/.",
    "/static/sub/..",
];

#[test]
fn every_traversal_attempt_is_a_404_that_reveals_nothing() {
    assert!(CORPUS.len() >= 40);
    let top = fortress();
    let srv = start(&top, &[]);
    // The map itself works, symlinks that stay inside it included.
    assert_eq!(ask(&srv, "GET", "/static/ok.txt", &[]).text(), "fine");
    assert_eq!(ask(&srv, "GET", "/static/inside-link", &[]).text(), "inner");
    for target in CORPUS {
        let r = ask(&srv, "GET", target, &[]);
        assert_eq!(r.status(), 404, "{target}: {:?}", r.head);
        let all = format!("{}{}", r.head.raw, r.text());
        assert!(!all.contains(SECRET), "{target} leaked the secret");
        assert!(!all.contains("root:"), "{target} leaked /etc/passwd");
        assert_eq!(
            r.text(),
            "404 Not Found\n",
            "{target}: the same 404 for everything"
        );
    }
    // The worker is still well.
    assert_eq!(srv.get("/").text(), "Hello, World!\n");
}

#[test]
fn following_symlinks_is_an_explicit_choice() {
    let top = fortress();
    let srv = start(&top, &["--static-follow-symlinks"]);
    assert_eq!(ask(&srv, "GET", "/static/up-link", &[]).text(), SECRET);
    // Dotfiles and `..` stay refused whatever the symlink policy.
    assert_eq!(ask(&srv, "GET", "/static/.env", &[]).status(), 404);
    assert_eq!(ask(&srv, "GET", "/static/../secret.txt", &[]).status(), 404);
}

#[test]
fn fifos_and_devices_are_404_and_never_block() {
    let top = fortress();
    let public = top.join("public");
    nix::unistd::mkfifo(&public.join("pipe"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
    std::os::unix::fs::symlink("/dev/zero", public.join("zero")).expect("symlink");
    std::os::unix::fs::symlink("/dev/null", public.join("null")).expect("symlink");
    // Followed symlinks, so the device itself is what is opened.
    let srv = start(&top, &["--static-follow-symlinks"]);
    for target in ["/static/pipe", "/static/zero", "/static/null"] {
        assert_eq!(ask(&srv, "GET", target, &[]).status(), 404, "{target}");
    }
    assert_eq!(srv.get("/").text(), "Hello, World!\n");
}

/// The worker's resident memory in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_1_gib_file_is_sent_with_flat_memory() {
    const GIB: u64 = 1 << 30;
    let top = fortress();
    let big = std::fs::File::create(top.join("public/big.bin")).expect("create");
    big.set_len(GIB).expect("sparse");
    for sendfile in ["--sendfile=true", "--sendfile=false"] {
        let srv = start(&top, &[sendfile]);
        // Warm up: the first static request allocates what every later one reuses.
        assert_eq!(ask(&srv, "GET", "/static/ok.txt", &[]).text(), "fine");
        let pid = srv.worker_pid();
        let before = rss_kib(pid);
        let mut c = srv.conn();
        c.send(&get_req("/static/big.bin"));
        let head = c.read_head().expect("head");
        assert_eq!(head.header("content-length"), Some("1073741824"));
        let mut peak = before;
        let mut got = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        while got < GIB {
            let n = c.read_some(&mut buf).expect("read");
            assert!(n > 0, "closed after {got} bytes");
            assert!(buf[..n].iter().all(|&b| b == 0));
            got += n as u64;
            if got % (64 << 20) < n as u64 {
                peak = peak.max(rss_kib(pid));
            }
        }
        let after = rss_kib(pid);
        peak = peak.max(after);
        assert!(
            peak < before + 4096,
            "{sendfile}: RSS grew from {before} KiB to {peak} KiB"
        );
    }
}

#[test]
fn slow_readers_of_big_files_do_not_hold_up_the_application() {
    let top = fortress();
    let big = std::fs::File::create(top.join("public/big.bin")).expect("create");
    big.set_len(256 << 20).expect("sparse");
    let srv = start(&top, &["--threads", "2"]);
    let mut readers: Vec<Conn> = (0..40)
        .map(|_| {
            let mut c = Conn::tcp_small_rcvbuf(srv.addr(), 4096);
            c.send(&get_req("/static/big.bin"));
            c
        })
        .collect();
    // Every reader has its head (the server is sending to all of them), none reads on.
    for c in &mut readers {
        let head = c.read_head().expect("head");
        assert_eq!(head.status, 200);
    }
    for _ in 0..5 {
        assert_eq!(srv.get("/").text(), "Hello, World!\n");
        assert_eq!(ask(&srv, "GET", "/static/ok.txt", &[]).text(), "fine");
    }
    drop(readers);
    assert_eq!(srv.get("/").text(), "Hello, World!\n");
}

#[test]
fn a_file_truncated_while_being_sent_closes_the_connection() {
    let top = fortress();
    let path = top.join("public/shrinking.bin");
    std::fs::write(&path, vec![7u8; 32 << 20]).expect("write");
    for sendfile in ["--sendfile=true", "--sendfile=false"] {
        std::fs::write(&path, vec![7u8; 32 << 20]).expect("write");
        let srv = start(&top, &[sendfile]);
        let mut c = Conn::tcp_small_rcvbuf(srv.addr(), 4096);
        c.send(&get_req("/static/shrinking.bin"));
        let head = c.read_head().expect("head");
        assert_eq!(head.header("content-length"), Some("33554432"));
        let mut buf = [0u8; 4096];
        assert!(c.read_some(&mut buf).expect("first bytes") > 0);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(1 << 20)
            .expect("truncate");
        let rest = c.read_until_closed().expect("the server closes");
        assert!(
            (rest.len() as u64) < (32 << 20),
            "{sendfile}: {} bytes after truncation",
            rest.len()
        );
        assert_eq!(srv.get("/").text(), "Hello, World!\n");
    }
}

// Regression: a non-ASCII byte in a date panicked the worker (review of issue 15)
#[test]
fn a_date_with_bytes_beyond_ascii_leaves_the_worker_serving() {
    let top = fortress();
    let srv = start(&top, &[]);
    let worker = srv.worker_pid();
    let bad = "Sun, 0\u{20ac}ov 1994 08:49:37 GMT";
    for headers in [
        vec![("If-Modified-Since", bad)],
        vec![("If-Unmodified-Since", bad)],
        vec![("Range", "bytes=0-1"), ("If-Range", bad)],
    ] {
        let r = ask(&srv, "GET", "/static/ok.txt", &headers);
        assert_eq!((r.status(), r.text()), (200, "fine".into()), "{headers:?}");
    }
    assert!(Server::is_alive(worker), "the worker survived");
}

// Regression: `GET //dir` was redirected to `//dir/`, another host to a browser (review of
// issue 15)
#[test]
fn a_directory_redirect_never_names_another_host() {
    let top = fortress();
    let map = format!("/={}", top.join("public").display());
    let srv = server("hello:application")
        .args(["--static-map", &map, "--static-index"])
        .start();
    for target in ["//sub", "///sub", "/sub"] {
        let r = ask(&srv, "GET", target, &[]);
        assert_eq!(r.status(), 301, "{target}");
        assert_eq!(r.header("location"), Some("/sub/"), "{target}");
    }
}
