//! The master's side of the control socket ([`crate::control`]): what each command does.
//! Everything is read from the master's own state and the scoreboard, never by asking a
//! worker, except `dump-stacks`, which signals one worker at a time
//! ([`crate::wsgi::stack_pipe`]) and waits for its answer a bounded time, without blocking
//! the loop. The commands that act take the paths the signals take: `reload` is HUP's,
//! `scale` TTIN/TTOU's `set_target`, `stop` TERM's (INT's with `--quick`), `reopen-logs`
//! USR1's.

use super::recycle::resident_bytes;
use super::{Arbiter, Phase, Worker};
use crate::config::WORKERS_RANGE;
use crate::control::protocol::{self, COMMANDS, Command, Request, Show};
use crate::control::server::{ConnId, ControlServer};
use crate::control::socket::ControlSocket;
use crate::listen::Listener;
use crate::scoreboard::{State, now_ms};
use crate::wsgi::stack_pipe::{self, Collector};
use nix::poll::PollFlags;
use nix::sys::signal::Signal as Sig;
use nix::unistd::Pid;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// How long one worker gets to write its stacks.
const STACKS_WAIT: Duration = Duration::from_secs(2);

/// Longest `reload --wait` waits for the new generation.
const RELOAD_WAIT: Duration = Duration::from_secs(300);

/// The control socket's state in the master.
pub(super) struct Control {
    server: ControlServer,
    started: Instant,
    dump: Option<StackDump>,
    collector: Collector,
    reloads: Vec<ReloadWait>,
}

/// A `dump-stacks` under way: the workers still to ask, the one asked, the answers.
struct StackDump {
    conn: ConnId,
    id: Value,
    queue: VecDeque<Pid>,
    asked: Option<(Pid, Instant)>,
    done: Vec<Value>,
}

/// A `reload --wait` waiting for its generation's outcome.
struct ReloadWait {
    conn: ConnId,
    id: Value,
    generation: u64,
    until: Instant,
}

/// A command's outcome: a reply now, or later (the command is under way).
enum Outcome {
    Now(Result<Value, String>),
    Later,
}

impl Control {
    /// Serves `socket`; opens the pipe workers write their stacks to (before any fork).
    pub(super) fn new(socket: ControlSocket) -> Control {
        if let Err(err) = stack_pipe::open() {
            tracing::warn!("`ctl dump-stacks` will not work: cannot open its pipe: {err}");
        }
        tracing::info!("Control socket at: {}", socket.path().display());
        Control {
            server: ControlServer::new(socket),
            started: Instant::now(),
            dump: None,
            collector: Collector::default(),
            reloads: Vec::new(),
        }
    }

    /// The descriptors to wait on.
    pub(super) fn fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = self.server.fds();
        if self.dump.is_some() {
            fds.extend(stack_pipe::read_fd().map(|fd| (fd, PollFlags::POLLIN)));
        }
        fds
    }

    /// At exit: removes the socket file if it is still ours.
    pub(super) fn remove_socket_file(&self) {
        self.server.socket().remove_file_if_ours();
    }
}

impl Arbiter {
    /// Serves the control socket: new requests, dumps and reloads under way.
    pub(super) fn serve_control(&mut self) {
        let Some(mut control) = self.control.take() else {
            return;
        };
        for (conn, request) in control.server.poll() {
            match self.answer_command(&mut control, conn, &request) {
                Outcome::Now(Ok(data)) => {
                    control.server.reply(conn, &protocol::ok(&request.id, data))
                }
                Outcome::Now(Err(why)) => {
                    control
                        .server
                        .reply(conn, &protocol::error(&request.id, &why));
                }
                Outcome::Later => {}
            }
        }
        self.advance_dump(&mut control);
        self.check_reload_waits(&mut control);
        self.control = Some(control);
    }

