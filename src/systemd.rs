//! systemd integration: `sd_notify` readiness/status messages (socket activation lives in
//! [`crate::listen`]).
//!
//! STUB (issue 4 contract): every method is a no-op until the systemd work lands; the
//! arbiter already calls them at the right moments.

use std::time::Duration;

/// Sends `sd_notify` messages to `$NOTIFY_SOCKET`, if systemd gave us one.
#[derive(Debug)]
pub struct Notifier {
    _private: (),
}

impl Notifier {
    /// The notifier for `$NOTIFY_SOCKET`, or `None` when not started by systemd with
    /// `Type=notify`.
    pub fn from_env() -> Option<Notifier> {
        None
    }

    /// `READY=1`: every worker of the current generation has loaded the app.
    pub fn ready(&self) {}

    /// `RELOADING=1` (with `MONOTONIC_USEC`): a HUP reload has begun.
    pub fn reloading(&self) {}

    /// `STOPPING=1`: a stop has begun.
    pub fn stopping(&self) {}

    /// `STATUS=...`: free text shown by `systemctl status`.
    pub fn status(&self, _text: &str) {}

    /// How often [`Notifier::watchdog`] must be called (half of `$WATCHDOG_USEC`), if the
    /// service has a watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        None
    }

    /// `WATCHDOG=1`: the master loop is alive.
    pub fn watchdog(&self) {}
}
