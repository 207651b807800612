//! What the engine records in the worker's metrics region ([`crate::metrics`]), at the
//! places it logs requests: every request the app answered, every one the server answered
//! itself (a 400 from the parser, a static file), and every one cut short.
//!
//! Only the loop thread calls these (it completes every request, pool threads included),
//! so the region keeps one writer. With `--metrics-bind` unset there is no region and each
//! call is one test of `self.metrics`; the clock is read only with metrics on.
//!
//! The two latencies: queue wait runs from when the request was ready for the app (the
//! loop's time when its head, or its buffered body, was read) to when the app was called;
//! app time from that call until the response was complete, sent or held for the batch
//! (for a response paused on a slow client, until its last resume) or, on a pool thread,
//! the call returned.
//!
//! One clock read per request on the loop thread, at its end: the loop runs one app call at
//! a time, so a request is called when the loop woke up for it or when the call before it
//! ended, whichever is later (the loop work between the two, parsing a head, is
//! microseconds, below the first bucket). A pool thread reads the clock when it calls.

use super::Engine;
use super::exchange::Exchange;
use crate::http::request::RequestHead;
use crate::metrics::{Finished, Region};
use std::time::{Duration, Instant};

impl Engine<'_> {
    /// A request is about to go to the app: it is in flight from now. `call_now`: the app
    /// is called on this thread right away (a pool thread notes its own call time).
    #[inline]
    pub(super) fn measure_dispatch(&self, ex: &mut Exchange, call_now: bool) {
        if let Some(region) = self.metrics {
            region.add_in_flight(1);
            ex.ready = Some(self.now);
            ex.called = call_now.then(|| self.now.max(self.last_clock.get()));
        }
    }

    /// Records a finished request (`head`: when it was parsed) and the bytes it moved.
    #[inline]
    pub(super) fn record(&self, ex: &mut Exchange, head: Option<&RequestHead>) {
        if let Some(region) = self.metrics {
            if let Some(end) = record_request(region, ex, head) {
                self.last_clock.set(end);
            }
        }
    }

    /// Records the bytes a connection moved since the last record (it is closing).
    #[inline]
    pub(super) fn record_bytes(&self, ex: &mut Exchange) {
        if let Some(region) = self.metrics {
            count_wire(region, ex);
        }
    }

    /// Publishes how many connections the worker holds.
    #[inline]
    pub(super) fn count_connections(&self) {
        if let Some(region) = self.metrics {
            region.set_connections(self.conns.len);
        }
    }
}

/// Records a finished request in `region` (for callers holding the connection borrowed);
/// returns the clock reading it took, if it took one. Out of line: the request path pays
/// the call only with metrics on.
#[inline(never)]
pub(super) fn record_request(
    region: &Region,
    ex: &mut Exchange,
    head: Option<&RequestHead>,
) -> Option<Instant> {
    let mut clock = None;
    let app = match ex.ready.take() {
        Some(ready) => {
            region.add_in_flight(-1);
            ex.called.take().map(|called| {
                let end = ex.ended.unwrap_or_else(|| *clock.insert(Instant::now()));
                let queued = if called > ready {
                    nanos(called - ready)
                } else {
                    0
                };
                (queued, nanos(end.saturating_duration_since(called)))
            })
        }
        None => None,
    };
    region.record(&Finished {
        method: head.map_or(&[][..], RequestHead::method_bytes),
        status: ex.response.status,
        app,
    });
    count_wire(region, ex);
    clock
}

/// Counts the bytes `ex` moved since they were last counted.
#[inline]
pub(super) fn count_wire(region: &Region, ex: &mut Exchange) {
    let wire = std::mem::take(&mut ex.wire);
    region.count_bytes(wire.received, wire.sent);
}

/// A duration in whole nanoseconds (saturating: 584 years).
fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}