    fn answer_command(
        &mut self,
        control: &mut Control,
        conn: ConnId,
        request: &Request,
    ) -> Outcome {
        let running = self.phase == Phase::Running;
        let stopping = || Err("the server is stopping".to_owned());
        let result = match request.command {
            Command::Status | Command::Show(Show::Stats) => Ok(self.status(control)),
            Command::Workers | Command::Show(Show::Workers) => Ok(self.workers_view()),
            Command::Show(view) => Ok(self.show(view)),
            Command::Help => Ok(json!({"commands": COMMANDS
                .iter()
                .map(|(c, what)| ((*c).to_owned(), Value::from(*what)))
                .collect::<serde_json::Map<_, _>>()})),
            Command::Reload { .. } | Command::Scale(_) | Command::WorkerAdd(_) if !running => {
                stopping()
            }
            Command::WorkerRemove(_) | Command::DumpStacks if !running => stopping(),
            Command::Reload { wait } => return self.reload_command(control, conn, request, wait),
            Command::Scale(n) => self.scale(n),
            Command::WorkerAdd(n) => self.scale(i64::from(self.target).saturating_add(n.max(1))),
            Command::WorkerRemove(n) => {
                let n = i64::from(self.target).saturating_sub(n.max(1));
                self.scale(n.max(*WORKERS_RANGE.start()))
            }
            Command::WorkerKill(pid) => Ok(self.kill_worker(Pid::from_raw(pid))),
            Command::Stop { quick } => {
                tracing::info!(
                    "Stop asked on the control socket ({})",
                    if quick { "quick" } else { "graceful" }
                );
                self.stop(!quick);
                Ok(json!({"status": "shutting_down",
                          "mode": if quick { "quick" } else { "graceful" }}))
            }
            Command::ReopenLogs => {
                tracing::info!("Reopening the log files (asked on the control socket)");
                self.reopen_logs();
                Ok(json!({"status": "reopened"}))
            }
            Command::DumpStacks => return self.start_dump(control, conn, request),
        };
        Outcome::Now(result)
    }

    /// `reload`: as HUP; replies once the new generation started, or (`wait`) once it is
    /// ready or given up.
    fn reload_command(
        &mut self,
        control: &mut Control,
        conn: ConnId,
        request: &Request,
        wait: bool,
    ) -> Outcome {
        tracing::info!("Reload asked on the control socket");
        let before = self.latest_generation;
        self.reload();
        if self.latest_generation == before {
            return Outcome::Now(Err(format!(
                "the reload was aborted (see the error log); generation {} still serves",
                self.generation
            )));
        }
        if !wait {
            return Outcome::Now(Ok(
                json!({"status": "reloading", "generation": self.generation}),
            ));
        }
        control.reloads.push(ReloadWait {
            conn,
            id: request.id.clone(),
            generation: self.generation,
            until: Instant::now() + RELOAD_WAIT,
        });
        Outcome::Later
    }

    /// Replies to each `reload --wait` whose generation is ready, was given up, or took
    /// too long.
    fn check_reload_waits(&mut self, control: &mut Control) {
        let now = Instant::now();
        let waits = std::mem::take(&mut control.reloads);
        for wait in waits {
            let g = wait.generation;
            let outcome = if self.generation == g && self.announced == g {
                Some(Ok(json!({"status": "ready", "generation": g})))
            } else if self.generation != g {
                Some(Err(format!(
                    "generation {g} did not become ready (see the error log); generation {} \
                     serves",
                    self.generation
                )))
            } else if self.phase != Phase::Running {
                Some(Err("the server is stopping".to_owned()))
            } else if now >= wait.until {
                Some(Err(format!(
                    "generation {g} is not ready after {}s; still reloading",
                    RELOAD_WAIT.as_secs()
                )))
            } else {
                None
            };
            match outcome {
                Some(Ok(data)) => control
                    .server
                    .reply(wait.conn, &protocol::ok(&wait.id, data)),
                Some(Err(why)) => control
                    .server
                    .reply(wait.conn, &protocol::error(&wait.id, &why)),
                None => control.reloads.push(wait),
            }
        }
    }

    /// `scale N`: the new target, as TTIN/TTOU set it.
    fn scale(&mut self, n: i64) -> Result<Value, String> {
        if !WORKERS_RANGE.contains(&n) {
            return Err(format!(
                "scale: {n} workers is out of range ({} to {}, as --workers)",
                WORKERS_RANGE.start(),
                WORKERS_RANGE.end()
            ));
        }
        let previous = self.target;
        tracing::info!("Scaling to {n} workers (asked on the control socket)");
        self.set_target(n as u32);
        let change = i64::from(self.target) - i64::from(previous);
        Ok(json!({
            "previous": previous,
            "total": self.target,
            "added": change.max(0),
            "removed": (-change).max(0),
        }))
    }

