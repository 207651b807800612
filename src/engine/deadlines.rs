//! Time: the periodic sweep that answers or closes connections past their deadline, and a
//! graceful stop's draining.

use super::Engine;
use super::conn::Phase;
use super::receive::SPILL_AFTER;
use super::respond::Failure;
use super::settings::EngineSettings;
use crate::http::HttpError;
use std::time::Duration;

impl<'a> Engine<'a> {
    /// Closes or answers connections whose deadline has passed.
    pub(super) fn sweep(&mut self) {
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
                        self.fail(key, Failure::Storage, None);
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
                Phase::Head | Phase::Packet => self.fail(key, HttpError::HeadTimeout.into(), None),
                Phase::Body(_) => self.fail(key, HttpError::BodyTimeout.into(), None),
                // A PROXY header that never completed: closed, as any refusal of one.
                Phase::Preamble { .. }
                | Phase::Idle
                | Phase::Paused(_)
                | Phase::Flushing(_)
                | Phase::Held
                | Phase::Drain
                | Phase::Linger
                | Phase::Away => self.close(key),
            }
        }
    }

    /// Begins a graceful stop: no new connections; idle ones get a short grace for a
    /// request already on its way, which is answered with `Connection: close`.
    pub(super) fn start_draining(&mut self) {
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
                // A PROXY header still on its way counts as idle: no request has begun;
                // so does a uwsgi packet (nginx sends it whole at once).
                if matches!(
                    conn.phase,
                    Phase::Idle | Phase::Preamble { .. } | Phase::Packet
                ) {
                    conn.deadline = Some(conn.deadline.map_or(grace, |d| d.min(grace)));
                }
            }
        }
    }
}

/// The longest an idle keep-alive connection is kept once a graceful stop has begun: long
/// enough for a request already on the wire when the stop began (a round trip) to arrive
/// and be answered with `Connection: close`, short enough that idle clients do not hold up
/// the stop for their whole `--keep-alive`.
const DRAIN_IDLE_MAX: Duration = Duration::from_secs(2);

/// How long an idle connection is kept during a graceful stop.
pub(super) fn drain_idle(settings: &EngineSettings) -> Duration {
    settings
        .http
        .keep_alive
        .unwrap_or(Duration::ZERO)
        .min(DRAIN_IDLE_MAX)
}
