//! StatsD and DogStatsD metrics, named, typed and formatted as gunicorn 27's `Statsd` logger
//! sends them, so dashboards built for gunicorn keep working:
//!
//! * per request, from the access-log path ([`request`]): `gunicorn.request.duration`
//!   (timer, ms), `gunicorn.requests` and `gunicorn.request.status.<code>` (counters);
//! * per error-log event ([`log_event`]): `gunicorn.log.critical`, `.error`, `.warning`,
//!   `.exception` (counters);
//! * from the master, once per loop pass ([`gauge`], [`histogram`]): `gunicorn.workers`
//!   (gauge) and, with `--enable-backlog-metric`, `gunicorn.backlog` (gunicorn sends it as
//!   a histogram).
//!
//! Each process sends over its own connected, non-blocking datagram socket (UDP, or a Unix
//! datagram socket for `unix://`): opened by [`install`] in the master and again by
//! [`reopen`] in each worker. A send that fails (nobody listening, a full buffer) is
//! dropped: metrics never block or fail a request. A request's three lines go out in one
//! datagram, separated by newlines (StatsD's multi-metric packet), which costs one system
//! call instead of gunicorn's three.

mod packet;
mod settings;

pub use packet::Kind;
pub use settings::{StatsdAddr, StatsdSettings, check};

use std::cell::RefCell;
use std::io;
use std::net::{ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

/// The process's StatsD client, once installed.
static CLIENT: OnceLock<Client> = OnceLock::new();

struct Client {
    settings: StatsdSettings,
    /// This process's socket; replaced after a fork, `None` when it cannot be opened.
    socket: RwLock<Option<Socket>>,
}

/// A connected datagram socket.
enum Socket {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl Socket {
    fn open(addr: &StatsdAddr) -> io::Result<Socket> {
        let socket = match addr {
            StatsdAddr::Udp { host, port } => {
                let mut found: Vec<_> = (host.as_str(), *port).to_socket_addrs()?.collect();
                // gunicorn opens an IPv4 socket unless the host is an IPv6 literal.
                found.sort_by_key(|a| a.is_ipv6());
                let target = found.first().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the host has no address")
                })?;
                let local = if target.is_ipv6() {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let socket = UdpSocket::bind(local)?;
                socket.connect(target)?;
                socket.set_nonblocking(true)?;
                Socket::Udp(socket)
            }
            StatsdAddr::Unix(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(path)?;
                socket.set_nonblocking(true)?;
                Socket::Unix(socket)
            }
        };
        Ok(socket)
    }

    fn send(&self, datagram: &[u8]) {
        // Dropped on failure, as gunicorn drops it: metrics are best effort.
        let _ = match self {
            Socket::Udp(s) => s.send(datagram),
            Socket::Unix(s) => s.send(datagram),
        };
    }
}

/// Starts sending metrics from this process (the master, before it forks).
pub fn install(settings: &StatsdSettings) {
    let socket = open_or_warn(&settings.addr);
    let _ = CLIENT.set(Client {
        settings: settings.clone(),
        socket: RwLock::new(socket),
    });
}

/// In a worker right after the fork: a socket of its own.
pub fn reopen() {
    if let Some(client) = CLIENT.get() {
        let socket = Socket::open(&client.settings.addr).ok();
        *client.socket.write().unwrap_or_else(|e| e.into_inner()) = socket;
    }
}

fn open_or_warn(addr: &StatsdAddr) -> Option<Socket> {
    match Socket::open(addr) {
        Ok(socket) => Some(socket),
        Err(err) => {
            // Not through the error log: this runs before it is installed.
            eprintln!("rsgi-server: StatsD metrics go nowhere: cannot reach {addr}: {err}");
            None
        }
    }
}

/// Whether metrics are sent.
pub fn enabled() -> bool {
    CLIENT.get().is_some()
}

/// Whether the master sends `gunicorn.backlog`.
pub fn backlog_enabled() -> bool {
    CLIENT.get().is_some_and(|c| c.settings.backlog)
}

thread_local! {
    /// Each thread formats its datagrams here: no allocation once it has grown.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Formats with `fill` into the thread's buffer and sends the result as one datagram.
fn send(fill: impl FnOnce(&mut Vec<u8>, &StatsdSettings)) {
    let Some(client) = CLIENT.get() else { return };
    let guard = client.socket.read().unwrap_or_else(|e| e.into_inner());
    let Some(socket) = guard.as_ref() else { return };
    BUFFER.with(|cell| {
        let Ok(mut out) = cell.try_borrow_mut() else {
            return;
        };
        out.clear();
        fill(&mut out, &client.settings);
        socket.send(&out);
    });
}

/// One request answered with `status` after `duration` (gunicorn's `Statsd.access`).
pub fn request(status: u16, duration: Duration) {
    send(|out, s| {
        packet::begin(out, &s.prefix, "gunicorn.request.duration");
        packet::millis(out, duration);
        packet::end(out, Kind::Timer, &s.tags);
        out.push(b'\n');
        packet::line(
            out,
            &s.prefix,
            "gunicorn.requests",
            b"1",
            Kind::Counter,
            &s.tags,
        );
        out.push(b'\n');
        out.extend_from_slice(s.prefix.as_bytes());
        out.extend_from_slice(b"gunicorn.request.status.");
        packet::integer(out, i64::from(status));
        out.extend_from_slice(b":1");
        packet::end(out, Kind::Counter, &s.tags);
    });
}

/// Which `gunicorn.log.*` counter an error-log event counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// `gunicorn.log.critical` (a worker timeout).
    Critical,
    /// `gunicorn.log.error`.
    Error,
    /// `gunicorn.log.warning`.
    Warning,
    /// `gunicorn.log.exception` (an application error with its traceback).
    Exception,
}

/// Counts one error-log event.
pub fn log_event(event: LogEvent) {
    let name = match event {
        LogEvent::Critical => "gunicorn.log.critical",
        LogEvent::Error => "gunicorn.log.error",
        LogEvent::Warning => "gunicorn.log.warning",
        LogEvent::Exception => "gunicorn.log.exception",
    };
    send(|out, s| packet::line(out, &s.prefix, name, b"1", Kind::Counter, &s.tags));
}

/// Sends `name` with a whole-number value of type `kind` (the master's gauges).
pub fn value(name: &str, value: i64, kind: Kind) {
    send(|out, s| {
        packet::begin(out, &s.prefix, name);
        packet::integer(out, value);
        packet::end(out, kind, &s.tags);
    });
}
