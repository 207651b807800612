//! The responses a worker finishes in one turn of its loop, held until the turn ends and
//! then sent together: with one io_uring submission by default, one send(2) each with
//! `--io-uring=false`. Either way every connection gets its own whole response and its
//! next request is answered too.

use crate::support::*;

/// strace (Debian's package): which system calls sent the batch.
const STRACE: &str = "/usr/bin/strace";

/// Connections whose requests make up the batch.
const CONNS: usize = 24;

/// The size of connection `i`'s response: small, a few KiB, and near the largest a call
/// queues rather than writes at once (16 KiB with its head), which is what is held.
fn size(i: usize) -> usize {
    [12, 4_000, 16_000][i % 3] + i
}

/// What `pyapps/cases/sized.py` answers to `/<name>?size=N`.
fn body_for(name: &str, size: usize) -> Vec<u8> {
    format!("{name}:")
        .into_bytes()
        .repeat(size)
        .into_iter()
        .take(size)
        .collect()
}

/// Runs `cases.sized` under strace with `extra`, makes `CONNS` requests one batch (they
/// arrive while the worker is busy in the app), checks every response, and returns the
/// worker's traced send calls.
fn one_batch(extra: &[&str]) -> Option<String> {
    if !std::path::Path::new(STRACE).exists() {
        eprintln!("skipped: {STRACE} is not installed");
        return None;
    }
    let dir = TempDir::new();
    let trace = dir.join("sends.trace");
    let trace_arg = trace.display().to_string();
    let mut server = server("cases.sized")
        .args(extra)
        .wrapper(
            STRACE,
            [
                "-f",
                "-qq",
                "-e",
                "trace=io_uring_setup,io_uring_enter,sendto",
                "-e",
                "signal=none",
                "-o",
                &trace_arg,
            ],
        )
        .start();
    // Connections accepted and idle, so that their next requests are one batch.
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| server.conn()).collect();
    for conn in &mut conns {
        conn.send(&request("GET", "/warm?size=2", &[], b""));
        assert_eq!(conn.read_response().body, b"wa");
    }
    let gate = dir.join("open");
    let mut busy = server.conn();
    busy.send(&request(
        "GET",
        &format!("/gate?{}", gate.display()),
        &[],
        b"",
    ));
    server.wait_for_line("gated");
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send(&request(
            "GET",
            &format!("/c{i}?size={}", size(i)),
            &[],
            b"",
        ));
    }
    std::fs::write(&gate, b"").expect("open the gate");
    assert_eq!(busy.read_response().body, b"open");
    // Read in reverse, so the first connections' responses wait in their sockets.
    for (i, conn) in conns.iter_mut().enumerate().rev() {
        let r = conn.read_response();
        assert_eq!(r.status(), 200, "connection {i}: {}", r.text());
        assert!(
            r.body == body_for(&format!("c{i}"), size(i)),
            "connection {i} got {} bytes starting {:?}",
            r.body.len(),
            String::from_utf8_lossy(&r.body[..r.body.len().min(40)])
        );
    }
    // Each connection goes on: its next request is answered as well.
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send(&request("GET", &format!("/again{i}?size=9"), &[], b""));
        assert_eq!(conn.read_response().body, body_for(&format!("again{i}"), 9));
    }
    // strace writes each call's line before the call returns: the trace is complete.
    Some(std::fs::read_to_string(&trace).expect("strace wrote its trace"))
}

#[test]
fn a_batch_of_responses_goes_out_in_one_io_uring_submission() {
    let Some(trace) = one_batch(&[]) else {
        return;
    };
    let setup = trace
        .lines()
        .find(|l| l.contains("io_uring_setup("))
        .expect("the worker set up a ring");
    if setup.contains("= -1") {
        // This kernel or sandbox refuses io_uring: the batch went out one send each.
        eprintln!("io_uring refused here ({setup}); the fallback answered every connection");
        return;
    }
    // io_uring_enter(fd, to_submit, min_complete, ...) = submitted: the whole batch at once.
    let whole = format!(", {CONNS}, {CONNS}, ");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("io_uring_enter(") && l.contains(&whole)),
        "no io_uring_enter submitting {CONNS} sends:\n{trace}"
    );
}

#[test]
fn with_io_uring_off_a_batch_of_responses_goes_out_one_send_each() {
    let Some(trace) = one_batch(&["--io-uring=false"]) else {
        return;
    };
    assert!(
        !trace.contains("io_uring_"),
        "io_uring used although turned off:\n{trace}"
    );
    let sends = trace.lines().filter(|l| l.contains("sendto(")).count();
    // The warm-up, the batch and the follow-up requests, plus the gate's response.
    assert!(sends > 3 * CONNS, "{sends} sendto calls:\n{trace}");
}
