//! Running requests and finishing responses: dispatching a ready request (on this thread or
//! to the pool), pausing and resuming a response whose client is behind, taking the pool's
//! results back, deciding a connection's future once its response is out, and answering
//! with an error status the server generates itself.

use super::Engine;
use super::conn::{After, Paused, Phase};
use super::deadlines::drain_idle;
use super::exchange::{Body, Exchange};
use super::pool::{Finished, Job, Pool};
use crate::http::HttpError;
use crate::http::request::RequestHead;
use crate::logging::access::{self, Entry, LoggedRequest};
use crate::request_id::{IdHeader, RequestId};
use crate::wsgi::{Call, Outcome, Request, Step};
use nix::sys::epoll::EpollFlags;
use std::time::{Duration, Instant};

/// How long a lingering close waits for the client to finish sending. Closing a socket
/// with unread input makes the kernel send a reset, which can destroy the response still in
/// the client's receive buffer; waiting lets the client read it and close first. nginx waits
/// up to 5 s between reads (`lingering_timeout`); 2 s still covers several round trips on a
/// slow link and frees the descriptor sooner from a client that never closes.
const LINGER: Duration = Duration::from_secs(2);

impl<'a> Engine<'a> {
    /// Runs a request: on this thread, or in the pool.
    pub(super) fn dispatch(
        &mut self,
        key: usize,
        head: RequestHead,
        body: Body,
        body_length: Option<u64>,
    ) {
        // Before anything of this request is set up: sending what was held may run a
        // pipelined request of another connection.
        self.release_stale();
        let shed_at = self.shed_deadline(key, &head, body_length.is_some());
        // On this thread, the app is called right below: the last moment to check.
        if self.pool.is_none() && shed_at.is_some_and(|t| Instant::now() > t) {
            self.shed(key, &head);
            return;
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut ex = conn
            .ex
            .take()
            .expect("the loop holds connections it dispatches");
        ex.begin(&head, self.draining, body);
        conn.deadline = None;
        self.measure_dispatch(&mut ex, self.pool.is_none());
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
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
                shed_at,
            });
            return;
        }
        let view = ex.view.clone();
        let id = ex.request_id.clone();
        let request = Request {
            head: &head,
            conn: &view,
            body_length,
            request_id: environ_id(self.settings.request_id.as_deref(), id.as_ref()),
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
    pub(super) fn after_step(
        &mut self,
        key: usize,
        call: Call<Box<Exchange>>,
        head: RequestHead,
        step: Step,
    ) {
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
                let transport = self.app.end(call);
                self.complete(key, &head, outcome, transport);
            }
        }
    }

    /// The paused response's socket is writable: send, and resume the app once caught up.
    pub(super) fn on_paused_writable(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Phase::Paused(paused) = &mut conn.phase else {
            return;
        };
        let flushed = paused
            .call
            .with_transport(|ex| ex.try_flush())
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
                    let facts = call.with_transport(|ex| (ex.is_tls(), ex.view.clone()));
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
    pub(super) fn take_finished(&mut self) {
        let Some(pool) = self.pool else { return };
        loop {
            self.take_finished_batch(pool);
            // Still waiting for a result whose request has come: be woken for it.
            if self.awaiting_results == 0 || !pool.await_result() {
                return;
            }
        }
    }

    pub(super) fn take_finished_batch(&mut self, pool: &Pool) {
        let mut finished = std::mem::take(&mut self.finished);
        pool.take_finished(&mut finished);
        for Finished {
            key,
            head,
            outcome,
            mut exchange,
            rearmed,
            shed,
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
                self.record(&mut exchange, Some(&head));
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
            if shed {
                // Taken from the queue too late: answered here, without the app.
                conn.ex = Some(exchange);
                self.shed(key, &head);
                continue;
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
    pub(super) fn complete(
        &mut self,
        key: usize,
        head: &RequestHead,
        outcome: Outcome,
        mut ex: Box<Exchange>,
    ) {
        let keep = ex.end_request(outcome, head.is_head());
        self.beats.served();
        log_access(&ex, Some(head));
        self.conclude(key, head, keep, ex);
    }

    /// After a response: decides the connection's future (`keep`: it may persist) and
    /// sends what is left.
    #[inline(always)]
    pub(super) fn conclude(
        &mut self,
        key: usize,
        head: &RequestHead,
        keep: bool,
        ex: Box<Exchange>,
    ) {
        let after = if keep {
            After::KeepAlive
        } else if head.keep_alive || !ex.rbuf.is_empty() || !ex.body_consumed() {
            // The client may have sent more (a pipelined request, the rest of a body):
            // closing with unread input would reset the connection under the response.
            After::Linger
        } else {
            After::Close
        };
        // What the call queued instead of writing (a small response, whole) goes out
        // without the GIL: when the batch of ready requests is served, or now.
        let Some(mut ex) = self.hold(key, head, after, ex) else {
            return;
        };
        let flushed = if ex.unsent() > 0 {
            ex.try_flush()
        } else {
            Ok(true)
        };
        // Once the response went to the socket: the bytes it took count with the request.
        self.record(&mut ex, Some(head));
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
    pub(super) fn finish_after(&mut self, key: usize, after: After) {
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
    pub(super) fn fail(&mut self, key: usize, failure: Failure, head: Option<&RequestHead>) {
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
        if head.is_none() {
            // No head, no ID: what is there is the previous request's.
            ex.request_id = None;
        }
        ex.send_error_with(
            failure.status(),
            head.is_some_and(RequestHead::is_head),
            failure.retry_after(),
        );
        if let Some(region) = self.metrics {
            super::measure::record_request(region, ex, head);
        }
        log_access(ex, head);
        if ex.unsent() > 0 {
            conn.phase = Phase::Flushing(After::Linger);
            conn.deadline = self.settings.http.send_timeout.map(|t| self.now + t);
            self.rewatch(key);
        } else {
            self.finish_after(key, After::Linger);
        }
    }
}

/// Why the server answers a request itself, then closes the connection.
#[derive(Debug)]
pub(super) enum Failure {
    /// The request broke a rule (or was too slow): the error's status.
    Request(HttpError),
    /// The server could not keep the request's body (its temporary file): 500.
    Storage,
    /// The request waited past `--max-queue-time`: 503 with `Retry-After`.
    Shed,
}

impl Failure {
    /// The status the client is answered with.
    fn status(&self) -> u16 {
        match self {
            Failure::Request(err) => err.status(),
            Failure::Storage => 500,
            Failure::Shed => 503,
        }
    }

    /// The `Retry-After` seconds the answer carries, if any.
    fn retry_after(&self) -> Option<&'static [u8]> {
        matches!(self, Failure::Shed).then_some(crate::shed::RETRY_AFTER_SECS)
    }
}

impl From<HttpError> for Failure {
    fn from(err: HttpError) -> Failure {
        Failure::Request(err)
    }
}

/// Buffers the access log line for the exchange's request: `head` when it was parsed,
/// otherwise the first line of what the client sent.
#[inline]
pub(super) fn log_access(ex: &Exchange, head: Option<&RequestHead>) {
    // The check inline, the work out of line: with no access log and no StatsD a request
    // pays one predictable branch, not a call.
    if access::enabled() {
        log_access_now(ex, head);
    }
}

/// [`log_access`] once logging is known to be on.
#[inline(never)]
fn log_access_now(ex: &Exchange, head: Option<&RequestHead>) {
    let request = match head {
        Some(head) => LoggedRequest::Parsed(head),
        None => {
            let data = ex.rbuf.data();
            let end = data
                .iter()
                .take(UNPARSED_LINE_MAX)
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(data.len().min(UNPARSED_LINE_MAX));
            LoggedRequest::Unparsed(&data[..end])
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
        request_id: head.and(ex.request_id.as_ref()).map(RequestId::as_bytes),
    });
}

/// The environ's `(key, ID)` of a request named `id` under `header`.
#[inline]
pub(super) fn environ_id<'r>(
    header: Option<&'r IdHeader>,
    id: Option<&'r RequestId>,
) -> Option<(&'r str, &'r [u8])> {
    Some((header?.cgi.as_str(), id?.as_bytes()))
}

/// Most bytes of an unparsable request's first line the access log shows.
const UNPARSED_LINE_MAX: usize = 4096;
