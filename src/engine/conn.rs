//! The connection table: what each open connection is doing ([`Phase`]), its socket and
//! deadline ([`Conn`]), and the slab that holds them under their epoll token.

use super::exchange::Exchange;
use super::receive::Receiving;
use crate::http::request::RequestHead;
use crate::listen::Listener;
use crate::settings::Protocol;
use crate::wsgi::{Call, ConnView};
use nix::sys::epoll::EpollFlags;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Instant;

/// What a connection is doing.
pub(super) enum Phase {
    /// Reading the PROXY protocol header it may start with (`--proxy-protocol`), before
    /// anything else; `allowed`: its peer is in `--proxy-allow-ips`.
    Preamble { allowed: bool },
    /// Waiting for the first byte of a request.
    Idle,
    /// Receiving a request head.
    Head,
    /// A uwsgi listener's connection: receiving its one packet's header and variables
    /// (its deadline, the head's, runs from the accept: nginx sends the packet at once).
    Packet,
    /// Receiving a request body before calling the app.
    Body(Box<Receiving>),
    /// In the thread pool; the loop does not watch it.
    Away,
    /// The app's response is paused until the client takes what is buffered.
    Paused(Box<Paused>),
    /// The response is complete; its last bytes are being sent.
    Flushing(After),
    /// The response is complete and whole in the buffer, held until the loop has served
    /// the batch of ready requests ([`super::hold`]).
    Held,
    /// The response is out; the rest of a request body the app did not read is being
    /// discarded, so the connection can serve its next request.
    Drain,
    /// Our side is shut down; discarding input until the client closes (lingering close).
    Linger,
}

/// A response waiting for its client.
pub(super) struct Paused {
    pub(super) call: Call<Box<Exchange>>,
    pub(super) head: RequestHead,
}

/// What happens to a connection once its response is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    /// Wait for the next request.
    KeepAlive,
    /// Close now: the client sends nothing more (a TLS client that has, typically its
    /// close_notify, gets [`After::Linger`] instead).
    Close,
    /// Close after a lingering close: the client may still be sending.
    Linger,
}

/// An open connection.
pub(super) struct Conn {
    /// The socket and protocol state; `None` while lent to a call or the pool.
    pub(super) ex: Option<Box<Exchange>>,
    /// The socket's descriptor, for epoll while `ex` is lent out.
    pub(super) fd: RawFd,
    pub(super) phase: Phase,
    pub(super) deadline: Option<Instant>,
    /// The events epoll watches for it; `None` when none (unregistered, or disarmed).
    pub(super) watching: Option<EpollFlags>,
    /// Whether the socket is in the epoll set (possibly disarmed: [`EpollFlags::EPOLLONESHOT`]).
    pub(super) registered: bool,
    /// While away: its socket, re-armed by the pool thread, has reported an event (which
    /// disarmed it again) before the result came back.
    pub(super) event_while_away: bool,
    /// The connection's facts (its peer, or the client a PROXY header named). A request's
    /// `ex.view` is this, or a copy its trusted proxy headers changed.
    pub(super) peer: Arc<ConnView>,
    /// What its listener speaks.
    pub(super) protocol: Protocol,
}

impl Conn {
    /// The events a connection needs watched in its phase. `oneshot` (with a pool): a
    /// connection waiting for a request is watched for one event only, so that when the
    /// request has come it goes to the pool still registered but disarmed, and comes back
    /// with one epoll_ctl (re-arm) instead of two (remove, add).
    pub(super) fn wanted(&self, oneshot: bool) -> Option<EpollFlags> {
        match self.phase {
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
            // As while idle (no epoll_ctl either way): it is sent before the loop waits.
            Phase::Held => Some(EpollFlags::EPOLLIN),
            Phase::Idle | Phase::Head | Phase::Packet | Phase::Body(_) | Phase::Drain => {
                let unsent = self.ex.as_ref().is_some_and(|ex| ex.unsent() > 0);
                Some(if unsent {
                    EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT
                } else if oneshot && matches!(self.phase, Phase::Idle | Phase::Head | Phase::Packet)
                {
                    EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT
                } else {
                    EpollFlags::EPOLLIN
                })
            }
        }
    }
}

/// Open connections by key (the epoll token).
#[derive(Default)]
pub(super) struct Slab {
    entries: Vec<Option<Conn>>,
    free: Vec<usize>,
    pub(super) len: usize,
}

impl Slab {
    pub(super) fn insert(&mut self, conn: Conn) -> usize {
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
    pub(super) fn remove(&mut self, key: usize) -> Option<Conn> {
        let conn = self.entries.get_mut(key)?.take()?;
        self.len -= 1;
        self.free.push(key);
        Some(conn)
    }
    pub(super) fn get_mut(&mut self, key: usize) -> Option<&mut Conn> {
        self.entries.get_mut(key)?.as_mut()
    }
    pub(super) fn keys(&self) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|&k| self.entries[k].is_some())
            .collect()
    }
}

/// One listener and the server address requests on it report.
pub(super) struct Listening<'a> {
    pub(super) listener: &'a Listener,
    /// This worker's own `--reuse-port` socket: no other process accepts on it.
    pub(super) own: bool,
    /// What it speaks.
    pub(super) protocol: Protocol,
    pub(super) server_name: String,
    pub(super) server_port: String,
    /// `https` under TLS, else `http`.
    pub(super) scheme: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ConnShared;
    use crate::engine::receive::BodyMeter;
    use crate::engine::spool::Spool;
    use crate::http::Limits;
    use crate::http::body::BodyDecoder;
    use crate::http::request::parse_head;
    use crate::peer::ConnInfo;
    use std::cell::Cell;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::rc::Rc;

    fn receiving_conn(started: Option<Instant>) -> (Conn, UnixStream) {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let shared = ConnShared::for_tests();
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
            protocol: Protocol::Http,
        };
        (conn, theirs)
    }

    #[test]
    fn a_parked_body_is_not_read_until_its_turn() {
        // Parked (waiting for the body budget): not watched, so its bytes stay in the socket.
        let (parked, _peer) = receiving_conn(None);
        assert_eq!(parked.wanted(false), None);
        let (receiving, _peer) = receiving_conn(Some(Instant::now()));
        assert_eq!(receiving.wanted(false), Some(EpollFlags::EPOLLIN));
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
        assert_eq!(conn.wanted(false), Some(both));
        // Once our side is shut down, a socket is always writable: watching for that
        // would report it at every wait.
        conn.phase = Phase::Linger;
        assert_eq!(conn.wanted(false), Some(EpollFlags::EPOLLIN));
    }

    #[test]
    fn with_a_pool_a_connection_waiting_for_a_request_is_watched_for_one_event() {
        let (mut conn, _peer) = receiving_conn(None);
        conn.phase = Phase::Idle;
        let once = EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT;
        assert_eq!(conn.wanted(true), Some(once));
        assert_eq!(conn.wanted(false), Some(EpollFlags::EPOLLIN));
        // A body keeps being read event after event: no re-arming per read.
        let (receiving, _peer) = receiving_conn(Some(Instant::now()));
        assert_eq!(receiving.wanted(true), Some(EpollFlags::EPOLLIN));
    }
}
