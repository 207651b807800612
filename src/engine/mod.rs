//! The worker's engine: one epoll event loop per worker process.
//!
//! The loop accepts connections, reads and parses request heads, receives request bodies
//! (into memory or a temporary file: [`spool`]) and writes responses, all without the GIL.
//! Only a request that has fully arrived reaches Python, so a slow or stalled client costs a
//! descriptor and a buffer, never the worker:
//!
//! * `--threads 1`: the app runs on the loop thread. Its response is sent as fast as the
//!   client takes it; when the client falls behind, the response is paused
//!   ([`crate::wsgi::Step::Paused`]) and resumed when the socket is writable again, while
//!   the loop serves everyone else.
//! * `--threads N`: ready requests go to a [`pool`] of N Python threads, which write their
//!   responses themselves; the connection comes back to the loop afterwards.
//!
//! Client deadlines (head, body, send, keep-alive idle) are the loop's; none of them counts
//! against `--timeout`, which watches only the app ([`heartbeat`]).

pub mod abort;
mod exchange;
pub mod heartbeat;
mod malloc;
mod pool;
pub mod spool;

use crate::config::{Config, HttpSettings};
use crate::http::Limits;
use crate::http::body::{BodyDecoder, BodyFraming, Decoded};
use crate::http::request::{RequestHead, parse_head};
use crate::listen::{Listener, Stream};
use crate::logging::access::{self, Entry, RequestLine};
use crate::peer::{ConnInfo, Peer};
use crate::proxy::{Mode, Preamble, Proxying};
use crate::scoreboard::Seat;
use crate::signals::{Signal, SignalIntake};
use crate::wsgi::{App, Call, ConnView, Outcome, Request, Step, Transport};
use exchange::{Body, Exchange};
use heartbeat::{Beat, Heartbeats};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::Shutdown;
use nix::unistd::{Pid, getppid};
use pool::{Finished, Job, Pool};
use spool::{BodyReader, Spool, SpoolConfig};
use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the loop sleeps, so the parent check runs even when nothing happens.
const TICK: Duration = Duration::from_secs(1);
/// How often deadlines are checked (they are whole seconds, so this is precise enough).
const SWEEP: Duration = Duration::from_millis(250);
/// Connections accepted per listener per wake-up: small, so a burst of new connections
/// (a load balancer or a benchmark opening its pool) is spread over the workers instead of
/// landing on whichever woke first, and cannot starve the connections already open.
const ACCEPT_BATCH: usize = 8;
/// How long accepting pauses after accept(2) fails for lack of resources.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long a lingering close waits for the client to finish sending.
const LINGER: Duration = Duration::from_secs(2);
/// A request body still arriving after this long moves from memory to its temporary file.
const SPILL_AFTER: Duration = Duration::from_secs(1);
/// Events handled per epoll_wait.
const EVENTS: usize = 256;

const SIGNAL_TOKEN: u64 = u64::MAX;
const POOL_TOKEN: u64 = u64::MAX - 1;
const LISTENER_TOKEN: u64 = 1 << 62;

/// What every connection of a worker shares.
#[derive(Debug)]
pub struct Shared {
    /// Parser limits.
    pub limits: Limits,
    /// Whether connections may persist between requests (`--keep-alive` > 0).
    pub keep_alive: bool,
    /// Longest wait for a client to take response bytes.
    pub send_timeout: Option<Duration>,
    /// Longest wait for the next request body bytes.
    pub body_timeout: Option<Duration>,
    /// Largest accepted request body.
    pub limit_request_body: Option<u64>,
}

#[cfg(test)]
impl Shared {
    /// Default limits, keep-alive on, no timeouts: what the unit tests' connections share.
    pub(crate) fn for_tests() -> Arc<Shared> {
        Arc::new(Shared {
            limits: Limits::default(),
            keep_alive: true,
            send_timeout: None,
            body_timeout: None,
            limit_request_body: None,
        })
    }
}

/// The engine's settings, from the configuration.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Python threads running requests; 1 runs them on the loop thread.
    pub threads: usize,
    /// Most open connections per worker.
    pub worker_connections: usize,
    /// Open a per-worker SO_REUSEPORT listener beside each shared TCP listener.
    pub reuse_port: bool,
    /// listen(2) backlog for per-worker listeners.
    pub backlog: i32,
    /// What the engine accepts from clients and how long it waits for them.
    pub http: HttpSettings,
    /// Where buffered bodies go.
    pub spool: SpoolConfig,
    /// Every connection speaks TLS with this configuration (`--certfile`), loaded by the
    /// master.
    pub tls: Option<crate::tls::ServerTls>,
    /// What to believe about clients behind proxies (PROXY protocol, forwarded headers).
    pub proxy: Arc<Proxying>,
}

impl EngineSettings {
    /// The engine settings in `config`, serving TLS with `tls` (loaded by the master).
    pub fn new(config: &Config, tls: Option<crate::tls::ServerTls>) -> EngineSettings {
        EngineSettings {
            threads: config.workers.threads as usize,
            worker_connections: config.workers.connections as usize,
            reuse_port: config.sockets.reuse_port,
            backlog: config.sockets.backlog,
            http: config.http.clone(),
            spool: SpoolConfig {
                memory_limit: config.http.body_buffer_size,
                dir: config
                    .http
                    .tmp_upload_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir),
            },
            tls,
            proxy: Arc::new(Proxying::new(&config.proxy)),
        }
    }
}

/// Serves connections on `listeners` until told to stop; the caller has loaded `app`.
pub fn run(
    settings: &EngineSettings,
    listeners: &[&Listener],
    signals: &SignalIntake,
    app: &'static App,
    master: Pid,
    seat: Option<Seat>,
) -> io::Result<()> {
    let twins = if settings.reuse_port {
        let mut twins = Vec::new();
        for listener in listeners {
            if let Some(twin) = listener.reuse_port_twin(settings.backlog)? {
                twins.push(twin);
            }
        }
        twins
    } else {
        Vec::new()
    };
    // The worker's own SO_REUSEPORT sockets are marked: only this worker accepts on them.
    let all: Vec<(&Listener, bool)> = listeners
        .iter()
        .map(|&l| (l, false))
        .chain(twins.iter().map(|t| (t, true)))
        .collect();
    malloc::tune(settings.spool.memory_limit, body_memory_budget(settings));
    let beats = Heartbeats::new(settings.threads, seat);
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let pool = if settings.threads > 1 {
        let threads_epoll = Epoll(epoll.0.try_clone()?);
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(threads_epoll)?));
        for index in 0..settings.threads {
            let beat = beats.beat_for(index);
            std::thread::Builder::new()
                .name(format!("rsgi-thread-{index}"))
                .spawn(move || pool.serve(app, beat, abort::slot(index)))?;
        }
        Some(pool)
    } else {
        None
    };
    let mut engine = Engine::new(
        epoll,
        settings,
        &all,
        app,
        pool,
        beats.beat_for(0),
        beats.clone(),
    )?;
    engine.epoll.add(
        signals.wake_fd(),
        EpollEvent::new(EpollFlags::EPOLLIN, SIGNAL_TOKEN),
    )?;
    if let Some(pool) = pool {
        // Edge-triggered: each wake-up is reported once and the counter is never read.
        engine.epoll.add(
            pool.wake_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, POOL_TOKEN),
        )?;
    }
    // Ready means the app is imported and every socket this worker serves is open. The
    // master waits for the slot to say so to retire a worker this one replaces; the slot is
    // written before the log line, so whoever reads the line finds the slot ready.
    if let Some(seat) = seat {
        seat.slot.set_ready();
        seat.ring();
    }
    tracing::info!("Worker ready (pid: {})", nix::unistd::getpid());
    let result = engine.serve(signals, master);
    if let Some(pool) = pool {
        // Graceful or not, queued requests are not started: the threads exit when idle.
        pool.stop();
    }
    result
}

