//! Chaos under load: a random worker is SIGKILLed every 2 s for 60 s while clients send
//! requests back to back. The only requests that may fail are the ones in flight on a
//! killed worker, and the master logs every death with its signal (and the request it cut
//! short, read from the worker's scoreboard slot).

use crate::support::load::Load;
use crate::support::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

const KILLS: usize = 30;
const EVERY: Duration = Duration::from_secs(2);

/// xorshift64: a reproducible "random" choice without a crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Workers that reported ready and were not killed since.
fn live_workers(server: &mut Server, killed: &[i32]) -> Vec<i32> {
    server
        .ready_pids()
        .into_iter()
        .filter(|p| !killed.contains(p))
        .collect()
}

#[test]
fn sigkilling_random_workers_under_load_fails_only_their_requests() {
    // One connection per worker (--worker-connections 1) and one request at a time per
    // connection (the load's clients): a killed worker holds at most one request in flight.
    // The app takes 10 ms, so a worker is busy at almost any instant.
    let mut server = server("cases.paced")
        .workers(4)
        .args(["--worker-connections", "1"])
        .start();
    let load = Load::start(server.addr(), 4, "/?ms=10");
    load.wait_for_more(100);

    let seed = std::process::id() as u64 | 1;
    eprintln!("chaos seed {seed}");
    let mut rng = Rng(seed);
    let mut killed: Vec<i32> = Vec::new();
    for _ in 0..KILLS {
        let round = Instant::now();
        let mut live = live_workers(&mut server, &killed);
        if live.is_empty() {
            // Every worker is down (the respawn backoff grows with deaths in a row): wait
            // for the next one rather than skip a kill.
            let want = server.ready_pids().len() + 1;
            server.wait_for_lines("Worker ready (pid: ", want);
            live = live_workers(&mut server, &killed);
        }
        let victim = live[rng.below(live.len())];
        kill(Pid::from_raw(victim), Signal::SIGKILL).expect("kill a worker");
        killed.push(victim);
        server.wait_for_line(&format!("Worker (pid: {victim}) was killed by SIGKILL"));
        // The chaos cadence, not a synchronisation.
        std::thread::sleep(EVERY.saturating_sub(round.elapsed()));
    }
    load.wait_for_more(50);
    let tally = load.finish();
    let log = server.stderr_text();
    let deaths: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("was killed by SIGKILL"))
        .collect();
    let busy = deaths
        .iter()
        .filter(|l| l.contains(" while running "))
        .count();
    eprintln!(
        "{} kills ({busy} mid-request), {} requests served, {} failed",
        killed.len(),
        tally.ok,
        tally.failures.len()
    );
    assert_eq!(
        deaths.len(),
        KILLS,
        "every kill is logged once, with its signal"
    );
    for pid in &killed {
        assert!(
            deaths.iter().any(|l| l.contains(&format!("(pid: {pid}) "))),
            "the death of {pid} is not logged"
        );
    }
    // The master read the slot of the workers it lost: most were mid-request.
    assert!(busy > 0, "no death was logged with its request in progress");
    // Each kill cost at most the one request its worker had in flight, and only as a lost
    // response: never a refused connection (the listeners stay open) nor an error status.
    assert!(
        tally.failures.len() <= killed.len(),
        "{} failures for {} kills: {:?}",
        tally.failures.len(),
        killed.len(),
        tally.failures
    );
    for failure in &tally.failures {
        assert!(
            failure.starts_with("response: ") || failure.starts_with("send: "),
            "{failure}"
        );
    }
    assert!(tally.ok > 0);
    server.terminate();
}