    /// gunicornc's `worker kill PID`: stops one worker gracefully; it is replaced.
    fn kill_worker(&mut self, pid: Pid) -> Value {
        if !self.workers.contains_key(&pid) {
            return json!({"success": false, "error": format!("Worker {pid} not found")});
        }
        tracing::info!("Stopping worker (pid: {pid}), asked on the control socket");
        self.stop_worker(pid, Sig::SIGTERM);
        json!({"success": true, "killed": pid.as_raw()})
    }

    /// `dump-stacks`: asks every serving worker in turn.
    fn start_dump(&mut self, control: &mut Control, conn: ConnId, request: &Request) -> Outcome {
        if control.dump.is_some() {
            return Outcome::Now(Err(
                "a stack dump is already under way; try again in a moment".to_owned(),
            ));
        }
        if stack_pipe::read_fd().is_none() {
            return Outcome::Now(Err("stack dumps are unavailable (see the error log)".into()));
        }
        // Whatever a late or stray answer left in the pipe is not this dump's.
        control.collector.clear();
        control.dump = Some(StackDump {
            conn,
            id: request.id.clone(),
            queue: self.workers.keys().copied().collect(),
            asked: None,
            done: Vec::new(),
        });
        Outcome::Later
    }

    /// Moves a dump along: takes answers, gives up on a silent worker, asks the next one,
    /// replies when every worker was asked.
    fn advance_dump(&mut self, control: &mut Control) {
        let Some(dump) = &mut control.dump else {
            return;
        };
        for (pid, text) in control.collector.drain() {
            if dump.asked.is_some_and(|(asked, _)| asked.as_raw() == pid) {
                dump.done
                    .push(self.stacks_entry(Pid::from_raw(pid), Ok(text)));
                dump.asked = None;
            }
        }
        let now = Instant::now();
        if let Some((pid, until)) = dump.asked {
            if now >= until {
                let why = format!("no answer within {}s", STACKS_WAIT.as_secs());
                dump.done.push(self.stacks_entry(pid, Err(why)));
                dump.asked = None;
            }
        }
        while dump.asked.is_none() {
            let Some(pid) = dump.queue.pop_front() else {
                break;
            };
            let serving = self.workers.get(&pid).map(|w| self.has_been_ready(w));
            let asked = match serving {
                None => Err("exited".to_owned()),
                Some(false) => Err("booting: no app running yet".to_owned()),
                Some(true) => stack_pipe::request(pid).map_err(|e| e.to_string()),
            };
            match asked {
                Ok(()) => dump.asked = Some((pid, now + STACKS_WAIT)),
                Err(why) => dump.done.push(self.stacks_entry(pid, Err(why))),
            }
        }
        if dump.asked.is_none() {
            let workers = std::mem::take(&mut dump.done);
            let data = json!({"count": workers.len(), "workers": workers});
            control
                .server
                .reply(dump.conn, &protocol::ok(&dump.id, data));
            control.dump = None;
        }
    }

    /// One worker's entry in a dump's reply.
    fn stacks_entry(&self, pid: Pid, stacks: Result<String, String>) -> Value {
        let worker = self.workers.get(&pid);
        let (stacks, error) = match stacks {
            Ok(text) => (Some(text), None),
            Err(why) => (None, Some(why)),
        };
        json!({
            "pid": pid.as_raw(),
            "slot": worker.and_then(|w| w.slot),
            "generation": worker.map(|w| w.generation),
            "stacks": stacks,
            "error": error,
        })
    }

    /// Whether a worker has served (its app is loaded): in the scoreboard, or, without a
    /// slot, once forked.
    fn has_been_ready(&self, worker: &Worker) -> bool {
        match worker.slot.and_then(|i| self.scoreboard.slot(i)) {
            Some(slot) => slot.has_been_ready(),
            None => true,
        }
    }