/// What a connection is doing.
enum Phase {
    /// Reading the PROXY protocol header it may start with (`--proxy-protocol`), before
    /// anything else; `allowed`: its peer is in `--proxy-allow-ips`.
    Preamble { allowed: bool },
    /// Waiting for the first byte of a request.
    Idle,
    /// Receiving a request head.
    Head,
    /// Receiving a request body before calling the app.
    Body(Box<Receiving>),
    /// In the thread pool; the loop does not watch it.
    Away,
    /// The app's response is paused until the client takes what is buffered.
    Paused(Box<Paused>),
    /// The response is complete; its last bytes are being sent.
    Flushing(After),
    /// The response is out; the rest of a request body the app did not read is being
    /// discarded, so the connection can serve its next request.
    Drain,
    /// Our side is shut down; discarding input until the client closes (lingering close).
    Linger,
}

/// A request whose body is arriving.
struct Receiving {
    head: RequestHead,
    decoder: BodyDecoder,
    spool: Spool,
    /// Counts the spool's memory in the worker's total while the body arrives.
    meter: BodyMeter,
    /// Memory set aside for the body (its announced length, up to the in-memory limit);
    /// 0 while the connection waits its turn (parked) or once the body went to disk.
    reserved: u64,
    /// What it needs set aside to start.
    wants: u64,
    /// When it started receiving (`None`: parked).
    started: Option<Instant>,
}

impl Receiving {
    /// Reads the rest of a body of announced length straight into its in-memory spool (see
    /// [`Spool::read_from`]); `None` when the body is not received that way (not started,
    /// chunked, on disk).
    fn read_direct(&mut self, fd: BorrowedFd<'_>) -> Option<io::Result<usize>> {
        self.started?;
        let remaining = self.decoder.remaining_hint().filter(|&r| r > 0)?;
        let read = self.spool.read_from(fd, remaining)?;
        if let Ok(n @ 1..) = read {
            // Content-Length framing passes bytes through: this only counts them.
            let counted = self.decoder.decode(self.spool.memory_tail(n));
            debug_assert!(matches!(counted, Ok((c, _)) if c == n));
        }
        Some(read)
    }
}

/// One receiving body's share of the worker's in-memory body bytes; given back when dropped
/// (the request is dispatched, refused or abandoned).
struct BodyMeter {
    total: Rc<Cell<u64>>,
    mine: u64,
}

impl BodyMeter {
    fn new(total: &Rc<Cell<u64>>) -> BodyMeter {
        BodyMeter {
            total: total.clone(),
            mine: 0,
        }
    }

    /// Records that the body now holds `bytes` in memory.
    fn set(&mut self, bytes: u64) {
        self.total.set(self.total.get() - self.mine + bytes);
        self.mine = bytes;
    }
}

impl Drop for BodyMeter {
    fn drop(&mut self) {
        self.total.set(self.total.get() - self.mine);
    }
}

/// A response waiting for its client.
struct Paused {
    call: Call,
    head: RequestHead,
}

/// What happens to a connection once its response is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    /// Wait for the next request.
    KeepAlive,
    /// Close now: the client sends nothing more (a TLS client that has, typically its
    /// close_notify, gets [`After::Linger`] instead).
    Close,
    /// Close after a lingering close: the client may still be sending.
    Linger,
}

/// An open connection.
struct Conn {
    /// The socket and protocol state; `None` while lent to a call or the pool.
    ex: Option<Box<Exchange>>,
    /// The socket's descriptor, for epoll while `ex` is lent out.
    fd: RawFd,
    phase: Phase,
    deadline: Option<Instant>,
    /// The events epoll watches for it; `None` when none (unregistered, or disarmed).
    watching: Option<EpollFlags>,
    /// Whether the socket is in the epoll set (possibly disarmed: [`EpollFlags::EPOLLONESHOT`]).
    registered: bool,
    /// While away: its socket, re-armed by the pool thread, has reported an event (which
    /// disarmed it again) before the result came back.
    event_while_away: bool,
    /// The connection's facts (its peer, or the client a PROXY header named). A request's
    /// `ex.view` is this, or a copy its trusted proxy headers changed.
    peer: Arc<ConnView>,
    /// Whether that peer is in `--forwarded-allow-ips`.
    trusted: bool,
}

/// Open connections by key (the epoll token).
#[derive(Default)]
struct Slab {
    entries: Vec<Option<Conn>>,
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    fn insert(&mut self, conn: Conn) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(key) => {
                self.entries[key] = Some(conn);
                key
            }
            None => {
                self.entries.push(Some(conn));
                self.entries.len() - 1
            }
        }
    }
    fn remove(&mut self, key: usize) -> Option<Conn> {
        let conn = self.entries.get_mut(key)?.take()?;
        self.len -= 1;
        self.free.push(key);
        Some(conn)
    }
    fn get_mut(&mut self, key: usize) -> Option<&mut Conn> {
        self.entries.get_mut(key)?.as_mut()
    }
    fn keys(&self) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|&k| self.entries[k].is_some())
            .collect()
    }
}

/// One listener and the server address requests on it report.
struct Listening<'a> {
    listener: &'a Listener,
    /// This worker's own `--reuse-port` socket: no other process accepts on it.
    own: bool,
    server_name: String,
    server_port: String,
    /// `https` under TLS, else `http`.
    scheme: &'static str,
}

/// The loop's state.
struct Engine<'a> {
    epoll: Epoll,
    conns: Slab,
    listeners: Vec<Listening<'a>>,
    /// Whether the listeners are in the epoll set.
    accepting: bool,
    /// Accepting is paused until then after accept(2) failed for lack of resources.
    accept_pause: Option<Instant>,
    /// accept(2) has been failing since the last success (the failure was logged).
    accept_failing: bool,
    app: &'static App,
    settings: &'a EngineSettings,
    shared: Arc<Shared>,
    pool: Option<&'static Pool>,
    /// The loop thread's watchdog cell (requests run here with `--threads 1`).
    beat: Beat,
    /// Every thread's cells and the worker's scoreboard seat.
    beats: Arc<Heartbeats>,
    /// The loop thread's in-flight request, for a timeout abort (`--threads 1`).
    inflight: Option<Arc<abort::Slot>>,
    /// A graceful stop is under way: no new connections, responses say `Connection: close`.
    draining: bool,
    now: Instant,
    /// Request body bytes held in memory by connections still receiving them.
    body_memory: Rc<Cell<u64>>,
    /// Above this many in-memory body bytes, receiving connections are parked: their bytes
    /// wait in the kernel's socket buffers (TCP backpressure) rather than in worker memory.
    body_memory_budget: u64,
    /// Parked receiving connections, resumed first come first served.
    parked: VecDeque<usize>,
    /// Requests the pool has finished, being taken back (kept for its allocation).
    finished: Vec<Finished>,
    /// Connections away in the pool whose next request has come (`event_while_away`).
    awaiting_results: usize,
}

