//! The master process: owns the listeners and the worker table, forks workers, and turns
//! signals into actions. It never touches a client socket and never runs Python (unless
//! master-side hooks or a preloaded app need it: [`crate::hooks`], [`crate::wsgi::interp`]).
//!
//! The loop (gunicorn's shape): wait up to a tick for a signal or for a worker ringing the
//! scoreboard's bell, act on signals, then always reap exited children, enforce deadlines and
//! converge the worker table on its target. Signal handlers only record
//! ([`crate::signals`]); everything happens here, in one thread, which is also what makes
//! `fork` sound.
//!
//! Where things live:
//! * this file: the loop, signals, stopping, forking;
//! * [`generation`]: HUP reloads, readiness-gated replacement of workers, bind changes;
//! * [`recycle`]: `--max-requests`, `--max-worker-lifetime`, `--max-worker-memory`;
//! * [`exits`]: reaping, what a worker's death means, respawn backoff;
//! * [`timeouts`]: `--timeout` (SIGABRT, then SIGKILL) and stop deadlines;
//! * [`services`]: what the master answers itself, between supervision passes;
//! * [`control`]: the commands of the control socket (`rsgi-server ctl`);
//! * [`readiness`]: the server's readiness, published in the scoreboard for health probes;
//! * [`metrics`]: the `--metrics-bind` scrape server and the counters only the master
//!   keeps.
//!
//! Signals (gunicorn's semantics): TERM stops gracefully (workers drain, SIGKILL after
//! `--graceful-timeout`; with `--drain-delay`, readiness goes down first and everything keeps
//! serving for the delay); INT and QUIT stop quickly (workers exit now, SIGKILL after
//! [`QUICK_STOP_GRACE`]); HUP reloads; TTIN/TTOU add or remove a worker.

mod control;
mod exits;
mod generation;
mod metrics;
mod readiness;
mod recycle;
mod services;
mod statsd;
mod timeouts;

use crate::config::Config;
use crate::control::socket::ControlSocket;
use crate::listen::Listener;
use crate::process::systemd::Notifier;
use crate::process::upgrade;
use crate::scoreboard::{Scoreboard, State};
use crate::signals::{self, Signal, SignalIntake};
use crate::tls::ServerTls;
use crate::worker;
use crate::wsgi::hooks::{MasterHooks, WorkerInfo};
use crate::wsgi::interp;
use exits::Backoff;
use generation::Stable;
use nix::poll::PollFlags;
use nix::sys::signal::{Signal as Sig, kill};
use nix::unistd::{ForkResult, Pid, fork, getpid};
use recycle::{Jitter, Retire};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Longest the loop sleeps when nothing happens: the resolution of timeouts, lifetimes and
/// memory sampling.
const TICK: Duration = Duration::from_secs(1);

/// How long workers told to stop now (QUIT) get before SIGKILL (at most
/// `--graceful-timeout`). A worker whose app is running on its event-loop thread cannot
/// react to QUIT until the app returns; a quick stop does not wait for that.
pub const QUICK_STOP_GRACE: Duration = Duration::from_secs(2);

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

/// The signals held back from startup until the master handles them
/// ([`crate::signals::hold_until_installed`]): those whose default action would end or stop
/// the process although they ask for something else. TERM, INT and QUIT keep theirs, so a
/// server stuck starting up can still be stopped.
pub const HELD_AT_STARTUP: [Signal; 6] = [
    Signal::Hup,
    Signal::Usr1,
    Signal::Usr2,
    Signal::Ttin,
    Signal::Ttou,
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

/// One live worker, as the master sees it.
#[derive(Debug)]
struct Worker {
    /// Its scoreboard slot; `None` beyond the scoreboard's capacity (then it counts as
    /// ready once forked, and has no watchdog).
    slot: Option<usize>,
    /// The reload generation it was started for.
    generation: u64,
    /// Its spawn number (gunicorn's `age`).
    age: u64,
    started: Instant,
    /// Its `--max-worker-lifetime`, jitter included.
    lifetime: Option<Duration>,
    /// Why it is to be replaced; it serves until its replacement is ready.
    retiring: Option<Retire>,
    /// The master asked it to stop: how and when.
    stop: Option<StopSent>,
    /// When the master sent SIGABRT for a timeout.
    aborted: Option<Instant>,
    /// The master sent SIGKILL.
    killed: bool,
}

/// A stop signal the master sent to a worker.
#[derive(Clone, Copy, Debug)]
struct StopSent {
    signal: Sig,
    at: Instant,
}

/// Where the server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Serving: converge on the target worker count.
    Running,
    /// TERM with `--drain-delay`: serving as when running, readiness down, until the
    /// graceful stop begins.
    DrainDelay {
        /// When the graceful stop begins.
        until: Instant,
    },
    /// Stopping: no respawns; the loop ends when the last worker is reaped.
    Stopping {
        /// TERM (drain) rather than QUIT (now).
        graceful: bool,
    },
}

