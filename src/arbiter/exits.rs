//! Reaping workers, and what each death means.
//!
//! * A death the master asked for (a stop, a timeout's SIGABRT, a SIGKILL after a deadline)
//!   is logged as such; `converge` replaces the worker if the server is running.
//! * A worker that exits before it was ever ready during the first boot (the app does not
//!   import, Python does not start, it crashes) stops the server with its exit code: the app
//!   cannot be served, and respawning would only loop.
//! * One of a new generation (HUP) abandons that reload ([`super::generation`]).
//! * Any other death is a crash: logged with its exit code or signal (a SIGKILL nobody sent
//!   is most likely the OOM killer), never blamed on a timeout, and the worker is respawned
//!   after a delay that doubles with each crash in a row ([`Backoff`]).

use super::recycle::Retire;
use super::{Arbiter, Phase, Worker};
use crate::exit::{EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR, EXIT_PANIC, EXIT_TIMEOUT};
use crate::metrics::exposition::RestartCause;
use nix::sys::signal::Signal as Sig;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// The first respawn delay after a crash.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest respawn delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A worker that lived this long before crashing resets the delay: it was not a crash loop.
const STABLE_AFTER: Duration = Duration::from_secs(10);

/// How a worker ended.
#[derive(Clone, Copy, Debug)]
enum Ended {
    Code(i32),
    Signal(Sig),
}

/// The respawn delay after crashes: 0.1 s, doubling with every crash in a row up to 10 s,
/// back to 0.1 s once a worker stayed up [`STABLE_AFTER`].
#[derive(Debug, Default)]
pub(super) struct Backoff {
    delay: Duration,
    until: Option<Instant>,
}

impl Backoff {
    /// A worker that lived `lived` crashed (or a fork failed): returns the delay before the
    /// next spawn.
    pub(super) fn failed(&mut self, lived: Duration) -> Duration {
        self.delay = if self.delay.is_zero() || lived >= STABLE_AFTER {
            BACKOFF_MIN
        } else {
            (self.delay * 2).min(BACKOFF_MAX)
        };
        self.until = Some(Instant::now() + self.delay);
        self.delay
    }

    /// Whether spawning must wait.
    pub(super) fn waiting(&mut self) -> bool {
        match self.until {
            Some(until) if Instant::now() < until => true,
            _ => {
                self.until = None;
                false
            }
        }
    }

    /// When spawning may resume, if it waits.
    pub(super) fn until(&self) -> Option<Instant> {
        self.until
    }
}

impl Arbiter {
    /// Why a reaped worker is being replaced, for `rsgi_worker_restarts_total`; `None` when
    /// it is not (the server is stopping, or there are more workers than wanted).
    fn restart_cause(&self, worker: &Worker, ended: Ended) -> Option<RestartCause> {
        if matches!(self.phase, Phase::Stopping { .. }) {
            return None;
        }
        if worker.aborted.is_some() {
            return Some(RestartCause::Timeout);
        }
        if let Some(retire) = worker.retiring {
            return Some(match retire {
                Retire::MaxRequests => RestartCause::MaxRequests,
                Retire::Lifetime => RestartCause::Lifetime,
                Retire::Memory => RestartCause::Memory,
            });
        }
        if worker.stop.is_some() || worker.killed {
            return (worker.generation != self.generation).then_some(RestartCause::Reload);
        }
        Some(match ended {
            Ended::Code(_) => RestartCause::Exit,
            Ended::Signal(_) => RestartCause::Signal,
        })
    }

