//! The master's side of the metrics: the scrape server on `--metrics-bind`, the totals of
//! workers that are gone, and the counters only the master sees (restarts, reloads).
//!
//! A scrape is answered from shared memory (the workers' regions and the scoreboard) and
//! `/proc`, never by asking a worker, so it works while every worker is busy. When a worker
//! is reaped its region's counters are folded into the totals and the region zeroed before
//! the slot is reused: a counter never goes down.

use super::{Arbiter, Worker};
use crate::health;
use crate::listen::Listener;
use crate::metrics::exposition::{
    self, Backlog, Format, ReloadOutcome, RestartCause, Snapshot, WORKER_STATES,
};
use crate::metrics::server::{Request, Response, Server};
use crate::metrics::{Block, Counts, Region};
use crate::process::upgrade;
use crate::scoreboard::State;
use crate::settings::BindAddr;
use nix::poll::PollFlags;
use std::os::fd::BorrowedFd;
use std::time::{SystemTime, UNIX_EPOCH};

/// The metrics service: on only with `--metrics-bind`.
pub(super) struct Metrics {
    server: Server,
    tally: Tally,
}

/// What the master counts and keeps for the metrics.
struct Tally {
    block: Block,
    /// Counters of the workers reaped so far.
    totals: Counts,
    restarts: [u64; RestartCause::ALL.len()],
    reloads: [u64; ReloadOutcome::ALL.len()],
    /// When the master started (Unix seconds).
    start_time: f64,
}

impl Metrics {
    /// Maps the shared block and binds the listener (before any worker is forked).
    pub(super) fn start(addr: &BindAddr) -> Result<Metrics, String> {
        let block = Block::new().map_err(|err| format!("cannot map the metrics block: {err}"))?;
        let inherited = upgrade::take_metrics_fd();
        let server =
            Server::bind(addr, inherited).map_err(|err| format!("--metrics-bind: {err}"))?;
        Ok(Metrics {
            server,
            tally: Tally {
                block,
                totals: Counts::default(),
                restarts: [0; RestartCause::ALL.len()],
                reloads: [0; ReloadOutcome::ALL.len()],
                start_time: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            },
        })
    }

    /// The region a worker in slot `index` records into.
    pub(super) fn region(&self, index: usize) -> Option<&'static Region> {
        self.tally.block.region(index)
    }

    /// Says where scrapes go.
    pub(super) fn announce(&self) {
        tracing::info!("Serving metrics at: {}/metrics", self.server.url());
    }

    /// The listening socket, for a binary upgrade to pass on.
    pub(super) fn listener(&self) -> &Listener {
        self.server.listener()
    }

    /// Removes the listener's socket file, if it made one (the server is stopping).
    pub(super) fn remove_socket_file(&self) {
        self.server.remove_socket_file();
    }
}

impl Arbiter {
    /// The metrics server's descriptors, if it runs.
    pub(super) fn metrics_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        self.metrics
            .as_ref()
            .map_or_else(Vec::new, |m| m.server.fds())
    }

    /// Serves scrapes that are ready.
    pub(super) fn serve_metrics(&mut self) {
        let Some(mut metrics) = self.metrics.take() else {
            return;
        };
        metrics
            .server
            .serve(|request| self.answer_scrape(&metrics.tally, request));
        self.metrics = Some(metrics);
    }

    /// Routes one request of the metrics listener.
    fn answer_scrape(&self, tally: &Tally, request: &Request<'_>) -> Response {
        if !matches!(request.method, "GET" | "HEAD") {
            return Response::text(405, "only GET and HEAD\n");
        }
        match request.path {
            "/metrics" => {
                let format = Format::negotiate(request.accept);
                Response {
                    status: 200,
                    content_type: format.content_type(),
                    body: exposition::render(&self.snapshot(tally), format),
                }
            }
            path => match health::answer(path, &health::View::of(self.scoreboard.server())) {
                Some(probe) => Response::text(probe.status, &probe.body),
                None => Response::text(404, "not found; try /metrics, /livez or /readyz\n"),
            },
        }
    }

    /// Everything a scrape shows, now.
    fn snapshot(&self, tally: &Tally) -> Snapshot {
        let mut s = Snapshot {
            counts: tally.totals,
            restarts: tally.restarts,
            reloads: tally.reloads,
            start_time: tally.start_time,
            ..Snapshot::default()
        };
        for (pid, worker) in &self.workers {
            let slot = worker.slot.and_then(|i| self.scoreboard.slot(i));
            let state = match slot.map(|s| s.state()) {
                Some(State::Booting) => "booting",
                Some(State::Busy) => "busy",
                Some(State::Draining) => "draining",
                _ => "ready",
            };
            if let Some(i) = WORKER_STATES.iter().position(|s| *s == state) {
                s.workers[i] += 1;
            }
            if let Some(index) = worker.slot {
                if let Some(region) = tally.block.region(index) {
                    s.counts.add(&region.counts());
                    s.in_flight += region.in_flight();
                    s.connections += region.connections();
                }
                if let Some(rss) = resident_bytes(pid.as_raw()) {
                    s.rss.push((index, rss));
                }
            }
        }
        s.rss.sort_unstable();
        for listener in self.listeners.iter().chain(&self.stable.listeners) {
            let url = listener.url();
            if s.backlog.iter().any(|b| b.listener == url) {
                continue;
            }
            if let Some(depth) = crate::listen::backlog::depth(listener) {
                s.backlog.push(Backlog {
                    listener: url,
                    queued: u64::from(depth.queued),
                    limit: u64::from(depth.limit),
                });
            }
        }
        s
    }

    /// A reaped worker's counters join the totals and its region is zeroed for the slot's
    /// next worker; counts its restart, if it was one.
    pub(super) fn metrics_reaped(&mut self, worker: &Worker, cause: Option<RestartCause>) {
        let Some(tally) = self.metrics.as_mut().map(|m| &mut m.tally) else {
            return;
        };
        if let Some(region) = worker.slot.and_then(|i| tally.block.region(i)) {
            let counts = region.take();
            tally.totals.add(&counts);
        }
        if let Some(cause) = cause {
            tally.restarts[cause.index()] += 1;
        }
    }

    /// Counts a reload's outcome.
    pub(super) fn count_reload(&mut self, outcome: ReloadOutcome) {
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.tally.reloads[outcome.index()] += 1;
        }
    }
}

/// A process's resident memory in bytes, from `/proc/PID/statm` (its second field, in
/// pages).
fn resident_bytes(pid: i32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size, in bytes.
fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as u64)
}
