//! The master process: owns the listeners and the worker table, forks workers, and turns
//! signals into actions. It never touches a client socket and never runs Python.
//!
//! The loop (gunicorn's shape): wait up to a tick for signals, act on them, then always reap
//! exited children and converge the worker count on its target. Signal handlers only record
//! ([`crate::signals`]); everything happens here, in one thread, which is also what makes
//! `fork` sound.
//!
//! Rules:
//! 1. A worker that exits with [`worker::EXIT_APP_LOAD_ERROR`] or [`worker::EXIT_BOOT_ERROR`]
//!    stops the server: the app cannot be served, and respawning would only loop.
//! 2. Any other worker death while running is replaced.
//! 3. A stop (TERM/INT graceful, QUIT quick) asks every worker to stop, waits for them up to
//!    `--graceful-timeout`, then kills what is left.

use crate::config::Config;
use crate::hooks::{MasterHooks, WorkerInfo};
use crate::listen::Listener;
use crate::scoreboard::{CAPACITY, Scoreboard};
use crate::signals::{Signal, SignalIntake};
use crate::worker;
use crate::wsgi::interp;
use nix::sys::signal::{Signal as Sig, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long the loop sleeps when nothing happens.
const TICK: Duration = Duration::from_secs(1);

/// The signals the master handles; every other keeps its default disposition.
const HANDLED: [Signal; 10] = [
    Signal::Term,
    Signal::Int,
    Signal::Quit,
    Signal::Hup,
    Signal::Chld,
    Signal::Ttin,
    Signal::Ttou,
    Signal::Usr1,
    Signal::Usr2,
    Signal::Winch,
];

/// Why the master stopped; `main` turns it into the exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Stopped on request.
    Stopped,
    /// Workers could not load the app (or start Python): the code they exited with.
    BootFailed(i32),
    /// The master itself could not work (signals, fork).
    Failed(String),
}

/// One live worker.
#[derive(Debug)]
struct WorkerSlot {
    started: Instant,
    /// Its scoreboard slot index, if one was free.
    slot: Option<usize>,
    /// Already killed for a timeout (waiting to be reaped).
    timed_out: bool,
    /// Its spawn number (gunicorn's `age`).
    age: u64,
}

/// Workers forked so far.
static SPAWNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Where the server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Serving: converge on the target worker count.
    Running,
    /// Stopping: no respawns; kill survivors at `deadline`.
    Stopping { deadline: Instant, killed: bool },
}

/// The master's state.
struct Arbiter {
    config: Config,
    listeners: Vec<Listener>,
    signals: Option<SignalIntake>,
    workers: BTreeMap<Pid, WorkerSlot>,
    target: u32,
    phase: Phase,
    exit: Exit,
    pid: Pid,
    scoreboard: Scoreboard,
}

/// Supervises workers serving `listeners` until the server stops.
pub fn run(config: Config, listeners: Vec<Listener>) -> Exit {
    let signals = match SignalIntake::install(&HANDLED) {
        Ok(s) => s,
        Err(err) => return Exit::Failed(format!("cannot install signal handlers: {err}")),
    };
    let scoreboard = match Scoreboard::new() {
        Ok(s) => s,
        Err(err) => return Exit::Failed(format!("cannot map the worker scoreboard: {err}")),
    };
    let mut arbiter = Arbiter {
        target: config.workers,
        config,
        listeners,
        signals: Some(signals),
        workers: BTreeMap::new(),
        phase: Phase::Running,
        exit: Exit::Stopped,
        pid: getpid(),
        scoreboard,
    };
    tracing::info!(
        "Starting rsgi-server {} (pid: {})",
        env!("CARGO_PKG_VERSION"),
        arbiter.pid
    );
    let hooks = MasterHooks::installed();
    hooks.on_starting();
    arbiter.run();
    hooks.on_exit();
    for listener in &arbiter.listeners {
        listener.remove_socket_file();
    }
    arbiter.exit
}

