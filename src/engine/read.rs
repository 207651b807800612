//! Reading requests: a readable socket's bytes into the connection's buffer, and the
//! buffer into request heads (with the sans-IO [`crate::http`] codec, or a uwsgi packet's
//! with [`crate::uwsgi`]: `gateway`), each head then refused, given its body, or dispatched.

use super::conn::{After, Phase};
use super::exchange::Body;
use super::receive::{BodyMeter, Receiving};
use super::spool::{BodyReader, Spool};
use super::{Engine, TICK};
use crate::http::body::{BodyDecoder, BodyFraming};
use crate::http::request::{RequestHead, parse_head};
use crate::http::{HttpError, Look};
use crate::wsgi::ConnView;
use nix::sys::epoll::EpollFlags;
use std::io;
use std::sync::Arc;

impl<'a> Engine<'a> {
    /// Connection `key` has bytes to read (or room to send what it owes): reads them and
    /// goes on with what they complete. Returns whether the connection is still open.
    pub(super) fn on_readable(&mut self, key: usize, events: EpollFlags) -> bool {
        let Some(conn) = self.conns.get_mut(key) else {
            return false;
        };
        let ex = conn.ex.as_mut().expect("the loop holds idle connections");
        if ex.unsent() > 0 && events.contains(EpollFlags::EPOLLOUT) && ex.try_flush().is_err() {
            self.close(key);
            return false;
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
                // The client closed: between requests that is the normal end; mid-request
                // it abandoned the request, and there is no one to answer.
                self.close(key);
                false
            }
            Ok(_) => {
                if let (Phase::Body(_) | Phase::Drain, Some(t)) =
                    (&conn.phase, self.settings.http.body_timeout)
                {
                    conn.deadline = Some(self.now + t);
                }
                self.advance(key);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(e) => {
                self.read_failed(key, &e);
                false
            }
        }
    }

    /// Reading from connection `key` failed with `err`. A TLS session that failed (a plain
    /// HTTP request, a protocol error) has answered already, with a 400 or an alert: the
    /// connection lingers so that the answer is read rather than cut off by a reset, the
    /// client's unread bytes still in the socket. Any other error ends it.
    pub(super) fn read_failed(&mut self, key: usize, err: &io::Error) {
        if err.kind() == io::ErrorKind::InvalidData {
            self.finish_after(key, After::Linger);
        } else {
            self.close(key);
        }
    }

    /// Parses and dispatches what the connection's buffer holds, request after request.
    pub(super) fn advance(&mut self, key: usize) {
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
                    let data = ex.rbuf.data();
                    let failure = match ex.head.look(data, limits) {
                        Look::Wait => return,
                        Look::Refuse(err) => err,
                        Look::Parse => match parse_head(data, limits) {
                            Ok(None) => match ex.head.incomplete(data, limits) {
                                Ok(()) => return,
                                Err(err) => err,
                            },
                            Err(err) => err,
                            Ok(Some((head, consumed))) => {
                                ex.head.done();
                                ex.rbuf.consume(consumed);
                                self.on_head::<HttpHead>(key, head);
                                continue;
                            }
                        },
                    };
                    tracing::debug!("bad request: {failure}");
                    self.fail(key, failure.into(), None);
                    return;
                }
                Phase::Packet => {
                    if !self.advance_packet(key) {
                        return;
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

    /// A request head arrived: refuse it, start receiving its body, or run it. `S` says
    /// where it came from; each source gets its own copy with one caller, which the compiler
    /// inlines there as it did when HTTP was the only one (shared by both callers, it cost
    /// the HTTP path 30 to 60 instructions a request).
    pub(super) fn on_head<S: HeadSource>(&mut self, key: usize, head: RequestHead) {
        if self.settings.request_id.is_some() {
            self.name_request(key, &head);
        }
        // HTTP's own checks; a uwsgi packet's variables were judged by its decoder, and its
        // connection believes no proxy header.
        if S::HTTP
            && let Some(conn) = self.conns.get_mut(key)
        {
            let ex = conn
                .ex
                .as_mut()
                .expect("the loop holds connections it parses");
            let trusted = conn.peer.info.trusted;
            // `--header-map refuse`: a header with `_` that is no trusted forwarder's.
            if let Some(name) = self
                .settings
                .http
                .underscores
                .refused(head.headers(), trusted)
            {
                tracing::debug!(
                    "bad request: header {:?} has an underscore (--header-map refuse)",
                    String::from_utf8_lossy(name)
                );
                self.fail(
                    key,
                    HttpError::Malformed("header name with an underscore").into(),
                    Some(&head),
                );
                return;
            }
            // Trusted proxy headers: this request's view of the connection (`advance` put
            // the connection's own back when the request began).
            if trusted {
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
                        self.fail(
                            key,
                            HttpError::Malformed("contradictory secure scheme headers").into(),
                            Some(&head),
                        );
                        return;
                    }
                }
            }
        }
        // The one seam for what the engine serves without Python.
        if self.settings.health.is_some() && self.serve_health(key, &head) {
            return;
        }
        if self.settings.statics.is_some() && self.serve_static(key, &head) {
            return;
        }
        let too_large = match (head.framing, self.settings.http.limit_request_body) {
            (BodyFraming::Length(n), Some(limit)) => n > limit,
            _ => false,
        };
        if too_large {
            // Refused before the body is read; a client waiting for 100-continue is spared
            // sending it at all.
            self.fail(key, HttpError::BodyTooLarge.into(), Some(&head));
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
}

/// Where a request head came from, for [`Engine::on_head`].
pub(super) trait HeadSource {
    /// An HTTP head, which gets HTTP's own checks (header names, trusted proxy headers).
    const HTTP: bool;
}

/// A head parsed from HTTP.
pub(super) struct HttpHead;

impl HeadSource for HttpHead {
    const HTTP: bool = true;
}

/// A head made from a uwsgi packet's variables.
pub(super) struct PacketHead;

impl HeadSource for PacketHead {
    const HTTP: bool = false;
}
