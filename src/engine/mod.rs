//! The worker's engine: one epoll event loop per worker process.
//!
//! The loop accepts connections, reads and parses request heads, receives request bodies
//! (into memory or a temporary file: [`spool`]) and writes responses, all without the GIL.
//! Only a request that has fully arrived reaches Python, so a slow or stalled client costs a
//! descriptor and a buffer, never the worker:
//!
//! * `--threads 1`: the app runs on the loop thread. Its response is sent as fast as the
//!   client takes it (a small one once the requests that were ready with it have run:
//!   `hold`); when the client falls behind, the response is paused
//!   ([`crate::wsgi::Step::Paused`]) and resumed when the socket is writable again, while
//!   the loop serves everyone else.
//! * `--threads N`: ready requests go to a [`pool`] of N Python threads, which write their
//!   responses themselves; the connection comes back to the loop afterwards.
//!
//! Client deadlines (head, body, send, keep-alive idle) are the loop's; none of them counts
//! against `--timeout`, which watches only the app ([`heartbeat`]).
//!
//! Where things live: the loop itself and epoll registration here; the connection table
//! (`conn`); accepting and the PROXY preamble (`accept`); reading and parsing requests
//! (`read`); files served without Python, at the one seam after a head is parsed
//! (`statics`) and health probes answered at the same seam (`health`); receiving buffered bodies within the memory budget (`receive`, [`spool`]);
//! running requests and finishing responses (`respond`, `pool` for `--threads` > 1), and
//! holding finished responses until a batch of ready requests is served (`hold`) and
//! sending them with one system call (`burst`);
//! deadlines and draining (`deadlines`); a connection's socket side, the WSGI transport
//! (`exchange`, `readbuf`); uwsgi packets instead of HTTP heads (`gateway`); the timeout
//! watchdog and its abort ([`heartbeat`], [`abort`]); what the engine is configured with
//! (`settings`).

pub mod abort;
mod accept;
mod admission;
mod burst;
mod conn;
mod deadlines;
mod exchange;
mod gateway;
mod health;
pub mod heartbeat;
mod hold;
mod malloc;
mod measure;
mod pool;
mod read;
mod readbuf;
mod receive;
mod respond;
mod settings;
mod soft_timeout;
pub mod spool;
mod statics;

pub use settings::{ConnShared, EngineSettings};

use crate::listen::Listener;
use crate::logging::access;
use crate::metrics::Region;
use crate::scoreboard::Seat;
use crate::settings::Protocol;
use crate::signals::{Signal, SignalIntake};
use crate::wsgi::App;
use conn::{After, Listening, Phase, Slab};
use heartbeat::{Beat, Heartbeats};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::unistd::{Pid, getppid};
use pool::{Finished, Pool};
use receive::body_memory_budget;
use respond::log_access;
use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the loop sleeps, so the parent check runs even when nothing happens.
const TICK: Duration = Duration::from_secs(1);
/// How often deadlines are checked (they are whole seconds, so this is precise enough).
const SWEEP: Duration = Duration::from_millis(250);
/// Events handled per epoll_wait.
const EVENTS: usize = 256;

const SIGNAL_TOKEN: u64 = u64::MAX;
const POOL_TOKEN: u64 = u64::MAX - 1;
const LISTENER_TOKEN: u64 = 1 << 62;

/// Serves connections on `listeners` until told to stop; the caller has loaded `app`.
pub fn run(
    settings: &EngineSettings,
    listeners: &[&Listener],
    signals: &SignalIntake,
    app: &'static App,
    master: Pid,
    seat: Option<Seat>,
    metrics: Option<&'static Region>,
) -> io::Result<()> {
    let twins = if settings.reuse_port {
        let mut twins = Vec::new();
        for (index, listener) in listeners.iter().enumerate() {
            if let Some(twin) = listener.reuse_port_twin(settings.backlog)? {
                twins.push((twin, settings.protocol_of(index)));
            }
        }
        twins
    } else {
        Vec::new()
    };
    // The worker's own SO_REUSEPORT sockets are marked: only this worker accepts on them.
    let all: Vec<(&Listener, bool, Protocol)> = listeners
        .iter()
        .enumerate()
        .map(|(index, &l)| (l, false, settings.protocol_of(index)))
        .chain(twins.iter().map(|(t, protocol)| (t, true, *protocol)))
        .collect();
    if settings.max_queue_time.is_some() {
        stamp_arrivals(&all);
    }
    malloc::tune(settings.spool.memory_limit, body_memory_budget(settings));
    let beats = Heartbeats::new(settings.threads, seat);
    if let Some(soft) = settings.soft_timeout {
        soft_timeout::start(&beats, soft)?;
    }
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let pool = if settings.threads > 1 {
        let threads_epoll = Epoll(epoll.0.try_clone()?);
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(
            threads_epoll,
            settings.request_id.clone(),
        )?));
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
    engine.metrics = metrics;
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