/// The master's state.
struct Arbiter {
    /// The configuration of the current generation.
    config: Config,
    /// The current generation's TLS configuration (its certificate), if it serves TLS.
    tls: Option<ServerTls>,
    /// The listeners of the current generation.
    listeners: Vec<Rc<Listener>>,
    /// The last generation that was completely ready, to fall back to when a reload fails.
    stable: Stable,
    /// The current generation: new workers are started for it.
    generation: u64,
    /// The highest generation ever started (numbers are never reused, even when a reload
    /// is abandoned).
    latest_generation: u64,
    /// The last generation announced ready (every worker ready); 0: none yet.
    announced: u64,
    /// The first generation has been ready: from now on no worker failure stops the server.
    booted: bool,
    signals: Option<SignalIntake>,
    scoreboard: Scoreboard,
    workers: BTreeMap<Pid, Worker>,
    /// Workers wanted (the config's, changed by TTIN/TTOU).
    target: u32,
    phase: Phase,
    exit: Exit,
    pid: Pid,
    /// Workers forked so far.
    spawned: u64,
    hooks: MasterHooks,
    notifier: Option<Notifier>,
    next_watchdog: Option<Instant>,
    last_status: String,
    backoff: Backoff,
    jitter: Jitter,
    next_memory_sample: Instant,
    /// The control socket, if there is one (`--control-socket`).
    control: Option<control::Control>,
    /// `--metrics-bind`: the scrape server and the workers' shared regions.
    metrics: Option<metrics::Metrics>,
}

/// Supervises workers serving `listeners` until the server stops.
/// `tls` is the TLS configuration `config` asks for, loaded before binding; `control`, the
/// bound control socket, if any.
pub fn run(
    config: Config,
    tls: Option<ServerTls>,
    listeners: Vec<Listener>,
    control: Option<ControlSocket>,
    hooks: MasterHooks,
) -> Exit {
    let signals = match SignalIntake::install(&HANDLED) {
        Ok(s) => s,
        Err(err) => return Exit::Failed(format!("cannot install signal handlers: {err}")),
    };
    let scoreboard = match Scoreboard::new() {
        Ok(s) => s,
        Err(err) => return Exit::Failed(format!("cannot map the worker scoreboard: {err}")),
    };
    // Mapped and bound before any fork: every worker inherits the block.
    let metrics = match &config.metrics.bind {
        Some(addr) => match metrics::Metrics::start(addr) {
            Ok(m) => Some(m),
            Err(err) => return Exit::Failed(err),
        },
        None => {
            // The previous master's metrics listener, which this configuration does not
            // want: not kept open.
            if let Some(fd) = upgrade::take_metrics_fd() {
                let _ = nix::unistd::close(fd);
            }
            None
        }
    };
    let listeners: Vec<Rc<Listener>> = listeners.into_iter().map(Rc::new).collect();
    let notifier = Notifier::from_env();
    let next_watchdog = notifier
        .as_ref()
        .and_then(Notifier::watchdog_interval)
        .map(|_| Instant::now());
    let mut arbiter = Arbiter {
        stable: Stable {
            generation: 1,
            config: config.clone(),
            tls: tls.clone(),
            listeners: listeners.clone(),
        },
        tls,
        target: config.workers.count,
        config,
        listeners,
        generation: 1,
        latest_generation: 1,
        announced: 0,
        booted: false,
        signals: Some(signals),
        scoreboard,
        workers: BTreeMap::new(),
        phase: Phase::Running,
        exit: Exit::Stopped,
        pid: getpid(),
        spawned: 0,
        hooks,
        notifier,
        next_watchdog,
        last_status: String::new(),
        backoff: Backoff::default(),
        jitter: Jitter::new(),
        next_memory_sample: Instant::now(),
        control: control.map(control::Control::new),
        metrics,
    };
    tracing::info!(
        "Starting rsgi-server {} (pid: {})",
        env!("CARGO_PKG_VERSION"),
        arbiter.pid
    );
    if let Some(metrics) = &arbiter.metrics {
        metrics.announce();
    }
    arbiter.hooks.on_starting();
    arbiter.run();
    arbiter.hooks.on_exit();
    // After a USR2 upgrade the new master serves these sockets: their files must stay.
    let handed_over = upgrade::hand_over();
    if !handed_over {
        for listener in arbiter.listeners.iter().chain(&arbiter.stable.listeners) {
            listener.remove_socket_file();
        }
    }
    if let Some(control) = &arbiter.control {
        control.remove_socket_file();
    }
    if let Some(metrics) = arbiter.metrics.as_ref().filter(|_| !handed_over) {
        metrics.remove_socket_file();
    }
    tracing::info!("Shutdown complete (pid: {})", arbiter.pid);
    arbiter.exit
}

