//! Load shedding (`--max-queue-time`): a request that waited too long before it could reach
//! Python is answered `503` without calling the application, so an overloaded worker spends
//! its time on requests whose clients are still likely to be waiting, and the latency of
//! the requests it serves stays bounded instead of growing with the queue.
//!
//! The engine stamps each request with a deadline when it becomes ready (its head arrived;
//! with request buffering, its body too) and checks it at the last moment before the app is
//! called: on the loop thread, and when a pool thread takes the request from the queue. A
//! trusted proxy's `X-Request-Start` ([`request_start`]) moves the deadline earlier when it
//! says the request arrived there before it arrived here.

pub mod request_start;

use crate::settings::group;
use std::time::{Duration, Instant, SystemTime};

/// `Retry-After` of a shed request, in seconds: the soonest a retry is worth trying. One
/// second is long against a queue limit of milliseconds (the overload has had time to
/// change) and short enough that a client which honours it loses little.
pub const RETRY_AFTER_SECS: &[u8] = b"1";

/// Longest `--max-queue-time` accepted, in milliseconds (an hour).
const MAX_QUEUE_TIME_MS: i64 = 3_600_000;

group! {
    /// Load shedding.
    #[derive(Clone, Debug, PartialEq)]
    pub struct ShedSettings from (s, v) {
        /// Longest a request may wait before it reaches the app; `None`: no shedding.
        pub max_queue_time: Option<Duration> = v
            .count_or_off(s.max_queue_time(), MAX_QUEUE_TIME_MS)?
            .map(Duration::from_millis),
    }
}

/// When a request is too late to start: `limit` after the earliest of `ready` (when the
/// engine had it whole), `arrived` (when the kernel received its last bytes, wall-clock
/// time since the epoch) and the `X-Request-Start` value of a trusted proxy. The clocks are
/// read only when there is a wall-clock time to compare.
pub fn deadline(
    limit: Duration,
    ready: Instant,
    arrived: Option<Duration>,
    proxy_start: Option<&[u8]>,
) -> Instant {
    let proxy = proxy_start.and_then(request_start::parse);
    let earliest = match (arrived, proxy) {
        (None, None) => return ready + limit,
        (Some(a), Some(p)) => a.min(p),
        (Some(t), None) | (None, Some(t)) => t,
    };
    let (now, wall) = (Instant::now(), SystemTime::now());
    let Ok(since_epoch) = wall.duration_since(SystemTime::UNIX_EPOCH) else {
        return ready + limit;
    };
    // A start in the future (clocks disagree) says nothing: the engine's own time holds.
    let waited = since_epoch.saturating_sub(earliest);
    let from_wall = now.checked_sub(waited).unwrap_or(now);
    ready.min(from_wall) + limit
}

/// The value of header `name` (lowercase) among `headers`: the first one.
pub fn header<'h>(
    mut headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    name: &[u8],
) -> Option<&'h [u8]> {
    headers
        .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_start_counts() {
        let limit = Duration::from_millis(100);
        let ready = Instant::now();
        assert_eq!(deadline(limit, ready, None, None), ready + limit);
        // Garbage is ignored.
        assert_eq!(deadline(limit, ready, None, Some(b"soon")), ready + limit);
        // A proxy that saw the request ten seconds ago: the deadline has passed.
        let then = SystemTime::now() - Duration::from_secs(10);
        let secs = then.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let nginx = format!("t={}.{:03}", secs.as_secs(), secs.subsec_millis());
        assert!(deadline(limit, ready, None, Some(nginx.as_bytes())) < Instant::now());
        // So has it for bytes the kernel received ten seconds ago.
        assert!(deadline(limit, ready, Some(secs), None) < Instant::now());
        // A start in the future changes nothing.
        let later = SystemTime::now() + Duration::from_secs(60);
        let later = later.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let heroku = later.as_millis().to_string();
        assert_eq!(
            deadline(limit, ready, None, Some(heroku.as_bytes())),
            ready + limit
        );
        assert_eq!(deadline(limit, ready, Some(later), None), ready + limit);
    }

    #[test]
    fn headers_are_found_without_case() {
        let headers: [(&[u8], &[u8]); 2] = [(b"Host", b"x"), (b"X-Request-Start", b"t=1")];
        assert_eq!(
            header(headers.iter().copied(), b"x-request-start"),
            Some(&b"t=1"[..])
        );
        assert_eq!(header(headers.iter().copied(), b"x-queue-start"), None);
    }
}
