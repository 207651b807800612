//! What the engine decides about a request between its head and the app: its ID
//! (`--request-id-header`, [`crate::request_id`]) and whether it is still worth running
//! (`--max-queue-time`, [`crate::shed`]). Both cost nothing when their setting is off.

use super::Engine;
use super::respond::Failure;
use crate::http::request::RequestHead;
use crate::request_id::RequestId;
use crate::shed;
use std::time::Instant;

impl<'a> Engine<'a> {
    /// Names the request `head` on connection `key` (`--request-id-header`): the ID a
    /// trusted proxy sent, or a new one. Every parsed head gets one, before anything can
    /// answer it, so a refused request is logged with its own ID, not its predecessor's.
    pub(super) fn name_request(&mut self, key: usize, head: &RequestHead) {
        let (Some(header), Some(ids)) = (&self.settings.request_id, self.ids.as_mut()) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Some(ex) = conn.ex.as_mut() else {
            return;
        };
        let vouched = conn.peer.info.trusted || ex.view.info.gateway.is_some();
        let id = ex.request_id.get_or_insert_with(RequestId::empty);
        header.choose(head.headers(), vouched, ids, id);
    }

    /// When request `head` on connection `key`, ready now, becomes too late to start
    /// (`--max-queue-time`); `None` when shedding is off. When the kernel received it, and a
    /// trusted proxy's (or a uwsgi front end's) `X-Request-Start`, may make it earlier.
    /// `buffered`: its body was received before (it was ready only once that was whole,
    /// so the head's arrival does not count).
    #[inline]
    pub(super) fn shed_deadline(
        &mut self,
        key: usize,
        head: &RequestHead,
        buffered: bool,
    ) -> Option<Instant> {
        let limit = self.settings.max_queue_time?;
        let conn = self.conns.get_mut(key)?;
        let ex = conn.ex.as_ref()?;
        let gateway = ex.view.info.gateway.is_some();
        let arrived = if buffered { None } else { ex.arrived };
        let proxy_start = if conn.peer.info.trusted || gateway {
            shed::header(head.headers(), b"x-request-start")
        } else {
            None
        };
        // `now` is when the loop last woke: with one thread, a request read in the same
        // wake-up as others waits behind them from then on.
        Some(shed::deadline(limit, self.now, arrived, proxy_start))
    }

    /// Answers a request that waited past `--max-queue-time` (503, `Retry-After`, close)
    /// without calling the app, and counts it in the worker's slot. The connection must be
    /// the loop's (`conn.ex` set).
    pub(super) fn shed(&mut self, key: usize, head: &RequestHead) {
        self.beats.shed();
        if let Some(region) = self.metrics {
            region.count_shed();
        }
        self.fail(key, Failure::Shed, Some(head));
    }
}