/// `--max-queue-time`: the kernel notes when each TCP listener's connections receive data
/// (SO_TIMESTAMPNS, which accepted sockets inherit; Unix sockets give no times). With one
/// thread a request waits unread in its socket while the app runs: only the kernel saw it
/// arrive. Set at worker start, so the kernel's (system-wide, deferred) switch to stamping
/// packets is on well before the first request.
fn stamp_arrivals(listeners: &[(&Listener, bool, Protocol)]) {
    for (listener, _, _) in listeners {
        if listener.local_addr().is_some() {
            let on = nix::sys::socket::setsockopt(
                &listener.as_fd(),
                nix::sys::socket::sockopt::ReceiveTimestampns,
                &true,
            );
            if let Err(err) = on {
                tracing::warn!(
                    "cannot ask for receive times on {} ({err}): --max-queue-time counts \
                     from when requests are read",
                    listener.url()
                );
            }
        }
    }
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
    shared: Arc<ConnShared>,
    pool: Option<&'static Pool>,
    /// The loop thread's watchdog cell (requests run here with `--threads 1`).
    beat: Beat,
    /// Every thread's cells and the worker's scoreboard seat.
    beats: Arc<Heartbeats>,
    /// The loop thread's in-flight request, for a timeout abort (`--threads 1`).
    inflight: Option<Arc<abort::InFlight>>,
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
    /// The worker's metrics region (`--metrics-bind`); `None`: nothing is recorded.
    metrics: Option<&'static Region>,
    /// The last clock reading taken for the metrics (`measure`).
    last_clock: Cell<Instant>,
    /// New request IDs (`--request-id-header`; `None` when off), seeded in this worker.
    ids: Option<crate::request_id::Generator>,
    /// Complete responses waiting for the end of the batch (`--threads 1`).
    held: hold::Held,
    /// The ring that sends a batch's held responses at once, where io_uring is available.
    burst: Option<burst::Burst>,
}

