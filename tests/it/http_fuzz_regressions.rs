//! Fuzz inputs replayed through the very checks the fuzz targets run.
//!
//! The check modules live in `fuzz/src/` and are included by path (in `main.rs`), so this
//! file needs neither libFuzzer nor a nightly compiler. Every crash `scripts/fuzz` finds is
//! kept in `tests/fuzz/<target>/<name>` with a test below named `<target>_<name>`; the seed
//! corpora are replayed too, which keeps the checks compiling and passing as the codec
//! changes.

use crate::chunked_body::{self, End};
use crate::{request_head, response_chunked, uwsgi_packet};
use rsgi_server::http::Limits;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file in `dir`, sorted, with its bytes.
fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on each seed of `target`; returns how many there were.
fn replay_seeds(target: &str, check: fn(&[u8])) -> usize {
    let seeds = inputs(&root().join("fuzz/seeds").join(target));
    for (path, bytes) in &seeds {
        eprintln!("replaying {}", path.display());
        check(bytes);
    }
    seeds.len()
}

/// Runs `check` on the kept artifact `tests/fuzz/<target>/<name>`.
#[allow(dead_code)] // used by the per-crash tests below, when there are any
fn replay_artifact(target: &str, name: &str, check: fn(&[u8])) {
    let path = root().join("tests/fuzz").join(target).join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check(&bytes);
}

#[test]
fn seeds_pass_request_head_checks() {
    assert!(replay_seeds("request_head", request_head::check) >= 10);
}

#[test]
fn seeds_pass_uwsgi_packet_checks() {
    assert!(replay_seeds("uwsgi_packet", uwsgi_packet::check) >= 10);
}

#[test]
fn seeds_pass_chunked_body_checks() {
    assert!(replay_seeds("chunked_body", chunked_body::check) >= 10);
}

#[test]
fn seeds_pass_response_chunked_checks() {
    assert!(replay_seeds("response_chunked", response_chunked::check) >= 1);
}

/// The chunked oracle is only as good as its own reading of RFC 9112 §7.1.
#[test]
fn chunked_reference_decodes_known_bodies() {
    let l = chunked_body::small_limits();
    let cases: [(&[u8], &[u8], End); 10] = [
        (b"5\r\nhello\r\n0\r\n\r\nNEXT", b"hello", End::Done(15)),
        (
            b"2;a=\"q\\\"\" ;b\r\nhi\r\n0\r\nX: y\r\n\r\n",
            b"hi",
            End::Done(29),
        ),
        (b"5\r\nhel", b"hel", End::NeedMore),
        (b"5\r\nhello\r", b"hello", End::NeedMore),
        (b"5\r\nhelloX\r\n", b"hello", End::Error(400)),
        (b"0x5\r\nhello\r\n0\r\n\r\n", b"", End::Error(400)),
        (b"5 \r\nhello\r\n0\r\n\r\n", b"", End::Error(400)),
        (b"5\nhello\n0\n\n", b"", End::Error(400)),
        // 17 bytes of size line against a limit of 16, refused before its CRLF arrives.
        (b"00000000000000001", b"", End::Error(400)),
        (
            b"0\r\nX-Long-Trailer: 0123456789abcdefghijklmnop\r\n\r\n",
            b"",
            End::Error(431),
        ),
    ];
    for (input, body, end) in cases {
        let got = chunked_body::reference(input, &l);
        assert_eq!(got, (body.to_vec(), end.clone()), "reference on {input:?}");
        // And the decoder agrees, whole and split.
        assert_eq!(
            chunked_body::check_with(input, &l),
            got,
            "decoder on {input:?}"
        );
    }
    assert_eq!(
        chunked_body::reference(b"ffffffffffffffff0\r\n", &Limits::default()).1,
        End::Error(400),
        "overflowing chunk size"
    );
}

/// The head checks catch what they claim to: a split that changes the answer would panic,
/// and a smuggling-shaped head is refused before any check on its contents runs.
#[test]
fn request_head_checks_see_limits_and_framing() {
    let strict = request_head::small_limits();
    let long = b"GET /0123456789012345678901234567890123456789 HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(
        request_head::check_with(long, &strict)
            .unwrap_err()
            .status(),
        414
    );
    let smuggle =
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        request_head::check_with(smuggle, &Limits::default())
            .unwrap_err()
            .status(),
        400
    );
    let head = request_head::check_with(b"GET /a?b HTTP/1.1\r\nHost: h\r\n\r\nrest", &strict)
        .expect("valid")
        .expect("complete");
    assert_eq!(
        (head.path.as_slice(), head.query.as_slice()),
        (&b"/a"[..], &b"b"[..])
    );
    assert_eq!(head.consumed, 30);
}