impl<'a> Engine<'a> {
    fn new(
        epoll: Epoll,
        settings: &'a EngineSettings,
        listeners: &[(&'a Listener, bool)],
        app: &'static App,
        pool: Option<&'static Pool>,
        beat: Beat,
        beats: Arc<Heartbeats>,
    ) -> io::Result<Engine<'a>> {
        let listeners = listeners
            .iter()
            .map(|&(listener, own)| {
                let (server_name, server_port) = match listener.local_addr() {
                    Some(addr) => (addr.ip().to_string(), addr.port().to_string()),
                    None => ("localhost".to_owned(), "80".to_owned()),
                };
                Listening {
                    listener,
                    own,
                    server_name,
                    server_port,
                    scheme: if settings.tls.is_some() {
                        "https"
                    } else {
                        "http"
                    },
                }
            })
            .collect();
        let mut engine = Engine {
            epoll,
            conns: Slab::default(),
            listeners,
            accepting: false,
            accept_pause: None,
            accept_failing: false,
            app,
            settings,
            shared: Arc::new(Shared {
                limits: settings.http.limits.clone(),
                keep_alive: settings.http.keep_alive.is_some(),
                send_timeout: settings.http.send_timeout,
                body_timeout: settings.http.body_timeout,
                limit_request_body: settings.http.limit_request_body,
            }),
            pool,
            beat,
            beats,
            inflight: if pool.is_none() { abort::slot(0) } else { None },
            draining: false,
            now: Instant::now(),
            body_memory: Rc::new(Cell::new(0)),
            body_memory_budget: body_memory_budget(settings),
            parked: VecDeque::new(),
            finished: Vec::new(),
            awaiting_results: 0,
        };
        engine.set_accepting(true);
        Ok(engine)
    }

    /// Runs until a stop signal (graceful: until the last connection is done).
    fn serve(&mut self, signals: &SignalIntake, master: Pid) -> io::Result<()> {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        let mut next_sweep = Instant::now() + SWEEP;
        let mut next_parent_check = Instant::now() + TICK;
        loop {
            let wait = next_sweep
                .min(next_parent_check)
                .saturating_duration_since(Instant::now());
            let timeout = EpollTimeout::from(wait.as_millis().clamp(1, 1000) as u16);
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => return Err(e.into()),
            };
            self.now = Instant::now();
            for event in &events[..n] {
                let token = event.data();
                match token {
                    SIGNAL_TOKEN => {
                        let received = signals.take();
                        if received.contains(&Signal::Usr1) {
                            crate::logging::reopen();
                        }
                        // gunicorn's worker: INT and QUIT stop now, TERM drains.
                        if received
                            .iter()
                            .any(|s| matches!(s, Signal::Int | Signal::Quit))
                        {
                            crate::wsgi::hooks::worker_int();
                        }
                        if received
                            .iter()
                            .any(|s| matches!(s, Signal::Quit | Signal::Int))
                        {
                            return Ok(());
                        }
                        if received.contains(&Signal::Term) {
                            self.start_draining();
                        }
                    }
                    POOL_TOKEN => {
                        self.take_finished();
                        if !self.accepting && self.may_accept() {
                            self.set_accepting(true);
                        }
                    }
                    t if t >= LISTENER_TOKEN => self.accept((t - LISTENER_TOKEN) as usize),
                    key => self.on_event(key as usize, event.events()),
                }
            }
            if !self.parked.is_empty() {
                self.unpark();
            }
            if self.now >= next_sweep {
                next_sweep = self.now + SWEEP;
                self.sweep();
                // Access lines go out in one write per sweep (or sooner when many): at most
                // a quarter of a second late, and never one write(2) per request.
                access::flush();
            }
            if self.now >= next_parent_check {
                next_parent_check = self.now + TICK;
                if getppid() != master {
                    tracing::warn!("master is gone; worker exiting");
                    return Ok(());
                }
            }
            if self.draining && self.conns.len == 0 {
                return Ok(());
            }
        }
    }

    /// Adds or removes the listeners from the epoll set.
    fn set_accepting(&mut self, on: bool) {
        if on == self.accepting {
            return;
        }
        for (i, l) in self.listeners.iter().enumerate() {
            let result = if on {
                // EPOLLEXCLUSIVE: a new connection wakes one waiting worker, not all of them.
                let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE;
                self.epoll.add(
                    l.listener.as_fd(),
                    EpollEvent::new(flags, LISTENER_TOKEN + i as u64),
                )
            } else {
                self.epoll.delete(l.listener.as_fd())
            };
            if let Err(err) = result {
                tracing::warn!("cannot change listener {}: {err}", l.listener.url());
            }
        }
        self.accepting = on;
    }

    /// Whether new connections may be taken now. A worker whose threads are all busy with
    /// requests waiting behind them leaves new connections to the other workers.
    fn may_accept(&self) -> bool {
        !self.draining
            && self.accept_pause.is_none()
            && self.conns.len < self.settings.worker_connections
            && self.pool.is_none_or(|p| !p.backlogged())
    }

