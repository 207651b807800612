//! wsgi.input: every reading method, never past the body, and streaming in flat memory.

use crate::support::*;

const LINES: &[u8] = b"first line\nsecond\n\nfourth is longer than the others\nno newline at end";

/// Posts `body` to upload?mode=..&overread=1 with a pipelined request behind it, so bytes
/// past the body are available to a buggy reader; checks the echo and the follower.
fn echo_mode(server: &Server, mode: &str, body: &[u8], chunk: Option<usize>) {
    echo_mode_on(server.conn(), mode, body, chunk);
}

/// [`echo_mode`] on a connection of the caller's.
fn echo_mode_on(mut c: Conn, mode: &str, body: &[u8], chunk: Option<usize>) {
    let target = format!("/?mode={mode}&overread=1");
    let mut req = match chunk {
        None => request("POST", &target, &[], body),
        Some(size) => {
            let mut r = request("POST", &target, &[("Transfer-Encoding", "chunked")], b"");
            r.extend(chunked(body, size, ""));
            r
        }
    };
    req.extend(request("POST", "/?mode=read", &[], b"FOLLOWER"));
    c.send(&req);
    let resp = c.read_response();
    assert_eq!(resp.status(), 200, "mode {mode}: {}", resp.text());
    let mut expected = body.to_vec();
    // The app appends |EOF when one more read after the end returned nothing.
    expected.extend(b"|EOF");
    assert_eq!(
        resp.text(),
        String::from_utf8_lossy(&expected),
        "mode {mode} (chunked: {chunk:?})"
    );
    // The pipelined request was not eaten by the input stream.
    assert_eq!(c.read_response().text(), "FOLLOWER", "mode {mode}");
}

macro_rules! input_mode_tests {
    ($($name:ident: $mode:expr,)*) => {$(
        #[test]
        fn $name() {
            let server = server("upload").start();
            echo_mode(&server, $mode, LINES, None);
            echo_mode(&server, $mode, LINES, Some(5));
            echo_mode(&server, $mode, b"", None);
        }
    )*};
}

input_mode_tests! {
    read_all_stops_at_body_end: "read",
    read_n_stops_at_body_end: "readn&n=7",
    read_n_larger_than_body: "readn&n=100000",
    readline_splits_lines_and_stops_at_body_end: "readline",
    readline_with_limit_never_exceeds_it: "readline_limit&n=3",
    readlines_returns_every_line: "readlines",
    readlines_with_hint: "readlines_hint&n=10",
    iteration_yields_lines: "iter",
}

#[test]
fn readline_on_long_line_spanning_reads() {
    let server = server("upload").start();
    let mut body = pattern(300_000);
    for b in body.iter_mut() {
        if *b == b'\n' {
            *b = b'x';
        }
    }
    body[150_000] = b'\n';
    echo_mode(&server, "readline", &body, None);
    echo_mode(&server, "readline_limit&n=65536", &body, Some(10_000));
}

#[test]
fn read_n_in_small_pieces_reassembles_a_large_body() {
    let server = server("upload").start();
    let body = pattern(1 << 20);
    echo_mode(&server, "readn&n=4099", &body, None);
    echo_mode(&server, "readn&n=4099", &body, Some(65_536));
}

/// Uploads `total` bytes of pattern data and returns (length, crc32) as the app computed.
fn upload_summary(server: &Server, total: u64, chunk: Option<usize>) -> (u64, u32) {
    let mut c = server.conn();
    let head = match chunk {
        None => {
            format!("POST /?mode=summary HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n")
        }
        Some(_) => {
            "POST /?mode=summary HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".into()
        }
    };
    c.send(head.as_bytes());
    let mut block = vec![0u8; 1 << 20];
    let mut sent = 0u64;
    let mut crc = 0u32;
    let mut k = 0;
    while sent < total {
        pattern_block(k, &mut block);
        k += 1;
        let n = block.len().min((total - sent) as usize);
        crc = crc32(crc, &block[..n]);
        match chunk {
            None => c.send(&block[..n]),
            Some(size) => {
                for piece in block[..n].chunks(size) {
                    let mut out = format!("{:x}\r\n", piece.len()).into_bytes();
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                    c.send(&out);
                }
            }
        }
        sent += n as u64;
    }
    if chunk.is_some() {
        c.send(b"0\r\n\r\n");
    }
    let resp = c.read_response();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let text = resp.text();
    let mut parts = text.split_whitespace();
    let len: u64 = parts.next().unwrap().parse().unwrap();
    let app_crc: u32 = parts.next().unwrap().parse().unwrap();
    assert_eq!(app_crc, crc, "body corrupted in transit");
    (len, app_crc)
}

