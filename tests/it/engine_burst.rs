//! The responses a worker finishes in one turn of its loop, held until the turn ends and
//! then sent together: with one io_uring submission by default, one send(2) each with
//! `--io-uring=false`. Either way every connection gets its own whole response and its
//! next request is answered too, while a client that reset its connection meanwhile loses
//! nothing but its own response. (What a socket does not take of a response, or a send
//! that fails, is left to the ordinary send path: `burst`'s unit tests check that the ring
//! reports those as a `send(2)` would.)

use crate::support::*;

/// strace (Debian's package, installed by scripts/setup): which system calls sent the batch.
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

/// Closes `conn` with a reset (SO_LINGER 0), its response unread.
fn reset(conn: Conn) {
    use nix::sys::socket::{setsockopt, sockopt};
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let clone = conn.try_clone_tcp();
    setsockopt(&clone, sockopt::Linger, &linger).expect("SO_LINGER");
    drop(conn);
    drop(clone);
}

/// Runs `cases.sized` with `extra` (under strace when it is installed), makes `CONNS`
/// requests one batch (they arrive while the worker is busy in the app), checks every
/// response, and returns the worker's traced system calls, if traced.
fn one_batch(extra: &[&str]) -> Option<String> {
    let dir = TempDir::new();
    let trace = dir.join("sends.trace");
    let trace_arg = trace.display().to_string();
    let traced = std::path::Path::new(STRACE).exists();
    let mut builder = server("cases.sized").args(extra);
    if traced {
        builder = builder.wrapper(
            STRACE,
            [
                "-f",
                "-qq",
                "-e",
                "trace=io_uring_setup,io_uring_enter,sendto,epoll_wait",
                "-e",
                "signal=none",
                "-o",
                &trace_arg,
            ],
        );
    } else {
        eprintln!("{STRACE} is not installed: responses checked, system calls not");
    }
    let mut server = builder.start();
    // Connections accepted and idle, so that their next requests are one batch.
    let mut conns: Vec<Conn> = (0..CONNS).map(|_| server.conn()).collect();
    let mut doomed = server.conn();
    for conn in conns.iter_mut().chain([&mut doomed]) {
        conn.send(&request("GET", "/warm?size=2", &[], b""));
        assert_eq!(conn.read_response().body, b"wa");
    }
    let gate = dir.join("open");
    let mut busy = server.busy_until(&gate);
    for (i, conn) in conns.iter_mut().enumerate() {
        let target = format!("/c{i}?size={}", size(i));
        conn.send(&request("GET", &target, &[], b""));
    }
    doomed.send(&request("GET", "/doomed?size=100", &[], b""));
    reset(doomed);
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
    traced.then(|| std::fs::read_to_string(&trace).expect("strace wrote its trace"))
}

/// Each `io_uring_enter(fd, to_submit, ...)` of the trace: how many sends it submitted,
/// and how many `sendto` calls followed it before the loop next waited.
fn submissions(trace: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in trace.lines() {
        if let Some(args) = line.split("io_uring_enter(").nth(1) {
            found.extend(current.take());
            let to_submit = args.split(", ").nth(1).and_then(|n| n.parse().ok());
            current = to_submit.map(|n| (n, 0));
        } else if line.contains("epoll_wait(") {
            found.extend(current.take());
        } else if line.contains("sendto(") {
            if let Some((_, sends)) = current.as_mut() {
                *sends += 1;
            }
        }
    }
    found.extend(current);
    found
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
    // The batch in one submission (with the reset connection's response, if the worker
    // read its request before the reset), and the ring took the responses: only a retry
    // of the reset connection's may follow by send(2) before the loop waits again.
    let submitted = submissions(&trace);
    let (_, resent) = submitted
        .iter()
        .copied()
        .find(|&(n, _)| n >= CONNS)
        .unwrap_or_else(|| panic!("no io_uring_enter submitting the batch: {submitted:?}"));
    assert!(
        resent <= 1,
        "{resent} send(2) calls after the submission:\n{trace}"
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
    assert!(sends >= 3 * CONNS, "{sends} sendto calls:\n{trace}");
}
