//! A soak: a million keep-alive requests (wrk on loopback, in bounded rounds, counted from
//! the server's own metrics), after which the workers hold no more memory or descriptors
//! than after a warm-up. A leak of a few bytes per request shows as megabytes here.

use crate::support::metrics::{Metrics, scrape, start_with_metrics};
use crate::support::*;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Requests the soak aims for, after the warm-up.
const GOAL: f64 = 1_000_000.0;
/// The most wall-clock time the soak runs for, whatever it reached (a debug build on a
/// busy machine is slower than the goal needs).
const BUDGET: Duration = Duration::from_secs(300);
/// Requests it must reach after the warm-up in any case, for the check to mean something.
const FLOOR: f64 = 200_000.0;
/// Resident memory a worker may gain between the warm-up and the end (allocator noise,
/// Python's caches), per worker.
const RSS_SLACK_KIB: u64 = 4096;

fn served(m: &Metrics) -> f64 {
    m.get_or_zero(
        "rsgi_requests_total",
        &[("method", "GET"), ("status", "2xx")],
    )
}

/// One bounded wrk round: `seconds` of keep-alive load from 8 connections.
fn wrk(addr: SocketAddr, seconds: u32) {
    let status = Command::new("wrk")
        .args(["-t", "2", "-c", "8", "-d", &format!("{seconds}s")])
        .arg(format!("http://{addr}/"))
        .stdout(Stdio::null())
        .status()
        .expect("run wrk (apt wrk)");
    assert!(status.success(), "wrk failed: {status}");
}

/// Resident memory (KiB) and open descriptors of each worker, once no connection is open.
fn footprint(metrics: SocketAddr, workers: &[i32]) -> Vec<(u64, usize)> {
    wait_until("every connection to close", || {
        scrape(metrics).get("rsgi_connections", &[]) == 0.0
    });
    workers
        .iter()
        .map(|&pid| (proc_status_kib(pid, "VmRSS"), fd_links(pid).len()))
        .collect()
}

#[test]
fn a_million_keep_alive_requests_leave_worker_memory_and_descriptors_flat() {
    let (server, metrics) = start_with_metrics(server("hello").workers(2));
    let workers = server.worker_pids.clone();
    wrk(server.addr(), 5);
    let warm = footprint(metrics, &workers);
    let warm_served = served(&scrape(metrics));
    assert!(warm_served > 0.0);
    let started = Instant::now();
    let mut total = warm_served;
    while total - warm_served < GOAL && started.elapsed() < BUDGET {
        wrk(server.addr(), 5);
        total = served(&scrape(metrics));
    }
    let end = footprint(metrics, &workers);
    let m = scrape(metrics);
    eprintln!(
        "soak: {total} requests ({} after warm-up) in {:.0}s; workers (VmRSS KiB, fds) \
         warm {warm:?}, end {end:?}",
        total - warm_served,
        started.elapsed().as_secs_f64()
    );
    assert!(
        total >= FLOOR.min(GOAL),
        "only {total} requests in {BUDGET:?}"
    );
    // Nothing failed and no worker was replaced: the same processes are measured.
    assert_eq!(
        m.get_or_zero("rsgi_requests_total", &[("status", "5xx")]),
        0.0
    );
    assert_eq!(
        m.get_or_zero("rsgi_requests_total", &[("status", "none")]),
        0.0
    );
    for cause in ["exit", "signal", "timeout", "memory"] {
        assert_eq!(
            m.get("rsgi_worker_restarts_total", &[("cause", cause)]),
            0.0
        );
    }
    assert_eq!(m.get("rsgi_workers", &[("state", "ready")]), 2.0);
    for (pid, ((rss0, fds0), (rss1, fds1))) in workers.iter().zip(warm.iter().zip(&end)) {
        assert!(
            *rss1 <= rss0 + RSS_SLACK_KIB,
            "worker {pid} grew from {rss0} KiB to {rss1} KiB"
        );
        assert_eq!(fds1, fds0, "worker {pid} descriptors: {:?}", fd_links(*pid));
    }
}