impl<'a> Engine<'a> {
    pub(super) fn new(
        epoll: Epoll,
        settings: &'a EngineSettings,
        listeners: &[(&'a Listener, bool, Protocol)],
        app: &'static App,
        pool: Option<&'static Pool>,
        beat: Beat,
        beats: Arc<Heartbeats>,
    ) -> io::Result<Engine<'a>> {
        let listeners = listeners
            .iter()
            .map(|&(listener, own, protocol)| {
                let (server_name, server_port) = match listener.local_addr() {
                    Some(addr) => (addr.ip().to_string(), addr.port().to_string()),
                    None => ("localhost".to_owned(), "80".to_owned()),
                };
                Listening {
                    listener,
                    own,
                    protocol,
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
            shared: Arc::new(ConnShared {
                limits: settings.http.limits.clone(),
                keep_alive: settings.http.keep_alive.is_some(),
                send_timeout: settings.http.send_timeout,
                body_timeout: settings.http.body_timeout,
                limit_request_body: settings.http.limit_request_body,
                sendfile: settings.http.sendfile,
                offload: settings.offload.clone(),
                request_id: settings.request_id.clone(),
                stamp_arrivals: settings.max_queue_time.is_some(),
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
            metrics: None,
            last_clock: Cell::new(Instant::now()),
            ids: settings
                .request_id
                .as_ref()
                .map(|_| crate::request_id::Generator::seeded()),
            held: hold::Held::default(),
            // Held responses exist only when the app runs on the loop thread.
            burst: (pool.is_none() && settings.http.io_uring)
                .then(burst::Burst::new)
                .flatten(),
        };
        engine.set_accepting(true);
        Ok(engine)
    }

    /// Runs until a stop signal (graceful: until the last connection is done).
    pub(super) fn serve(&mut self, signals: &SignalIntake, master: Pid) -> io::Result<()> {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        let mut next_sweep = Instant::now() + SWEEP;
        let mut next_parent_check = Instant::now() + TICK;
        loop {
            // What this turn held (its batch of events, bodies unparked, the sweep) goes
            // out before the loop waits.
            self.release_held();
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
            for (i, event) in events[..n].iter().enumerate() {
                self.held.batch_left = n - 1 - i;
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
                            // Responses the app finished still go out.
                            self.release_held();
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
            self.held.batch_left = 0;
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
                    self.release_held();
                    tracing::warn!("master is gone; worker exiting");
                    return Ok(());
                }
            }
            if self.draining && self.conns.len == 0 {
                return Ok(());
            }
        }
    }

    /// Epoll reported `events` on connection `key`'s socket.
    fn on_event(&mut self, key: usize, events: EpollFlags) {
        if self.pool.is_some() && self.is_away(key) && self.event_while_away(key) {
            return;
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
        let open = match conn.phase {
            Phase::Preamble { .. } => {
                self.preamble(key, events);
                return;
            }
            Phase::Idle | Phase::Head | Phase::Packet | Phase::Body(_) | Phase::Drain => {
                self.on_readable(key, events)
            }
            Phase::Paused(_) => {
                self.on_paused_writable(key);
                true
            }
            Phase::Flushing(after) => self.on_flushable(key, after),
            // Sent when the batch of events is served.
            Phase::Held => true,
            Phase::Linger => self.on_lingering(key),
            Phase::Away => true,
        };
        if open {
            self.rewatch(key);
        }
    }

    /// An event on a connection lent to the pool: a pool thread re-armed it and left, or is
    /// about to leave, the result for the loop to take, and the next request is here. Returns
    /// false when the result was there already (the connection is the loop's again).
    fn event_while_away(&mut self, key: usize) -> bool {
        let Some(pool) = self.pool else {
            return false;
        };
        self.take_finished();
        let Some(conn) = self
            .conns
            .get_mut(key)
            .filter(|c| matches!(c.phase, Phase::Away))
        else {
            return false;
        };
        // Taken up when the result comes (it wakes the loop).
        if !conn.event_while_away {
            conn.event_while_away = true;
            self.awaiting_results += 1;
            if pool.await_result() {
                self.take_finished();
            }
        }
        true
    }

    /// A connection whose response is out, sending its last bytes, can take more; returns
    /// whether it is still open.
    fn on_flushable(&mut self, key: usize, after: After) -> bool {
        let Some(ex) = self.conns.get_mut(key).and_then(|c| c.ex.as_mut()) else {
            return false;
        };
        match ex.try_flush() {
            Ok(true) => {
                self.finish_after(key, after);
                self.advance(key);
            }
            Ok(false) => {
                if let Some(conn) = self.conns.get_mut(key) {
                    conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
                }
            }
            Err(_) => {
                self.close(key);
                return false;
            }
        }
        true
    }

    /// A lingering connection has input (or has closed); returns whether it is still open.
    fn on_lingering(&mut self, key: usize) -> bool {
        let Some(ex) = self.conns.get_mut(key).and_then(|c| c.ex.as_mut()) else {
            return false;
        };
        match ex.discard() {
            Ok(false) => true,
            Ok(true) | Err(_) => {
                self.close(key);
                false
            }
        }
    }

    /// Sets the events epoll watches for connection `key` (`None`: not at all).
    pub(super) fn watch(&mut self, key: usize, want: Option<EpollFlags>) {
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

    pub(super) fn is_away(&mut self, key: usize) -> bool {
        matches!(self.conns.get_mut(key).map(|c| &c.phase), Some(Phase::Away))
    }

    /// Brings the epoll registration in line with the connection's phase.
    pub(super) fn rewatch(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            let want = conn.wanted(self.pool.is_some());
            self.watch(key, want);
        }
    }

    pub(super) fn close(&mut self, key: usize) {
        if let Some(mut conn) = self.conns.remove(key) {
            if let Phase::Paused(mut paused) = conn.phase {
                paused.call.abort();
                // Cut short (the client went away or stopped reading): still a request served.
                if access::enabled() || self.metrics.is_some() {
                    let mut ex = paused.call.into_transport();
                    self.record(&mut ex, Some(&paused.head));
                    log_access(&ex, Some(&paused.head));
                }
            } else if let Some(ex) = conn.ex.as_mut() {
                self.record_bytes(ex);
            }
            self.count_connections();
            // Dropping the socket removes it from the epoll set.
        }
        if !self.accepting && self.may_accept() {
            self.set_accepting(true);
        }
    }
}
