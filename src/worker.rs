//! A worker process: boots CPython, loads the app, and drives connections until told to stop.
//!
//! The driver is a poll(2) loop over the inherited listeners, the idle and half-received
//! connections, and the signal self-pipe. A connection whose request head is complete is served
//! to the end before the loop continues (one request at a time per worker); connections that
//! are idle or still sending their head cost nothing but a descriptor.
//!
//! Exit codes tell the master what happened (gunicorn's numbers): [`EXIT_BOOT_ERROR`] and
//! [`EXIT_APP_LOAD_ERROR`] stop the whole server instead of a respawn loop.

use crate::config::Config;
use crate::conn::{ConnConfig, Connection, LINGER, Status};
use crate::http::Limits;
use crate::listen::{Listener, Peer};
use crate::signals::{Signal, SignalIntake};
use crate::wsgi::interp;
use crate::wsgi::{App, ConnInfo, ServerInfo};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::{Pid, getpid, getppid};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The worker could not start (Python failed to initialise).
pub const EXIT_BOOT_ERROR: i32 = 3;
/// The application could not be imported.
pub const EXIT_APP_LOAD_ERROR: i32 = 4;

/// Longest a poll waits, so the parent check and deadlines run even when nothing happens.
const TICK: Duration = Duration::from_secs(1);
/// Connections accepted per listener per loop turn, so one busy listener cannot starve the
/// connections already open.
const ACCEPT_BATCH: usize = 32;
/// How long accepting pauses after accept(2) fails for lack of resources.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Runs a worker in a freshly forked child; returns the process exit code.
pub fn run(config: &Config, listeners: &[Listener], master: Pid) -> i32 {
    let signals = match SignalIntake::install(&[Signal::Term, Signal::Int, Signal::Quit]) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!("worker cannot install signal handlers: {err}");
            return EXIT_BOOT_ERROR;
        }
    };
    // If the master dies without stopping us, we must not live on holding its sockets.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);

    let app = match boot(config) {
        Ok(app) => app,
        Err(code) => return code,
    };
    tracing::info!("Worker ready (pid: {})", getpid());
    serve(config, listeners, &signals, &app, master);
    drop(app);
    interp::run_exit_hooks();
    tracing::info!("Worker exiting (pid: {})", getpid());
    0
}

/// Initialises Python in this process and imports the app.
fn boot(config: &Config) -> Result<App, i32> {
    for (key, value) in &config.env {
        // SAFETY: a just-forked worker is single-threaded, so nothing reads the environment
        // concurrently; the variables must be set before Python copies it into os.environ.
        unsafe { std::env::set_var(key, value) };
    }
    let argv: Vec<String> = std::env::args().collect();
    if let Err(err) = interp::initialize(config.virtualenv.as_deref(), &argv) {
        tracing::error!("{err}");
        return Err(EXIT_BOOT_ERROR);
    }
    load_app(config).map_err(|err| {
        eprint!("{}", err.traceback);
        tracing::error!("{err}");
        EXIT_APP_LOAD_ERROR
    })
}

/// Imports the configured app with gunicorn's `sys.path`: the working directory first, then
/// `--pythonpath` entries. Also used by `--check-config`.
pub fn load_app(config: &Config) -> Result<App, crate::wsgi::LoadError> {
    let mut path = Vec::with_capacity(config.pythonpath.len() + 1);
    if let Ok(cwd) = std::env::current_dir() {
        path.push(cwd.to_string_lossy().into_owned());
    }
    path.extend(
        config
            .pythonpath
            .iter()
            .map(|p| p.to_string_lossy().into_owned()),
    );
    let server = ServerInfo {
        root_path: config.root_path.clone(),
        multiprocess: config.workers > 1,
        multithread: false,
    };
    App::load(&config.app, &path, server)
}

/// One open connection and when it must have sent something.
struct Client {
    conn: Connection,
    deadline: Instant,
    /// What the deadline is for; a head deadline is set once, when the head's first bytes
    /// arrive, and is not extended by each trickled byte after them (slowloris).
    waiting: Waiting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// For the first bytes of a request (idle keep-alive, or a fresh connection).
    Request,
    /// For the rest of a request head.
    RestOfHead,
    /// For the client to close after a lingering close.
    Close,
}