    fn accept(&mut self, index: usize) {
        for _ in 0..ACCEPT_BATCH {
            if !self.may_accept() {
                self.set_accepting(false);
                if let Some(pool) = self.pool.filter(|p| p.backlogged()) {
                    pool.wake_when_unbacklogged();
                }
                return;
            }
            let listening = &self.listeners[index];
            match listening.listener.accept() {
                Ok((stream, peer)) => {
                    self.accept_failing = false;
                    self.adopt(index, stream, peer);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(err) => {
                    // EMFILE, ENOBUFS...: pause accepting rather than spin on a listener that
                    // stays readable; the kernel backlog holds the clients.
                    // Said once per episode, not on every retry.
                    if self.accept_failing {
                        tracing::debug!("accept failed again: {err}");
                    } else {
                        tracing::warn!(
                            "accept failed: {err}; pausing accepts for {ACCEPT_PAUSE:?} at a time"
                        );
                        self.accept_failing = true;
                    }
                    self.accept_pause = Some(self.now + ACCEPT_PAUSE);
                    self.set_accepting(false);
                    return;
                }
            }
        }
    }

    /// Takes in a connection accepted on listener `index`.
    fn adopt(&mut self, index: usize, stream: Stream, peer: Peer) {
        let listening = &self.listeners[index];
        let info = Arc::new(ConnView::new(ConnInfo::accepted(
            &peer,
            &listening.server_name,
            &listening.server_port,
            listening.scheme,
        )));
        let proxy = &self.settings.proxy;
        let trusted = proxy.forwarded.allow.allows(&peer);
        let phase = match proxy.mode {
            Mode::Off => Phase::Idle,
            _ => Phase::Preamble {
                allowed: proxy.proxy_allow.allows(&peer),
            },
        };
        let mut ex = Box::new(Exchange::new(stream, info.clone(), self.shared.clone()));
        // The session only wraps the socket: a PROXY header (the preamble phase) is still
        // read from the raw socket before the first TLS byte.
        if let Some(tls) = &self.settings.tls {
            match crate::tls::Session::new(tls) {
                Ok(session) => ex.start_tls(session),
                Err(err) => {
                    tracing::warn!("cannot start a TLS session: {err}");
                    return;
                }
            }
        }
        if self.pool.is_none() {
            // Requests run on this thread: its watchdog cell, set once per
            // connection (progress reports act only while a request runs).
            ex.beat = Some(self.beat.clone());
            ex.inflight = self.inflight.clone();
        }
        let fd = ex.fd().as_raw_fd();
        let key = self.conns.insert(Conn {
            ex: Some(ex),
            fd,
            phase,
            // A PROXY header too must come within the head's time.
            deadline: self.settings.http.header_timeout.map(|t| self.now + t),
            watching: None,
            registered: false,
            event_while_away: false,
            peer: info,
            trusted,
        });
        self.on_accepted(key);
    }

    /// A graceful stop with `--reuse-port`: the kernel keeps giving this worker's own
    /// sockets a share of new connections that no other process would ever accept, and
    /// closing them at exit would reset those. So the connections already queued are taken
    /// in now (and answered with `Connection: close`), and each socket leaves the port's
    /// group at once (shutdown unhashes a listener, as close would), so that new
    /// connections go to the sockets that stay open. One arriving between the last accept
    /// and the shutdown is still reset; `net.ipv4.tcp_migrate_req = 1` closes that window.
    fn release_own_listeners(&mut self) {
        for index in 0..self.listeners.len() {
            if !self.listeners[index].own {
                continue;
            }
            loop {
                match self.listeners[index].listener.accept() {
                    Ok((stream, peer)) => self.adopt(index, stream, peer),
                    Err(err)
                        if matches!(
                            err.kind(),
                            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                        ) => {}
                    Err(_) => break,
                }
            }
            let listener = self.listeners[index].listener;
            let _ = nix::sys::socket::shutdown(listener.as_fd().as_raw_fd(), Shutdown::Read);
        }
    }

    /// A new connection: its request is usually there already (TCP listeners defer accept
    /// until the first bytes arrive), so it is read and answered at once, and the socket
    /// joins the epoll set only when it has to wait (a request not there yet or incomplete,
    /// keep-alive, a slow reader). A `Connection: close` request thus costs accept4, read,
    /// write and close, and no epoll_ctl.
    fn on_accepted(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if matches!(conn.phase, Phase::Preamble { .. }) {
            self.preamble(key, EpollFlags::empty());
            return;
        }
        if self.pool.is_some() {
            // With a pool, the request is read on the connection's first epoll event, as
            // before deferred accept. Dispatching a connection epoll has never seen straight
            // to a pool thread left a few keep-alive connections stalled under load (1 to 5
            // wrk timeouts per 8 s of the sleep benchmark, none with this); until that is
            // understood, only the loop thread answers a new connection at once.
            self.rewatch(key);
            return;
        }
        let ex = conn.ex.as_mut().expect("the loop holds new connections");
        match ex.fill(false) {
            // Closed before sending anything (a port check, a client giving up).
            Ok(0) => self.close(key),
            Ok(_) => {
                self.advance(key);
                self.rewatch(key);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Held past the kernel's deferral, or a Unix socket: --header-timeout runs.
                tracing::debug!("connection {key} accepted before its request; waiting for it");
                self.rewatch(key);
            }
            Err(e) => self.read_failed(key, &e),
        }
    }

    /// Reads the PROXY protocol header connection `key` may start with (see [`crate::proxy`]);
    /// once it is settled, the connection goes on as a new one. `events`: what epoll
    /// reported (empty right after accept).
    fn preamble(&mut self, key: usize, events: EpollFlags) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Phase::Preamble { allowed } = conn.phase else {
            return;
        };
        let ex = conn.ex.as_mut().expect("the loop holds new connections");
        match crate::proxy::read_preamble(ex.fd(), self.settings.proxy.mode, allowed) {
            Ok(Preamble::Wait) => {
                // Watched edge-triggered (the peeked bytes stay readable): a peer that
                // closes mid-header is not waited for.
                if events.intersects(EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLHUP) {
                    self.close(key);
                } else {
                    self.rewatch(key);
                }
            }
            Ok(Preamble::Closed) => self.close(key),
            Err(err) => {
                tracing::debug!("connection {key}: reading its PROXY header failed: {err}");
                self.close(key);
            }
            Ok(Preamble::Refused(why)) => {
                // No HTTP response: a proxy expects none, and a client posing as one
                // deserves none.
                tracing::info!(
                    "connection from {} closed: {why}",
                    match conn.peer.info.remote_addr.as_str() {
                        "" => "a Unix socket client",
                        addr => addr,
                    }
                );
                self.close(key);
            }
            Ok(Preamble::Direct) => {
                conn.phase = Phase::Idle;
                self.on_accepted(key);
            }
            Ok(Preamble::Proxied(addresses)) => {
                if let Some(addresses) = addresses {
                    let info = Arc::new(ConnView::new(crate::proxy::proxied_info(
                        &conn.peer.info,
                        &addresses,
                    )));
                    let peer = crate::proxy::proxied_peer(&addresses);
                    conn.trusted = self.settings.proxy.forwarded.allow.allows(&peer);
                    ex.view = info.clone();
                    conn.peer = info;
                }
                conn.phase = Phase::Idle;
                self.on_accepted(key);
            }
        }
    }

    /// Sets the events epoll watches for connection `key` (`None`: not at all).
    fn watch(&mut self, key: usize, want: Option<EpollFlags>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.watching == want {
            return;
        }
        // SAFETY: the descriptor belongs to the connection's socket, which the connection
        // owns (directly, or through the call or pool job it is lent to) for as long as it
        // is in the slab; epoll only uses the number for the duration of the call.
        let fd = unsafe { BorrowedFd::borrow_raw(conn.fd) };
        let token = key as u64;
        let result = match want {
            Some(flags) if conn.registered => {
                self.epoll.modify(fd, &mut EpollEvent::new(flags, token))
            }
            Some(flags) => self.epoll.add(fd, EpollEvent::new(flags, token)),
            None if conn.registered => self.epoll.delete(fd),
            None => Ok(()),
        };
        match result {
            Ok(()) => {
                conn.watching = want;
                conn.registered = want.is_some();
            }
            Err(err) => {
                tracing::debug!("epoll_ctl failed: {err}; closing the connection");
                self.close(key);
            }
        }
    }

    /// The events a connection needs watched in its phase. `oneshot` (with a pool): a
    /// connection waiting for a request is watched for one event only, so that when the
    /// request has come it goes to the pool still registered but disarmed, and comes back
    /// with one epoll_ctl (re-arm) instead of two (remove, add).
    fn wanted(conn: &Conn, oneshot: bool) -> Option<EpollFlags> {
        match conn.phase {
            // Away, or parked until the body budget lets it receive: its bytes wait in the
            // socket (reading them would only move them into the worker's memory).
            Phase::Away => None,
            Phase::Preamble { .. } => {
                Some(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET)
            }
            Phase::Body(ref receiving) if receiving.started.is_none() => None,
            Phase::Paused(_) | Phase::Flushing(_) => Some(EpollFlags::EPOLLOUT),
            // Our side is shut down: nothing more can go out (a TLS close_notify the socket
            // did not take is given up), and a shut-down socket is always writable, so
            // watching for that would spin until the client closes.
            Phase::Linger => Some(EpollFlags::EPOLLIN),
            Phase::Idle | Phase::Head | Phase::Body(_) | Phase::Drain => {
                let unsent = conn.ex.as_ref().is_some_and(|ex| ex.unsent() > 0);
                Some(if unsent {
                    EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
                } else if oneshot && matches!(conn.phase, Phase::Idle | Phase::Head) {
                    EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT
                } else {
                    EpollFlags::EPOLLIN
                })
            }
        }
    }