    /// A worker's state as `ctl workers` shows it.
    fn state_of(&self, worker: &Worker) -> &'static str {
        let slot = worker.slot.and_then(|i| self.scoreboard.slot(i));
        let state = slot.map(|s| s.state());
        match state {
            Some(State::Draining) => "draining",
            _ if worker.stop.is_some() => "stopping",
            Some(State::Booting) => "booting",
            Some(State::Ready) => "ready",
            Some(State::Busy) => "busy",
            Some(State::Free) => "exited",
            None => "running",
        }
    }

    /// `status`, and gunicornc's `show stats`.
    fn status(&self, control: &Control) -> Value {
        let (mut ready, mut busy, mut booting, mut draining) = (0, 0, 0, 0);
        for worker in self.workers.values() {
            match self.state_of(worker) {
                "ready" | "running" => ready += 1,
                "busy" => busy += 1,
                "booting" => booting += 1,
                _ => draining += 1,
            }
        }
        json!({
            "pid": self.pid.as_raw(),
            "version": env!("CARGO_PKG_VERSION"),
            "uptime": control.started.elapsed().as_secs_f64(),
            "generation": self.generation,
            "reloading": self.reloading(),
            "draining": self.phase != Phase::Running,
            "workers": {
                "target": self.target,
                "running": self.workers.len(),
                "ready": ready + busy,
                "busy": busy,
                "booting": booting,
                "draining": draining,
            },
            "listeners": self.listeners_view(),
            "control_socket": control.server.socket().path(),
            // gunicornc's `show stats`.
            "workers_current": self.workers.len(),
            "workers_target": self.target,
            "workers_spawned": self.spawned,
            "reloads": self.latest_generation - 1,
        })
    }

    /// `workers`, and gunicornc's `show workers`.
    fn workers_view(&self) -> Value {
        let now = now_ms();
        let workers: Vec<Value> = self
            .workers
            .iter()
            .map(|(pid, w)| {
                let slot = w.slot.and_then(|i| self.scoreboard.slot(i));
                let state = self.state_of(w);
                let request = slot
                    .filter(|s| s.busy_since() != 0)
                    .and_then(|s| s.request())
                    .map(|r| {
                        let ms = now.saturating_sub(r.started_ms);
                        json!({"line": r.line, "seconds": ms as f64 / 1000.0})
                    });
                json!({
                    "pid": pid.as_raw(),
                    "slot": w.slot,
                    "generation": w.generation,
                    "age": w.age,
                    "uptime": w.started.elapsed().as_secs_f64(),
                    "state": state,
                    "booted": self.has_been_ready(w),
                    "requests": slot.map(|s| s.requests()),
                    "request": request,
                    "rss": resident_bytes(pid.as_raw()),
                    "last_heartbeat": slot.and_then(|s| s.stalled_for()).map(|d| d.as_secs_f64()),
                    "retiring": w.retiring.is_some(),
                })
            })
            .collect();
        json!({"count": workers.len(), "workers": workers})
    }

    /// The listening sockets.
    fn listeners_view(&self) -> Vec<Value> {
        self.listeners
            .iter()
            .map(|l| {
                let kind = match **l {
                    Listener::Tcp { .. } => "tcp",
                    Listener::Unix { .. } => "unix",
                };
                json!({"address": l.url(), "type": kind, "fd": l.as_fd().as_raw_fd()})
            })
            .collect()
    }

    /// gunicornc's other `show` views.
    fn show(&self, view: Show) -> Value {
        match view {
            Show::Listeners => {
                let listeners = self.listeners_view();
                json!({"count": listeners.len(), "listeners": listeners})
            }
            Show::All => {
                let workers = self.workers_view();
                json!({
                    "arbiter": {"pid": self.pid.as_raw(), "type": "arbiter", "role": "master"},
                    "web_workers": workers["workers"],
                    "web_worker_count": workers["count"],
                    "dirty_arbiter": null,
                    "dirty_workers": [],
                    "dirty_worker_count": 0,
                })
            }
            Show::Config => {
                let c = &self.config;
                json!({
                    "bind": self.listeners.iter().map(|l| l.url()).collect::<Vec<_>>(),
                    "workers": self.target,
                    "threads": c.workers.threads,
                    "timeout": c.workers.timeout.map(|t| t.as_secs()),
                    "graceful_timeout": c.workers.graceful_timeout.as_secs(),
                    "keepalive": c.http.keep_alive.map(|t| t.as_secs()),
                    "max_requests": c.recycle.max_requests,
                    "preload_app": c.python.preload,
                    "reload": c.python.reload,
                    "control_socket": c.control.socket,
                })
            }
            Show::Dirty => json!({"enabled": false, "pid": null, "workers": [], "apps": []}),
            Show::Workers | Show::Stats => Value::Null,
        }
    }
}