#[test]
fn huge_content_length_upload_streams_in_flat_memory() {
    let server = server("upload").start();
    let pid = server.worker_pid();
    // Warm up (first request allocates buffers), then measure the peak RSS growth.
    upload_summary(&server, 1 << 20, None);
    let before = proc_status_kib(pid, "VmHWM");
    let total = 256u64 << 20;
    let (len, _) = upload_summary(&server, total, None);
    assert_eq!(len, total);
    let after = proc_status_kib(pid, "VmHWM");
    // Memory assertion, not a timing one: 256 MiB went through; the worker's peak RSS may
    // grow by buffers, not by the body.
    assert!(
        after.saturating_sub(before) < 64 * 1024,
        "worker peak RSS grew by {} KiB for a {} MiB upload",
        after.saturating_sub(before),
        total >> 20
    );
}

#[test]
fn huge_chunked_upload_streams_in_flat_memory() {
    let server = server("upload").start();
    let pid = server.worker_pid();
    upload_summary(&server, 1 << 20, Some(65_536));
    let before = proc_status_kib(pid, "VmHWM");
    let total = 64u64 << 20;
    let (len, _) = upload_summary(&server, total, Some(100_000));
    assert_eq!(len, total);
    let after = proc_status_kib(pid, "VmHWM");
    assert!(
        after.saturating_sub(before) < 64 * 1024,
        "worker peak RSS grew by {} KiB for a chunked {} MiB upload",
        after.saturating_sub(before),
        total >> 20
    );
}

#[test]
fn chunked_upload_with_tiny_chunks() {
    // Many 1-byte chunks: stresses the chunk-size state machine across reads.
    let server = server("upload").start();
    let (len, _) = upload_summary(&server, 3000, Some(1));
    assert_eq!(len, 3000);
}

#[test]
fn streaming_echo_of_a_body_larger_than_socket_buffers() {
    // upload's default mode yields each 64 KiB piece as it reads it, so the server must
    // interleave reading the request with writing the response; the client writes on a
    // thread and reads on this one.
    let server = server("upload").start();
    let mut c = server.conn();
    let total = 16usize << 20;
    let mut writer = c.try_clone_tcp();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n");
        writer.write_all(head.as_bytes()).unwrap();
        let body = pattern(total);
        writer.write_all(&body).unwrap();
        crc32(0, &body)
    });
    let head = c.read_head().unwrap();
    assert_eq!(head.status, 200);
    let framing = if head.header("transfer-encoding").is_some() {
        Framing::Chunked
    } else {
        Framing::Close
    };
    let mut crc = 0u32;
    let info = c.read_body(&framing, &mut |b| crc = crc32(crc, b)).unwrap();
    assert!(info.complete);
    assert_eq!(info.length, total as u64);
    assert_eq!(crc, t.join().unwrap());
}

#[test]
fn bodiless_requests_on_pool_threads_all_read_an_empty_input() {
    // Requests framed without a body share one exhausted input object: pool threads
    // reading it at the same time must each see an empty body, by every method.
    let server = server("upload").args(["--threads", "4"]).start();
    std::thread::scope(|s| {
        for mode in ["read", "readn&n=7", "readline", "readlines", "iter"] {
            let addr = server.addr();
            s.spawn(move || {
                for _ in 0..20 {
                    echo_mode_on(Conn::tcp(addr), mode, b"", None);
                }
            });
        }
    });
}