impl Arbiter {
    fn run(&mut self) {
        loop {
            self.reap();
            self.enforce_deadlines();
            if let Phase::DrainDelay { until } = self.phase {
                if Instant::now() >= until {
                    self.stop(true);
                }
            }
            match self.phase {
                Phase::Running | Phase::DrainDelay { .. } => {
                    self.check_retirements();
                    self.converge();
                    self.check_generation();
                    statsd::report(&self.workers, &self.listeners);
                }
                Phase::Stopping { .. } => {
                    if self.workers.is_empty() {
                        return;
                    }
                }
            }
            self.publish_status();
            self.publish_readiness();
            let timeout = self.next_wake();
            let received = match &self.signals {
                Some(intake) => {
                    let mut fds = vec![(self.scoreboard.bell_fd(), PollFlags::POLLIN)];
                    fds.extend(self.service_fds());
                    intake.wait_with(&fds, timeout)
                }
                None => return,
            };
            // Whatever a worker rang for, the passes above look at every slot.
            self.scoreboard.clear_bell();
            for signal in received {
                self.handle(signal);
            }
            // What woke us (a worker's bell: ready, shedding) may change what a probe
            // answers now, before the next pass.
            self.publish_readiness();
            self.serve();
        }
    }

    /// How long the loop may sleep: a tick, less if a respawn or the systemd watchdog is
    /// due sooner.
    fn next_wake(&mut self) -> Duration {
        let now = Instant::now();
        let mut wake = now + TICK;
        if let Some(until) = self.backoff.until() {
            wake = wake.min(until);
        }
        if let Phase::DrainDelay { until } = self.phase {
            wake = wake.min(until);
        }
        if let (Some(at), Some(notifier)) = (self.next_watchdog, &self.notifier) {
            if now >= at {
                notifier.watchdog();
                let interval = notifier.watchdog_interval().unwrap_or(TICK);
                self.next_watchdog = Some(now + interval);
            }
            if let Some(at) = self.next_watchdog {
                wake = wake.min(at);
            }
        }
        wake.saturating_duration_since(now)
    }

    fn handle(&mut self, signal: Signal) {
        if signal != Signal::Chld {
            tracing::info!("Handling signal: {}", signal_name(signal));
        }
        match signal {
            Signal::Term => self.stop(true),
            Signal::Int | Signal::Quit => self.stop(false),
            Signal::Chld => {} // reaped after every wake-up anyway
            Signal::Hup => self.reload(),
            Signal::Ttin => self.set_target(self.target.saturating_add(1)),
            Signal::Ttou => {
                if self.target > 1 {
                    self.set_target(self.target - 1);
                } else {
                    tracing::info!("SIGTTOU: already at 1 worker; ignored");
                }
            }
            // Binary upgrade: a new master, with the new binary, beside this one.
            Signal::Usr2 => {
                let hooks = &self.hooks;
                let metrics = self.metrics.as_ref().map(metrics::Metrics::listener);
                upgrade::start(self.listeners.iter().map(|l| &**l), metrics, || {
                    hooks.pre_exec()
                });
            }
            Signal::Winch if upgrade::in_progress() => self.set_target(0),
            Signal::Winch => tracing::info!("SIGWINCH ignored: no new master (USR2) is running"),
            Signal::Usr1 => self.reopen_logs(),
        }
    }

