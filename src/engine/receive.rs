//! Receiving request bodies before the app is called (`--request-buffering`), within a
//! worker-wide memory budget: a body that does not fit waits, parked, with its bytes in the
//! kernel's socket buffers (TCP backpressure), and a body still arriving after
//! [`SPILL_AFTER`] moves to its temporary file so a slow client cannot hold memory others
//! wait for.

use super::Engine;
use super::conn::Phase;
use super::exchange::Body;
use super::respond::Failure;
use super::settings::EngineSettings;
use super::spool::Spool;
use crate::http::HttpError;
use crate::http::body::{BodyDecoder, Decoded};
use crate::http::request::RequestHead;
use std::cell::Cell;
use std::io;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A request body still arriving after this long moves from memory to its temporary file.
pub(super) const SPILL_AFTER: Duration = Duration::from_secs(1);

/// A request whose body is arriving.
pub(super) struct Receiving {
    pub(super) head: RequestHead,
    pub(super) decoder: BodyDecoder,
    pub(super) spool: Spool,
    /// Counts the spool's memory in the worker's total while the body arrives.
    pub(super) meter: BodyMeter,
    /// Memory set aside for the body (its announced length, up to the in-memory limit);
    /// 0 while the connection waits its turn (parked) or once the body went to disk.
    pub(super) reserved: u64,
    /// What it needs set aside to start.
    pub(super) wants: u64,
    /// When it started receiving (`None`: parked).
    pub(super) started: Option<Instant>,
}

impl Receiving {
    /// Reads the rest of a body of announced length straight into its in-memory spool (see
    /// [`Spool::read_from`]); `None` when the body is not received that way (not started,
    /// chunked, on disk).
    pub(super) fn read_direct(&mut self, fd: BorrowedFd<'_>) -> Option<io::Result<usize>> {
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
pub(super) struct BodyMeter {
    total: Rc<Cell<u64>>,
    mine: u64,
}

impl BodyMeter {
    pub(super) fn new(total: &Rc<Cell<u64>>) -> BodyMeter {
        BodyMeter {
            total: total.clone(),
            mine: 0,
        }
    }

    /// Records that the body now holds `bytes` in memory.
    pub(super) fn set(&mut self, bytes: u64) {
        self.total.set(self.total.get() - self.mine + bytes);
        self.mine = bytes;
    }
}

impl Drop for BodyMeter {
    fn drop(&mut self) {
        self.total.set(self.total.get() - self.mine);
    }
}

impl<'a> Engine<'a> {
    /// Moves buffered body bytes into the spool; returns true when the request was
    /// dispatched (the caller goes on with the connection's next phase).
    pub(super) fn receive_body(&mut self, key: usize) -> bool {
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
        let failure: Failure = loop {
            if ex.rbuf.is_empty() && !receiving.decoder.is_done() {
                return false;
            }
            match receiving.decoder.decode(ex.rbuf.data()) {
                Ok((consumed, Decoded::Data(data))) => {
                    if limit.is_some_and(|l| receiving.spool.len() + data.len() as u64 > l) {
                        break HttpError::BodyTooLarge.into();
                    }
                    let stored = receiving.spool.write(data, &self.settings.spool);
                    receiving
                        .meter
                        .set(receiving.spool.memory_len().max(receiving.reserved));
                    if let Err(err) = stored {
                        tracing::error!("cannot store request body: {err}");
                        break Failure::Storage;
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
                    break err.into();
                }
            }
        };
        self.fail(key, failure, None);
        false
    }

    /// Sets memory aside for connection `key`'s body if the budget allows (or nothing else
    /// is in memory, so one body always progresses); returns whether it may start receiving.
    pub(super) fn start_receiving(&mut self, key: usize) -> bool {
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
    pub(super) fn unpark(&mut self) {
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
}

/// In-memory body bytes a worker takes in at once: enough for every thread to have a body
/// waiting behind the one it runs.
pub(super) fn body_memory_budget(settings: &EngineSettings) -> u64 {
    settings
        .spool
        .memory_limit
        .saturating_mul(settings.threads.max(2) as u64)
}