/// The poll loop; returns when the worker should exit.
fn serve(config: &Config, listeners: &[Listener], signals: &SignalIntake, app: &App, master: Pid) {
    let conn_config = ConnConfig {
        limits: Limits::default(),
        io_timeout: config.timeout,
        keep_alive: config.keep_alive.is_some(),
    };
    let idle_timeout = config.keep_alive.unwrap_or(Duration::ZERO);
    // A client gets this long to deliver a request head, from connecting or from the first
    // byte of a pipelined request (a later issue makes it its own option).
    let head_timeout = config.timeout.unwrap_or(Duration::from_secs(30));
    let servers: Vec<(String, String)> = listeners.iter().map(server_address).collect();
    let mut clients: Vec<Client> = Vec::new();
    // Accepting stops for a moment after accept(2) fails (EMFILE...): the listener stays
    // readable, and retrying at once would spin.
    let mut accept_paused_until: Option<Instant> = None;
    let mut next_parent_check = Instant::now() + TICK;

    loop {
        let now = Instant::now();
        let accepting = accept_paused_until.is_none_or(|t| now >= t);
        let wait = clients
            .iter()
            .map(|c| c.deadline.saturating_duration_since(now))
            .chain(accept_paused_until.map(|t| t.saturating_duration_since(now)))
            .min()
            .unwrap_or(TICK)
            .min(TICK);
        let (wake, listener_ready, client_ready) = {
            let mut fds = Vec::with_capacity(1 + listeners.len() + clients.len());
            fds.push(PollFd::new(signals.wake_fd(), PollFlags::POLLIN));
            let listen_events = if accepting {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            };
            fds.extend(
                listeners
                    .iter()
                    .map(|l| PollFd::new(l.as_fd(), listen_events)),
            );
            fds.extend(
                clients
                    .iter()
                    .map(|c| PollFd::new(c.conn.fd(), PollFlags::POLLIN)),
            );
            let millis = wait.as_millis().max(1) as i32;
            let _ = poll(
                &mut fds,
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
            );
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            let wake = ready(&fds[0]);
            let listener_ready: Vec<bool> = fds[1..=listeners.len()].iter().map(ready).collect();
            let client_ready: Vec<bool> = fds[1 + listeners.len()..].iter().map(ready).collect();
            (wake, listener_ready, client_ready)
        };

        let mut stopping = false;
        if wake {
            let received = signals.take();
            if received.contains(&Signal::Quit) {
                return;
            }
            stopping = received
                .iter()
                .any(|s| matches!(s, Signal::Term | Signal::Int));
        }

        // Serve readable connections first: they were accepted earlier, and on a graceful
        // stop the requests that already arrived are still answered (with Connection: close).
        let mut index = 0;
        clients.retain_mut(|client| {
            let ready = client_ready.get(index).copied().unwrap_or(false);
            index += 1;
            let now = Instant::now();
            if !ready {
                return now < client.deadline;
            }
            match client.conn.on_readable(app, stopping) {
                Status::Closed => false,
                Status::Linger => {
                    if client.waiting != Waiting::Close {
                        client.waiting = Waiting::Close;
                        client.deadline = now + LINGER;
                    }
                    now < client.deadline
                }
                Status::Open if client.conn.has_partial_request() => {
                    if client.waiting != Waiting::RestOfHead {
                        client.waiting = Waiting::RestOfHead;
                        client.deadline = now + head_timeout;
                    }
                    now < client.deadline
                }
                Status::Open => {
                    client.waiting = Waiting::Request;
                    client.deadline = now + idle_timeout;
                    true
                }
            }
        });

        if stopping {
            // Graceful: requests are served synchronously, so none is in progress now; idle
            // and half-received connections are simply closed.
            return;
        }

        for (i, listener) in listeners.iter().enumerate() {
            if !listener_ready[i] {
                continue;
            }
            for _ in 0..ACCEPT_BATCH {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        let info = conn_info(&peer, &servers[i]);
                        match Connection::new(stream, info, &conn_config) {
                            Ok(conn) => clients.push(Client {
                                conn,
                                deadline: Instant::now() + head_timeout,
                                waiting: Waiting::Request,
                            }),
                            Err(err) => tracing::debug!("cannot set up connection: {err}"),
                        }
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(err) => {
                        // EMFILE, ENOBUFS...: pause accepting rather than spin on a listener
                        // that stays readable; the kernel backlog holds the clients.
                        tracing::warn!(
                            "accept failed: {err}; pausing accepts for {ACCEPT_PAUSE:?}"
                        );
                        accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        break;
                    }
                }
            }
        }
        if accept_paused_until.is_some_and(|t| Instant::now() >= t) {
            accept_paused_until = None;
        }

        if Instant::now() >= next_parent_check {
            next_parent_check = Instant::now() + TICK;
            if getppid() != master {
                tracing::warn!("master is gone; worker exiting");
                return;
            }
        }
    }
}

/// SERVER_NAME and SERVER_PORT for requests that carry no Host.
fn server_address(listener: &Listener) -> (String, String) {
    match listener.local_addr() {
        Some(addr) => (addr.ip().to_string(), addr.port().to_string()),
        None => ("localhost".to_owned(), "80".to_owned()),
    }
}

fn conn_info(peer: &Peer, server: &(String, String)) -> ConnInfo {
    let (remote_addr, remote_port) = match peer {
        Peer::Tcp(addr) => (addr.ip().to_string(), addr.port().to_string()),
        Peer::Unix => (String::new(), String::new()),
    };
    ConnInfo {
        remote_addr,
        remote_port,
        server_name: server.0.clone(),
        server_port: server.1.clone(),
        url_scheme: "http",
    }
}
