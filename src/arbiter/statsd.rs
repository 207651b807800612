//! The master's StatsD gauges, as gunicorn's arbiter sends them from `manage_workers`, once
//! per loop pass while running: `gunicorn.workers` when the count changed since it was last
//! sent, and with `--enable-backlog-metric` the listeners' accept-queue depth as
//! `gunicorn.backlog` (a histogram in gunicorn) every pass.

use super::Worker;
use crate::listen::Listener;
use crate::listen::backlog;
use crate::logging::statsd::{self, Kind};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};

/// The worker count last sent (-1: none yet). The master is one thread; the atomic only
/// keeps this out of the arbiter's state.
static LAST_WORKERS: AtomicI64 = AtomicI64::new(-1);

/// Sends the gauges due this pass; the workers counted are those serving or starting (not
/// told to stop).
pub(super) fn report(workers: &BTreeMap<Pid, Worker>, listeners: &[Rc<Listener>]) {
    if !statsd::enabled() {
        return;
    }
    let workers = workers.values().filter(|w| w.stop.is_none()).count() as i64;
    if LAST_WORKERS.swap(workers, Ordering::Relaxed) != workers {
        statsd::value("gunicorn.workers", workers, Kind::Gauge);
    }
    if statsd::backlog_enabled() {
        // gunicorn sums `get_backlog() or 0` over its listeners, where a Unix socket's is -1
        // (and counts): the sum is sent only when it is not negative.
        let depth: i64 = listeners
            .iter()
            .map(|l| match &**l {
                Listener::Tcp { .. } => backlog::depth(l).map_or(0, |b| i64::from(b.queued)),
                _ => -1,
            })
            .sum();
        if depth >= 0 {
            statsd::value("gunicorn.backlog", depth, Kind::Histogram);
        }
    }
}