    /// USR1: logrotate moved the files; every process reopens its own.
    fn reopen_logs(&self) {
        crate::logging::reopen();
        for pid in self.workers.keys() {
            // ESRCH: already dead, to be reaped.
            let _ = kill(*pid, Sig::SIGUSR1);
        }
    }

    /// TTIN/TTOU: a new target worker count; `converge` spawns or stops workers.
    pub(super) fn set_target(&mut self, target: u32) {
        if self.phase != Phase::Running {
            return;
        }
        let old = self.target;
        self.target = target;
        tracing::info!("Number of workers changed from {old} to {target}");
        self.hooks.nworkers_changed(target, old);
    }

    /// Begins stopping: graceful asks workers to finish what they are doing (TERM), quick
    /// tells them to exit now (QUIT). A quick stop during a graceful one hurries it up.
    /// A graceful stop with `--drain-delay` first waits that long with readiness down; a
    /// stop asked for during that delay begins at once.
    fn stop(&mut self, graceful: bool) {
        let delay = self.config.health.drain_delay;
        match self.phase {
            Phase::Running if graceful && !delay.is_zero() => {
                self.notify_stopping();
                self.phase = Phase::DrainDelay {
                    until: Instant::now() + delay,
                };
                // Published before it is logged: whoever saw the line sees readiness down.
                self.publish_readiness();
                tracing::info!(
                    "Draining: readiness is down, still serving; graceful shutdown in {}s \
                     (--drain-delay; TERM again to stop now)",
                    delay.as_secs()
                );
                return;
            }
            Phase::Running => self.notify_stopping(),
            Phase::DrainDelay { .. } => {}
            Phase::Stopping { graceful: true } if !graceful => {}
            Phase::Stopping { .. } => return,
        }
        tracing::info!(
            "Shutting down ({})",
            if graceful { "graceful" } else { "quick" }
        );
        self.phase = Phase::Stopping { graceful };
        let signal = if graceful { Sig::SIGTERM } else { Sig::SIGQUIT };
        let pids: Vec<Pid> = self.workers.keys().copied().collect();
        for pid in pids {
            self.stop_worker(pid, signal);
        }
    }

    /// Tells systemd the server is stopping (once: at the first stop signal).
    fn notify_stopping(&self) {
        if let Some(notifier) = &self.notifier {
            notifier.stopping(upgrade::new_master().map(Pid::as_raw));
        }
    }

    /// Asks one worker to stop (TERM: drain; QUIT: now), unless it was already asked as
    /// firmly.
    fn stop_worker(&mut self, pid: Pid, signal: Sig) {
        let Some(worker) = self.workers.get_mut(&pid) else {
            return;
        };
        if worker
            .stop
            .is_some_and(|s| s.signal == signal || s.signal == Sig::SIGQUIT)
        {
            return;
        }
        // ESRCH: already dead, to be reaped.
        let _ = kill(pid, signal);
        worker.stop = Some(StopSent {
            signal,
            at: Instant::now(),
        });
    }

    /// Whether a worker serves requests now (its slot says ready or busy).
    fn is_ready(&self, worker: &Worker) -> bool {
        match worker.slot.and_then(|i| self.scoreboard.slot(i)) {
            Some(slot) => matches!(slot.state(), State::Ready | State::Busy),
            None => true,
        }
    }

    fn info(pid: Pid, worker: &Worker) -> WorkerInfo {
        WorkerInfo {
            pid: pid.as_raw(),
            age: worker.age,
            slot: worker.slot,
        }
    }

