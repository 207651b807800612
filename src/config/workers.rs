//! How many workers, how much each takes on, and how long it may take.

use crate::settings::group;
use std::time::Duration;

group! {
    /// The worker processes.
    #[derive(Clone, Debug, PartialEq)]
    pub struct WorkerSettings from (s, v) {
        /// Number of worker processes.
        pub count: u32 = v.number(s.workers(), 1..=1024)?,
        /// Python threads per worker: 1 runs the app on the event-loop thread, more a pool.
        pub threads: u32 = v.number(s.threads(), 1..=1024)?,
        /// Open client connections per worker; at the limit the worker stops accepting.
        pub connections: u32 = v.number(s.worker_connections(), 1..=1_000_000)?,
        /// How long the app may go without progress before its worker is killed and
        /// replaced (the app only, not socket I/O or head delivery); `None` disables.
        pub timeout: Option<Duration> = v.seconds_or_off(s.timeout())?,
        /// How long in-flight requests get to finish on a graceful stop.
        pub graceful_timeout: Duration = v.seconds(s.graceful_timeout())?,
    }
}