    fn is_away(&mut self, key: usize) -> bool {
        matches!(self.conns.get_mut(key).map(|c| &c.phase), Some(Phase::Away))
    }

    /// Brings the epoll registration in line with the connection's phase.
    fn rewatch(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            let want = Self::wanted(conn, self.pool.is_some());
            self.watch(key, want);
        }
    }

    fn close(&mut self, key: usize) {
        if let Some(conn) = self.conns.remove(key) {
            if let Phase::Paused(mut paused) = conn.phase {
                paused.call.abort();
                // Cut short (the client went away or stopped reading): still a request served.
                if access::enabled() {
                    let transport: Box<dyn Any> = paused.call.into_transport();
                    if let Ok(ex) = transport.downcast::<Exchange>() {
                        log_access(&ex, Some(&paused.head));
                    }
                }
            }
            // Dropping the socket removes it from the epoll set.
        }
        if !self.accepting && self.may_accept() {
            self.set_accepting(true);
        }
    }

    fn on_event(&mut self, key: usize, events: EpollFlags) {
        if let Some(pool) = self.pool {
            if self.is_away(key) {
                // A pool thread re-armed it and left, or is about to leave, the result for
                // the loop to take: the next request is here.
                self.take_finished();
                if let Some(conn) = self
                    .conns
                    .get_mut(key)
                    .filter(|c| matches!(c.phase, Phase::Away))
                {
                    // Taken up when the result comes (it wakes the loop).
                    if !conn.event_while_away {
                        conn.event_while_away = true;
                        self.awaiting_results += 1;
                        if pool.await_result() {
                            self.take_finished();
                        }
                    }
                    return;
                }
            }
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn
            .watching
            .is_some_and(|w| w.contains(EpollFlags::EPOLLONESHOT))
        {
            // Reported once: the kernel has disarmed it (it stays registered).
            conn.watching = None;
        }
        match &mut conn.phase {
            Phase::Preamble { .. } => {
                self.preamble(key, events);
                return;
            }
            Phase::Idle | Phase::Head | Phase::Body(_) | Phase::Drain => {
                let ex = conn.ex.as_mut().expect("the loop holds idle connections");
                if ex.unsent() > 0
                    && events.contains(EpollFlags::EPOLLOUT)
                    && ex.try_flush().is_err()
                {
                    self.close(key);
                    return;
                }
                let direct = match &mut conn.phase {
                    Phase::Body(receiving) if ex.rbuf.is_empty() => {
                        ex.plain_fd().and_then(|fd| receiving.read_direct(fd))
                    }
                    _ => None,
                };
                let read = match direct {
                    Some(read) => read,
                    None => ex.fill(matches!(conn.phase, Phase::Body(_))),
                };
                match read {
                    Ok(0) => {
                        // The client closed: between requests that is the normal end; mid-
                        // request it abandoned the request, and there is no one to answer.
                        self.close(key);
                        return;
                    }
                    Ok(_) => {
                        if let (Phase::Body(_) | Phase::Drain, Some(t)) =
                            (&conn.phase, self.settings.http.body_timeout)
                        {
                            conn.deadline = Some(self.now + t);
                        }
                        self.advance(key);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        self.read_failed(key, &e);
                        return;
                    }
                }
            }
            Phase::Paused(_) => self.on_paused_writable(key),
            Phase::Flushing(after) => {
                let after = *after;
                let ex = conn
                    .ex
                    .as_mut()
                    .expect("the loop holds flushing connections");
                match ex.try_flush() {
                    Ok(true) => {
                        self.finish_after(key, after);
                        self.advance(key);
                    }
                    Ok(false) => {
                        conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
                    }
                    Err(_) => {
                        self.close(key);
                        return;
                    }
                }
            }
            Phase::Linger => {
                let ex = conn
                    .ex
                    .as_mut()
                    .expect("the loop holds lingering connections");
                match ex.discard() {
                    Ok(false) => {}
                    Ok(true) | Err(_) => {
                        self.close(key);
                        return;
                    }
                }
            }
            Phase::Away => {}
        }
        self.rewatch(key);
    }

    /// Reading from connection `key` failed with `err`. A TLS session that failed (a plain
    /// HTTP request, a protocol error) has answered already, with a 400 or an alert: the
    /// connection lingers so that the answer is read rather than cut off by a reset, the
    /// client's unread bytes still in the socket. Any other error ends it.
    fn read_failed(&mut self, key: usize, err: &io::Error) {
        if err.kind() == io::ErrorKind::InvalidData {
            self.finish_after(key, After::Linger);
        } else {
            self.close(key);
        }
    }

    /// Parses and dispatches what the connection's buffer holds, request after request.
    fn advance(&mut self, key: usize) {
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            match &mut conn.phase {
                Phase::Idle | Phase::Head => {
                    let ex = conn.ex.as_mut().expect("the loop holds idle connections");
                    if ex.rbuf.is_empty() {
                        return;
                    }
                    if matches!(conn.phase, Phase::Idle) {
                        // The head deadline runs from a request's first byte and is not
                        // extended by each byte after it (slowloris).
                        conn.phase = Phase::Head;
                        ex.started = self.now;
                        ex.ended = None;
                        if !Arc::ptr_eq(&ex.view, &conn.peer) {
                            ex.view = conn.peer.clone();
                        }
                        conn.deadline = self.settings.http.header_timeout.map(|t| self.now + t);
                        if self.draining && conn.deadline.is_none() {
                            conn.deadline = Some(self.now + TICK);
                        }
                    }
                    let limits = &self.shared.limits;
                    let max_head = (limits.request_line
                        + 2
                        + limits.header_count * (limits.header_field_size + 2)
                        + 2)
                    // One byte past the cap, so that a line over its own limit right there
                    // is still told apart (414) from a head over the cap (431).
                    .min(limits.head_size.saturating_add(1));
                    if !ex.head_may_be_complete() {
                        if ex.rbuf.is_full(max_head) {
                            // The head can no longer be valid; say why (a line over its
                            // limit, or bad syntax) when the bytes tell, else it is too big.
                            let status = match parse_head(ex.rbuf.data(), limits) {
                                Err(err) => err.status(),
                                Ok(_) => 431,
                            };
                            self.fail(key, status, None);
                        }
                        return;
                    }
                    match parse_head(ex.rbuf.data(), limits) {
                        Ok(None) if ex.rbuf.is_full(max_head) => {
                            self.fail(key, 431, None);
                            return;
                        }
                        Ok(None) => return,
                        Err(err) => {
                            tracing::debug!("bad request: {err}");
                            self.fail(key, err.status(), None);
                            return;
                        }
                        Ok(Some((head, consumed))) => {
                            ex.consume_head(consumed);
                            self.on_head(key, head);
                        }
                    }
                }
                Phase::Body(_) => {
                    if !self.receive_body(key) {
                        return;
                    }
                }
                Phase::Drain => {
                    let ex = conn
                        .ex
                        .as_mut()
                        .expect("the loop holds draining connections");
                    match ex.discard_body() {
                        // The body is over: idle, ready for the next request.
                        Ok(true) => self.finish_after(key, After::KeepAlive),
                        Ok(false) => return,
                        Err(err) => {
                            tracing::debug!("unread request body not drained: {err}");
                            // The client may still be sending: closing now could reset the
                            // connection under the response it has not read yet.
                            self.finish_after(key, After::Linger);
                            return;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// A request head arrived: refuse it, start receiving its body, or run it.
    fn on_head(&mut self, key: usize, head: RequestHead) {
        if let Some(conn) = self.conns.get_mut(key) {
            let ex = conn
                .ex
                .as_mut()
                .expect("the loop holds connections it parses");
            // Trusted proxy headers: this request's view of the connection (`advance` put
            // the connection's own back when the request began).
            if conn.trusted {
                match self.settings.proxy.forwarded.resolve(|| head.headers()) {
                    Ok(None) => {}
                    Ok(Some(believed)) => {
                        ex.view = Arc::new(ConnView::new(crate::proxy::believed_info(
                            &conn.peer.info,
                            believed,
                        )));
                    }
                    Err(_) => {
                        tracing::debug!("bad request: contradictory secure scheme headers");
                        self.fail(key, 400, Some(&head));
                        return;
                    }
                }
            }
        }
        let too_large = match (head.framing, self.settings.http.limit_request_body) {
            (BodyFraming::Length(n), Some(limit)) => n > limit,
            _ => false,
        };
        if too_large {
            // Refused before the body is read; a client waiting for 100-continue is spared
            // sending it at all.
            self.fail(key, 413, Some(&head));
            return;
        }
        if head.framing == BodyFraming::Empty {
            self.dispatch(key, head, Body::Buffered(BodyReader::empty()), None);
            return;
        }
        let decoder = BodyDecoder::new(head.framing, &self.shared.limits);
        if !self.settings.http.request_buffering {
            let body = Body::Streaming {
                decoder,
                pending: (0, 0),
                received: 0,
            };
            self.dispatch(key, head, body, None);
            return;
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if head.expect_continue {
            let ex = conn
                .ex
                .as_mut()
                .expect("the loop holds receiving connections");
            if ex.send_continue().is_err() {
                self.close(key);
                return;
            }
        }
        let limit = self.settings.spool.memory_limit;
        let wants = match head.framing {
            BodyFraming::Length(n) => n.min(limit),
            // Unknown size: assume the worst a body can take in memory.
            _ => limit,
        };
        conn.phase = Phase::Body(Box::new(Receiving {
            head,
            decoder,
            spool: Spool::new(),
            meter: BodyMeter::new(&self.body_memory),
            reserved: 0,
            wants,
            started: None,
        }));
        if !self.start_receiving(key) {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            // Its turn comes when bodies in memory go to the app; meanwhile its bytes wait
            // in the socket (TCP backpressure), and no body deadline runs.
            conn.deadline = None;
            tracing::debug!("request body waits for memory (connection {key})");
            self.parked.push_back(key);
            self.watch(key, None);
        }
    }

    /// Moves buffered body bytes into the spool; returns true when the request was
    /// dispatched (the caller goes on with the connection's next phase).
    fn receive_body(&mut self, key: usize) -> bool {
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Phase::Body(receiving) = &mut conn.phase else {
            return false;
        };
        if receiving.started.is_none() {
            // Parked: not its turn yet.
            return false;
        }
        let ex = conn
            .ex
            .as_mut()
            .expect("the loop holds receiving connections");
        let limit = self.settings.http.limit_request_body;
        let failure = loop {
            if ex.rbuf.is_empty() && !receiving.decoder.is_done() {
                return false;
            }
            match receiving.decoder.decode(ex.rbuf.data()) {
                Ok((consumed, Decoded::Data(data))) => {
                    if limit.is_some_and(|l| receiving.spool.len() + data.len() as u64 > l) {
                        break 413;
                    }
                    let stored = receiving.spool.write(data, &self.settings.spool);
                    receiving
                        .meter
                        .set(receiving.spool.memory_len().max(receiving.reserved));
                    if let Err(err) = stored {
                        tracing::error!("cannot store request body: {err}");
                        break 500;
                    }
                    ex.rbuf.consume(consumed);
                }
                Ok((consumed, Decoded::Done)) => {
                    ex.rbuf.consume(consumed);
                    let Phase::Body(receiving) = std::mem::replace(&mut conn.phase, Phase::Away)
                    else {
                        unreachable!("matched above");
                    };
                    let Receiving { head, spool, .. } = *receiving;
                    let length = spool.len();
                    self.dispatch(key, head, Body::Buffered(spool.into_reader()), Some(length));
                    return true;
                }
                Ok((consumed, Decoded::NeedMore)) => {
                    ex.rbuf.consume(consumed);
                    return false;
                }
                Err(err) => {
                    tracing::debug!("bad request body: {err}");
                    break err.status();
                }
            }
        };
        self.fail(key, failure, None);
        false
    }

    /// Runs a request: on this thread, or in the pool.
    fn dispatch(&mut self, key: usize, head: RequestHead, body: Body, body_length: Option<u64>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut ex = conn
            .ex
            .take()
            .expect("the loop holds connections it dispatches");
        ex.begin(&head, self.draining, body);
        conn.deadline = None;
        if let Some(pool) = self.pool {
            conn.phase = Phase::Away;
            self.watch(key, None);
            let registered = self.conns.get_mut(key).is_some_and(|c| c.registered);
            pool.submit(Job {
                key,
                registered,
                head,
                body_length,
                exchange: ex,
            });
            return;
        }
        let view = ex.view.clone();
        let request = Request {
            head: &head,
            conn: &view,
            body_length,
        };
        if let Some(slot) = &self.inflight {
            slot.begin(conn.fd, &head, ex.unsent() == 0, ex.is_tls(), &ex.view);
        }
        self.beat.start(head.method_bytes(), head.path());
        let (call, step) = self.app.start(request, ex);
        self.beat.idle();
        if let Some(slot) = &self.inflight {
            slot.end();
        }
        self.after_step(key, call, head, step);
    }

    /// Acts on where a call on the loop thread stands.
    fn after_step(&mut self, key: usize, call: Call, head: RequestHead, step: Step) {
        match step {
            Step::Paused => {
                let Some(conn) = self.conns.get_mut(key) else {
                    return;
                };
                conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
                conn.phase = Phase::Paused(Box::new(Paused { call, head }));
                self.rewatch(key);
            }
            Step::Done(outcome) => {
                let transport = call.into_transport();
                self.complete(key, &head, outcome, transport);
            }
        }
    }

    /// The paused response's socket is writable: send, and resume the app once caught up.
    fn on_paused_writable(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Phase::Paused(paused) = &mut conn.phase else {
            return;
        };
        let flushed = paused
            .call
            .with_transport(|t| exchange_mut(t).try_flush())
            .unwrap_or(Ok(false));
        match flushed {
            Ok(false) => {
                conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
            }
            Ok(true) => {
                let Phase::Paused(paused) = std::mem::replace(&mut conn.phase, Phase::Away) else {
                    unreachable!("matched above");
                };
                let Paused { mut call, head } = *paused;
                if let Some(slot) = &self.inflight {
                    let facts = call.with_transport(|t| {
                        let ex = exchange_mut(t);
                        (ex.is_tls(), ex.view.clone())
                    });
                    let (tls, info) = facts.unwrap_or_else(|| (false, conn.peer.clone()));
                    slot.begin(conn.fd, &head, false, tls, &info);
                }
                self.beat.resume();
                let step = call.resume();
                self.beat.idle();
                if let Some(slot) = &self.inflight {
                    slot.end();
                }
                self.after_step(key, call, head, step);
                self.advance(key);
            }
            Err(_) => self.close(key),
        }
    }

    /// Requests the pool has finished: their connections come back to the loop.
    fn take_finished(&mut self) {
        let Some(pool) = self.pool else { return };
        loop {
            self.take_finished_batch(pool);
            // Still waiting for a result whose request has come: be woken for it.
            if self.awaiting_results == 0 || !pool.await_result() {
                return;
            }
        }
    }

    fn take_finished_batch(&mut self, pool: &Pool) {
        let mut finished = std::mem::take(&mut self.finished);
        pool.take_finished(&mut finished);
        for Finished {
            key,
            head,
            outcome,
            exchange,
            rearmed,
            ..
        } in finished.drain(..)
        {
            // Only the connection that was lent out takes the result back: if it was closed
            // meanwhile, its key may already name a newer connection.
            let Some(conn) = self
                .conns
                .get_mut(key)
                .filter(|c| matches!(c.phase, Phase::Away))
            else {
                continue;
            };
            conn.phase = Phase::Idle;
            let missed = std::mem::take(&mut conn.event_while_away);
            if missed {
                self.awaiting_results -= 1;
            }
            if rearmed {
                // Armed as rewatch() asks for an idle connection with a pool. If the event it
                // was armed for came already (and disarmed it), on_event() below notes that.
                conn.registered = true;
                conn.watching = Some(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT);
            }
            self.complete(key, &head, outcome, exchange);
            self.advance(key);
            self.rewatch(key);
            if missed && rearmed {
                self.on_event(key, EpollFlags::EPOLLIN);
            }
        }
        self.finished = finished;
    }

    /// A call is done: decide the connection's future and send what is left.
    fn complete(
        &mut self,
        key: usize,
        head: &RequestHead,
        outcome: Outcome,
        transport: Box<dyn Transport>,
    ) {
        let transport: Box<dyn Any> = transport;
        let mut ex = transport
            .downcast::<Exchange>()
            .expect("calls are made with the engine's exchange");
        let keep = ex.end_request(outcome, head.is_head());
        self.beats.served();
        log_access(&ex, Some(head));
        let after = if keep {
            After::KeepAlive
        } else if head.keep_alive || !ex.rbuf.is_empty() || !ex.body_consumed() {
            // The client may have sent more (a pipelined request, the rest of a body):
            // closing with unread input would reset the connection under the response.
            After::Linger
        } else {
            After::Close
        };
        // What the call queued instead of writing (a small response, whole) goes out now,
        // without the GIL.
        let flushed = if ex.unsent() > 0 {
            ex.try_flush()
        } else {
            Ok(true)
        };
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.ex = Some(ex);
        let unsent = match flushed {
            Ok(done) => !done,
            Err(_) => {
                self.close(key);
                return;
            }
        };
        if unsent {
            conn.phase = Phase::Flushing(after);
            conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
            self.rewatch(key);
        } else {
            self.finish_after(key, after);
        }
    }

    /// Applies what happens after a response once it is fully sent.
    fn finish_after(&mut self, key: usize, after: After) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        // A TLS client may end its side with a close_notify as soon as it has sent its last
        // request: closing with that record unread would reset the connection under the
        // response's last bytes, so such a connection lingers instead.
        let after = match after {
            After::Close if conn.ex.as_ref().is_some_and(|ex| ex.tls_input_pending()) => {
                After::Linger
            }
            after => after,
        };
        match after {
            After::KeepAlive => {
                let ex = conn
                    .ex
                    .as_ref()
                    .expect("the loop holds finished connections");
                if !ex.body_consumed() {
                    conn.phase = Phase::Drain;
                    conn.deadline = self.settings.http.body_timeout.map(|t| self.now + t);
                    self.rewatch(key);
                    return;
                }
                conn.phase = Phase::Idle;
                conn.deadline = self.settings.http.keep_alive.map(|t| self.now + t);
                if self.draining {
                    conn.deadline = Some(self.now + drain_idle(self.settings));
                }
                self.rewatch(key);
            }
            After::Close => self.close(key),
            After::Linger => {
                let ex = conn
                    .ex
                    .as_mut()
                    .expect("the loop holds finished connections");
                if ex.shutdown_write().is_err() {
                    self.close(key);
                    return;
                }
                conn.phase = Phase::Linger;
                conn.deadline = Some(self.now + LINGER);
                self.rewatch(key);
            }
        }
    }

    /// Answers with an error status the server generates, then closes (lingering). `head`:
    /// the refused request when the caller holds it; otherwise the one whose body is being
    /// received, if any (the access log shows what is known).
    fn fail(&mut self, key: usize, status: u16, head: Option<&RequestHead>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Some(ex) = conn.ex.as_mut() else {
            return;
        };
        let head = head.or(match &conn.phase {
            Phase::Body(receiving) => Some(&receiving.head),
            _ => None,
        });
        ex.send_error(status, head.is_some_and(RequestHead::is_head));
        log_access(ex, head);
        if ex.unsent() > 0 {
            conn.phase = Phase::Flushing(After::Linger);
            conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
            self.rewatch(key);
        } else {
            self.finish_after(key, After::Linger);
        }
    }

    /// Closes or answers connections whose deadline has passed.
    fn sweep(&mut self) {
        // Results the pool left without waking the loop (idle keep-alive connections): their
        // keep-alive deadline starts now, at most a sweep late.
        self.take_finished();
        if let Some(until) = self.accept_pause {
            if self.now >= until {
                self.accept_pause = None;
            }
        }
        if !self.accepting && self.may_accept() {
            self.set_accepting(true);
        }
        for key in self.conns.keys() {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if let Phase::Body(receiving) = &mut conn.phase {
                // A body still arriving after a while is a slow client: its memory goes to
                // disk, so it cannot keep others waiting for the in-memory budget.
                let slow = receiving
                    .started
                    .is_some_and(|t| self.now.saturating_duration_since(t) >= SPILL_AFTER);
                if slow && receiving.reserved > 0 {
                    receiving.reserved = 0;
                    if let Err(err) = receiving.spool.spill(&self.settings.spool) {
                        tracing::error!("cannot store request body: {err}");
                        self.fail(key, 500, None);
                        continue;
                    }
                    receiving.meter.set(receiving.spool.memory_len());
                }
            }
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.deadline.is_none_or(|d| self.now < d) {
                continue;
            }
            conn.deadline = None;
            match conn.phase {
                // A request that never completed its head or body: tell the client why.
                Phase::Head | Phase::Body(_) => self.fail(key, 408, None),
                // A PROXY header that never completed: closed, as any refusal of one.
                Phase::Preamble { .. }
                | Phase::Idle
                | Phase::Paused(_)
                | Phase::Flushing(_)
                | Phase::Drain
                | Phase::Linger
                | Phase::Away => self.close(key),
            }
        }
    }

    /// Sets memory aside for connection `key`'s body if the budget allows (or nothing else
    /// is in memory, so one body always progresses); returns whether it may start receiving.
    fn start_receiving(&mut self, key: usize) -> bool {
        let used = self.body_memory.get();
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let Phase::Body(receiving) = &mut conn.phase else {
            return false;
        };
        if receiving.started.is_some() {
            return true;
        }
        if used > 0 && used + receiving.wants > self.body_memory_budget {
            return false;
        }
        receiving.started = Some(self.now);
        receiving.reserved = receiving.wants;
        receiving.meter.set(receiving.wants);
        // The capacity is the reservation: the body never reallocates while it arrives.
        receiving.spool = Spool::with_capacity(receiving.wants as usize);
        conn.deadline = self.settings.http.body_timeout.map(|t| self.now + t);
        true
    }

    /// Lets parked connections start receiving, first come first served, as far as the
    /// in-memory budget allows.
    fn unpark(&mut self) {
        while let Some(&key) = self.parked.front() {
            if !matches!(
                self.conns.get_mut(key).map(|c| &c.phase),
                Some(Phase::Body(_))
            ) {
                self.parked.pop_front();
                continue;
            }
            if !self.start_receiving(key) {
                return;
            }
            tracing::debug!(
                "request body may arrive now (connection {key}, {} bytes in memory)",
                self.body_memory.get()
            );
            self.parked.pop_front();
            self.rewatch(key);
            // Body bytes that came with the head are already buffered.
            self.advance(key);
        }
    }

    /// Begins a graceful stop: no new connections; idle ones get a short grace for a
    /// request already on its way, which is answered with `Connection: close`.
    fn start_draining(&mut self) {
        if self.draining {
            return;
        }
        self.draining = true;
        if let Some(seat) = self.beats.seat() {
            seat.slot.set_draining();
        }
        self.set_accepting(false);
        self.release_own_listeners();
        // Logged only once the listeners are released, so the line tells an observer
        // that this worker takes no new connections.
        tracing::info!(
            "Worker draining (pid: {}): finishing in-flight requests",
            nix::unistd::getpid()
        );
        let grace = self.now + drain_idle(self.settings);
        for key in self.conns.keys() {
            if let Some(conn) = self.conns.get_mut(key) {
                // A PROXY header still on its way counts as idle: no request has begun.
                if matches!(conn.phase, Phase::Idle | Phase::Preamble { .. }) {
                    conn.deadline = Some(conn.deadline.map_or(grace, |d| d.min(grace)));
                }
            }
        }
    }
}

/// Buffers the access log line for the exchange's request: `head` when it was parsed,
/// otherwise the first line of what the client sent.
fn log_access(ex: &Exchange, head: Option<&RequestHead>) {
    if !access::enabled() {
        return;
    }
    let request = match head {
        Some(head) => RequestLine::Parsed(head),
        None => {
            let data = ex.rbuf.data();
            let end = data
                .iter()
                .take(UNPARSED_LINE_MAX)
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(data.len().min(UNPARSED_LINE_MAX));
            RequestLine::Unparsed(&data[..end])
        }
    };
    let sent = &ex.response;
    access::log(&Entry {
        conn: &ex.view.info,
        request,
        status: (sent.status != 0).then_some(sent.status),
        body_bytes: sent.body_bytes,
        response: sent.head.as_ref(),
        duration: ex.ended.unwrap_or_else(Instant::now) - ex.started,
    });
}

/// Most bytes of an unparsable request's first line the access log shows.
const UNPARSED_LINE_MAX: usize = 4096;

/// In-memory body bytes a worker takes in at once: enough for every thread to have a body
/// waiting behind the one it runs.
fn body_memory_budget(settings: &EngineSettings) -> u64 {
    settings
        .spool
        .memory_limit
        .saturating_mul(settings.threads.max(2) as u64)
}

/// How long an idle connection is kept during a graceful stop.
fn drain_idle(settings: &EngineSettings) -> Duration {
    settings
        .http
        .keep_alive
        .unwrap_or(Duration::ZERO)
        .min(Duration::from_secs(2))
}

/// The engine's exchange inside a call's transport.
fn exchange_mut(transport: &mut dyn Transport) -> &mut Exchange {
    let any: &mut dyn Any = transport;
    any.downcast_mut::<Exchange>()
        .expect("calls are made with the engine's exchange")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::parse_head;
    use std::os::unix::net::UnixStream;

    fn receiving_conn(started: Option<Instant>) -> (Conn, UnixStream) {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let shared = Shared::for_tests();
        let info = Arc::new(ConnView::new(ConnInfo::for_tests("")));
        let ex = Box::new(Exchange::new(
            crate::listen::Stream::Unix(ours),
            info.clone(),
            shared,
        ));
        let limits = Limits::default();
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
        let (head, _) = parse_head(raw, &limits).expect("valid").expect("complete");
        let decoder = BodyDecoder::new(head.framing, &limits);
        let conn = Conn {
            fd: ex.fd().as_raw_fd(),
            ex: Some(ex),
            phase: Phase::Body(Box::new(Receiving {
                head,
                decoder,
                spool: Spool::new(),
                meter: BodyMeter::new(&Rc::new(Cell::new(0))),
                reserved: 0,
                wants: 10,
                started,
            })),
            deadline: None,
            watching: None,
            registered: false,
            event_while_away: false,
            peer: info,
            trusted: false,
        };
        (conn, theirs)
    }

    #[test]
    fn a_parked_body_is_not_read_until_its_turn() {
        // Parked (waiting for the body budget): not watched, so its bytes stay in the socket.
        let (parked, _peer) = receiving_conn(None);
        assert_eq!(Engine::wanted(&parked, false), None);
        let (receiving, _peer) = receiving_conn(Some(Instant::now()));
        assert_eq!(Engine::wanted(&receiving, false), Some(EpollFlags::EPOLLIN));
    }

    #[test]
    fn a_lingering_connection_is_not_watched_for_writing() {
        let (mut conn, _peer) = receiving_conn(None);
        // Fill the socket so that an answer stays unsent.
        let sock = conn.ex.as_ref().expect("held").fd();
        nix::fcntl::fcntl(
            sock,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .expect("non-blocking");
        while nix::unistd::write(sock, &[0u8; 4096]).is_ok() {}
        let ex = conn.ex.as_mut().expect("held");
        ex.send_error(400, false);
        assert!(ex.unsent() > 0);
        conn.phase = Phase::Idle;
        let both = EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT;
        assert_eq!(Engine::wanted(&conn, false), Some(both));
        // Once our side is shut down, a socket is always writable: watching for that
        // would report it at every wait.
        conn.phase = Phase::Linger;
        assert_eq!(Engine::wanted(&conn, false), Some(EpollFlags::EPOLLIN));
    }

    #[test]
    fn with_a_pool_a_connection_waiting_for_a_request_is_watched_for_one_event() {
        let (mut conn, _peer) = receiving_conn(None);
        conn.phase = Phase::Idle;
        let once = EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT;
        assert_eq!(Engine::wanted(&conn, true), Some(once));
        assert_eq!(Engine::wanted(&conn, false), Some(EpollFlags::EPOLLIN));
        // A body keeps being read event after event: no re-arming per read.
        let (receiving, _peer) = receiving_conn(Some(Instant::now()));
        assert_eq!(Engine::wanted(&receiving, true), Some(EpollFlags::EPOLLIN));
    }
}
