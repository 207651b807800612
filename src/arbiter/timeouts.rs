//! Deadlines the master enforces on workers.
//!
//! * `--timeout`: a worker whose request has made no progress for that long (the
//!   scoreboard's `busy_since`) is logged with the request's method and path and sent
//!   SIGABRT; the worker reports where it was stuck and exits. If it has not exited
//!   [`ABORT_GRACE`] later, SIGKILL.
//! * A worker asked to stop gets SIGKILL once its grace is over: `--graceful-timeout` after
//!   TERM, [`super::QUICK_STOP_GRACE`] after QUIT.

use super::{Arbiter, QUICK_STOP_GRACE};
use crate::scoreboard::now_ms;
use nix::sys::signal::{Signal as Sig, kill};
use std::time::{Duration, Instant};

/// How long a worker sent SIGABRT for a timeout has to exit before SIGKILL.
pub const ABORT_GRACE: Duration = Duration::from_secs(5);

impl Arbiter {
    /// Sends SIGABRT to stuck workers and SIGKILL to workers past their grace.
    pub(super) fn enforce_deadlines(&mut self) {
        let now = Instant::now();
        let timeout = self.config.workers.timeout;
        let graceful = self.config.workers.graceful_timeout;
        for (pid, worker) in &mut self.workers {
            if worker.killed {
                continue;
            }
            if let Some(at) = worker.aborted {
                if now >= at + ABORT_GRACE {
                    tracing::error!(
                        "Worker (pid: {pid}) did not exit {}s after SIGABRT; killing it",
                        ABORT_GRACE.as_secs()
                    );
                    let _ = kill(*pid, Sig::SIGKILL);
                    worker.killed = true;
                }
                continue;
            }
            if let Some(stop) = worker.stop {
                let grace = if stop.signal == Sig::SIGQUIT {
                    QUICK_STOP_GRACE.min(graceful)
                } else {
                    graceful
                };
                if now >= stop.at + grace {
                    tracing::warn!(
                        "Worker (pid: {pid}) still running {:.1}s after {}; killing it",
                        grace.as_secs_f64(),
                        stop.signal
                    );
                    let _ = kill(*pid, Sig::SIGKILL);
                    worker.killed = true;
                    continue;
                }
            }
            let Some(timeout) = timeout else { continue };
            let Some(slot) = worker.slot.and_then(|i| self.scoreboard.slot(i)) else {
                continue;
            };
            let Some(stalled) = slot.stalled_for().filter(|s| *s >= timeout) else {
                continue;
            };
            let (line, running) = match slot.request() {
                Some(r) if !r.line.is_empty() => (
                    r.line,
                    Duration::from_millis(now_ms().saturating_sub(r.started_ms)),
                ),
                _ => ("a request".to_owned(), stalled),
            };
            tracing::error!(
                target: crate::logging::error::CRITICAL,
                "WORKER TIMEOUT (pid: {pid}): {line} running for {:.1}s, no progress for \
                 {:.1}s (--timeout {}); sending SIGABRT",
                running.as_secs_f64(),
                stalled.as_secs_f64(),
                timeout.as_secs()
            );
            let _ = kill(*pid, Sig::SIGABRT);
            worker.aborted = Some(now);
        }
    }
}