impl Arbiter {
    fn run(&mut self) {
        loop {
            self.reap();
            self.kill_stuck_workers();
            match self.phase {
                Phase::Running => self.converge(),
                Phase::Stopping { deadline, killed } => {
                    if self.workers.is_empty() {
                        return;
                    }
                    if !killed && Instant::now() >= deadline {
                        tracing::warn!(
                            "{} worker(s) still running after the graceful timeout; killing",
                            self.workers.len()
                        );
                        self.signal_all(Sig::SIGKILL);
                        self.phase = Phase::Stopping {
                            deadline,
                            killed: true,
                        };
                    }
                }
            }
            let received = match &self.signals {
                Some(intake) => intake.wait(TICK),
                None => return,
            };
            for signal in received {
                self.handle(signal);
            }
        }
    }

    fn handle(&mut self, signal: Signal) {
        match signal {
            Signal::Term | Signal::Int => self.stop(true),
            Signal::Quit => self.stop(false),
            Signal::Chld => {} // reaped after every wake-up anyway
            Signal::Ttin => {
                MasterHooks::installed().nworkers_changed(self.target + 1, self.target);
                self.target += 1;
                tracing::info!("SIGTTIN: workers now {}", self.target);
            }
            Signal::Ttou => {
                if self.target > 1 {
                    MasterHooks::installed().nworkers_changed(self.target - 1, self.target);
                    self.target -= 1;
                    tracing::info!("SIGTTOU: workers now {}", self.target);
                }
            }
            Signal::Hup | Signal::Usr1 | Signal::Usr2 | Signal::Winch => {
                tracing::warn!("{signal:?} is not supported yet; ignored");
            }
        }
    }

    /// Begins stopping: graceful asks workers to finish what they are doing (TERM), quick
    /// tells them to exit now (QUIT).
    fn stop(&mut self, graceful: bool) {
        if self.phase != Phase::Running {
            return;
        }
        tracing::info!(
            "Shutting down ({})",
            if graceful { "graceful" } else { "quick" }
        );
        // Quick stop differs in what workers are told (QUIT: drop everything now), not in
        // how long they get before SIGKILL.
        self.phase = Phase::Stopping {
            deadline: Instant::now() + self.config.graceful_timeout,
            killed: false,
        };
        self.signal_all(if graceful { Sig::SIGTERM } else { Sig::SIGQUIT });
    }

    fn signal_all(&self, signal: Sig) {
        for pid in self.workers.keys() {
            // ESRCH: already dead, to be reaped.
            let _ = kill(*pid, signal);
        }
    }

    /// Collects every exited child (SIGCHLD signals collapse, so loop until none is left).
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.exited(pid, Some(code), None),
                Ok(WaitStatus::Signaled(pid, sig, _)) => self.exited(pid, None, Some(sig)),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn exited(&mut self, pid: Pid, code: Option<i32>, signal: Option<Sig>) {
        let Some(slot) = self.workers.remove(&pid) else {
            return; // not ours (as PID 1 we may adopt orphans)
        };
        let lived = slot.started.elapsed();
        MasterHooks::installed().child_exit(&WorkerInfo {
            pid: pid.as_raw(),
            age: slot.age,
            slot: slot.slot,
        });
        match (code, signal) {
            (Some(code @ (worker::EXIT_APP_LOAD_ERROR | worker::EXIT_BOOT_ERROR)), _) => {
                if self.phase == Phase::Running {
                    if code == worker::EXIT_APP_LOAD_ERROR {
                        tracing::error!("failed to load app '{}'; stopping", self.config.app);
                    } else {
                        tracing::error!("worker failed to boot; stopping");
                    }
                    self.exit = Exit::BootFailed(code);
                    self.stop(false);
                }
            }
            (Some(0), _) => tracing::info!("Worker exited (pid: {pid})"),
            (Some(code), _) => {
                tracing::warn!("Worker (pid: {pid}) exited with code {code} after {lived:?}")
            }
            (None, Some(sig)) => {
                tracing::warn!("Worker (pid: {pid}) was killed by {sig} after {lived:?}")
            }
            (None, None) => {}
        }
    }

