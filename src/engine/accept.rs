//! Taking in connections: accepting (in small batches, pausing when the worker is full or
//! out of descriptors), adopting each into the table, reading the PROXY protocol header it
//! may start with, and giving back this worker's own `--reuse-port` sockets on a graceful
//! stop.

use super::conn::{Conn, Phase};
use super::exchange::Exchange;
use super::{Engine, LISTENER_TOKEN};
use crate::listen::Stream;
use crate::peer::{ConnInfo, Peer};
use crate::proxy::{Mode, Preamble};
use crate::settings::Protocol;
use crate::wsgi::ConnView;
use nix::sys::epoll::{EpollEvent, EpollFlags};
use nix::sys::socket::Shutdown;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

/// Connections accepted per listener per wake-up: small, so a burst of new connections
/// (a load balancer or a benchmark opening its pool) is spread over the workers instead of
/// landing on whichever woke first, and cannot starve the connections already open.
const ACCEPT_BATCH: usize = 8;
/// How long accepting pauses after accept(2) fails for lack of resources.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

impl<'a> Engine<'a> {
    /// Adds or removes the listeners from the epoll set.
    pub(super) fn set_accepting(&mut self, on: bool) {
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
    pub(super) fn may_accept(&self) -> bool {
        !self.draining
            && self.accept_pause.is_none()
            && self.conns.len < self.settings.worker_connections
            && self.pool.is_none_or(|p| !p.backlogged())
    }

    pub(super) fn accept(&mut self, index: usize) {
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
                    if self.settings.max_queue_time.is_some() {
                        // This loop may run long (with one thread, each adopted connection's
                        // request runs here): a connection accepted late in it was not
                        // waiting when the loop woke, and must not look as if it had been.
                        self.now = Instant::now();
                    }
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
    pub(super) fn adopt(&mut self, index: usize, stream: Stream, peer: Peer) {
        let listening = &self.listeners[index];
        let protocol = listening.protocol;
        if protocol == Protocol::Uwsgi && !self.settings.uwsgi_allows(&peer) {
            refuse_uwsgi_peer(&peer);
            return;
        }
        let proxy = &self.settings.proxy;
        let info = Arc::new(ConnView::new(ConnInfo {
            // A uwsgi packet's variables say who the client is: no forwarded header of its
            // is believed over them.
            trusted: protocol == Protocol::Http && proxy.forwarded.allow.allows(&peer),
            ..ConnInfo::accepted(
                &peer,
                &listening.server_name,
                &listening.server_port,
                listening.scheme,
            )
        }));
        let phase = match proxy.mode {
            Mode::Off => first_phase(protocol),
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
            protocol,
        });
        self.count_connections();
        self.on_accepted(key);
    }

    /// A graceful stop with `--reuse-port`: the kernel keeps giving this worker's own
    /// sockets a share of new connections that no other process would ever accept, and
    /// closing them at exit would reset those. So the connections already queued are taken
    /// in now (and answered with `Connection: close`), and each socket leaves the port's
    /// group at once (shutdown unhashes a listener, as close would), so that new
    /// connections go to the sockets that stay open. One arriving between the last accept
    /// and the shutdown is still reset; `net.ipv4.tcp_migrate_req = 1` closes that window.
    pub(super) fn release_own_listeners(&mut self) {
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
    pub(super) fn on_accepted(&mut self, key: usize) {
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
    pub(super) fn preamble(&mut self, key: usize, events: EpollFlags) {
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
                conn.phase = first_phase(conn.protocol);
                self.on_accepted(key);
            }
            Ok(Preamble::Proxied(addresses)) => {
                if let Some(addresses) = addresses {
                    let peer = crate::proxy::proxied_peer(&addresses);
                    let info = Arc::new(ConnView::new(ConnInfo {
                        trusted: conn.protocol == Protocol::Http
                            && self.settings.proxy.forwarded.allow.allows(&peer),
                        ..crate::proxy::proxied_info(&conn.peer.info, &addresses)
                    }));
                    ex.view = info.clone();
                    conn.peer = info;
                }
                conn.phase = first_phase(conn.protocol);
                self.on_accepted(key);
            }
        }
    }
}

/// Closes a connection from a peer not in `--uwsgi-allow-from` (dropping the stream closes
/// it): its packets would name any client address it liked.
#[cold]
fn refuse_uwsgi_peer(peer: &Peer) {
    let addr = match peer {
        Peer::Tcp(addr) => addr.ip().to_string(),
        Peer::Unix => "a Unix socket client".to_owned(),
    };
    tracing::warn!("uwsgi connection from {addr} closed: not in --uwsgi-allow-from");
}

/// What a connection does first once accepted (and past any PROXY header): wait for an HTTP
/// request, or receive its uwsgi packet.
fn first_phase(protocol: Protocol) -> Phase {
    match protocol {
        Protocol::Http => Phase::Idle,
        Protocol::Uwsgi => Phase::Packet,
    }
}