    /// Collects every exited child (SIGCHLD signals collapse, so loop until none is left).
    pub(super) fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.exited(pid, Ended::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => self.exited(pid, Ended::Signal(sig)),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn exited(&mut self, pid: Pid, ended: Ended) {
        if crate::process::upgrade::reaped(pid) {
            // The new master died: if WINCH had stopped our workers, serve again.
            if self.target == 0 {
                self.set_target(self.config.workers.count);
            }
            return;
        }
        let Some(worker) = self.workers.remove(&pid) else {
            return; // not ours (as PID 1 we may adopt orphans)
        };
        let slot = worker.slot.and_then(|i| self.scoreboard.slot(i));
        let was_ready = slot.is_none_or(|s| s.has_been_ready());
        // What a crash cut short, read before the slot is given back: a chaos test (and an
        // operator) can tell a death that lost a request from one that lost nothing.
        let lost = slot
            .filter(|s| s.busy_since() != 0)
            .and_then(|s| s.request())
            .filter(|r| !r.line.is_empty())
            .map_or_else(String::new, |r| format!(" while running {}", r.line));
        // Before the slot is free to be reused: its metrics region is folded and zeroed.
        self.metrics_reaped(&worker, self.restart_cause(&worker, ended));
        if let Some(slot) = slot {
            slot.release();
        }
        self.hooks.child_exit(&Self::info(pid, &worker));
        let lived = worker.started.elapsed();
        let after = format!("after {:.1}s", lived.as_secs_f64());

        // Deaths the master asked for, and clean exits (a worker that saw its master die,
        // or got INT from a terminal's Ctrl-C before the master did): not crashes.
        match ended {
            Ended::Code(0) if worker.stop.is_some() || was_ready => {
                tracing::info!("Worker exited (pid: {pid})");
                return;
            }
            Ended::Code(EXIT_TIMEOUT) if worker.aborted.is_some() => {
                tracing::warn!("Worker (pid: {pid}) exited after its timeout");
                return;
            }
            Ended::Signal(Sig::SIGABRT) if worker.aborted.is_some() => {
                tracing::warn!("Worker (pid: {pid}) was killed by SIGABRT after its timeout");
                return;
            }
            Ended::Signal(Sig::SIGKILL) if worker.killed => {
                tracing::warn!("Worker (pid: {pid}) was killed by the master (SIGKILL) {after}");
                return;
            }
            _ => {}
        }
        let what = match ended {
            Ended::Code(EXIT_PANIC) => {
                format!("exited with code {EXIT_PANIC} (a bug in rsgi-server: it panicked)")
            }
            Ended::Code(code) => format!("exited with code {code}"),
            Ended::Signal(Sig::SIGKILL) => "was killed by SIGKILL (perhaps the OOM killer)".into(),
            Ended::Signal(sig) => format!("was killed by {sig}"),
        };
        let expected = worker.stop.is_some() || worker.aborted.is_some() || worker.killed;
        if expected || matches!(self.phase, Phase::Stopping { .. }) {
            tracing::warn!("Worker (pid: {pid}) {what} {after}");
            return;
        }
        if !was_ready {
            let why = match ended {
                Ended::Code(EXIT_APP_LOAD_ERROR) => "the app failed to load".to_owned(),
                Ended::Code(EXIT_BOOT_ERROR) => "the worker failed to start".to_owned(),
                _ => format!("it {what} before it was ready"),
            };
            if !self.booted {
                if matches!(ended, Ended::Code(EXIT_APP_LOAD_ERROR)) {
                    // The worker logged the failure with its traceback: not again here.
                    tracing::error!(
                        "Worker (pid: {pid}) could not load the app; stopping \
                         (exit code {EXIT_APP_LOAD_ERROR})"
                    );
                } else {
                    tracing::error!("Worker (pid: {pid}) failed to boot: {why}; stopping");
                }
                self.exit = super::Exit::BootFailed(match ended {
                    Ended::Code(code @ (EXIT_APP_LOAD_ERROR | EXIT_BOOT_ERROR)) => code,
                    _ => EXIT_BOOT_ERROR,
                });
                self.stop(false);
                return;
            }
            if self.reloading() && worker.generation == self.generation {
                self.abandon_reload(pid, &why);
                return;
            }
            let delay = self.backoff.failed(lived);
            tracing::error!(
                "Worker (pid: {pid}) failed to boot: {why}; respawning in {:.1}s",
                delay.as_secs_f64()
            );
            return;
        }
        let delay = self.backoff.failed(lived);
        tracing::error!(
            "Worker (pid: {pid}) {what} {after}{lost}; respawning in {:.1}s",
            delay.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_resets_after_a_stable_life() {
        let mut backoff = Backoff::default();
        let quick = Duration::from_millis(50);
        assert_eq!(backoff.failed(quick), BACKOFF_MIN);
        assert!(backoff.waiting());
        assert_eq!(backoff.failed(quick), BACKOFF_MIN * 2);
        assert_eq!(backoff.failed(quick), BACKOFF_MIN * 4);
        for _ in 0..20 {
            backoff.failed(quick);
        }
        assert_eq!(backoff.failed(quick), BACKOFF_MAX);
        assert_eq!(backoff.failed(STABLE_AFTER), BACKOFF_MIN);
    }
}