    /// Kills workers whose request has made no progress for `--timeout` (the app is stuck:
    /// an infinite loop, a deadlock, a call that never returns). The worker is replaced by
    /// the normal respawn.
    fn kill_stuck_workers(&mut self) {
        let Some(timeout) = self.config.timeout else {
            return;
        };
        for (pid, worker) in &mut self.workers {
            let stalled = worker
                .slot
                .and_then(|i| self.scoreboard.slot(i))
                .and_then(|slot| slot.stalled_for());
            if let Some(stalled) = stalled.filter(|s| *s > timeout) {
                if !worker.timed_out {
                    tracing::error!(
                        "WORKER TIMEOUT (pid: {pid}): no progress on a request for {:.1}s; killing",
                        stalled.as_secs_f64()
                    );
                    worker.timed_out = true;
                    // The worker dumps its stacks, answers 504 and exits (engine::abort).
                    let _ = kill(*pid, Sig::SIGABRT);
                }
            }
        }
    }

    /// Spawns or retires workers until the live count equals the target.
    fn converge(&mut self) {
        while self.workers.len() < self.target as usize {
            if let Err(err) = self.spawn() {
                tracing::error!("cannot fork a worker: {err}");
                self.exit = Exit::Failed(format!("fork failed: {err}"));
                self.stop(false);
                return;
            }
        }
        let excess = self.workers.len().saturating_sub(self.target as usize);
        // Retire the oldest first: the newest have the freshest state.
        let mut by_age: Vec<(Instant, Pid)> = self
            .workers
            .iter()
            .map(|(pid, w)| (w.started, *pid))
            .collect();
        by_age.sort();
        for (_, pid) in by_age.into_iter().take(excess) {
            let _ = kill(pid, Sig::SIGTERM);
            // Forget it now so converge does not count it again; its exit is still reaped.
            self.workers.remove(&pid);
        }
    }

    fn spawn(&mut self) -> nix::Result<()> {
        let used: Vec<usize> = self.workers.values().filter_map(|w| w.slot).collect();
        let index = (0..CAPACITY).find(|i| !used.contains(i));
        let heartbeat = index.and_then(|i| self.scoreboard.slot(i));
        if let Some(slot) = heartbeat {
            slot.idle();
        }
        let age = SPAWNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        MasterHooks::installed().pre_fork(&WorkerInfo {
            pid: 0,
            age,
            slot: index,
        });
        debug_assert_single_threaded();
        interp::before_fork();
        // SAFETY: the master runs a single thread (no runtime, no logging thread, checked in
        // debug builds above), so the child can safely run arbitrary code after fork.
        let forked = unsafe { fork() };
        match forked {
            Ok(ForkResult::Child) => interp::after_fork_child(),
            _ => interp::after_fork_parent(),
        }
        match forked? {
            ForkResult::Child => {
                if let Some(intake) = self.signals.take() {
                    intake.uninstall();
                }
                let code = worker::run(&self.config, &self.listeners, self.pid, heartbeat);
                std::process::exit(code);
            }
            ForkResult::Parent { child } => {
                tracing::info!("Booting worker with pid: {child}");
                self.workers.insert(
                    child,
                    WorkerSlot {
                        started: Instant::now(),
                        slot: index,
                        timed_out: false,
                        age,
                    },
                );
                Ok(())
            }
        }
    }
}

/// Debug builds check the invariant that makes `fork` sound: one thread in this process.
fn debug_assert_single_threaded() {
    if cfg!(debug_assertions) {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let threads = status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .map(str::trim);
            debug_assert_eq!(
                threads,
                Some("1"),
                "the master must fork from a single thread"
            );
        }
    }
}