    /// Tells systemd (and nobody else) how many workers serve, when that changes.
    fn publish_status(&mut self) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let ready = self.workers.values().filter(|w| self.is_ready(w)).count();
        let status = format!(
            "{ready} workers ready (target {}, generation {})",
            self.target, self.generation
        );
        if status != self.last_status {
            notifier.status(&status);
            self.last_status = status;
        }
    }

    /// Forks a worker of the current generation.
    fn spawn(&mut self) -> nix::Result<()> {
        let index = self
            .scoreboard
            .free_slot(|i| self.workers.values().any(|w| w.slot == Some(i)));
        let request_limit = self.config.recycle.max_requests.map_or(0, |n| {
            n + self.jitter.upto(self.config.recycle.max_requests_jitter)
        });
        let seat = index.and_then(|i| self.scoreboard.seat(i));
        let region = index.and_then(|i| self.metrics.as_ref()?.region(i));
        if let Some(seat) = seat {
            seat.slot.claim(self.generation, request_limit);
        }
        let lifetime = self.config.recycle.max_worker_lifetime.map(|l| {
            let jitter = self
                .jitter
                .upto(self.config.recycle.max_worker_lifetime_jitter.as_secs());
            l + Duration::from_secs(jitter)
        });
        self.spawned += 1;
        let worker = Worker {
            slot: index,
            generation: self.generation,
            age: self.spawned,
            started: Instant::now(),
            lifetime,
            retiring: None,
            stop: None,
            aborted: None,
            killed: false,
        };
        self.hooks.pre_fork(&Self::info(Pid::from_raw(0), &worker));
        debug_assert_single_threaded();
        signals::block_for_fork(&HANDLED);
        interp::before_fork();
        // SAFETY: the master runs a single thread of ours (no runtime, no logging thread,
        // checked in debug builds above), so the child can safely run arbitrary code after
        // fork. Threads a preloaded app started are warned about at startup; the child has
        // only this one, and the fork bracket above resets the interpreter's locks.
        let forked = unsafe { fork() };
        match forked {
            Err(err) => {
                interp::after_fork_parent();
                signals::unblock_after_fork();
                if let Some(seat) = seat {
                    seat.slot.release();
                }
                Err(err)
            }
            Ok(ForkResult::Child) => {
                interp::after_fork_child();
                // The master's handlers go; the worker installs its own, which also unblocks
                // signals blocked for the fork.
                if let Some(intake) = self.signals.take() {
                    intake.uninstall();
                }
                // Sockets a reload is removing stay open in the master until the old
                // workers are gone; a new worker must not hold them open.
                self.stable.listeners.clear();
                // The control socket and its connections are the master's alone.
                self.control = None;
                // Nor the metrics listener and its connections (the block stays mapped).
                self.metrics = None;
                let listeners: Vec<&Listener> = self.listeners.iter().map(|l| &**l).collect();
                let code = worker::run(
                    &self.config,
                    self.tls.as_ref(),
                    &listeners,
                    self.pid,
                    seat,
                    region,
                );
                std::process::exit(code);
            }
            Ok(ForkResult::Parent { child }) => {
                interp::after_fork_parent();
                signals::unblock_after_fork();
                if let Some(seat) = seat {
                    seat.slot.set_pid(child.as_raw());
                }
                tracing::info!("Booting worker with pid: {child}");
                self.workers.insert(child, worker);
                Ok(())
            }
        }
    }
}

/// A signal's name as gunicorn logs it ("hup", "ttin").
fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Term => "term",
        Signal::Int => "int",
        Signal::Quit => "quit",
        Signal::Hup => "hup",
        Signal::Chld => "chld",
        Signal::Ttin => "ttin",
        Signal::Ttou => "ttou",
        Signal::Usr1 => "usr1",
        Signal::Usr2 => "usr2",
        Signal::Winch => "winch",
    }
}

/// Debug builds check the invariant that makes `fork` sound: one thread in this process.
/// Not with Python in the master: threads a preloaded app or a hooks module started are the
/// application's (`main` warns about them), and must not crash the server.
fn debug_assert_single_threaded() {
    if cfg!(debug_assertions) && !interp::is_initialized() {
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
