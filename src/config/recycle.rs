//! When a worker is replaced although nothing is wrong with it.

use crate::settings::group;
use std::time::Duration;

group! {
    /// Worker recycling: a worker past one of these limits is replaced gracefully.
    #[derive(Clone, Debug, PartialEq)]
    pub struct RecycleSettings from (s, v) {
        /// Requests after which a worker is replaced; `None` disables.
        pub max_requests: Option<u64> = v.count_or_off(s.max_requests(), i64::MAX)?,
        /// Up to this many more requests per worker, drawn at random for each.
        pub max_requests_jitter: u64 = v.number(s.max_requests_jitter(), 0..=i64::MAX)?,
        /// Age after which a worker is replaced; `None` disables.
        pub max_worker_lifetime: Option<Duration> = v.seconds_or_off(s.max_worker_lifetime())?,
        /// Up to this much more lifetime per worker, drawn at random for each.
        pub max_worker_lifetime_jitter: Duration = v.seconds(s.max_worker_lifetime_jitter())?,
        /// Resident memory in bytes above which a worker is replaced; `None` disables. (Set
        /// in MiB; the bound keeps the byte count in range.)
        pub max_worker_memory: Option<u64> = v
            .count_or_off(s.max_worker_memory(), i64::MAX >> 20)?
            .map(|mib| mib << 20),
    }
}
