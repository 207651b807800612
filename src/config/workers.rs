//! How many workers, how much each takes on, and how long it may take.

use super::worker_class::{self, WorkerClass};
use crate::settings::{Check, ConfigError, Raw, group};
use std::path::PathBuf;
use std::time::Duration;

/// How many workers a server may run (`--workers`, and `ctl scale`).
pub const WORKERS_RANGE: std::ops::RangeInclusive<i64> = 1..=1024;

group! {
    /// The worker processes.
    #[derive(Clone, Debug, PartialEq)]
    pub struct WorkerSettings from (s, v) {
        /// Number of worker processes.
        pub count: u32 = v.number(s.workers(), WORKERS_RANGE)?,
        /// Python threads per worker: 1 runs the app on the event-loop thread, more a pool.
        pub threads: u32 = v.number(s.threads(), 1..=1024)?,
        /// The gunicorn worker type asked for (`-k`); both kinds run our workers, threaded
        /// as `threads` says.
        pub class: WorkerClass = {
            let raw = s.worker_class();
            let text = raw.value.map_or("sync", String::as_str);
            worker_class::parse(text).map_err(|why| v.refuse(raw, &why))?
        },
        /// Open client connections per worker; at the limit the worker stops accepting.
        pub connections: u32 = v.number(s.worker_connections(), 1..=1_000_000)?,
        /// How long the app may go without progress before its worker is killed and
        /// replaced (the app only, not socket I/O or head delivery); `None` disables.
        pub timeout: Option<Duration> = v.seconds_or_off(s.timeout())?,
        /// How long the app may go without progress before `RequestTimeout` is raised in
        /// its thread (`--soft-timeout`); less than `timeout`. `None` disables.
        pub soft_timeout: Option<Duration> = soft_timeout(v, s.soft_timeout(), timeout)?,
        /// How long in-flight requests get to finish on a graceful stop.
        pub graceful_timeout: Duration = v.seconds(s.graceful_timeout())?,
        /// gunicorn's heartbeat directory (`--worker-tmp-dir`), checked to exist and be
        /// writable; our heartbeat is the shared-memory scoreboard, so nothing is written.
        pub tmp_dir: Option<PathBuf> = writable_dir(v, s.worker_tmp_dir())?,
    }
}

/// `--soft-timeout`: off, or fewer seconds than `--timeout` (which would kill the worker
/// first, making it pointless).
fn soft_timeout(
    v: &Check<'_>,
    raw: Raw<'_, i64>,
    timeout: Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    let soft = v.seconds_or_off(raw)?;
    match (soft, timeout) {
        (Some(soft), Some(hard)) if soft >= hard => Err(v.invalid(
            raw.name,
            &soft.as_secs(),
            &format!(
                "fewer seconds than {} ({}), or 0 for no soft timeout",
                v.name("timeout"),
                hard.as_secs()
            ),
        )),
        _ => Ok(soft),
    }
}

/// A directory that exists and this process may create files in, if set.
fn writable_dir(v: &Check<'_>, raw: Raw<'_, PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(dir) = v.existing_dir(raw)? else {
        return Ok(None);
    };
    let access = nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK;
    match nix::unistd::access(&dir, access) {
        Ok(()) => Ok(Some(dir)),
        Err(_) => Err(v.refuse(raw, "a directory this server may write to")),
    }
}
